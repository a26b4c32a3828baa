// Package helmchart renders Helm charts with the Helm v4 SDK the way
// `helm template` (and so Argo CD's repo server) does, without a helm binary,
// and keeps enough of each template's source to point a finding at the line
// of the template (or of the values expression) a rendered field came from.
package helmchart

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"helm.sh/helm/v4/pkg/chart/common"
	chartutilcommon "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/loader"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	v2loader "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	release "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"helm.sh/helm/v4/pkg/strvals"
	"sigs.k8s.io/yaml"
)

// Options are what helm template takes.
type Options struct {
	ReleaseName string // default: base name of the chart directory ("release-name" when that is not a valid release name)
	Namespace   string // .Release.Namespace; default "default"
	// ValueFiles are applied in order over the chart's values.yaml; relative paths are relative to the chart directory.
	ValueFiles              []string
	IgnoreMissingValueFiles bool // a missing value file is skipped instead of an error (Argo CD's ignoreMissingValueFiles)
	// Values are merged over the value files (Argo CD's values / valuesObject; kustomize's valuesInline).
	Values      map[string]any
	Set         []Param     // --set / --set-string (Argo CD parameters), applied after Values
	SetFile     []FileParam // --set-file (Argo CD fileParameters), applied last; relative paths relative to chart dir
	KubeVersion string      // target cluster version, e.g. "1.34" or "v1.34.0": .Capabilities.KubeVersion
	APIVersions []string    // extra .Capabilities.APIVersions ("group/version" and "group/version/Kind")
	SkipCRDs    bool        // leave out the charts' crds/ folders (Argo CD skipCrds)
	// SkipTests leaves out test hooks (helm template --skip-tests). Argo CD does not, so the default
	// (false) renders every hook.
	SkipTests bool
}

// Param is one --set (or, with ForceString, --set-string) parameter.
type Param struct {
	Name, Value string
	ForceString bool
}

// FileParam is one --set-file parameter: the value at Name is the content of the file at Path.
type FileParam struct{ Name, Path string }

// Document is one rendered YAML document.
type Document struct {
	// File is the absolute path of the template it came from, or of the crds/ file; for a template
	// inside a dependency packed as .tgz, the absolute path of the .tgz; for a template of a
	// file:// dependency not in charts/, the absolute path of the file under that path.
	File string
	// Line is the document's first line in File (the line of its first key where possible, else 1).
	// For a document inside a .tgz, the line within the template in the archive.
	Line int
	// Data is the rendered YAML of this one document.
	Data []byte
	Hook bool // a helm.sh/hook document

	// Template is Helm's name of the template ("mychart/templates/x.yaml"), or the chart-relative
	// name of the crds/ file.
	Template string

	src  string // the source text of the template (or crds/ file)
	part int    // which `---` part of src this document was rendered from
}

// Error is a chart that cannot be rendered, with where.
type Error struct {
	File    string // absolute path; empty when no file is to blame
	Line    int    // 1-based; 0 when unknown
	Message string
}

func (e *Error) Error() string {
	switch {
	case e.File == "":
		return e.Message
	case e.Line <= 0:
		return e.File + ": " + e.Message
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
}

const maxMessage = 400

func newError(file string, line int, format string, args ...any) *Error {
	msg := strings.TrimSpace(fmt.Sprintf(format, args...))
	if len(msg) > maxMessage {
		msg = msg[:maxMessage] + "…"
	}
	return &Error{File: file, Line: line, Message: msg}
}

// Render renders the chart in dir (absolute). Dependencies come from the chart's charts/ folder
// (directories or .tgz), as with `helm template` after `helm dependency build`; a dependency that
// is not there and whose repository is file://<path> is loaded from the chart directory at that
// path (relative to dir, or absolute), as helm dependency build would pack it, offline. Other
// dependencies missing from charts/ are an *Error.
func Render(dir string, opts Options) ([]Document, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	chartYAML := filepath.Join(dir, "Chart.yaml")

	loaded, err := loader.Load(dir)
	if err != nil {
		return nil, newError(chartYAML, 0, "cannot load chart: %s", trimErr(err))
	}
	ch, ok := loaded.(*chart.Chart)
	if !ok {
		return nil, newError(chartYAML, 0, "only chart apiVersion v1 and v2 can be rendered")
	}
	switch ch.Metadata.Type {
	case "", "application":
	default:
		return nil, newError(chartYAML, lineOfKey(chartYAML, "type"), "%s charts are not installable", ch.Metadata.Type)
	}

	// Where each chart of the tree is on disk, before ProcessDependencies copies aliased charts.
	where := map[*common.File]string{}
	mapCharts(ch, dir, where)

	// Dependencies from file:// repositories that are not in charts/, as helm dependency build packs them.
	if err := addFileDependencies(ch, dir, where); err != nil {
		return nil, err
	}

	// helm template stops on any dependency of Chart.yaml that is not in charts/ (action.CheckDependencies),
	// whether or not a condition or tag disables it.
	if err := checkDependencies(ch, dir); err != nil {
		return nil, err
	}

	vals, err := mergeValues(dir, opts)
	if err != nil {
		return nil, err
	}

	name := opts.ReleaseName
	if name == "" {
		name = filepath.Base(dir)
		if chartutil.ValidateReleaseName(name) != nil {
			name = "release-name"
		}
	}
	if err := chartutil.ValidateReleaseName(name); err != nil {
		return nil, newError("", 0, "release name %q: %s", name, err)
	}
	ns := opts.Namespace
	if ns == "" {
		ns = "default"
	}

	if err := chartutil.ProcessDependencies(ch, vals); err != nil {
		return nil, newError(chartYAML, 0, "chart dependencies processing failed: %s", trimErr(err))
	}

	caps := common.DefaultCapabilities.Copy()
	if opts.KubeVersion != "" {
		kv, err := common.ParseKubeVersion(opts.KubeVersion)
		if err != nil {
			return nil, newError("", 0, "invalid kube version %q: %s", opts.KubeVersion, err)
		}
		caps.KubeVersion = *kv
	}
	apis := make(common.VersionSet, 0, len(caps.APIVersions)+len(opts.APIVersions))
	apis = append(apis, caps.APIVersions...)
	apis = append(apis, opts.APIVersions...)
	caps.APIVersions = apis

	if ch.Metadata.KubeVersion != "" && !chartutil.IsCompatibleRange(ch.Metadata.KubeVersion, caps.KubeVersion.String()) {
		return nil, newError(chartYAML, lineOfKey(chartYAML, "kubeVersion"),
			"chart requires kubeVersion: %s which is incompatible with Kubernetes %s", ch.Metadata.KubeVersion, caps.KubeVersion.Version)
	}

	relOpts := common.ReleaseOptions{Name: name, Namespace: ns, Revision: 1, IsInstall: true}
	renderVals, err := chartutilcommon.ToRenderValuesWithSchemaValidation(ch, vals, relOpts, caps, false)
	if err != nil {
		file := ""
		if len(ch.Schema) > 0 {
			file = filepath.Join(dir, "values.schema.json")
		}
		return nil, newError(file, 0, "%s", strings.ReplaceAll(trimErr(err), "\n", " "))
	}

	// The sources of every template and crds/ file of the (processed) tree.
	srcs := map[string]source{}
	var crds []crdFile
	collectSources(ch, dir, where, srcs, &crds)

	var e engine.Engine
	files, err := e.Render(ch, renderVals)
	if err != nil {
		return nil, templateError(err, srcs, chartYAML)
	}
	for k := range files {
		if strings.HasSuffix(k, "NOTES.txt") {
			delete(files, k)
		}
	}

	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil {
		return nil, yamlError(err, files, srcs)
	}

	var docs []Document
	if !opts.SkipCRDs {
		for _, c := range crds {
			for i, part := range splitParts(c.src.text) {
				if isEmptyDoc(part) {
					continue
				}
				d := Document{File: c.src.file, Data: []byte(strings.TrimLeftFunc(part, unicode.IsSpace)), Template: c.name, src: c.src.text, part: i}
				d.Line = d.firstLine()
				docs = append(docs, d)
			}
		}
	}

	// Each document's index among the `---` parts of its rendered template.
	used := map[string]map[int]bool{}
	partOf := func(tpl, content string) int {
		if used[tpl] == nil {
			used[tpl] = map[int]bool{}
		}
		parts := splitParts(files[tpl])
		for i, p := range parts {
			if !used[tpl][i] && strings.TrimLeftFunc(p, unicode.IsSpace) == content {
				used[tpl][i] = true
				return i
			}
		}
		return -1
	}
	add := func(tpl, content string, hook bool) {
		if isEmptyDoc(content) {
			return
		}
		ri := partOf(tpl, content)
		s, ok := srcs[tpl]
		if !ok {
			s = source{file: filepath.Join(dir, filepath.FromSlash(strings.TrimPrefix(tpl, ch.Name()+"/")))}
		}
		d := Document{File: s.file, Data: []byte(content), Hook: hook, Template: tpl, src: s.text}
		d.part = sourcePart(s.text, files[tpl], ri, d.Data)
		d.Line = d.firstLine()
		docs = append(docs, d)
	}
	for _, m := range manifests {
		add(m.Name, m.Content, false)
	}
	for _, h := range hooks {
		if opts.SkipTests && slices.Contains(h.Events, release.HookTest) {
			continue
		}
		add(h.Path, h.Manifest, true)
	}
	return docs, nil
}

// source is the text of a template or crds/ file and where it is on disk.
type source struct {
	file string // absolute path of the file, or of the .tgz it is packed in
	text string
}

type crdFile struct {
	name string // chart-relative, e.g. "charts/sub/crds/x.yaml"
	src  source
}

// mapCharts records, for every chart of the loaded tree, where it is on disk: its directory, or
// the .tgz it (or a chart around it) was packed in. Charts are keyed by their first raw file,
// which copies made for aliases share.
func mapCharts(c *chart.Chart, loc string, where map[*common.File]string) {
	if len(c.Raw) > 0 {
		where[c.Raw[0]] = loc
	}
	if strings.HasSuffix(loc, ".tgz") {
		for _, d := range c.Dependencies() {
			mapCharts(d, loc, where)
		}
		return
	}
	entries, _ := os.ReadDir(filepath.Join(loc, "charts"))
	type onDisk struct{ name, version, path string }
	var disk []onDisk
	for _, e := range entries {
		n := e.Name()
		if strings.IndexAny(n, "_.") == 0 {
			continue
		}
		p := filepath.Join(loc, "charts", n)
		switch {
		case e.IsDir():
			if md, err := chartutil.LoadChartfile(filepath.Join(p, "Chart.yaml")); err == nil {
				disk = append(disk, onDisk{md.Name, md.Version, p})
			}
		case filepath.Ext(n) == ".tgz":
			if sc, err := v2loader.LoadFile(p); err == nil && sc.Metadata != nil {
				disk = append(disk, onDisk{sc.Metadata.Name, sc.Metadata.Version, p})
			}
		}
	}
	for _, d := range c.Dependencies() {
		if d.Metadata == nil {
			continue
		}
		best := ""
		for _, o := range disk {
			if o.name == d.Metadata.Name && (best == "" || o.version == d.Metadata.Version) {
				best = o.path
			}
		}
		if best != "" {
			mapCharts(d, best, where)
		}
	}
}

// collectSources walks the processed chart tree and records every template under Helm's name
// for it, and every crds/ file, in a deterministic order.
func collectSources(c *chart.Chart, rootDir string, where map[*common.File]string, srcs map[string]source, crds *[]crdFile) {
	loc := ""
	if len(c.Raw) > 0 {
		loc = where[c.Raw[0]]
	}
	fileOf := func(name string) string {
		switch {
		case loc == "":
			// Not found on disk (should not happen): a best guess under the root chart.
			return filepath.Join(rootDir, filepath.FromSlash(strings.TrimPrefix(c.ChartFullPath(), c.Root().Name()+"/")), filepath.FromSlash(name))
		case strings.HasSuffix(loc, ".tgz"):
			return loc
		}
		return filepath.Join(loc, filepath.FromSlash(name))
	}
	full := c.ChartFullPath()
	for _, t := range c.Templates {
		if t == nil {
			continue
		}
		srcs[path.Join(full, t.Name)] = source{file: fileOf(t.Name), text: string(t.Data)}
	}
	for _, f := range c.Files {
		if strings.HasPrefix(f.Name, "crds/") && manifestExt(f.Name) {
			rel := strings.TrimPrefix(full, c.Root().Name())
			rel = strings.TrimPrefix(rel+"/"+f.Name, "/")
			*crds = append(*crds, crdFile{name: rel, src: source{file: fileOf(f.Name), text: string(f.Data)}})
		}
	}
	deps := slices.Clone(c.Dependencies())
	sort.SliceStable(deps, func(i, j int) bool { return deps[i].Name() < deps[j].Name() })
	for _, d := range deps {
		collectSources(d, rootDir, where, srcs, crds)
	}
}

func manifestExt(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	return ext == ".yaml" || ext == ".yml" || ext == ".json"
}

// checkDependencies mirrors action.CheckDependencies, which helm template runs first: every
// dependency named in Chart.yaml must be in charts/.
func checkDependencies(ch *chart.Chart, dir string) error {
	var missing []*chart.Dependency
outer:
	for _, r := range ch.Metadata.Dependencies {
		if r == nil {
			continue
		}
		for _, d := range ch.Dependencies() {
			if d.Name() == r.Name {
				continue outer
			}
		}
		missing = append(missing, r)
	}
	if len(missing) == 0 {
		return nil
	}
	r := missing[0]
	file, line := dependencyLocation(dir, r)
	var what []string
	if r.Version != "" {
		what = append(what, "version "+r.Version)
	}
	if r.Repository != "" {
		what = append(what, "repository "+r.Repository)
	}
	msg := fmt.Sprintf("dependency %q", r.Name)
	if len(what) > 0 {
		msg += " (" + strings.Join(what, ", ") + ")"
	}
	msg += " is not in charts/: run helm dependency build"
	if len(missing) > 1 {
		var others []string
		for _, m := range missing[1:] {
			others = append(others, m.Name)
		}
		msg += " (also missing: " + strings.Join(others, ", ") + ")"
	}
	return newError(file, line, "%s", msg)
}

// mergeValues builds the user-supplied values as helm template does with -f, --set, --set-string
// and --set-file, with Options.Values applied as one more value file after ValueFiles (as Argo CD does).
func mergeValues(dir string, opts Options) (map[string]any, error) {
	base := map[string]any{}
	for _, f := range opts.ValueFiles {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if strings.Contains(f, "://") {
			return nil, newError("", 0, "value file %s: only local value files can be used", f)
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) && opts.IgnoreMissingValueFiles {
				continue
			}
			return nil, newError(p, 0, "cannot read value file: %s", trimErr(err))
		}
		m, err := v2loader.LoadValues(bytes.NewReader(raw))
		if err != nil {
			return nil, newError(p, yamlErrLine(err), "cannot parse value file: %s", trimErr(err))
		}
		base = v2loader.MergeMaps(base, m)
	}
	if len(opts.Values) > 0 {
		raw, err := yaml.Marshal(opts.Values)
		if err != nil {
			return nil, newError("", 0, "values: %s", err)
		}
		m, err := v2loader.LoadValues(bytes.NewReader(raw))
		if err != nil {
			return nil, newError("", 0, "values: %s", trimErr(err))
		}
		base = v2loader.MergeMaps(base, m)
	}
	// helm applies every --set before any --set-string.
	for _, p := range opts.Set {
		if !p.ForceString {
			if err := strvals.ParseInto(p.Name+"="+escapeSetValue(p.Value), base); err != nil {
				return nil, newError("", 0, "parameter %s: %s", p.Name, trimErr(err))
			}
		}
	}
	for _, p := range opts.Set {
		if p.ForceString {
			if err := strvals.ParseIntoString(p.Name+"="+escapeSetValue(p.Value), base); err != nil {
				return nil, newError("", 0, "parameter %s: %s", p.Name, trimErr(err))
			}
		}
	}
	for _, fp := range opts.SetFile {
		p := fp.Path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		reader := func(rs []rune) (any, error) {
			b, err := os.ReadFile(string(rs))
			return string(b), err
		}
		if err := strvals.ParseIntoFile(fp.Name+"="+p, base, reader); err != nil {
			return nil, newError(p, 0, "file parameter %s: %s", fp.Name, trimErr(err))
		}
	}
	return base, nil
}

// escapeSetValue escapes the commas of a parameter value, as Argo CD does before passing it to
// --set, unless the value is a {a,b} list.
func escapeSetValue(v string) string {
	if strings.HasPrefix(v, "{") && strings.HasSuffix(v, "}") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == ',' && (i == 0 || v[i-1] != '\\') {
			b.WriteByte('\\')
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// sep is how Helm splits a rendered template into documents (releaseutil.SplitManifests).
var sep = regexp.MustCompile(`(?m)^---[ \t]*`)

// splitParts splits text at `---` lines, keeping empty parts, so that index i of a rendered
// template and of its source mean the same part where no `---` is conditional.
func splitParts(text string) []string {
	return sep.Split(text, -1)
}

// isEmptyDoc reports whether a document has nothing but comments and whitespace.
func isEmptyDoc(s string) bool {
	for l := range strings.SplitSeq(s, "\n") {
		t := strings.TrimSpace(l)
		if t != "" && !strings.HasPrefix(t, "#") {
			return false
		}
	}
	return true
}

func trimErr(err error) string {
	s := err.Error()
	for _, p := range []string{"error unpacking subchart ", "cannot unmarshal yaml document: ", "error converting YAML to JSON: "} {
		s = strings.ReplaceAll(s, p, "")
	}
	return strings.TrimSpace(s)
}

var yamlLineRe = regexp.MustCompile(`yaml: line (\d+)`)

func yamlErrLine(err error) int {
	if m := yamlLineRe.FindStringSubmatch(err.Error()); m != nil {
		var n int
		if _, err := fmt.Sscan(m[1], &n); err != nil {
			return 0 // a line number too big for an int: none
		}
		return n
	}
	return 0
}
