package manifest

import (
	"os"
	"path/filepath"
	"strings"
)

// Symbolic links are followed only where they stay in the trees being
// checked: a kube.yaml linked to ~/.kube/config must not be parsed (and
// fed to policies that print what they read). Load's walk keeps to the
// paths it was given; kustomize builds and Argo CD directory sources, which
// legitimately read across the repository, keep to the repository root or
// those paths, whichever holds the file.

// resolvedRoots resolves the paths given to Load ("-" aside): absolute,
// symbolic links followed. A path that does not resolve is kept as it is.
func resolvedRoots(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "-" {
			continue
		}
		if r := resolvePath(p); r != "" {
			out = append(out, r)
		}
	}
	return out
}

func resolvePath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(abs); err == nil {
		return r
	}
	return abs
}

// underAny tells whether path is one of roots or below one.
func underAny(path string, roots []string) bool {
	for _, root := range roots {
		rel, err := filepath.Rel(root, path)
		if err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// leaves tells whether path, its symbolic links followed, lies outside
// roots, and where it leads. A path that does not resolve (a dangling
// link) does not leave: reading it reports the error.
func leaves(path string, roots []string) (bool, string) {
	target, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false, ""
	}
	return !underAny(target, roots), target
}

// linkProblem is the warning for a link left unread.
func (l *loader) linkProblem(link, target string) Problem {
	return Problem{File: l.rel(link), Warning: true,
		Message: "symbolic link to " + target + " leaves the checked tree: not read"}
}

// warn records a problem of the walk.
func (l *loader) warn(p Problem) {
	l.mu.Lock()
	l.problems = append(l.problems, p)
	l.mu.Unlock()
}

// kustomizeTemp tells a directory kustomize cloned a remote base into.
func kustomizeTemp(path string) bool {
	tmp := resolvePath(os.TempDir())
	rel, err := filepath.Rel(tmp, path)
	return err == nil && strings.HasPrefix(rel, "kustomize-")
}
