// Package gklibrary turns a checkout of the public gatekeeper-library
// (github.com/open-policy-agent/gatekeeper-library) into one policy
// bundle: each library directory's template.yaml and its first sample
// constraint, the files gator would be given to run that policy. The
// benchmark harness measures gatekeep and gator on the real library with
// it, rather than on generated templates only.
package gklibrary

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Summary says what WriteBundle wrote.
type Summary struct {
	// Templates is the number of template.yaml files written, one per
	// library directory.
	Templates int
	// Constraints is the number of sample constraints written, at most
	// one per template.
	Constraints int
	// WithoutConstraint names the library directories (relative to the
	// library, with slashes) that have no sample constraint. Their
	// template is written all the same: it is loaded, and so costs its
	// compilation, but it checks nothing.
	WithoutConstraint []string
}

// String reads "49 templates, 49 sample constraints", naming the
// directories without a sample constraint if there are any.
func (s Summary) String() string {
	out := fmt.Sprintf("%d templates, %d sample constraints", s.Templates, s.Constraints)
	if len(s.WithoutConstraint) > 0 {
		out += fmt.Sprintf(" (no sample constraint, template alone: %s)", strings.Join(s.WithoutConstraint, ", "))
	}
	return out
}

// WriteBundle finds every directory holding a template.yaml under dir, a
// gatekeeper-library checkout (its root, whose library/ is then read, or
// that library/ directory itself), in lexical order, and writes into out
// (created if need be) its template as <nn>-<dirname>-template.yaml and
// the constraint.yaml of its first sample (samples/* by name, the first
// that has one) as <nn>-<dirname>-constraint.yaml. The number nn keeps the
// library's order and the names apart, since a directory's base name is
// not unique across the library's categories in principle.
func WriteBundle(dir, out string) (Summary, error) {
	root, err := libraryRoot(dir)
	if err != nil {
		return Summary{}, err
	}
	dirs, err := templateDirs(root)
	if err != nil {
		return Summary{}, err
	}
	if len(dirs) == 0 {
		return Summary{}, fmt.Errorf("gatekeeper-library %s: no template.yaml under %s", dir, root)
	}
	if err := os.MkdirAll(out, 0o755); err != nil { //nolint:gosec // G301: a bundle of public policies, as readable as the checkout
		return Summary{}, fmt.Errorf("gatekeeper-library bundle: %w", err)
	}
	width := max(2, len(strconv.Itoa(len(dirs))))
	var s Summary
	for i, d := range dirs {
		prefix := filepath.Join(out, fmt.Sprintf("%0*d-%s", width, i+1, filepath.Base(d)))
		if err := copyFile(filepath.Join(d, "template.yaml"), prefix+"-template.yaml"); err != nil {
			return Summary{}, err
		}
		s.Templates++
		constraint, err := firstSampleConstraint(d)
		if err != nil {
			return Summary{}, err
		}
		if constraint == "" {
			rel, err := filepath.Rel(root, d)
			if err != nil {
				return Summary{}, fmt.Errorf("gatekeeper-library %s: %w", d, err)
			}
			s.WithoutConstraint = append(s.WithoutConstraint, filepath.ToSlash(rel))
			continue
		}
		if err := copyFile(constraint, prefix+"-constraint.yaml"); err != nil {
			return Summary{}, err
		}
		s.Constraints++
	}
	return s, nil
}

// libraryRoot is dir's library/ when it has one (dir is the repository's
// root), else dir. Walking the root itself would also find the versioned
// copies of every template under artifacthub/.
func libraryRoot(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("gatekeeper-library: %w", err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("gatekeeper-library %s: not a directory", dir)
	}
	lib := filepath.Join(dir, "library")
	if fi, err := os.Stat(lib); err == nil && fi.IsDir() {
		return lib, nil
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("gatekeeper-library: %w", err)
	}
	return dir, nil
}

// templateDirs lists the directories under root holding a regular file
// template.yaml, in lexical order (filepath.WalkDir's). Hidden directories
// (.git, .github) are not policies and are skipped.
func templateDirs(root string) ([]string, error) {
	var dirs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		ok, err := isFile(filepath.Join(path, "template.yaml"))
		if ok {
			dirs = append(dirs, path)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("gatekeeper-library: %w", err)
	}
	return dirs, nil
}

// firstSampleConstraint is the constraint.yaml of the first directory of
// dir/samples, by name, that has one; "" when none does or there are no
// samples. A sample without a constraint.yaml (examples alone) is passed
// over rather than ending the search.
func firstSampleConstraint(dir string) (string, error) {
	samples := filepath.Join(dir, "samples")
	entries, err := os.ReadDir(samples) // sorted by name
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("gatekeeper-library: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c := filepath.Join(samples, e.Name(), "constraint.yaml")
		ok, err := isFile(c)
		if err != nil {
			return "", err
		}
		if ok {
			return c, nil
		}
	}
	return "", nil
}

// isFile reports whether path is a regular file (symbolic links followed);
// an error other than its absence is returned.
func isFile(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("gatekeeper-library: %w", err)
	}
	return fi.Mode().IsRegular(), nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("gatekeeper-library: %w", err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil { //nolint:gosec // G306: public policies, as readable as the checkout
		return fmt.Errorf("gatekeeper-library bundle: %w", err)
	}
	return nil
}

// Examples lists the library's sample objects, the example*.yaml files of
// every template directory's samples under dir (as WriteBundle takes it),
// in lexical order: the objects its suites judge.
func Examples(dir string) ([]string, error) {
	root, err := libraryRoot(dir)
	if err != nil {
		return nil, err
	}
	dirs, err := templateDirs(root)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "samples", "*", "example*.yaml"))
		if err != nil {
			return nil, fmt.Errorf("gatekeeper-library: %w", err)
		}
		out = append(out, files...) // Glob sorts
	}
	return out, nil
}
