package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gatekeep-dev/gatekeep/internal/parallel"
)

// Set is what Load read: the objects, the inputs it could not read, the
// sources it could not render, and what it left out.
type Set struct {
	Objects []*Object
	// Errors are inputs the user named that cannot be read at all (a
	// missing path, YAML that does not parse): the run is unusable.
	Errors []Error
	// Problems are sources that could not be rendered, or rendered with a
	// warning: the engine reports them under the render check.
	Problems []Problem
	Files    int
	// Skipped counts documents and files left out, by reason (Skip*).
	Skipped  map[string]int
	Rendered Rendered
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

// WithRepoURLs adds URLs by which Argo CD knows the repository being
// checked, besides its git remotes: Applications with such a repoURL are
// rendered from the checkout.
func WithRepoURLs(urls ...string) Option {
	return func(l *loader) { l.repoURLs = append(l.repoURLs, urls...) }
}

// WithRepoRoot sets the root of the repository being checked, against
// which Argo CD source paths resolve (default: the git checkout holding
// the first path named, else that path).
func WithRepoRoot(dir string) Option { return func(l *loader) { l.repoRoot = dir } }

// AllowRemote lets kustomizations fetch remote resources and bases, each
// within timeout (DefaultRemoteTimeout when zero).
func AllowRemote(on bool, timeout time.Duration) Option {
	return func(l *loader) {
		l.allowRemote = on
		if timeout > 0 {
			l.remoteTimeout = timeout
		}
	}
}

// DefaultRemoteTimeout bounds each remote fetch of a kustomization.
const DefaultRemoteTimeout = 30 * time.Second

// WithKubernetes gives Helm charts the target cluster: its version and the
// APIs it serves ("group/version" and "group/version/Kind"), as
// .Capabilities. apiVersions is called once, when the first chart is
// rendered: a repository without charts does not pay for the list.
func WithKubernetes(version string, apiVersions func() []string) Option {
	return func(l *loader) {
		l.kubeVersion = version
		l.apiVersions = sync.OnceValue(func() []string {
			if apiVersions == nil {
				return nil
			}
			return apiVersions()
		})
	}
}

// WithChartValues gives the value files of charts met outside any
// application: chart directory (relative to the repository root, or to the
// working directory outside a repository) to files relative to the chart.
func WithChartValues(values map[string][]string) Option {
	return func(l *loader) { l.chartValues = values }
}

// StdinName is the file name given to objects read from standard input.
const StdinName = "<stdin>"

// DefaultMaxFileSize bounds one file read (and one remote fetch, and
// standard input) unless WithMaxFileSize says otherwise.
const DefaultMaxFileSize = 64 << 20

// WithMaxFileSize bounds what one file, standard input or one remote fetch
// may hold, in bytes (DefaultMaxFileSize when not positive): a larger one
// is an Error naming it and the limit, and is not read.
func WithMaxFileSize(n int64) Option {
	return func(l *loader) {
		if n > 0 {
			l.maxFileSize = n
		}
	}
}

// FormatSize writes a byte count as its limit is usually given: "64 MiB",
// "512 KiB", else in bytes.
func FormatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

type loader struct {
	exclude []func(rel string, isDir bool) bool
	stdin   io.Reader
	cwd     string

	maxFileSize int64

	// roots are the paths given to Load, resolved; area adds the
	// repository root (see links.go).
	roots []string
	area  []string

	mu       sync.Mutex
	problems []Problem // the walk's warnings

	repoURLs      []string
	repoRoot      string
	allowRemote   bool
	remoteTimeout time.Duration
	kubeVersion   string
	apiVersions   func() []string
	chartValues   map[string][]string
}

// unit is one thing to read: a plain file, a kustomization directory or a
// Helm chart directory.
type unit struct {
	path     string // absolute
	kind     pieceKind
	explicit bool // named on the command line, so never dropped as consumed
	// own are the manifest files of a kustomization's own directory, read
	// on their own when it does not build.
	own   []string
	kfile kustomizationFile
}

// Load reads every object under paths: files, directories (recursively;
// Argo CD applications, kustomizations and Helm charts rendered as Argo CD
// would) and "-" for standard input. What cannot be read is reported in
// Errors, what cannot be rendered in Problems; the rest is still read.
func Load(ctx context.Context, paths []string, opts ...Option) *Set {
	l := &loader{stdin: os.Stdin, maxFileSize: DefaultMaxFileSize, remoteTimeout: DefaultRemoteTimeout, apiVersions: func() []string { return nil }}
	l.cwd, _ = os.Getwd()
	for _, o := range opts {
		o(l)
	}
	l.roots = resolvedRoots(paths)
	l.area = l.roots
	set := &Set{}
	var units []unit
	var stdin []*Object
	for _, p := range paths {
		if p == "-" {
			data, err := io.ReadAll(io.LimitReader(l.stdin, l.maxFileSize+1))
			switch {
			case err != nil:
				set.Errors = append(set.Errors, Error{File: StdinName, Message: "read: " + err.Error()})
				continue
			case int64(len(data)) > l.maxFileSize:
				set.Errors = append(set.Errors, Error{File: StdinName, Message: "standard input is larger than " + FormatSize(l.maxFileSize) + " (--max-file-size)"})
				continue
			}
			objs, errs, skipped := parse(StdinName, data, true)
			stdin = append(stdin, objs...)
			set.Errors = append(set.Errors, errs...)
			set.skip(SkipNotKubernetes, skipped)
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
	r := l.newRun(ctx, paths, units)
	r.run()
	r.assemble(set)
	set.Objects = append(set.Objects, stdin...)
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

// regularFile refuses what is not a regular file of bounded size: a FIFO
// would block and a device would never end.
func (l *loader) regularFile(abs string) error {
	st, err := os.Stat(abs)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", l.rel(abs))
	}
	if st.Size() > l.maxFileSize {
		return fmt.Errorf("%s is larger than %s (--max-file-size)", l.rel(abs), FormatSize(l.maxFileSize))
	}
	return nil
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
		if special(filepath.Base(abs)) {
			if err := l.regularFile(abs); err != nil {
				return nil, []Error{{File: p, Message: "read: " + err.Error()}}
			}
		}
		if isKustomizationFile(abs) {
			dir := filepath.Dir(abs)
			return []unit{{path: dir, kind: pieceKustomization, explicit: true, kfile: readKustomization(abs), own: l.ownFiles(dir)}}, nil
		}
		if filepath.Base(abs) == "Chart.yaml" {
			return []unit{{path: filepath.Dir(abs), kind: pieceChart, explicit: true}}, nil
		}
		return []unit{{path: abs, kind: piecePlain, explicit: true}}, nil
	}
	var units []unit
	var errs []Error
	l.walkDir(abs, abs, &units, &errs)
	return units, errs
}

// walkDir adds the units of one directory and those below it. One read of
// each directory tells what it is: a policy bundle (skipped), a Helm chart
// (rendered whole) or a kustomization (rendered; its files are what
// kustomize reads).
func (l *loader) walkDir(root, dir string, units *[]unit, errs *[]Error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		*errs = append(*errs, Error{File: l.rel(dir), Message: err.Error()})
		return
	}
	has := make(map[string]bool, len(entries))
	links := map[string]bool{} // those leaving the roots
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 {
			path := filepath.Join(dir, e.Name())
			if out, target := leaves(path, l.roots); out {
				links[e.Name()] = true
				// Other files are never read: no need to warn of them.
				if special(e.Name()) || isManifestFile(path) || isDirectory(path) {
					l.warn(l.linkProblem(path, target))
				}
				continue
			}
		}
		if e.IsDir() {
			continue
		}
		// The files that tell what a directory is are read (or handed to
		// kustomize and Helm) right away: a FIFO or a device named so would
		// block the walk or never end. Other files are only read through
		// parseFiles, which refuses them too.
		if special(e.Name()) {
			if err := l.regularFile(filepath.Join(dir, e.Name())); err != nil {
				*errs = append(*errs, Error{File: l.rel(filepath.Join(dir, e.Name())), Message: "read: " + err.Error()})
				continue
			}
		}
		has[e.Name()] = true
	}
	// A policy bundle is not manifests to check.
	if has["gatekeep.yaml"] && dir != root {
		return
	}
	if has["Chart.yaml"] {
		*units = append(*units, unit{path: dir, kind: pieceChart, explicit: dir == root})
		return
	}
	kfile := ""
	for _, n := range KustomizationFiles {
		if has[n] {
			kfile = filepath.Join(dir, n)
			break
		}
	}
	if kfile != "" {
		*units = append(*units, unit{path: dir, kind: pieceKustomization, explicit: dir == root, kfile: readKustomization(kfile), own: l.ownFiles(dir)})
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if links[e.Name()] {
			continue
		}
		if e.IsDir() {
			if e.Name() == ".git" || l.excludedPath(path, true) {
				continue
			}
			l.walkDir(root, path, units, errs)
			continue
		}
		// Files of a kustomization directory are what kustomize renders.
		if kfile != "" || !isManifestFile(path) || l.excludedPath(path, false) {
			continue
		}
		*units = append(*units, unit{path: path, kind: piecePlain})
	}
}

// ownFiles lists the manifest files of a directory (not its kustomization).
func (l *loader) ownFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var out []string
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		if e.IsDir() || !isManifestFile(path) || isKustomizationFile(path) || l.excludedPath(path, false) {
			continue
		}
		if e.Type()&fs.ModeSymlink != 0 {
			if out, _ := leaves(path, l.roots); out {
				continue // walkDir warned of it
			}
		}
		out = append(out, path)
	}
	return out
}

// special tells the names of the files that make a directory a
// kustomization, a Helm chart or a policy bundle.
func special(name string) bool {
	return name == "Chart.yaml" || name == "gatekeep.yaml" || isKustomizationFile(name)
}

func isDirectory(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

func isManifestFile(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// parseFiles reads plain files on every core, one piece each, keeping
// their order.
func (l *loader) parseFiles(ctx context.Context, files []string, renders []Render) []*piece {
	out := make([]*piece, len(files))
	parallel.For(len(files), func(i int) {
		p := &piece{unit: files[i], kind: piecePlain}
		out[i] = p
		if ctx.Err() != nil {
			return
		}
		name := l.rel(files[i])
		if out, target := leaves(files[i], l.area); out {
			p.problems = []Problem{l.linkProblem(files[i], target)}
			return
		}
		if err := l.regularFile(files[i]); err != nil {
			p.errors = []Error{{File: name, Message: "read: " + err.Error()}}
			return
		}
		data, err := os.ReadFile(files[i])
		if err != nil {
			p.errors = []Error{{File: name, Message: "read: " + err.Error()}}
			return
		}
		objs, errs, skipped := parse(name, data, true)
		p.objects, p.errors = objs, errs
		p.skip(SkipNotKubernetes, skipped)
		for _, o := range objs {
			o.Renders = renders
		}
	})
	return out
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
