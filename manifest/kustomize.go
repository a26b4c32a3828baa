package manifest

import (
	"fmt"
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
)

// KustomizationFiles are the names kustomize looks for in a directory.
var KustomizationFiles = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

const originAnnotation = "config.kubernetes.io/origin"

// kustomizeMu serialises builds: kustomize keeps its OpenAPI schema in a
// package-level variable.
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

// build is one rendered kustomization: its objects and every file it read.
type build struct {
	dir      string
	objects  []*Object
	consumed map[string]bool // absolute paths
	err      *Error
}

// render runs kustomize build on dir (absolute) as Argo CD would, and
// places each resulting object in the file it came from.
func render(dir string, rel func(string) string) *build {
	kfile := kustomization(dir)
	fs := &recordingFS{FileSystem: filesys.MakeFsOnDisk(), top: kfile, read: map[string]bool{}}
	opts := krusty.MakeDefaultOptions()
	kustomizeMu.Lock()
	m, err := krusty.MakeKustomizer(opts).Run(fs, dir)
	kustomizeMu.Unlock()
	b := &build{dir: dir, consumed: fs.read}
	if err != nil {
		b.err = &Error{File: rel(kfile), Line: 1, Message: "kustomize build " + rel(dir) + ": " + err.Error()}
		return b
	}
	sources := map[string][]*document{}
	for _, r := range m.Resources() {
		obj, err := placeRendered(r, dir, kfile, rel, sources, fs.keepOrigin)
		if err != nil {
			b.err = &Error{File: rel(kfile), Line: 1, Message: "kustomize build " + rel(dir) + ": " + err.Error()}
			return b
		}
		b.objects = append(b.objects, obj)
	}
	return b
}

func placeRendered(r *resource.Resource, dir, kfile string, rel func(string) string, sources map[string][]*document, keepOrigin bool) (*Object, error) {
	origin, _ := r.GetOrigin()
	y, err := r.AsYAML()
	if err != nil {
		return nil, err
	}
	objs, errs := Parse(rel(kfile), y)
	if len(errs) > 0 || len(objs) != 1 {
		return nil, fmt.Errorf("cannot read rendered %s %s", r.GetKind(), r.GetName())
	}
	obj := objs[0]
	if !keepOrigin {
		dropAnnotation(obj.Data, originAnnotation)
	}
	obj.doc, obj.rendered, obj.Source = nil, true, Source{File: rel(kfile), Line: 1}
	if origin == nil || origin.Repo != "" {
		return obj, nil
	}
	if origin.Path != "" {
		file := filepath.Join(dir, origin.Path)
		if d := matchDocument(sourceDocs(file, rel, sources), obj.Kind(), obj.Name()); d != nil {
			root, _ := d.parse()
			obj.doc, obj.Source = d, Source{File: d.file, Line: d.line0 + root.Line - 1}
		}
		return obj, nil
	}
	if origin.ConfiguredIn != "" {
		file := filepath.Join(dir, origin.ConfiguredIn)
		obj.Source = Source{File: rel(file), Line: generatorLine(file, obj.Name())}
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

// recordingFS notes every file kustomize reads, so that they are not
// checked again on their own, and asks the top kustomization for origin
// annotations, which say where each object came from.
type recordingFS struct {
	filesys.FileSystem
	top        string
	mu         sync.Mutex
	read       map[string]bool
	keepOrigin bool // the kustomization asked for them itself
}

func (f *recordingFS) ReadFile(path string) ([]byte, error) {
	data, err := f.FileSystem.ReadFile(path)
	if err != nil {
		return data, err
	}
	abs, _ := filepath.Abs(path)
	f.mu.Lock()
	f.read[abs] = true
	f.mu.Unlock()
	if abs != f.top {
		return data, nil
	}
	var k map[string]any
	if yaml.Unmarshal(data, &k) != nil || k == nil {
		return data, nil // kustomize reports the error itself
	}
	meta, _ := k["buildMetadata"].([]any)
	for _, v := range meta {
		if v == types.OriginAnnotations {
			f.keepOrigin = true
			return data, nil
		}
	}
	k["buildMetadata"] = append(meta, types.OriginAnnotations)
	return yaml.Marshal(k)
}
