package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

func newMutateCommand() *cobra.Command {
	var bundles, exclude []string
	cmd := &cobra.Command{
		Use:   "mutate [flags] PATH... | -",
		Short: "Print the objects as the webhook would admit them (review-app labels applied)",
		Long: `Print every object as gatekeep serve would admit it, after the bundle's
mutations (review-app labels), so that CI can show the patch before Argo CD
syncs. Labels it could not set are reported on standard error.

Exit codes: 0 done, 2 inputs or flags unusable.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("mutate: no input: give files, directories, or - for standard input")
			}
			return runMutate(cmd.Context(), bundles, exclude, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringArrayVar(&bundles, "bundle", nil, "policy bundle directory or .tar.gz, added to the built-in bundle (repeatable)")
	cmd.Flags().StringArrayVar(&exclude, "exclude", nil, "skip files and directories matching this glob (repeatable)")
	return cmd
}

func runMutate(ctx context.Context, bundles, exclude, paths []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	eng, err := newEngine(bundles, "", engine.WithMode(engine.Admission))
	if err != nil {
		return err
	}
	set := manifest.Load(ctx, paths, manifest.WithExclude(exclude...), manifest.WithStdin(stdin))
	namespaces := map[string]*manifest.Object{}
	for _, o := range set.Objects {
		if o.Kind() == "Namespace" && o.APIVersion() == "v1" {
			namespaces[o.Name()] = o
		}
	}
	for i, o := range set.Objects {
		m, err := eng.Mutate(ctx, engine.Request{Operation: "CREATE", Object: o, Namespace: namespaces[o.Namespace()]})
		if err != nil {
			return fmt.Errorf("%s:%d: %s: %w", o.Source.File, o.Source.Line, o.Ref(), err)
		}
		for _, f := range m.Findings {
			fmt.Fprintf(stderr, "%s:%d: %s: %s %s: %s\n", f.File, f.Line, f.Action, f.Check, f.Object, f.Message)
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
			fmt.Fprintln(stdout, "---")
		}
		fmt.Fprintf(stdout, "# Source: %s:%d\n%s", o.Source.File, o.Source.Line, doc)
	}
	for _, e := range set.Errors {
		fmt.Fprintln(stderr, "error: "+e.Error())
	}
	if len(set.Errors) > 0 {
		return &exitError{code: exitUnusable}
	}
	return nil
}
