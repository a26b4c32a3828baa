package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gatekeep-dev/gatekeep/audit"
	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/policyreport"
	"github.com/gatekeep-dev/gatekeep/progress"
	"github.com/gatekeep-dev/gatekeep/report"
	"github.com/gatekeep-dev/gatekeep/scanner"
	"github.com/gatekeep-dev/gatekeep/scanner/podauth"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

// auditFlags are the flags of gatekeep audit; serve's continuous audit
// takes the ones that say what to audit and where reports go.
type auditFlags struct {
	bundles    []string
	kubeconfig string
	version    string
	output     string
	failOnWarn bool
	quiet      bool
	sealKeys   []string
	images     imageFlags
	scope      auditScope
	reports    reportFlags
	progress   progress.Mode
}

// auditScope says which objects an audit judges.
type auditScope struct {
	exclude  []string
	pageSize int64
}

// Help of the flags gatekeep audit and serve share (serve's are named
// audit-...).
const (
	excludeNamespaceHelp = "namespace whose objects the audit leaves out, as the webhook configuration does (repeatable; namespaces labelled " + audit.IgnoreLabel + " and the bundle's exempt namespaces are left out anyway)"
	pageSizeHelp         = "objects asked of the API server per list request"
	reportFormatHelp     = "write the findings as PolicyReports: wgpolicyk8s (wgpolicyk8s.io/v1alpha2) or openreports (openreports.io/v1alpha1); none: do not"
	reportPassHelp       = "PolicyReports list the objects that passed too (a pass result each)"
)

// reportFlags say whether and how PolicyReports are written.
type reportFlags struct {
	format string
	pass   bool
}

// writer is the PolicyReport writer the flags ask for (nil: none).
func (r *reportFlags) writer(cfg *rest.Config) (*policyreport.Writer, error) {
	if r.format == "" || r.format == "none" {
		return nil, nil
	}
	f, err := policyreport.ParseFormat(r.format)
	if err != nil {
		return nil, usageError("--policy-report-format: %v", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return policyreport.New(dyn, f, policyreport.WithPass(r.pass)), nil
}

func newAuditCommand() *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit --kubeconfig FILE",
		Short: "Judge what a cluster already runs, with the bundle the webhook uses",
		Long: `Audit a cluster: list, page by page, every kind the API server serves (but
Events and Leases), judge each object with the same engine and bundle as the
webhook, with the cluster's Ingresses, Namespaces and the bundle's sync:
kinds as the inventory, and print the same report as gatekeep check. Only
the objects with findings are kept, so memory stays flat however large the
cluster. An object last applied with a deprecated apiVersion that is still
served is judged at that version, so deprecated-api finds it.

Checks run as at admission. A CI-only check (plaintext-secret) runs only
when gatekeep.yaml's checks: names it; image-vulnerability runs when the
bundle has an images: policy. The audit never changes an object; with
--policy-report-format it writes PolicyReports (one per namespace with
findings, one for cluster-scoped objects) and removes those of namespaces
now clean.

Exit codes are those of check: 0 nothing denied, 1 something denied (or
warned, with --fail-on-warn), 2 unusable flags, bundle or cluster (a kind
that could not be listed is reported, the others still audited).`,
		Example: `  gatekeep audit --kubeconfig ~/.kube/config --bundle policy/
  gatekeep audit --bundle oci://registry.example.com/policy:prod -o json
  gatekeep audit --policy-report-format wgpolicyk8s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&f.bundles, "bundle", nil, "policy bundle: directory, .tar.gz or oci://REF, added to the built-in bundle (repeatable)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: the in-cluster configuration)")
	fl.StringVar(&f.version, "kubernetes-version", "", "target Kubernetes version (default: the bundle's, else the API server's)")
	fl.StringVarP(&f.output, "output", "o", "text", "output format: "+strings.Join(report.Names(), "|"))
	fl.BoolVar(&f.failOnWarn, "fail-on-warn", false, "exit 1 on warnings too")
	fl.BoolVarP(&f.quiet, "quiet", "q", false, "print only denials and errors")
	fl.StringArrayVar(&f.sealKeys, "sealed-secrets-key", nil, "sealed-secrets private key: PEM or the YAML of the key Secrets (repeatable); SealedSecrets must then decrypt")
	f.images.register(cmd)
	fl.StringArrayVar(&f.scope.exclude, "exclude-namespace", nil, excludeNamespaceHelp)
	fl.Int64Var(&f.scope.pageSize, "page-size", audit.DefaultPageSize, pageSizeHelp)
	fl.StringVar(&f.reports.format, "policy-report-format", "none", reportFormatHelp)
	fl.BoolVar(&f.reports.pass, "policy-report-pass", false, reportPassHelp)
	progressFlag(cmd, &f.progress)
	return cmd
}

func runAudit(ctx context.Context, f *auditFlags, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	// The inventory's caches log through controller-runtime; a one-shot
	// run reports what matters in its result.
	ctrllog.SetLogger(logr.Discard())
	var opts []report.Option
	if f.output == "text" {
		opts = append(opts, report.WithColor(useColor(stdout)), report.Quiet(f.quiet))
	}
	cfg, err := clusterConfig(f.kubeconfig)
	if err != nil {
		return usageError("%v", err)
	}
	writer, err := f.reports.writer(cfg)
	if err != nil {
		return err
	}
	b, cleanup, err := loadBundle(ctx, f.bundles)
	if err != nil {
		return err
	}
	defer cleanup()
	keys, err := sealingKeys(f.sealKeys)
	if err != nil {
		return err
	}
	engOpts := []engine.Option{engine.SealingKeys(keys)}
	if b.Config.Images != nil {
		s, err := f.images.scanner(b.Config.Images, false)
		if err != nil {
			return err
		}
		clientset, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return err
		}
		// One-shot, as CI: every scan is waited for.
		engOpts = append(engOpts, engine.ImageScans(scanner.NewCache(s), scanner.WaitForScans(),
			scanner.Keychains(podauth.Keychains(clientset, authn.DefaultKeychain))))
	}
	eng, err := auditEngine(cfg, b, f.version, engOpts...)
	if err != nil {
		return err
	}
	for _, n := range eng.Notes() {
		fmt.Fprintln(stderr, "note: "+n)
	}
	inv := webhook.NewInventory()
	invCtx, stopInv := context.WithCancel(ctx)
	defer stopInv()
	if err := inv.Start(invCtx, cfg, webhook.SyncKinds(b.Config), nil); err != nil {
		return usageError("audit: %v", err)
	}
	// The synced objects go into data.inventory at once, once synced, as
	// a webhook's new engine takes them.
	if err := eng.AddInventory(ctx, inv.Objects()...); err != nil {
		return fmt.Errorf("audit: data.inventory: %w", err)
	}
	// Kinds listed and objects judged, page by page.
	bar := progress.New(stderr, f.progress).Items("listing kinds, objects judged", 0)
	runner := &audit.Runner{Cluster: cfg, Inventory: inv.Checks(), Namespace: inv.Namespace,
		Exclude: audit.WebhookExclusion(inv, f.scope.exclude), PageSize: f.scope.pageSize, Reports: writer,
		Progress: func(p audit.Progress) {
			bar.Describe(fmt.Sprintf("kinds %d/%d (%s), objects judged", p.Kinds, p.KindsTotal, p.Kind))
			bar.Set(int64(p.Objects))
		}}
	res, err := runner.Once(ctx, eng)
	bar.Done()
	stopInv()
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	opts = append(opts, report.WithChecks(eng.Checks()), report.WithVersion(version))
	out, err := report.New(f.output, opts...)
	if err != nil {
		return usageError("%v", err)
	}
	if err := out.Write(stdout, res); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return exitFor(res, f.failOnWarn)
}

// auditEngine prepares the engine of an audit for a bundle: the bundle's
// target version, else the one given, else the API server's.
func auditEngine(cluster *rest.Config, b *bundle.Bundle, version string, opts ...engine.Option) (*engine.Engine, error) {
	if version == "" && b.Config.KubernetesVersion == "" {
		version, _ = serverVersion(cluster)
	}
	return engineFor(b, version, append([]engine.Option{engine.WithMode(engine.Audit)}, opts...)...)
}
