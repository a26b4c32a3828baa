package bundle

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

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
	a := fstest.MapFS{"gatekeep.yaml": {Data: []byte("checks: {}\n")}, "x/p.rego": {Data: []byte("package p\n")}}
	b := fstest.MapFS{"x/p.rego": {Data: []byte("package p\n"), Mode: 0o600}, "gatekeep.yaml": {Data: []byte("checks: {}\n")}, ".hidden": {Data: []byte("ignored")}}
	c := fstest.MapFS{"gatekeep.yaml": {Data: []byte("checks: {}\n")}, "x/p.rego": {Data: []byte("package q\n")}}
	// A file's name is part of the content: renaming a file changes the digest.
	d := fstest.MapFS{"gatekeep.yaml": {Data: []byte("checks: {}\n")}, "x/q.rego": {Data: []byte("package p\n")}}
	da, _ := Load("a", "a", a)
	db, _ := Load("b", "b", b)
	dc, _ := Load("c", "c", c)
	dd, _ := Load("d", "d", d)
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
			_, err := Load("b", "policy/gatekeep.yaml", fstest.MapFS{"gatekeep.yaml": {Data: []byte(tc.config)}})
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
	if err := os.WriteFile(filepath.Join(dir, ConfigFile), []byte("kubernetesVersion: \"1.31\"\nchecks:\n  plaintext-secret: warn\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	team, err := LoadDir(dir)
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
	if _, err := LoadDir(filepath.Join(dir, "missing")); err == nil {
		t.Errorf("missing directory loaded")
	}
}
