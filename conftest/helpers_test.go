package conftest

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// readFiles reads the .rego files under testdata/dir, named relative to
// testdata as a bundle names them.
func readFiles(t testing.TB, dir string) []File {
	t.Helper()
	var files []File
	err := filepath.WalkDir(filepath.Join("testdata", dir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".rego") {
			return err
		}
		b, err := os.ReadFile(path) //nolint:gosec // G122: reads the repository's own testdata
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("testdata", path)
		files = append(files, File{Name: filepath.ToSlash(rel), Content: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func readData(t testing.TB) map[string]any {
	t.Helper()
	b, err := os.ReadFile("testdata/data.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := yaml.Unmarshal(b, &data); err != nil {
		t.Fatal(err)
	}
	return data
}

func readObjects(t testing.TB, names ...string) []*manifest.Object {
	t.Helper()
	var objs []*manifest.Object
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		o, errs := manifest.Parse(name, b)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		objs = append(objs, o...)
	}
	return objs
}
