package gklibrary

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The fixture is a tiny gatekeeper-library checkout: alpha has two
// samples (the first by name is taken), beta's first sample has examples
// but no constraint (the next one's is taken), gamma has no samples (its
// template is written alone), and artifacthub/ holds a versioned copy of
// alpha that only a walk of the root, not of library/, would find.
const fixture = "testdata/checkout"

func TestWriteBundle(t *testing.T) {
	// The repository's root and its library/ directory give one bundle.
	for _, dir := range []string{fixture, filepath.Join(fixture, "library")} {
		t.Run(dir, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "bundle") // created by WriteBundle
			s, err := WriteBundle(dir, out)
			if err != nil {
				t.Fatal(err)
			}
			want := Summary{Templates: 3, Constraints: 2, WithoutConstraint: []string{"psp/gamma"}}
			if !reflect.DeepEqual(s, want) {
				t.Errorf("summary = %+v, want %+v", s, want)
			}
			if got, want := s.String(), "3 templates, 2 sample constraints (no sample constraint, template alone: psp/gamma)"; got != want {
				t.Errorf("String() = %q, want %q", got, want)
			}
			lib := filepath.Join(fixture, "library")
			wantFiles := map[string]string{
				"01-alpha-template.yaml":   "general/alpha/template.yaml",
				"01-alpha-constraint.yaml": "general/alpha/samples/a-first/constraint.yaml",
				"02-beta-template.yaml":    "general/beta/template.yaml",
				"02-beta-constraint.yaml":  "general/beta/samples/z-last/constraint.yaml",
				"03-gamma-template.yaml":   "psp/gamma/template.yaml",
			}
			entries, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if len(names) != len(wantFiles) {
				t.Errorf("bundle holds %v, want the %d files %v", names, len(wantFiles), wantFiles)
			}
			for name, from := range wantFiles {
				got, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Error(err)
					continue
				}
				src, err := os.ReadFile(filepath.Join(lib, from))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(src) {
					t.Errorf("%s is not a copy of %s:\n%s", name, from, got)
				}
			}
		})
	}
}

func TestWriteBundleErrors(t *testing.T) {
	empty := t.TempDir()
	file := filepath.Join(empty, "template.yaml")
	if err := os.WriteFile(file, []byte("kind: ConstraintTemplate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(empty, "missing")
	for _, tc := range []struct {
		name, dir string
		want      []string // in the error
	}{
		{"missing directory", missing, []string{missing}},
		{"a file, not a directory", file, []string{file, "not a directory"}},
		// A directory with no template.yaml below it: nothing to write.
		{"no templates", filepath.Join(fixture, "library", "general", "alpha", "samples"), []string{"no template.yaml under", "samples"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteBundle(tc.dir, t.TempDir())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestExamples(t *testing.T) {
	lib := filepath.Join(fixture, "library")
	want := []string{
		filepath.Join(lib, "general/alpha/samples/a-first/example_allowed.yaml"),
		filepath.Join(lib, "general/beta/samples/a-examples-only/example_allowed.yaml"),
	}
	// The root and library/ alike; artifacthub's copies are not read.
	for _, dir := range []string{fixture, lib} {
		got, err := Examples(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Examples(%s) = %v, want %v", dir, got, want)
		}
	}
}
