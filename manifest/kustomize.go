package manifest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/argocd"
	"github.com/gatekeep-dev/gatekeep/helmchart"
)

// KustomizationFiles are the names kustomize looks for in a directory.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

const originAnnotation = "config.kubernetes.io/origin"

// kustomizeMu serialises builds: kustomize keeps its OpenAPI schema in a
// package-level variable, and prints its warnings to the process's stderr,
// which a build swaps for a moment.
var kustomizeMu sync.Mutex

// kustomization returns the kustomization file of dir, "" when it has none.
func kustomization(dir string) string {
	for _, n := range KustomizationFiles {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && !st.IsDir() {
			return filepath.Join(dir, n)
		}
	}
	return ""
}

func isKustomizationFile(path string) bool {
	b := filepath.Base(path)
	for _, n := range KustomizationFiles {
		if b == n {
			return true
		}
	}
	return false
}

// build is one rendered kustomization: its objects, every file it read,
// and what went wrong.
type build struct {
	dir      string
	objects  []*Object
	consumed map[string]bool // absolute paths of files read
	charts   map[string]bool // absolute directories of the Helm charts it inflated
	problems []Problem
	failed   bool
	helm     int // charts inflated
}

// kustomize runs kustomize build on dir (absolute) as Argo CD's repo server
// would, with an application's kustomize options when argo is not nil,
// and places each resulting object in the file it came from.
func (l *loader) kustomize(dir string, argo *argocd.KustomizeOptions, renders []Render) *build {
	kfile := kustomization(dir)
	self := Render{Kind: RenderKustomization, Name: l.rel(dir), File: l.rel(kfile)}
	renders = withRender(renders, self)
	fs := &buildFS{FileSystem: filesys.MakeFsOnDisk(), l: l, top: kfile, argo: argo, renders: renders,
		read: map[string]bool{}, virtual: map[string][]byte{}, helmDocs: map[string]helmSet{}, charts: map[string]bool{}}
	b := &build{dir: dir, consumed: fs.read, charts: fs.charts}
	opts := krusty.MakeDefaultOptions()
	m, err := runKustomize(opts, fs, dir)
	b.problems = fs.problems
	b.helm = fs.helm
	if err != nil {
		b.failed = true
		line, msg := l.kustomizeError(kfile, err)
		b.problems = append(b.problems, Problem{File: l.rel(kfile), Line: line, Message: "kustomize build " + l.rel(dir) + ": " + msg, Renders: renders})
		return b
	}
	sources := map[string][]*document{}
	for _, r := range m.Resources() {
		obj, err := fs.place(r, dir, kfile, sources)
		if err != nil {
			b.failed = true
			b.problems = append(b.problems, Problem{File: l.rel(kfile), Line: 1, Message: "kustomize build " + l.rel(dir) + ": " + err.Error(), Renders: renders})
			b.objects = nil
			return b
		}
		if obj.Renders == nil {
			obj.Renders = renders
		}
		b.objects = append(b.objects, obj)
	}
	return b
}

// runKustomize builds under the lock, with kustomize's own printing to
// stderr and to the log silenced: its warnings are reported per
// kustomization file by buildFS instead.
func runKustomize(opts *krusty.Options, fs filesys.FileSystem, dir string) (m interface {
	Resources() []*resource.Resource
}, err error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	if null, nerr := os.OpenFile(os.DevNull, os.O_WRONLY, 0); nerr == nil {
		saved := os.Stderr
		os.Stderr = null
		defer func() { os.Stderr = saved; _ = null.Close() }() // closing /dev/null opened for writing: nothing to lose
	}
	out := log.Writer()
	log.SetOutput(io.Discard)
	defer log.SetOutput(out)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize failed: %v", r)
		}
	}()
	return krusty.MakeKustomizer(opts).Run(fs, dir)
}

var accumulating = regexp.MustCompile(`accumulating resources from '([^']+)'`)

// kustomizeError makes kustomize's error readable: paths relative to the
// working directory, a missing resource said plainly, and the line of the
// kustomization's entry it is about.
func (l *loader) kustomizeError(kfile string, err error) (int, string) {
	msg := err.Error()
	if l.cwd != "" {
		msg = strings.ReplaceAll(msg, l.cwd+string(filepath.Separator), "")
	}
	m := accumulating.FindStringSubmatch(msg)
	if m == nil {
		return 1, shortError(msg)
	}
	data, _ := os.ReadFile(kfile)
	line := lineOf(data, m[1])
	if strings.Contains(msg, "no such file or directory") && strings.Count(msg, "accumulating resources from") == 1 {
		return line, fmt.Sprintf("resource %s does not exist", m[1])
	}
	return line, shortError(msg)
}

// shortError keeps the first line of kustomize's error, which nests the
// same cause several times, and bounds its length.
func shortError(msg string) string {
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	const max = 300
	if len(msg) > max {
		msg = msg[:max] + "…"
	}
	return msg
}

func (f *buildFS) place(r *resource.Resource, dir, kfile string, sources map[string][]*document) (*Object, error) {
	l := f.l
	origin, _ := r.GetOrigin()
	y, err := r.AsYAML()
	if err != nil {
		return nil, err
	}
	objs, errs := Parse(l.rel(kfile), y)
	if len(errs) > 0 || len(objs) != 1 {
		return nil, fmt.Errorf("cannot read rendered %s %s", r.GetKind(), r.GetName())
	}
	obj := objs[0]
	if !f.keepOrigin {
		dropAnnotation(obj.Data, originAnnotation)
	}
	obj.doc, obj.rendered, obj.Source = nil, true, Source{File: l.rel(kfile), Line: 1}
	if origin == nil || origin.Repo != "" {
		return obj, nil
	}
	if origin.Path != "" {
		file := filepath.Join(dir, origin.Path)
		if hs, ok := f.helmDocs[file]; ok {
			if d := hs.match(obj.Kind(), obj.Name()); d != nil {
				l.placeHelm(obj, *d)
			}
			obj.Renders = withRender(f.renders, hs.render)
			return obj, nil
		}
		if d := matchDocument(sourceDocs(file, l.rel, sources), obj.Kind(), obj.Name()); d != nil {
			root, _ := d.parse()
			obj.doc, obj.Source = d, Source{File: d.file, Line: d.at(root.Line)}
		}
		return obj, nil
	}
	if origin.ConfiguredIn != "" {
		file := filepath.Join(dir, origin.ConfiguredIn)
		obj.Source = Source{File: l.rel(file), Line: generatorLine(file, obj.Name())}
	}
	return obj, nil
}

func sourceDocs(file string, rel func(string) string, cache map[string][]*document) []*document {
	if docs, ok := cache[file]; ok {
		return docs
	}
	data, err := os.ReadFile(file)
	var docs []*document
	if err == nil {
		docs = splitDocuments(rel(file), data)
	}
	cache[file] = docs
	return docs
}

// matchDocument picks the source document of a rendered object: same kind,
// and the name the rendered one was made from (before prefixes and suffixes).
func matchDocument(docs []*document, kind, name string) *document {
	var best *document
	bestLen := -1
	for _, d := range docs {
		root, err := d.parse()
		if err != nil || root == nil {
			continue
		}
		v, cerr := convert(root)
		m, ok := v.(map[string]any)
		if cerr != nil || !ok || str(m["kind"]) != kind {
			continue
		}
		md, _ := m["metadata"].(map[string]any)
		n := str(md["name"])
		if n == name {
			return d
		}
		if strings.Contains(name, n) && len(n) > bestLen {
			best, bestLen = d, len(n)
		}
	}
	return best
}

var nameLine = regexp.MustCompile(`^\s*-?\s*name:\s*["']?([^"'\s#]+)`)

// generatorLine finds the line of the generator that made name in a
// kustomization file (names get prefixes, suffixes and a hash).
func generatorLine(file, name string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 1
	}
	best, bestLen := 1, -1
	for i, l := range strings.Split(string(data), "\n") {
		if m := nameLine.FindStringSubmatch(l); m != nil && strings.Contains(name, m[1]) && len(m[1]) > bestLen {
			best, bestLen = i+1, len(m[1])
		}
	}
	return best
}

// lineOf is the first line of data holding s, 1 when none does.
func lineOf(data []byte, s string) int {
	if i := bytes.Index(data, []byte(s)); i >= 0 {
		return bytes.Count(data[:i], []byte{'\n'}) + 1
	}
	return 1
}

func dropAnnotation(obj map[string]any, key string) {
	meta, _ := obj["metadata"].(map[string]any)
	ann, _ := meta["annotations"].(map[string]any)
	if ann == nil {
		return
	}
	delete(ann, key)
	if len(ann) == 0 {
		delete(meta, "annotations")
	}
}

// buildFS is the disk as one kustomize build sees it. It notes every file
// kustomize reads (they are not checked again on their own), and rewrites
// each kustomization file it hands over:
//   - the top one asks for origin annotations (where each object came
//     from) and takes an Argo CD application's kustomize options;
//   - helmCharts are inflated with the Helm SDK into files only this
//     build sees, as kustomize --enable-helm would with the helm binary;
//   - remote resources are dropped with a render problem unless remote
//     fetching is allowed, and then fetched with a timeout;
//   - deprecated fields become warnings naming the kustomization (Load
//     reports each once, naming every build that met it).
type buildFS struct {
	filesys.FileSystem
	l       *loader
	top     string
	argo    *argocd.KustomizeOptions
	renders []Render

	mu         sync.Mutex
	read       map[string]bool
	virtual    map[string][]byte
	helmDocs   map[string]helmSet
	charts     map[string]bool
	problems   []Problem
	keepOrigin bool // the kustomization asked for them itself
	helm       int
}

func (f *buildFS) ReadFile(path string) ([]byte, error) {
	abs, _ := filepath.Abs(path)
	f.mu.Lock()
	v, isVirtual := f.virtual[abs]
	f.mu.Unlock()
	if isVirtual {
		return v, nil
	}
	// kustomize reads across the repository (bases, components), not
	// outside it: a resource linked (or a path leading) elsewhere is not
	// read, and the build fails with a warning naming it.
	if out, target := leaves(abs, f.l.area); out && (!f.l.allowRemote || !kustomizeTemp(target)) {
		f.mu.Lock()
		f.problems = append(f.problems, Problem{File: f.l.rel(abs), Warning: true, Renders: f.renders,
			Message: target + " is outside the repository and the checked paths: kustomize may not read it"})
		f.mu.Unlock()
		return nil, fmt.Errorf("%s leaves the checked tree: not read", f.l.rel(abs))
	}
	if err := f.l.regularFile(abs); err != nil {
		return nil, err
	}
	data, err := f.FileSystem.ReadFile(path)
	if err != nil {
		return data, err
	}
	f.mu.Lock()
	f.read[abs] = true
	f.mu.Unlock()
	if !isKustomizationFile(abs) {
		return data, nil
	}
	return f.rewrite(abs, data), nil
}

func (f *buildFS) Exists(path string) bool {
	if f.isVirtual(path) {
		return true
	}
	return f.FileSystem.Exists(path)
}

func (f *buildFS) IsDir(path string) bool {
	if f.isVirtual(path) {
		return false
	}
	return f.FileSystem.IsDir(path)
}

func (f *buildFS) CleanedAbs(path string) (filesys.ConfirmedDir, string, error) {
	if f.isVirtual(path) {
		abs, _ := filepath.Abs(path)
		return filesys.ConfirmedDir(filepath.Dir(abs)), filepath.Base(abs), nil
	}
	return f.FileSystem.CleanedAbs(path)
}

func (f *buildFS) isVirtual(path string) bool {
	abs, _ := filepath.Abs(path)
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.virtual[abs]
	return ok
}

func (f *buildFS) problem(file string, line int, warning bool, format string, args ...any) {
	f.problems = append(f.problems, Problem{File: f.l.rel(file), Line: line, Message: fmt.Sprintf(format, args...), Warning: warning, Renders: f.renders})
}

// deprecatedKeys are the keys of kustomize's deprecation warnings, to
// place each warning at its key's line.
var deprecatedKeys = []string{"bases", "commonLabels", "imageTags", "patchesJson6902", "patchesStrategicMerge", "vars"}

// rewrite is described on buildFS.
func (f *buildFS) rewrite(path string, data []byte) []byte {
	var k map[string]any
	if yaml.Unmarshal(data, &k) != nil || k == nil {
		return data // kustomize reports the error itself
	}
	var typed types.Kustomization
	if typed.Unmarshal(data) == nil {
		for _, msg := range *typed.CheckDeprecatedFields() {
			line := 1
			for _, key := range deprecatedKeys {
				if strings.Contains(msg, "'"+key+"'") {
					line = lineOf(data, key+":")
				}
			}
			f.problem(path, line, true, "kustomize: %s", strings.TrimPrefix(msg, "# Warning: "))
		}
	}
	dir := filepath.Dir(path)
	f.remote(path, data, k, "resources")
	f.remote(path, data, k, "bases")
	f.remote(path, data, k, "components")
	f.inflate(path, dir, data, k)
	if path == f.top {
		meta, _ := k["buildMetadata"].([]any)
		keep := false
		for _, v := range meta {
			keep = keep || v == types.OriginAnnotations
		}
		if keep {
			f.keepOrigin = true
		} else {
			k["buildMetadata"] = append(meta, types.OriginAnnotations)
		}
		applyArgo(k, f.argo)
	}
	out, err := yaml.Marshal(k)
	if err != nil {
		return data
	}
	return out
}

// applyArgo sets an Argo CD application's kustomize options on the top
// kustomization, as the repo server's kustomize edit commands do.
func applyArgo(k map[string]any, o *argocd.KustomizeOptions) {
	if o == nil {
		return
	}
	if o.NamePrefix != "" {
		k["namePrefix"] = o.NamePrefix + str(k["namePrefix"])
	}
	if o.NameSuffix != "" {
		k["nameSuffix"] = str(k["nameSuffix"]) + o.NameSuffix
	}
	if o.Namespace != "" {
		k["namespace"] = o.Namespace
	}
	if len(o.Images) > 0 {
		images, _ := k["images"].([]any)
		for _, img := range o.Images {
			images = append(images, imageEntry(img))
		}
		k["images"] = images
	}
	mergeStrings := func(key string, add map[string]string) {
		if len(add) == 0 {
			return
		}
		m, _ := k[key].(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		for n, v := range add {
			m[n] = v
		}
		k[key] = m
	}
	mergeStrings("commonLabels", o.CommonLabels)
	mergeStrings("commonAnnotations", o.CommonAnnotations)
	appendList := func(key string, add []any) {
		if len(add) > 0 {
			list, _ := k[key].([]any)
			k[key] = append(list, add...)
		}
	}
	appendList("patches", o.Patches)
	appendList("replicas", o.Replicas)
	comps := make([]any, 0, len(o.Components))
	for _, c := range o.Components {
		comps = append(comps, c)
	}
	appendList("components", comps)
}

// imageEntry turns an Argo CD image override (name=newName:tag,
// name:tag, name@digest) into a kustomize images entry.
func imageEntry(s string) map[string]any {
	e := map[string]any{}
	name, override, hasOverride := strings.Cut(s, "=")
	if !hasOverride {
		override = s
	}
	ref, digest, hasDigest := strings.Cut(override, "@")
	img, tag := ref, ""
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		img, tag = ref[:i], ref[i+1:]
	}
	if !hasOverride {
		name = img
	} else if img != name {
		e["newName"] = img
	}
	e["name"] = name
	if tag != "" {
		e["newTag"] = tag
	}
	if hasDigest {
		e["digest"] = digest
	}
	return e
}

// remote drops the remote entries of a list, or with --allow-remote gives
// git ones the fetch timeout and fetches plain URLs itself.
func (f *buildFS) remote(path string, data []byte, k map[string]any, key string) {
	list, _ := k[key].([]any)
	if len(list) == 0 {
		return
	}
	kept := list[:0:0]
	for _, e := range list {
		ref, ok := e.(string)
		if !ok || !isRemote(ref) {
			kept = append(kept, e)
			continue
		}
		line := lineOf(data, ref)
		if !f.l.allowRemote {
			f.problem(path, line, false, "remote %s %s is not fetched: give --allow-remote to fetch it, or vendor it into the repository", strings.TrimSuffix(key, "s"), ref)
			continue
		}
		if isPlainURL(ref) {
			body, err := f.l.fetch(ref)
			if err != nil {
				f.problem(path, line, false, "remote resource %s: %v", ref, err)
				continue
			}
			v := filepath.Join(filepath.Dir(path), fmt.Sprintf(".gatekeep-remote-%d.yaml", len(f.virtual)))
			f.mu.Lock()
			f.virtual[v] = body
			f.mu.Unlock()
			kept = append(kept, filepath.Base(v))
			continue
		}
		kept = append(kept, withTimeout(ref, f.l.remoteTimeout.String()))
	}
	if len(kept) == 0 {
		delete(k, key)
		return
	}
	k[key] = kept
}

// isPlainURL tells a URL of one file from a git repository spec.
func isPlainURL(ref string) bool {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.RawQuery != "" || strings.Contains(u.Path, "//") {
		return false
	}
	switch strings.ToLower(filepath.Ext(u.Path)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// withTimeout gives a git repository spec kustomize's timeout parameter,
// unless it has one.
func withTimeout(ref, timeout string) string {
	if strings.Contains(ref, "timeout=") {
		return ref
	}
	if strings.Contains(ref, "?") {
		return ref + "&timeout=" + timeout
	}
	return ref + "?timeout=" + timeout
}

// fetch reads a remote file within the remote timeout and size limit.
func (l *loader) fetch(ref string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), l.remoteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ref, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no answer within %s (--remote-timeout)", l.remoteTimeout)
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, l.maxFileSize+1))
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("no answer within %s (--remote-timeout)", l.remoteTimeout)
		}
		return nil, err
	}
	if int64(len(body)) > l.maxFileSize {
		return nil, fmt.Errorf("larger than %s (--max-file-size)", FormatSize(l.maxFileSize))
	}
	return body, nil
}

// inflate renders the helmCharts of a kustomization with the Helm SDK
// into a file only this build sees, listed as a resource in their place.
func (f *buildFS) inflate(path, dir string, data []byte, k map[string]any) {
	charts, _ := k["helmCharts"].([]any)
	if len(charts) == 0 {
		return
	}
	home := "charts"
	if g, ok := k["helmGlobals"].(map[string]any); ok && str(g["chartHome"]) != "" {
		home = str(g["chartHome"])
	}
	delete(k, "helmCharts")
	delete(k, "helmGlobals")
	resources, _ := k["resources"].([]any)
	for i, c := range charts {
		hc, _ := c.(map[string]any)
		name := str(hc["name"])
		line := lineOf(data, "name: "+name)
		chartDir := filepath.Join(dir, home, name)
		if v := str(hc["version"]); v != "" && !f.FileSystem.Exists(filepath.Join(chartDir, "Chart.yaml")) {
			chartDir = filepath.Join(dir, home, name+"-"+v, name)
		}
		if !f.FileSystem.Exists(filepath.Join(chartDir, "Chart.yaml")) {
			where := "in " + f.l.rel(filepath.Join(dir, home))
			if repo := str(hc["repo"]); repo != "" {
				where += " (gatekeep does not pull it from " + repo + ": vendor it, as helm pull --untar would)"
			}
			f.problem(path, line, false, "helmCharts: chart %q is not %s", name, where)
			continue
		}
		opts := helmchart.Options{
			ReleaseName: str(hc["releaseName"]),
			Namespace:   str(hc["namespace"]),
			SkipCRDs:    hc["includeCRDs"] != true,
			KubeVersion: firstNonEmpty(str(hc["kubeVersion"]), f.l.kubeVersion),
			APIVersions: append(strings2(hc["apiVersions"]), f.l.apiVersions()...),
		}
		if opts.ReleaseName == "" {
			opts.ReleaseName = "release-name" // kustomize's default
		}
		if vf := str(hc["valuesFile"]); vf != "" {
			opts.ValueFiles = append(opts.ValueFiles, filepath.Join(dir, vf))
		}
		for _, vf := range strings2(hc["additionalValuesFiles"]) {
			opts.ValueFiles = append(opts.ValueFiles, filepath.Join(dir, vf))
		}
		if inline, ok := hc["valuesInline"].(map[string]any); ok {
			opts.Values = inline
		}
		helmRender := Render{Kind: RenderHelm, Name: name, File: f.l.rel(filepath.Join(chartDir, "Chart.yaml"))}
		docs, err := helmchart.Render(chartDir, opts)
		f.charts[chartDir] = true
		f.helm++
		if err != nil {
			file, l, msg := f.l.helmError(err, chartDir)
			f.problems = append(f.problems, Problem{File: file, Line: l, Message: msg, Renders: withRender(f.renders, helmRender)})
			continue
		}
		var out bytes.Buffer
		var kept []helmchart.Document
		for _, d := range docs {
			if d.Hook && hc["skipHooks"] == true {
				continue
			}
			out.WriteString("---\n")
			out.Write(d.Data)
			if !bytes.HasSuffix(d.Data, []byte("\n")) {
				out.WriteByte('\n')
			}
			kept = append(kept, d)
		}
		v := filepath.Join(dir, fmt.Sprintf(".gatekeep-helm-%d-%s.yaml", i, name))
		f.mu.Lock()
		f.virtual[v] = out.Bytes()
		f.helmDocs[v] = newHelmSet(kept, helmRender)
		f.mu.Unlock()
		resources = append(resources, filepath.Base(v))
	}
	if len(resources) > 0 {
		k["resources"] = resources
	}
}

// helmSet is a chart a build inflated: its documents and its render.
type helmSet struct {
	docs   []helmchart.Document
	refs   []Ref // each document's kind and name
	render Render
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
