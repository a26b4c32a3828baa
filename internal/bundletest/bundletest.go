// Package bundletest copies a fixture bundle for tests, with a gatekeep.yaml
// of the test's own.
package bundletest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
)

// Copy copies the files of the bundle directory src into a directory named
// policy in a new temporary directory, with config as its gatekeep.yaml,
// and returns that directory.
func Copy(t testing.TB, src, config string) string {
	t.Helper()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "policy")
	if err := os.Mkdir(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name())) //nolint:gosec // G304: the test's own fixture
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == bundle.ConfigFile {
			data = []byte(config)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil { //nolint:gosec // G703: copying the test's own fixture bundle into its TempDir
			t.Fatal(err)
		}
	}
	return dir
}
