package engine

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/internal/bundletest"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// unsupportedBundle copies the bundle of ../bundle/testdata/unsupported
// (mutators, a ValidatingAdmissionPolicy and its binding, a Kyverno
// ClusterPolicy, and a ConstraintTemplate with its Constraint) to policy/
// of a new working directory, with config as its gatekeep.yaml, and loads
// it over the built-in bundle.
func unsupportedBundle(t *testing.T, config string) *bundle.Bundle {
	t.Helper()
	dir := bundletest.Copy(t, "../bundle/testdata/unsupported", config)
	// Findings name the bundle's files as the user gives them: policy/...
	t.Chdir(filepath.Dir(dir))
	b, err := bundle.LoadOverBuiltin("policy")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const ownerless = `apiVersion: v1
kind: ConfigMap
metadata: {name: ownerless, namespace: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: owned, namespace: a, labels: {owner: team-a}}
`

func TestUnsupportedPolicyFindings(t *testing.T) {
	type place struct {
		Action Action
		File   string
		Line   int
	}
	warnings := func(a Action) []place {
		return []place{
			{a, "policy/assign.yaml", 1},
			{a, "policy/kyverno.yaml", 1},
			{a, "policy/metadata-and-modifyset.yaml", 2},
			{a, "policy/vap.yaml", 1},
		}
	}
	for _, tc := range []struct {
		name   string
		config string
		opts   []Option
		want   []place
		// summary: the ConstraintTemplate denies the ownerless
		// ConfigMap; each finding about the bundle counts once more.
		summary Summary
	}{
		{"warn by default", "", nil, warnings(Warn), Summary{Files: 1, Objects: 2, Denied: 1, Warned: 4, Passed: 1}},
		{"raised to deny", "checks: {policy-unsupported: deny}", nil, warnings(Deny), Summary{Files: 1, Objects: 2, Denied: 5, Passed: 1}},
		{"dryrun", "checks: {policy-unsupported: dryrun}", nil, warnings(DryRun), Summary{Files: 1, Objects: 2, Denied: 1, Passed: 1}},
		{"off", "checks: {policy-unsupported: off}", nil, nil, Summary{Files: 1, Objects: 2, Denied: 1, Passed: 1}},
		{"skipped", "", []Option{Skip(UnsupportedCheck)}, nil, Summary{Files: 1, Objects: 2, Denied: 1, Passed: 1}},
		{"only it", "", []Option{Only(UnsupportedCheck)}, warnings(Warn), Summary{Files: 1, Objects: 2, Warned: 4, Passed: 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := unsupportedBundle(t, tc.config)
			e, err := New(b, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			objs, errs := manifest.Parse("in.yaml", []byte(ownerless))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			r, err := e.Check(context.Background(), &manifest.Set{Objects: objs, Files: 1})
			if err != nil {
				t.Fatal(err)
			}
			var got []place
			for _, f := range r.Findings() {
				if f.Check != UnsupportedCheck {
					continue
				}
				got = append(got, place{f.Action, f.File, f.Line})
				if f.Object != (manifest.Ref{}) || f.Path != "" || f.Message == "" {
					t.Errorf("finding %+v: want no object or path, and a message", f)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("policy-unsupported findings\n got %v\nwant %v", got, tc.want)
			}
			if s := r.Summary(); s.Counts() != tc.summary.Counts() {
				t.Errorf("summary %+v, want %+v", s.Counts(), tc.summary.Counts())
			}
			if !reflect.DeepEqual(e.BundleFindings(), r.Combined) {
				t.Errorf("BundleFindings() = %+v, want the result's %+v", e.BundleFindings(), r.Combined)
			}
		})
	}
}

// TestUnsupportedPolicyMessages: the finding of a file names every kind
// gatekeep does not run in it, and the ConstraintTemplate beside them
// still judges objects, in CI and at admission.
func TestUnsupportedPolicyMessages(t *testing.T) {
	b := unsupportedBundle(t, "")
	want := map[string]string{}
	for _, u := range b.Unsupported() {
		want[u.File] = u.Message()
	}
	for _, mode := range []Mode{CI, Admission} {
		e, err := New(b, WithMode(mode))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range e.BundleFindings() {
			got[f.File] = f.Message
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("mode %d: messages %v, want %v", mode, got, want)
		}
		if m := got["policy/metadata-and-modifyset.yaml"]; m != "AssignMetadata, ModifySet (2): "+bundle.GatekeeperMutation.Why {
			t.Errorf("mode %d: message %q", mode, m)
		}
		objs, _ := manifest.Parse("in.yaml", []byte(ownerless))
		fs, err := e.Review(context.Background(), Request{Operation: "CREATE", Object: objs[0]}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 1 || fs[0].Check != "K8sRequiredOwner/configmaps-have-owners" || fs[0].Action != Deny {
			t.Errorf("mode %d: the ConstraintTemplate beside them found %+v", mode, fs)
		}
	}
}
