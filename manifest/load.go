package manifest

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/gatekeep-dev/gatekeep/internal/parallel"
)

// Set is what Load read: the objects, the inputs it could not read, and
// how many files held them.
type Set struct {
	Objects []*Object
	Errors  []Error
	Files   int
}

// Option configures Load.
type Option func(*loader)

// WithExclude skips files and directories matching any of the globs. A glob
// without a slash matches a base name; one with a slash matches the path
// relative to the working directory; ** matches any number of directories.
func WithExclude(globs ...string) Option {
	return func(l *loader) {
		for _, g := range globs {
			l.exclude = append(l.exclude, globMatcher(g))
		}
	}
}

// WithStdin sets what the path "-" reads.
func WithStdin(r io.Reader) Option { return func(l *loader) { l.stdin = r } }

// StdinName is the file name given to objects read from standard input.
const StdinName = "<stdin>"

type loader struct {
	exclude []func(rel string, isDir bool) bool
	stdin   io.Reader
	cwd     string
}

// unit is one thing to read: a plain file or a kustomization directory.
type unit struct {
	path     string // absolute
	kustom   bool
	explicit bool // named on the command line, so never dropped as consumed
}

// Load reads every object under paths: files, directories (recursively,
// kustomization directories rendered as kustomize build would) and "-" for
// standard input. What cannot be read is reported in Errors; the rest is
// still read.
func Load(ctx context.Context, paths []string, opts ...Option) *Set {
	l := &loader{stdin: os.Stdin}
	l.cwd, _ = os.Getwd()
	for _, o := range opts {
		o(l)
	}
	set := &Set{}
	var units []unit
	var stdin []*Object
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(l.stdin)
			if err != nil {
				set.Errors = append(set.Errors, Error{File: StdinName, Message: "read: " + err.Error()})
				continue
			}
			objs, errs := Parse(StdinName, data)
			stdin = append(stdin, objs...)
			set.Errors = append(set.Errors, errs...)
			continue
		}
		u, errs := l.walk(p)
		units = append(units, u...)
		set.Errors = append(set.Errors, errs...)
	}
	if ctx.Err() != nil {
		set.Errors = append(set.Errors, Error{File: "-", Message: ctx.Err().Error()})
		return set
	}

	// Render kustomizations first: the files they consume are not read
	// again on their own, and a kustomization another one consumes (a base)
	// is not rendered on its own either.
	builds := map[string]*build{}
	consumed := map[string]bool{}
	for _, u := range units {
		if u.kustom {
			b := render(u.path, l.rel)
			builds[u.path] = b
			for f := range b.consumed {
				consumed[f] = true
			}
		}
	}
	var plain []string
	for _, u := range units {
		if !u.kustom {
			if !consumed[u.path] || u.explicit {
				plain = append(plain, u.path)
			}
			continue
		}
		if kf := kustomization(u.path); !u.explicit && l.consumedByOther(kf, u.path, builds) {
			continue
		}
		b := builds[u.path]
		if b.err != nil {
			set.Errors = append(set.Errors, *b.err)
		}
		set.Objects = append(set.Objects, b.objects...)
	}
	objs, errs := parseFiles(ctx, plain, l.rel)
	set.Objects = append(set.Objects, objs...)
	set.Objects = append(set.Objects, stdin...)
	set.Errors = append(set.Errors, errs...)
	// Files counts the files objects came from, and those that failed.
	files := map[string]bool{}
	for _, o := range set.Objects {
		files[o.Source.File] = true
	}
	for _, e := range set.Errors {
		files[e.File] = true
	}
	set.Files = len(files)
	sort.SliceStable(set.Errors, func(i, j int) bool {
		a, b := set.Errors[i], set.Errors[j]
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	return set
}

// consumedByOther reports whether another build read kfile.
func (l *loader) consumedByOther(kfile, dir string, builds map[string]*build) bool {
	for d, b := range builds {
		if d != dir && b.consumed[kfile] {
			return true
		}
	}
	return false
}

// walk lists the units under one command-line path.
func (l *loader) walk(p string) ([]unit, []Error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, []Error{{File: p, Message: err.Error()}}
	}
	st, err := os.Stat(abs)
	if err != nil {
		msg := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			msg = "no such file or directory"
		}
		return nil, []Error{{File: p, Message: msg}}
	}
	if l.excluded(l.rel(abs), st.IsDir()) {
		return nil, nil
	}
	if !st.IsDir() {
		for _, n := range KustomizationFiles {
			if filepath.Base(abs) == n {
				return []unit{{path: filepath.Dir(abs), kustom: true, explicit: true}}, nil
			}
		}
		return []unit{{path: abs, explicit: true}}, nil
	}
	var units []unit
	var errs []Error
	l.walkDir(abs, abs, &units, &errs)
	return units, errs
}

// walkDir adds the units of one directory and those below it. One read of
// each directory tells what it is: a policy bundle (skipped), a Helm chart
// (its templates skipped) or a kustomization (rendered; its files are what
// kustomize reads).
func (l *loader) walkDir(root, dir string, units *[]unit, errs *[]Error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		*errs = append(*errs, Error{File: l.rel(dir), Message: err.Error()})
		return
	}
	has := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !e.IsDir() {
			has[e.Name()] = true
		}
	}
	// A policy bundle is not manifests to check.
	if has["gatekeep.yaml"] && dir != root {
		return
	}
	chart := has["Chart.yaml"]
	kustom := false
	for _, n := range KustomizationFiles {
		kustom = kustom || has[n]
	}
	if kustom {
		*units = append(*units, unit{path: dir, kustom: true, explicit: dir == root})
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if e.IsDir() {
			// A Helm chart's templates are not YAML until Helm renders them.
			if e.Name() == ".git" || l.excludedPath(path, true) || chart && (e.Name() == "templates" || e.Name() == "charts") {
				continue
			}
			l.walkDir(root, path, units, errs)
			continue
		}
		// Files of a kustomization directory are what kustomize renders.
		if kustom || !isManifestFile(path) || l.excludedPath(path, false) {
			continue
		}
		*units = append(*units, unit{path: path})
	}
}

func isManifestFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// parseFiles reads plain files on every core, keeping their order.
func parseFiles(ctx context.Context, files []string, rel func(string) string) ([]*Object, []Error) {
	type result struct {
		objs []*Object
		errs []Error
	}
	results := make([]result, len(files))
	parallel.For(len(files), func(i int) {
		if ctx.Err() != nil {
			return
		}
		name := rel(files[i])
		data, err := os.ReadFile(files[i])
		if err != nil {
			results[i].errs = []Error{{File: name, Message: "read: " + err.Error()}}
			return
		}
		results[i].objs, results[i].errs = Parse(name, data)
	})
	var objs []*Object
	var errs []Error
	for _, r := range results {
		objs = append(objs, r.objs...)
		errs = append(errs, r.errs...)
	}
	return objs, errs
}

// rel names a path relative to the working directory, with slashes.
func (l *loader) rel(path string) string {
	if l.cwd != "" {
		if r, err := filepath.Rel(l.cwd, path); err == nil {
			return filepath.ToSlash(r)
		}
	}
	return filepath.ToSlash(path)
}

// excludedPath is excluded for an absolute path, naming it relative only
// when there are globs to match.
func (l *loader) excludedPath(path string, isDir bool) bool {
	return len(l.exclude) > 0 && l.excluded(l.rel(path), isDir)
}

func (l *loader) excluded(rel string, isDir bool) bool {
	for _, m := range l.exclude {
		if m(rel, isDir) {
			return true
		}
	}
	return false
}

// globMatcher compiles a glob in the manner of .gitignore patterns.
func globMatcher(glob string) func(rel string, isDir bool) bool {
	g := strings.TrimSuffix(filepath.ToSlash(glob), "/")
	g = strings.TrimPrefix(g, "./")
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(g); i++ {
		switch c := g[i]; c {
		case '*':
			if i+1 < len(g) && g[i+1] == '*' {
				i++
				if i+1 < len(g) && g[i+1] == '/' {
					i++
					re.WriteString("(.*/)?")
				} else {
					re.WriteString(".*")
				}
			} else {
				re.WriteString("[^/]*")
			}
		case '?':
			re.WriteString("[^/]")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	rx, err := regexp.Compile(re.String())
	if err != nil {
		return func(string, bool) bool { return false }
	}
	baseOnly := !strings.Contains(g, "/")
	return func(rel string, _ bool) bool {
		if baseOnly {
			return rx.MatchString(filepath.Base(rel))
		}
		return rx.MatchString(rel)
	}
}
