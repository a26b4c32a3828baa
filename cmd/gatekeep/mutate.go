package main

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

func newMutateCommand() *cobra.Command {
	var bundles, exclude, sealKeys []string
	var render renderFlags
	cmd := &cobra.Command{
		Use:   "mutate [flags] PATH... | -",
		Short: "Print the objects as the webhook would admit them (sealed values decrypted, review-app labels applied)",
		Long: `Print every object as gatekeep serve would admit it, after the bundle's
mutations (inline sealed values decrypted with --sealed-secrets-key,
review-app labels), so that CI can show the patch before Argo CD syncs.
Labels it could not set are reported on standard error.

Exit codes: 0 done, 1 an object would be refused (an inline sealed value
that does not decrypt: nothing is printed), 2 inputs or flags unusable.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("mutate: no input: give files, directories, or - for standard input")
			}
			return runMutate(cmd.Context(), bundles, exclude, sealKeys, &render, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringArrayVar(&bundles, "bundle", nil, "policy bundle directory or .tar.gz, added to the built-in bundle (repeatable)")
	cmd.Flags().StringArrayVar(&exclude, "exclude", nil, "skip files and directories matching this glob (repeatable)")
	render.register(cmd.Flags())
	cmd.Flags().StringArrayVar(&sealKeys, "sealed-secrets-key", nil, "sealed-secrets private key (PEM, or the key Secrets' YAML) to decrypt inline sealed Secrets (repeatable)")
	return cmd
}

func runMutate(ctx context.Context, bundles, exclude, sealKeys []string, render *renderFlags, paths []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	keys, err := sealingKeys(sealKeys)
	if err != nil {
		return err
	}
	bundles, _, cleanup, err := resolveBundles(ctx, bundles)
	if err != nil {
		return err
	}
	defer cleanup()
	eng, err := newEngine(bundles, "", engine.WithMode(engine.Admission), engine.SealingKeys(keys))
	if err != nil {
		return err
	}
	set := manifest.Load(ctx, paths, append(render.options(eng.Bundle(), ""), manifest.WithExclude(exclude...), manifest.WithStdin(stdin))...)
	unusable := len(set.Errors) > 0
	for _, p := range set.Problems {
		level := "error"
		if p.Warning {
			level = "warning"
		} else {
			unusable = true
		}
		fmt.Fprintf(stderr, "%s: render: %s:%d: %s\n", level, p.File, p.Line, p.Message)
	}
	namespaces := map[string]*manifest.Object{}
	for _, o := range set.Objects {
		if o.Kind() == "Namespace" && o.APIVersion() == "v1" {
			namespaces[o.Name()] = o
		}
	}
	// Nothing is printed until every object is known to be admitted: a
	// value that does not decrypt prints no object at all.
	var printed bytes.Buffer
	refused := false
	for i, o := range set.Objects {
		m, err := eng.Mutate(ctx, engine.Request{Operation: "CREATE", Object: o, Namespace: namespaces[o.Namespace()]})
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", o.Source.File, o.Source.Line, o.Ref(), err)
		}
		for _, f := range m.Findings {
			fmt.Fprintf(stderr, "%s:%d: %s: %s %s: %s\n", f.File, f.Line, f.Action, f.Check, f.Object, f.Message)
			refused = refused || f.Action == engine.Deny
		}
		out, err := engine.Apply(o.Data, m.Patches)
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", o.Source.File, o.Source.Line, o.Ref(), err)
		}
		doc, err := yaml.Marshal(out)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(&printed, "---")
		}
		fmt.Fprintf(&printed, "# Source: %s:%d\n%s", o.Source.File, o.Source.Line, doc)
	}
	if refused {
		return &exitError{code: exitDenied, msg: "mutate: an object would be refused; no object printed"}
	}
	if _, err := stdout.Write(printed.Bytes()); err != nil {
		return err
	}
	for _, e := range set.Errors {
		fmt.Fprintln(stderr, "error: "+e.Error())
	}
	if unusable {
		return &exitError{code: exitUnusable}
	}
	return nil
}
