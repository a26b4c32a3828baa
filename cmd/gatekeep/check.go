package main

import (
	"context"
	"crypto/rsa"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/report"
	"github.com/gatekeep-dev/gatekeep/scanner"
	"github.com/gatekeep-dev/gatekeep/secrets"
)

type checkFlags struct {
	bundles    []string
	version    string
	output     string
	failOnWarn bool
	only       []string
	skip       []string
	exclude    []string
	strict     bool
	schemaDirs []string
	combine    bool
	namespaces []string
	allNS      bool
	quiet      bool
	sealKeys   []string
	scanImages bool
	images     imageFlags
	render     renderFlags
	maxFile    sizeFlag

	// inventory is an inventory export of the cluster (gatekeep inventory
	// export); inventoryMaxAge is the age past which it is stale.
	inventory       string
	inventoryMaxAge time.Duration

	// evalTimeout bounds the policy evaluation of each object.
	evalTimeout time.Duration
}

func newCheckCommand() *cobra.Command {
	f := &checkFlags{maxFile: manifest.DefaultMaxFileSize}
	cmd := &cobra.Command{
		Use:   "check [flags] PATH... | -",
		Short: "Check manifests: files, directories (kustomizations rendered) or - for stdin",
		Long: `Check Kubernetes manifests against the built-in bundle and any --bundle.

PATH may be a file, a directory or - for standard input. YAML
(multi-document, kind: List expanded) and JSON. Directories are walked
recursively and rendered as Argo CD would apply them: the Argo CD
Applications and ApplicationSets of this repository are followed (their
Helm, kustomize and directory sources rendered with their options and
destination namespace), other Helm charts are rendered with their own
values, other kustomizations built. What cannot be rendered is a finding of
the render check, and the rest is still checked.

Exit codes: 0 nothing denied, 1 something denied (or warned, with
--fail-on-warn), 2 inputs or flags unusable.`,
		Example: `  gatekeep check ./manifests
  gatekeep check -o sarif --bundle policy/ apps/ > gatekeep.sarif
  kustomize build overlays/prod | gatekeep check -`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("check: no input: give files, directories, or - for standard input")
			}
			return runCheck(cmd.Context(), f, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.bundles, "bundle", nil, "policy bundle directory, added to the built-in bundle (repeatable)")
	fl.StringVar(&f.version, "kubernetes-version", "", "target Kubernetes version, e.g. 1.34 or v1.34.3 (default: the bundle's, else "+kubeversion.Latest.String()+")")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: "+strings.Join(report.Names(), "|"))
	fl.BoolVar(&f.failOnWarn, "fail-on-warn", false, "exit 1 on warnings too")
	fl.StringSliceVar(&f.only, "only", nil, "run only these checks (comma-separated IDs)")
	fl.StringSliceVar(&f.skip, "skip", nil, "skip these checks (comma-separated IDs)")
	fl.Var(&f.maxFile, "max-file-size", "largest file (or standard input, or remote resource) read; larger ones are errors (e.g. 64MiB, 512KiB)")
	fl.StringArrayVar(&f.exclude, "exclude", nil, "skip files and directories matching this glob (repeatable; ** matches any directories)")
	fl.BoolVar(&f.strict, "strict", false, "schema: unknown fields and duplicate keys are errors")
	fl.StringArrayVar(&f.schemaDirs, "schema-dir", nil, "folder of CRDs or kubeconform-style JSON Schemas ({kind}-{group}-{version}.json) for custom kinds (repeatable)")
	fl.BoolVar(&f.combine, "combine", false, "conftest-style policies see every document at once, as a list of {path, contents}")
	fl.StringArrayVar(&f.namespaces, "namespace", nil, "Rego package of conftest-style policies (repeatable; globs allowed; default main)")
	fl.BoolVar(&f.allNS, "all-namespaces", false, "run the conftest-style rules of every Rego package")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only denials and errors")
	fl.DurationVar(&f.evalTimeout, "eval-timeout", 10*time.Second, "bound on the policy evaluation of each object: past it the object gets a deny finding of the policy that did not finish (0: none)")
	fl.BoolVar(&f.scanImages, "scan-images", false, "scan the images the manifests reference (image-vulnerability check, the bundle's images: policy)")
	f.images.register(cmd)
	f.render.register(fl)
	fl.StringVar(&f.inventory, "inventory", "", "the cluster's objects, as gatekeep inventory export wrote them: Ingress hosts and synced objects join the run's (the run's own replace their cluster copies)")
	fl.DurationVar(&f.inventoryMaxAge, "inventory-max-age", 24*time.Hour, "warn when the --inventory file is older than this (0: never)")
	fl.StringArrayVar(&f.sealKeys, "sealed-secrets-key", nil, "sealed-secrets private key: PEM (PKCS#1 or PKCS#8) or the YAML of the key Secrets (repeatable); SealedSecrets must then decrypt")
	return cmd
}

func runCheck(ctx context.Context, f *checkFlags, paths []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	defer lazyGC()()
	var opts []report.Option
	if f.output == "text" {
		opts = append(opts, report.WithColor(useColor(stdout)), report.Quiet(f.quiet))
	}
	b, cleanup, err := loadBundle(ctx, f.bundles)
	if err != nil {
		return err
	}
	defer cleanup()
	// Reading the manifests needs the bundle's settings, not its compiled
	// checks: it goes on while the checks are compiled.
	loadCtx, cancelLoad := context.WithCancel(ctx)
	defer cancelLoad()
	loaded := make(chan *manifest.Set, 1)
	loadOpts := append(f.render.options(b, f.version), manifest.WithExclude(f.exclude...), manifest.WithStdin(stdin), manifest.WithMaxFileSize(int64(f.maxFile)))
	go func() {
		loaded <- manifest.Load(loadCtx, paths, loadOpts...)
	}()
	keys, err := sealingKeys(f.sealKeys)
	if err != nil {
		return err
	}
	engOpts := []engine.Option{engine.WithMode(engine.CI), engine.Only(f.only...), engine.Skip(f.skip...), engine.SealingKeys(keys), engine.EvalTimeout(f.evalTimeout)}
	if f.inventory != "" {
		opt, err := clusterInventory(f.inventory, f.inventoryMaxAge, b, time.Now(), stderr)
		if err != nil {
			return err
		}
		engOpts = append(engOpts, opt)
	}
	if f.scanImages {
		s, err := f.images.scanner(b.Config.Images, false)
		if err != nil {
			return err
		}
		// CI waits for every scan: there is no retry to give the verdict to.
		engOpts = append(engOpts, engine.ImageScans(scanner.NewCache(s), scanner.WaitForScans()))
	}
	eng, err := engineFor(b, f.version, append(engOpts,
		engine.Strict(f.strict), engine.SchemaDirs(f.schemaDirs...),
		engine.Namespaces(f.namespaces...), engine.AllNamespaces(f.allNS), engine.Combine(f.combine))...)
	if err != nil {
		return err
	}
	for _, n := range eng.Notes() {
		fmt.Fprintln(stderr, "note: "+n)
	}
	opts = append(opts, report.WithChecks(eng.Checks()), report.WithVersion(version))
	out, err := report.New(f.output, opts...)
	if err != nil {
		return usageError("%v", err)
	}
	set := <-loaded
	collectLoadGarbage()
	res, err := eng.Check(ctx, set)
	if err != nil {
		return err
	}
	if err := out.Write(stdout, res); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return exitFor(res, f.failOnWarn)
}

// exitFor is the exit of a run that reported res: 2 when inputs were
// unusable, 1 when something was denied (or warned, with failOnWarn).
func exitFor(res *engine.Result, failOnWarn bool) error {
	s := res.Summary()
	switch {
	case len(res.Errors) > 0:
		return &exitError{code: exitUnusable}
	case s.Denied > 0, failOnWarn && s.Warned > 0:
		return &exitError{code: exitDenied}
	}
	return nil
}

// newEngine loads the built-in bundle and the extra ones, and prepares the
// engine for them; any problem is a usage error (exit 2).
func newEngine(dirs []string, version string, opts ...engine.Option) (*engine.Engine, error) {
	b, err := bundle.LoadOverBuiltin(dirs...)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return engineFor(b, version, opts...)
}

// engineFor prepares the engine for a loaded bundle.
func engineFor(b *bundle.Bundle, version string, opts ...engine.Option) (*engine.Engine, error) {
	if version != "" {
		v, err := kubeversion.Parse(version)
		if err != nil {
			return nil, usageError("--kubernetes-version: %v", err)
		}
		opts = append(opts, engine.WithKubernetesVersion(v))
	}
	eng, err := engine.New(b, opts...)
	if err != nil {
		return nil, usageError("%v", err)
	}
	return eng, nil
}

// sealingKeys reads --sealed-secrets-key files (nil without any). The keys
// stay in memory; errors name the file, never key material.
func sealingKeys(files []string) (*secrets.Keys, error) {
	if len(files) == 0 {
		return nil, nil
	}
	var all []*rsa.PrivateKey
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, usageError("--sealed-secrets-key: %v", err)
		}
		keys, err := secrets.ParseKeys(f, data)
		if err != nil {
			return nil, usageError("--sealed-secrets-key: %v", err)
		}
		all = append(all, keys...)
	}
	return secrets.NewKeys(all...), nil
}

// useColor colours text output on a terminal, unless NO_COLOR is set.
func useColor(w io.Writer) bool {
	if _, ok := os.LookupEnv("NO_COLOR"); ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// sizeFlag is a byte count given as 67108864, 64MiB, 64Mi, 64MB or 512KiB
// (binary units whatever the spelling).
type sizeFlag int64

func (s *sizeFlag) String() string { return manifest.FormatSize(int64(*s)) }
func (s *sizeFlag) Type() string   { return "size" }

func (s *sizeFlag) Set(v string) error {
	t := strings.TrimSpace(v)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a size (e.g. 64MiB)", v)
	}
	shift := 0
	switch strings.ToLower(strings.TrimSpace(t[i:])) {
	case "", "b":
	case "k", "kb", "ki", "kib":
		shift = 10
	case "m", "mb", "mi", "mib":
		shift = 20
	case "g", "gb", "gi", "gib":
		shift = 30
	default:
		return fmt.Errorf("%q is not a size (e.g. 64MiB)", v)
	}
	if n > (1<<62)>>shift {
		return fmt.Errorf("%q is too large", v)
	}
	*s = sizeFlag(n << shift)
	return nil
}
