package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

const docs = `apiVersion: v1
kind: Pod
metadata: {name: priv, namespace: a}
spec:
  containers:
    - name: main
      securityContext: {privileged: true}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: a}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: fine, namespace: a}
`

func load(t *testing.T) *manifest.Set {
	t.Helper()
	objs, errs := manifest.Parse("in.yaml", []byte(docs))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return &manifest.Set{Objects: objs, Files: 1}
}

func withChecks(t *testing.T, config string) *bundle.Bundle {
	t.Helper()
	builtin, err := bundle.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() + "/team"
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir+"/gatekeep.yaml", []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(dir))
	team, err := bundle.LoadPath("team")
	if err != nil {
		t.Fatal(err)
	}
	return bundle.Merge(builtin, team)
}

func TestCheckVerdictsAndSummary(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		opts   []Option
		want   Summary
		checks string
	}{
		{"defaults", "", nil, Summary{Files: 1, Objects: 3, Denied: 2, Passed: 1}, "privileged-container,ingress-host-collision,plaintext-secret,deprecated-api,schema,schema-missing,sealed-secret"},
		{"warn", "checks: {plaintext-secret: warn}", nil, Summary{Files: 1, Objects: 3, Denied: 1, Warned: 1, Passed: 1}, "privileged-container,ingress-host-collision,plaintext-secret,deprecated-api,schema,schema-missing,sealed-secret"},
		{"dryrun passes", "checks: {plaintext-secret: dryrun, privileged-container: dryrun}", nil, Summary{Files: 1, Objects: 3, Passed: 3}, "privileged-container,ingress-host-collision,plaintext-secret,deprecated-api,schema,schema-missing,sealed-secret"},
		{"off", "checks: {plaintext-secret: off}", nil, Summary{Files: 1, Objects: 3, Denied: 1, Passed: 2}, "privileged-container,ingress-host-collision,deprecated-api,schema,schema-missing,sealed-secret"},
		{"exempt object", "exemptions: {objects: [{kind: Pod, name: priv, reason: debug pod}]}", nil, Summary{Files: 1, Objects: 3, Denied: 1, Passed: 2}, "privileged-container,ingress-host-collision,plaintext-secret,deprecated-api,schema,schema-missing,sealed-secret"},
		{"exempt namespace for one check", "exemptions: {namespaces: [{name: a, checks: [plaintext-secret], reason: test fixtures}]}", nil, Summary{Files: 1, Objects: 3, Denied: 1, Passed: 2}, "privileged-container,ingress-host-collision,plaintext-secret,deprecated-api,schema,schema-missing,sealed-secret"},
		{"admission leaves CI-only checks out", "", []Option{WithMode(Admission)}, Summary{Files: 1, Objects: 3, Denied: 1, Passed: 2}, "privileged-container,ingress-host-collision,deprecated-api,schema,schema-missing,sealed-secret"},
		{"only", "", []Option{Only("plaintext-secret")}, Summary{Files: 1, Objects: 3, Denied: 1, Passed: 2}, "plaintext-secret"},
		{"skip", "", []Option{Skip("plaintext-secret", "ingress-host-collision")}, Summary{Files: 1, Objects: 3, Denied: 1, Passed: 2}, "privileged-container,deprecated-api,schema,schema-missing,sealed-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eng, err := New(withChecks(t, tc.config), tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, c := range eng.Checks() {
				ids = append(ids, c.ID)
			}
			sort.Strings(ids)
			want := strings.Split(tc.checks, ",")
			sort.Strings(want)
			if got := strings.Join(ids, ","); got != strings.Join(want, ",") {
				t.Errorf("checks %s, want %s", got, tc.checks)
			}
			r, err := eng.Check(context.Background(), load(t))
			if err != nil {
				t.Fatal(err)
			}
			if got := r.Summary(); got.Counts() != tc.want.Counts() {
				t.Errorf("summary %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestFindingsCarrySource(t *testing.T) {
	eng, err := New(withChecks(t, "checks: {plaintext-secret: warn}"))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := eng.Check(context.Background(), load(t))
	fs := r.Findings()
	if len(fs) != 2 {
		t.Fatalf("findings %+v", fs)
	}
	want := []Finding{
		{Check: "privileged-container", Action: Deny, Message: `container "main" is privileged`, Object: manifest.Ref{APIVersion: "v1", Kind: "Pod", Namespace: "a", Name: "priv"}, Path: "/spec/containers/0/securityContext/privileged", File: "in.yaml", Line: 7},
		{Check: "plaintext-secret", Action: Warn, Message: `Secret "creds" holds plaintext values in stringData (keys: password): seal it with kubeseal or reference an external secret store`, Object: manifest.Ref{APIVersion: "v1", Kind: "Secret", Namespace: "a", Name: "creds"}, Path: "/stringData", File: "in.yaml", Line: 12},
	}
	for i, w := range want {
		if !reflect.DeepEqual(fs[i], w) {
			t.Errorf("finding %d = %+v\nwant %+v", i, fs[i], w)
		}
	}
	if r.BundleName != "builtin+team" || r.KubernetesVersion != "1.37" {
		t.Errorf("result names bundle %s, version %s", r.BundleName, r.KubernetesVersion)
	}
}

func TestNewRejectsUnknownChecks(t *testing.T) {
	if _, err := New(withChecks(t, "checks:\n  schema: warn\n  nope: deny\n")); err == nil || !strings.Contains(err.Error(), "team/gatekeep.yaml:3") {
		t.Errorf("unknown check in bundle: err = %v", err)
	}
	b, _ := bundle.Builtin()
	if _, err := New(b, Only("nope")); err == nil {
		t.Errorf("unknown check in Only accepted")
	}
	if _, err := New(withChecks(t, "kubernetesVersion: \"1.x\"\n")); err == nil {
		t.Errorf("bad kubernetesVersion accepted")
	}
}

func TestCheckHonoursCancellation(t *testing.T) {
	b, _ := bundle.Builtin()
	eng, _ := New(b)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := eng.Check(ctx, load(t)); err == nil {
		t.Errorf("cancelled check returned no error")
	}
}

// TestModesRunCIOnlyChecks: plaintext-secret judges what is committed to
// git: CI runs it; admission never does (a cluster holds Secrets); an
// audit does only when gatekeep.yaml names it.
func TestModesRunCIOnlyChecks(t *testing.T) {
	for _, tc := range []struct {
		mode   Mode
		config string
		runs   bool
	}{
		{CI, "", true},
		{Admission, "", false},
		{Admission, "checks: {plaintext-secret: deny}", false},
		{Audit, "", false},
		{Audit, "checks: {plaintext-secret: warn}", true},
		{Audit, "checks: {plaintext-secret: off}", false},
	} {
		eng, err := New(withChecks(t, tc.config), WithMode(tc.mode))
		if err != nil {
			t.Fatal(err)
		}
		runs := slices.ContainsFunc(eng.Checks(), func(c CheckInfo) bool { return c.ID == "plaintext-secret" })
		fs, err := eng.Review(context.Background(), Request{Operation: "CREATE", Object: manifest.New(map[string]any{
			"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds", "namespace": "a"},
			"stringData": map[string]any{"password": "hunter2"},
		})}, nil)
		if err != nil {
			t.Fatal(err)
		}
		found := slices.ContainsFunc(fs, func(f Finding) bool { return f.Check == "plaintext-secret" })
		if runs != tc.runs || found != tc.runs {
			t.Errorf("mode %d, %q: plaintext-secret listed %v, found %v; want %v", tc.mode, tc.config, runs, found, tc.runs)
		}
	}
}
