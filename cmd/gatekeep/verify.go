package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/gatekeeper"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/verify"
)

func newVerifyCommand() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "verify [flags] [BUNDLE...]",
		Short: "Run a policy bundle's own tests: *_test.rego, and Gatekeeper Suites",
		Long: `Run the tests of each bundle (a directory or .tar.gz; the built-in bundle when
none is given): its *_test.rego files as opa test runs them, and its
Gatekeeper Suite files (test.gatekeeper.sh/v1alpha1) as gator verify does.
A bundle file holding policy kinds gatekeep does not run (Gatekeeper
mutators, ValidatingAdmissionPolicy, Kyverno policies) is warned about, as
gatekeep check does (policy-unsupported); warnings do not fail.

Exit codes: 0 everything passed, 1 a test failed, 2 a bundle is unusable.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), args, output, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text|json")
	return cmd
}

func runVerify(ctx context.Context, paths []string, output string, stdout io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if output != "text" && output != "json" {
		return usageError("verify: unknown output format %q (valid: text, json)", output)
	}
	// Each bundle must load and compile as gatekeep check loads it (over
	// the built-in bundle), with the same error and exit code when it does
	// not: a bundle whose Rego or templates do not compile has failed,
	// whether or not it has tests.
	//
	// What check would warn about the bundle itself (policy kinds gatekeep
	// does not run) is printed too, and does not fail verify.
	paths, _, cleanup, err := resolveBundles(ctx, paths)
	if err != nil {
		return err
	}
	defer cleanup()
	rep := &verify.Report{Results: []verify.SuiteResult{}, Warnings: []verify.Warning{}}
	if len(paths) == 0 {
		fs, err := verifyCompiles("")
		if err != nil {
			return err
		}
		rep.Warn(fs...)
	}
	for _, p := range paths {
		fs, err := verifyCompiles(p)
		if err != nil {
			return err
		}
		rep.Warn(fs...)
	}
	var bundles []*bundle.Bundle
	if len(paths) == 0 {
		b, err := bundle.Builtin()
		if err != nil {
			return err
		}
		bundles = append(bundles, b)
	}
	for _, p := range paths {
		b, err := bundle.LoadPath(p)
		if err != nil {
			return usageError("%v", err)
		}
		bundles = append(bundles, b)
	}
	for _, b := range bundles {
		suites, err := verify.Bundle(ctx, b)
		if err != nil {
			return usageError("%v", err)
		}
		rep.Add(suites...)
	}
	if output == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(stdout)
	}
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if !rep.OK() {
		return &exitError{code: exitDenied}
	}
	return nil
}

// verifyCompiles loads the bundle at p (none: the built-in bundle alone)
// over the built-in bundle and prepares the engine for it, as gatekeep
// check does, failing as check fails.
//
// A bundle holding Gatekeeper Suites is laid out for gator verify: its
// Suites may take their templates from outside it, and some of its
// constraints are there to be found invalid. Its constraints are left to
// the Suites, which judge each with its template; its Rego and its
// templates must compile.
//
// It returns the findings check gives about the bundle itself.
func verifyCompiles(p string) ([]engine.Finding, error) {
	var paths []string
	if p != "" {
		paths = append(paths, p)
	}
	b, err := bundle.LoadOverBuiltin(paths...)
	if err != nil {
		return nil, usageError("%v", err)
	}
	if slices.ContainsFunc(b.Objects, isSuite) {
		withoutConstraints := *b
		withoutConstraints.Objects = slices.DeleteFunc(slices.Clone(b.Objects), func(o *manifest.Object) bool { return gatekeeper.IsConstraint(o.Data) })
		b = &withoutConstraints
	}
	eng, err := engineFor(b, "", engine.WithMode(engine.CI))
	if err != nil {
		return nil, err
	}
	return eng.BundleFindings(), nil
}

func isSuite(o *manifest.Object) bool {
	return o.Kind() == "Suite" && strings.HasPrefix(o.APIVersion(), "test.gatekeeper.sh/")
}
