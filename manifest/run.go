package manifest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/argocd"
	"github.com/gatekeep-dev/gatekeep/helmchart"
	"github.com/gatekeep-dev/gatekeep/internal/gitrepo"
)

type pieceKind int

const (
	piecePlain pieceKind = iota
	pieceKustomization
	pieceChart
)

// piece is what one unit or one application source gave: its objects, its
// problems, and for a kustomization what it read.
type piece struct {
	unit     string // absolute path of the file or directory
	dir      bool
	kind     pieceKind
	explicit bool
	objects  []*Object
	problems []Problem
	errors   []Error
	skipped  map[string]int
	consumed map[string]bool // a kustomize build's files
	charts   map[string]bool // a kustomize build's inflated charts
	failed   bool
	helm     int // charts rendered
	jsonnet  int // Jsonnet files of a directory source, not rendered
	dropped  bool
}

// absorb takes in the objects, errors, problems and skips of the pieces
// its files were parsed into.
func (p *piece) absorb(parsed []*piece) {
	for _, fp := range parsed {
		p.objects = append(p.objects, fp.objects...)
		p.errors = append(p.errors, fp.errors...)
		p.problems = append(p.problems, fp.problems...)
		for reason, n := range fp.skipped {
			p.skip(reason, n)
		}
	}
}

func (p *piece) skip(reason string, n int) {
	if n == 0 {
		return
	}
	if p.skipped == nil {
		p.skipped = map[string]int{}
	}
	p.skipped[reason] += n
}

// claim is a directory an application renders: it is not also checked on
// its own (recursive: nor anything below it).
type claim struct {
	dir       string
	recursive bool
}

// run is one Load's rendering: standalone units, and the applications met
// in them, followed until no new one appears.
type run struct {
	ctx   context.Context
	l     *loader
	repo  argocd.Repo
	units []unit

	plain      []*piece // plain files, in walk order
	standalone []*piece // kustomizations and charts rendered on their own
	apps       []*piece // application sources
	claims     []claim
	appsSeen   map[string]bool
	queue      []argocd.App
	appCount   int
	valueFiles map[string]bool // Helm value files applications use
	patches    map[string]bool
	problems   []Problem
}

func (l *loader) newRun(ctx context.Context, paths []string, units []unit) *run {
	start := l.cwd
	for _, p := range paths {
		if p != "-" {
			if abs, err := filepath.Abs(p); err == nil {
				start = abs
				if st, err := os.Stat(abs); err == nil && !st.IsDir() {
					start = filepath.Dir(abs)
				}
			}
			break
		}
	}
	root := gitrepo.Root(start)
	if l.repoRoot != "" {
		root, _ = filepath.Abs(l.repoRoot)
	}
	urls := append([]string(nil), l.repoURLs...)
	if root != "" {
		urls = append(urls, gitrepo.RemoteURLs(root)...)
	} else {
		root = start
	}
	// Builds and directory sources read across the repository.
	l.area = append(append([]string(nil), l.roots...), resolvePath(root))
	r := &run{ctx: ctx, l: l, repo: argocd.Repo{Root: root, URLs: urls}, units: units,
		appsSeen: map[string]bool{}, valueFiles: map[string]bool{}, patches: map[string]bool{}}
	for _, u := range units {
		for _, p := range u.kfile.patches {
			r.patches[p] = true
		}
	}
	return r
}

func (r *run) run() {
	var files []string
	var explicit []bool
	for _, u := range r.units {
		if u.kind == piecePlain {
			files = append(files, u.path)
			explicit = append(explicit, u.explicit)
		}
	}
	r.plain = r.l.parseFiles(r.ctx, files, nil)
	for i, p := range r.plain {
		p.explicit = explicit[i]
		if !r.patches[p.unit] || p.explicit {
			r.collectApps(p.objects)
		}
	}
	r.follow()
	for _, u := range r.units {
		if u.kind == piecePlain || r.ctx.Err() != nil {
			continue
		}
		if !u.explicit && (r.claimed(u.path, true) || u.kind == pieceKustomization && u.kfile.component) {
			continue
		}
		var p *piece
		if u.kind == pieceChart {
			p = r.l.chart(u.path, helmchart.Options{ValueFiles: r.chartValues(u.path)}, nil)
		} else {
			p = r.kustomizePiece(u.path, nil, nil)
			if p.failed {
				r.fallback(u, p)
			}
		}
		p.explicit = u.explicit
		r.standalone = append(r.standalone, p)
		r.collectApps(p.objects)
		r.follow()
	}
}

// chartValues are the value files gatekeep.yaml gives a chart met outside
// any application.
func (r *run) chartValues(dir string) []string {
	for _, base := range []string{r.repo.Root, r.l.cwd} {
		rel, err := filepath.Rel(base, dir)
		if err != nil {
			continue
		}
		if files, ok := r.l.chartValues[filepath.ToSlash(rel)]; ok {
			return files
		}
	}
	return nil
}

// fallback reads the manifest files of a kustomization that did not build
// on their own, so that nothing in it goes unchecked (patches aside).
func (r *run) fallback(u unit, p *piece) {
	var files []string
	for _, f := range u.own {
		if r.patches[f] {
			p.skip(SkipPatch, 1)
			continue
		}
		files = append(files, f)
	}
	p.absorb(r.l.parseFiles(r.ctx, files, nil))
}

// kustomizePiece builds one kustomization into a piece; one whose bases
// lead back to it is a render problem naming the cycle.
func (r *run) kustomizePiece(dir string, argo *argocd.KustomizeOptions, renders []Render) *piece {
	l := r.l
	if path, line := cycle(dir); path != nil {
		names := make([]string, len(path))
		for i, d := range path {
			names[i] = l.rel(d)
		}
		kfile := kustomization(dir)
		renders = withRender(renders, Render{Kind: RenderKustomization, Name: l.rel(dir), File: l.rel(kfile)})
		return &piece{unit: dir, dir: true, kind: pieceKustomization, failed: true, problems: []Problem{{
			File: l.rel(kfile), Line: line, Renders: renders,
			Message: "kustomization cycle: " + strings.Join(names, " → ") + ": kustomize cannot build it; remove one of the references",
		}}}
	}
	b := l.kustomize(dir, argo, renders)
	return &piece{unit: dir, dir: true, kind: pieceKustomization, objects: b.objects, problems: b.problems,
		consumed: b.consumed, charts: b.charts, failed: b.failed, helm: b.helm}
}

// collectApps queues the applications among objects.
func (r *run) collectApps(objs []*Object) {
	for _, o := range objs {
		if !argocd.IsApplication(o.Data) && !argocd.IsApplicationSet(o.Data) {
			continue
		}
		apps, warns := argocd.Read(o.Data, o.Source.File, o.Source.Line, r.repo)
		for _, w := range warns {
			r.problems = append(r.problems, Problem{File: w.File, Line: w.Line, Message: w.Message, Warning: true, Renders: o.Renders})
		}
		r.queue = append(r.queue, apps...)
	}
}

// follow renders the queued applications, and those their renders hold
// (app of apps), each once.
func (r *run) follow() {
	for len(r.queue) > 0 && r.ctx.Err() == nil {
		app := r.queue[0]
		r.queue = r.queue[1:]
		key, _ := json.Marshal(app)
		if r.appsSeen[string(key)] {
			continue
		}
		r.appsSeen[string(key)] = true
		r.appCount++
		for _, p := range r.renderApp(app) {
			r.apps = append(r.apps, p)
			r.collectApps(p.objects)
		}
	}
}

// renderApp renders each source of an application of this repository as
// Argo CD's repo server would.
func (r *run) renderApp(app argocd.App) []*piece {
	self := Render{Kind: RenderApplication, Name: app.Name, File: app.File}
	renders := []Render{self}
	var out []*piece
	for _, src := range app.Sources {
		if src.Ref != "" && src.Path == "" && src.Chart == "" {
			continue // a $values source: read through the others
		}
		dir, ok, reason := r.repo.Local(src)
		if !ok {
			r.problems = append(r.problems, Problem{File: app.File, Line: app.Line, Warning: true, Renders: renders,
				Message: fmt.Sprintf("application %s: source not rendered: %s", app.Name, reason)})
			continue
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			r.problems = append(r.problems, Problem{File: app.File, Line: app.Line, Renders: renders,
				Message: fmt.Sprintf("application %s: path %q does not exist in the repository", app.Name, src.Path)})
			continue
		}
		typ := src.Type
		if typ == "" {
			typ = argocd.DetectType(dir)
		}
		var p *piece
		switch typ {
		case argocd.Helm:
			p = r.l.chart(dir, r.helmOptions(app, src, dir, renders), renders)
			r.claims = append(r.claims, claim{dir: dir, recursive: true})
		case argocd.Kustomize:
			p = r.kustomizePiece(dir, src.Kustomize, renders)
			r.claims = append(r.claims, claim{dir: dir, recursive: true})
		case argocd.Directory:
			p = r.directory(dir, src.Directory, renders)
			if p.jsonnet > 0 {
				r.problems = append(r.problems, Problem{File: app.File, Line: app.Line, Warning: true, Renders: renders,
					Message: fmt.Sprintf("application %s: %d Jsonnet file(s) in %s are not rendered (gatekeep renders YAML and JSON directory sources only)", app.Name, p.jsonnet, src.Path)})
			}
			r.claims = append(r.claims, claim{dir: dir, recursive: src.Directory != nil && src.Directory.Recurse})
		default:
			r.problems = append(r.problems, Problem{File: app.File, Line: app.Line, Warning: true, Renders: renders,
				Message: fmt.Sprintf("application %s: %s source %s is not rendered (config management plugins run only in Argo CD)", app.Name, typ, src.Path)})
			continue
		}
		if app.Namespace != "" {
			r.l.giveNamespace(p.objects, app.Namespace)
		}
		out = append(out, p)
	}
	return out
}

// directory reads a directory source: its manifest files (below it with
// recurse), filtered by include and exclude.
func (r *run) directory(dir string, opts *argocd.DirectoryOptions, renders []Render) *piece {
	var files []string
	jsonnet := 0
	recurse := opts != nil && opts.Recurse
	_ = filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error { // the callback never returns an error (unreadable entries are skipped)
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if path != dir && (!recurse || d.Name() == ".git") {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		if opts != nil && !argocd.MatchDirectory(filepath.ToSlash(rel), opts) {
			return nil
		}
		switch ext := filepath.Ext(path); {
		case isManifestFile(path):
			files = append(files, path)
		case ext == ".jsonnet" || ext == ".libsonnet":
			jsonnet++
		}
		return nil
	})
	p := &piece{unit: dir, dir: true, kind: piecePlain, jsonnet: jsonnet}
	p.absorb(r.l.parseFiles(r.ctx, files, renders))
	return p
}

// helmOptions turns an application's Helm source into helm template's
// options, in Argo CD's order: value files, values, parameters, file
// parameters.
func (r *run) helmOptions(app argocd.App, src argocd.Source, dir string, renders []Render) helmchart.Options {
	opts := helmchart.Options{ReleaseName: app.Name, Namespace: app.Namespace}
	h := src.Helm
	if h == nil {
		return opts
	}
	if h.ReleaseName != "" {
		opts.ReleaseName = h.ReleaseName
	}
	if h.Namespace != "" {
		opts.Namespace = h.Namespace
	}
	opts.SkipCRDs = h.SkipCrds
	opts.IgnoreMissingValueFiles = h.IgnoreMissingValueFiles
	for _, f := range h.ValueFiles {
		path, ok, reason := r.repo.ValueFile(app, src, f)
		if !ok {
			r.problems = append(r.problems, Problem{File: app.File, Line: app.Line, Warning: true, Renders: renders,
				Message: fmt.Sprintf("application %s: value file %s not used: %s", app.Name, f, reason)})
			continue
		}
		r.valueFiles[path] = true
		opts.ValueFiles = append(opts.ValueFiles, path)
	}
	values := map[string]any{}
	if h.Values != "" {
		if err := yaml.Unmarshal([]byte(h.Values), &values); err != nil {
			r.problems = append(r.problems, Problem{File: app.File, Line: app.Line, Renders: renders,
				Message: fmt.Sprintf("application %s: helm values are not valid YAML: %v", app.Name, err)})
		}
	}
	for k, v := range h.ValuesObject {
		values[k] = v // valuesObject takes precedence over values, as in Argo CD
	}
	if len(values) > 0 {
		opts.Values = values
	}
	for _, p := range h.Parameters {
		opts.Set = append(opts.Set, helmchart.Param{Name: p.Name, Value: p.Value, ForceString: p.ForceString})
	}
	for _, p := range h.FileParameters {
		path := p.Path
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		opts.SetFile = append(opts.SetFile, helmchart.FileParam{Name: p.Name, Path: path})
	}
	return opts
}

// giveNamespace sets the destination namespace on the namespaced objects
// that have none, as Argo CD does when it applies them.
func (l *loader) giveNamespace(objs []*Object, ns string) {
	scopes := map[string]string{}
	for _, o := range objs {
		if o.Kind() == "CustomResourceDefinition" {
			spec, _ := o.Data["spec"].(map[string]any)
			names, _ := spec["names"].(map[string]any)
			scopes[str(spec["group"])+"/"+str(names["kind"])] = str(spec["scope"])
		}
	}
	for _, o := range objs {
		if o.Namespace() != "" || !namespaced(o.APIVersion(), o.Kind(), scopes) {
			continue
		}
		md, _ := o.Data["metadata"].(map[string]any)
		if md == nil {
			continue
		}
		md["namespace"] = ns
	}
}

// claimed tells whether an application renders path (a directory unit when
// dir, else a file).
func (r *run) claimed(path string, dir bool) bool {
	for _, c := range r.claims {
		switch {
		case path == c.dir:
			return true
		case c.recursive && strings.HasPrefix(path, c.dir+string(filepath.Separator)):
			return true
		case !dir && !c.recursive && filepath.Dir(path) == c.dir:
			return true
		}
	}
	return false
}

// assemble drops what applications and builds took over, and gathers the
// rest into set.
func (r *run) assemble(set *Set) {
	consumed := map[string]map[*piece]bool{}
	charts := map[string]bool{}
	note := func(p *piece) {
		if p.failed {
			return
		}
		for f := range p.consumed {
			if consumed[f] == nil {
				consumed[f] = map[*piece]bool{}
			}
			consumed[f][p] = true
		}
		for c := range p.charts {
			charts[c] = true
		}
	}
	for _, p := range r.apps {
		note(p)
	}
	for _, p := range r.standalone {
		if !p.explicit && r.claimed(p.unit, true) {
			p.dropped = true
			continue
		}
		note(p)
	}
	byOther := func(file string, self *piece) bool {
		for p := range consumed[file] {
			if p != self {
				return true
			}
		}
		return false
	}
	for _, p := range r.standalone {
		if p.dropped || p.explicit {
			continue
		}
		switch p.kind {
		case pieceKustomization:
			if kf := kustomization(p.unit); byOther(kf, p) {
				p.dropped = true
			}
		case pieceChart:
			if charts[p.unit] {
				p.dropped = true
			}
		}
	}
	for _, p := range r.plain {
		switch {
		case p.explicit:
		case r.valueFiles[p.unit]:
			p.dropped = true
			set.skip(SkipHelmValues, 1)
		case len(consumed[p.unit]) > 0, r.claimed(p.unit, false):
			p.dropped = true
		case r.patches[p.unit]:
			p.dropped = true
			set.skip(SkipPatch, 1)
		}
	}
	for _, u := range r.units {
		if u.kind == pieceKustomization && u.kfile.component && !u.explicit {
			set.skip(SkipComponent, 1)
		}
	}
	add := func(p *piece) {
		set.Objects = append(set.Objects, p.objects...)
		set.Errors = append(set.Errors, p.errors...)
		set.Problems = append(set.Problems, p.problems...)
		for reason, n := range p.skipped {
			set.skip(reason, n)
		}
		set.Rendered.HelmCharts += p.helm
		switch p.kind {
		case pieceChart:
			set.Rendered.HelmCharts++
		case pieceKustomization:
			set.Rendered.Kustomizations++
		}
	}
	for _, p := range r.apps {
		add(p)
	}
	for _, p := range r.standalone {
		if !p.dropped {
			add(p)
		}
	}
	for _, p := range r.plain {
		if !p.dropped {
			add(p)
		}
	}
	set.Rendered.Applications = r.appCount
	set.Problems = append(set.Problems, r.problems...)
	set.Problems = append(set.Problems, r.l.problems...)
	set.Problems = uniqueProblems(set.Problems)
}

// uniqueProblems keeps the first of problems that say the same at the same
// place, with the renders of all.
func uniqueProblems(ps []Problem) []Problem {
	seen := map[string]int{}
	var out []Problem
	for _, p := range ps {
		key := fmt.Sprintf("%s\x00%d\x00%s\x00%v", p.File, p.Line, p.Message, p.Warning)
		if i, ok := seen[key]; ok {
			out[i].Renders = mergeRenders(out[i].Renders, p.Renders)
			continue
		}
		seen[key] = len(out)
		out = append(out, p)
	}
	return out
}

func mergeRenders(a, b []Render) []Render {
	out := append([]Render(nil), a...)
	for _, r := range b {
		dup := false
		for _, x := range out {
			dup = dup || x == r
		}
		if !dup {
			out = append(out, r)
		}
	}
	return out
}
