package bundle

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

func TestBuiltin(t *testing.T) {
	b, err := Builtin()
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "builtin" || !strings.HasPrefix(b.Digest, "sha256:") || len(b.Digest) != len("sha256:")+64 {
		t.Errorf("builtin bundle = %s %s", b.Name, b.Digest)
	}
	for _, id := range []string{"privileged-container", "ingress-host-collision", "plaintext-secret"} {
		if b.Config.Checks[id] != Deny {
			t.Errorf("builtin %s = %q, want deny", id, b.Config.Checks[id])
		}
	}
}

func TestDigestIsCanonical(t *testing.T) {
	a := map[string][]byte{"gatekeep.yaml": []byte("checks: {}\n"), "x/p.rego": []byte("package p\n")}
	b := map[string][]byte{"x/p.rego": []byte("package p\n"), "gatekeep.yaml": []byte("checks: {}\n"), ".hidden": []byte("ignored")}
	c := map[string][]byte{"gatekeep.yaml": []byte("checks: {}\n"), "x/p.rego": []byte("package q\n")}
	// A file's name is part of the content: renaming a file changes the digest.
	d := map[string][]byte{"gatekeep.yaml": []byte("checks: {}\n"), "x/q.rego": []byte("package p\n")}
	da, _ := fromFiles("a", "a", a)
	db, _ := fromFiles("b", "b", b)
	dc, _ := fromFiles("c", "c", c)
	dd, _ := fromFiles("d", "d", d)
	if da.Digest != db.Digest {
		t.Errorf("same content, different digests: %s %s", da.Digest, db.Digest)
	}
	if da.Digest == dc.Digest || da.Digest == dd.Digest {
		t.Errorf("different content, same digest")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, config string
		line         int
		msg          string
	}{
		{"unknown key", "kubernetesVersion: \"1.33\"\nchekcs:\n  schema: warn\n", 2, `unknown key "chekcs"`},
		{"bad action", "checks:\n  schema: warn\n  privileged-container: block\n", 3, `action "block" is not one of deny, warn, dryrun, off`},
		{"not yaml", "checks: [\n", 1, "did not find"},
		{"wrong type", "checks: deny\n", 1, "cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fromFiles("b", "policy", map[string][]byte{"gatekeep.yaml": []byte(tc.config)})
			var e manifest.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want a manifest.Error", err)
			}
			if e.File != "policy/gatekeep.yaml" || e.Line != tc.line || !strings.Contains(e.Message, tc.msg) {
				t.Errorf("err = %v, want policy/gatekeep.yaml:%d ...%s", e, tc.line, tc.msg)
			}
		})
	}
}

func TestLoadDirAndMerge(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("kubernetesVersion: \"1.31\"\nchecks:\n  plaintext-secret: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	team, err := LoadPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	builtin, _ := Builtin()
	m := Merge(builtin, team)
	if m.Name != "builtin+"+filepath.Base(dir) {
		t.Errorf("name = %s", m.Name)
	}
	if m.Config.Checks["plaintext-secret"] != Warn || m.Config.Checks["privileged-container"] != Deny || m.Config.KubernetesVersion != "1.31" {
		t.Errorf("merged config = %+v", m.Config)
	}
	if m.Digest == builtin.Digest || m.Digest == team.Digest {
		t.Errorf("merged digest should cover both bundles")
	}
	if err := m.CheckError("plaintext-secret", "x"); !strings.HasSuffix(err.Error(), "gatekeep.yaml:3: x") {
		t.Errorf("CheckError = %v, want the line of the key", err)
	}
	if _, err := LoadPath(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("missing directory loaded")
	}
}

func TestBundleFiles(t *testing.T) {
	b, err := fromFiles("team", "policy", map[string][]byte{
		"gatekeep.yaml":              []byte("regoVersion: v0\n"),
		"main.rego":                  []byte("package main\n"),
		"main_test.rego":             []byte("package main\n"),
		"lib/util.rego":              []byte("package lib\n"),
		"data/registries.yaml":       []byte("registries:\n  - registry.example.com\n"),
		"data/teams.json":            []byte(`{"teams": {"a": 1}}`),
		"templates/required.yaml":    []byte("apiVersion: templates.gatekeeper.sh/v1\nkind: ConstraintTemplate\nmetadata:\n  name: k8srequiredlabels\n"),
		"constraints/must-have.yaml": []byte("apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: K8sRequiredLabels\nmetadata:\n  name: must-have-team\n"),
		"README.md":                  []byte("# not a policy\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Rego) != 2 || b.Rego[0].Name != "policy/lib/util.rego" || b.Rego[1].Name != "policy/main.rego" {
		t.Errorf("rego = %v", b.Rego)
	}
	if len(b.RegoTests) != 1 || b.RegoTests[0].Name != "policy/main_test.rego" {
		t.Errorf("tests = %v", b.RegoTests)
	}
	if _, ok := b.Data["registries"].([]any); !ok || b.Data["teams"] == nil {
		t.Errorf("data = %v", b.Data)
	}
	if len(b.Objects) != 2 || b.Objects[0].Source.File != "policy/constraints/must-have.yaml" || b.Objects[1].Kind() != "ConstraintTemplate" {
		t.Errorf("objects = %v", b.Objects)
	}
	if b.Config.RegoVersion != "v0" {
		t.Errorf("regoVersion = %q", b.Config.RegoVersion)
	}

	_, err = fromFiles("team", "policy", map[string][]byte{
		"data/a.yaml": []byte("x: 1\n"),
		"data/b.yaml": []byte("x: 2\n"),
	})
	if err == nil || !strings.Contains(err.Error(), `data key "x"`) {
		t.Errorf("duplicate data key: err = %v", err)
	}
}

func TestLoadTarGz(t *testing.T) {
	dir := t.TempDir()
	archive := filepath.Join(dir, "policy.tar.gz")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	for name, body := range map[string]string{"policy/gatekeep.yaml": "checks:\n  plaintext-secret: warn\n", "policy/main.rego": "package main\n"} {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := LoadPath(archive)
	if err != nil {
		t.Fatal(err)
	}
	if b.Name != "policy" || b.Config.Checks["plaintext-secret"] != Warn || len(b.Rego) != 1 {
		t.Errorf("bundle from archive: %s %+v %v", b.Name, b.Config, b.Rego)
	}
	// The same files in a directory give the same digest.
	if err := os.MkdirAll(filepath.Join(dir, "policy"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy", "gatekeep.yaml"), []byte("checks:\n  plaintext-secret: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "policy", "main.rego"), []byte("package main\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d, err := LoadPath(filepath.Join(dir, "policy"))
	if err != nil {
		t.Fatal(err)
	}
	if d.Digest != b.Digest {
		t.Errorf("directory digest %s, archive digest %s", d.Digest, b.Digest)
	}
}

func TestExemptions(t *testing.T) {
	b, err := fromFiles("team", "policy", map[string][]byte{"gatekeep.yaml": []byte(`exemptions:
  namespaces:
    - name: kube-system
      reason: system components are managed by the provider
    - name: dk-*
      checks: [ingress-host-collision]
      reason: review apps share preview hosts
  objects:
    - kind: DaemonSet
      namespace: monitoring
      name: node-exporter
      checks: [privileged-container]
      reason: node-exporter reads the host
`)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ref   manifest.Ref
		check string
		want  bool
	}{
		{manifest.Ref{Kind: "Pod", Namespace: "kube-system", Name: "x"}, "privileged-container", true},
		{manifest.Ref{Kind: "Ingress", Namespace: "dk-42", Name: "x"}, "ingress-host-collision", true},
		{manifest.Ref{Kind: "Ingress", Namespace: "dk-42", Name: "x"}, "privileged-container", false},
		{manifest.Ref{Kind: "DaemonSet", Namespace: "monitoring", Name: "node-exporter"}, "privileged-container", true},
		{manifest.Ref{Kind: "DaemonSet", Namespace: "monitoring", Name: "node-exporter"}, "plaintext-secret", false},
		{manifest.Ref{Kind: "Deployment", Namespace: "monitoring", Name: "node-exporter"}, "privileged-container", false},
		{manifest.Ref{Kind: "Namespace", Name: "kube-system"}, "privileged-container", false},
	} {
		if _, got := b.Config.Exempt(tc.ref, tc.check); got != tc.want {
			t.Errorf("Exempt(%s, %s) = %v, want %v", tc.ref, tc.check, got, tc.want)
		}
	}
	if !b.Config.ExemptNamespace("kube-system") || b.Config.ExemptNamespace("dk-1") {
		t.Errorf("ExemptNamespace: only kube-system is exempt from every check")
	}
	for _, bad := range []struct{ config, msg string }{
		{"exemptions:\n  namespaces:\n    - name: kube-system\n", "policy/gatekeep.yaml:3: exemptions: namespace \"kube-system\": give a reason"},
		{"exemptions:\n  objects:\n    - kind: Pod\n      reason: x\n", "policy/gatekeep.yaml:3: exemptions: objects[0]: name is required"},
		{"exemptions:\n  objects:\n    - name: x\n      reason: y\n      nmespace: z\n", `policy/gatekeep.yaml:5: unknown key "nmespace"`},
		{"regoVersion: v2\n", "policy/gatekeep.yaml:1: regoVersion"},
	} {
		_, err := fromFiles("team", "policy", map[string][]byte{"gatekeep.yaml": []byte(bad.config)})
		if err == nil || !strings.HasPrefix(err.Error(), bad.msg) {
			t.Errorf("config %q: err = %v, want %s", bad.config, err, bad.msg)
		}
	}
}
