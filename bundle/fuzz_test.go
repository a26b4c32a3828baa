package bundle

import (
	"archive/tar"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzConfig parses gatekeep.yaml: errors, never a panic.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("checks:\n  privileged-container: warn\nallowNetwork: true\n"))
	f.Add([]byte("images:\n  failOn: CRITICAL\n  allow:\n    - id: CVE-1\n      expires: 2025-06-30\n      reason: r\n  namespaces:\n    team-*:\n      maxCount: 2\n"))
	f.Add([]byte("exemptions:\n  namespaces: [kube-system]\nsync:\n  - group: apps\n    version: v1\n    kind: Deployment\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = fromFiles("fuzz", "fuzz", map[string][]byte{ConfigFile: data})
	})
}

// FuzzLoadBundle loads a bundle of fuzzed files from a directory and from
// a .tar.gz of the same files: both load, or neither, with one digest.
func FuzzLoadBundle(f *testing.F) {
	f.Add([]byte("checks: {}\n"), []byte("package main\n\nimport rego.v1\n\ndeny contains \"x\" if input.kind == \"Pod\"\n"), []byte("a: 1\n"), []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"))
	f.Add([]byte(""), []byte("package p"), []byte("- 1\n"), []byte("kind: Suite\napiVersion: test.gatekeeper.sh/v1alpha1\n"))
	f.Fuzz(func(t *testing.T, config, rego, data, object []byte) {
		files := map[string][]byte{ConfigFile: config, "p/policy.rego": rego, "data/d.yaml": data, "objects/o.yaml": object}
		dir := t.TempDir()
		bdir := filepath.Join(dir, "b")
		for p, c := range files {
			full := filepath.Join(bdir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, c, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		archive := filepath.Join(dir, "b.tar.gz")
		af, err := os.Create(archive)
		if err != nil {
			t.Fatal(err)
		}
		gz := gzip.NewWriter(af)
		tw := tar.NewWriter(gz)
		for p, c := range files {
			if err := tw.WriteHeader(&tar.Header{Name: "b/" + p, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(c); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := gz.Close(); err != nil {
			t.Fatal(err)
		}
		if err := af.Close(); err != nil {
			t.Fatal(err)
		}

		d, derr := LoadPath(bdir)
		a, aerr := LoadPath(archive)
		if (derr == nil) != (aerr == nil) {
			t.Fatalf("directory: %v; archive: %v", derr, aerr)
		}
		if derr == nil && d.Digest != a.Digest {
			t.Errorf("directory digest %s, archive digest %s", d.Digest, a.Digest)
		}
	})
}

// Issue 17, L: reading a bundle's settings does not link the image
// scanner.
func TestBundleDoesNotLinkScanner(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output() //nolint:gosec // G204: the go binary from PATH with fixed arguments, in a test
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "trivy") || strings.Contains(dep, "bbolt") || strings.Contains(dep, "go-containerregistry") || strings.HasSuffix(dep, "gatekeep/scanner") {
			t.Errorf("bundle depends on %s", dep)
		}
	}
}
