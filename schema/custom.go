package schema

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/schema/crdcatalog"
)

// customSchema is the schema of one custom kind, compiled on first use.
type customSchema struct {
	source      string // where it came from, for messages
	dialect     dialect
	schema      map[string]any // dialectCRD: the openAPIV3Schema (nil: any value)
	file        string         // dialectJSON: the JSON Schema file
	preserveAll bool

	once sync.Once
	node *node
	err  error
}

func (cs *customSchema) compiled(objectMeta *node) (*node, error) {
	cs.once.Do(func() {
		c := &compiler{dialect: cs.dialect, objectMeta: objectMeta, preserveAll: cs.preserveAll, file: cs.file}
		s := cs.schema
		if cs.dialect == dialectJSON {
			d, err := c.document(cs.file)
			if err != nil {
				cs.err = err
				return
			}
			m, ok := d.(map[string]any)
			if !ok {
				cs.err = fmt.Errorf("%s: not a JSON Schema object", cs.file)
				return
			}
			s = m
		}
		cs.node, cs.err = c.compileRoot(s)
	})
	return cs.node, cs.err
}

// crdHeader reads what makes obj a CustomResourceDefinition
// (apiextensions.k8s.io/v1 or v1beta1): its apiVersion and spec, and the
// group and kind it defines; ok is false when it is none.
func crdHeader(obj map[string]any) (apiVersion string, spec map[string]any, group, kind string, ok bool) {
	if obj["kind"] != "CustomResourceDefinition" {
		return "", nil, "", "", false
	}
	apiVersion, _ = obj["apiVersion"].(string)
	if apiVersion != "apiextensions.k8s.io/v1" && apiVersion != "apiextensions.k8s.io/v1beta1" {
		return "", nil, "", "", false
	}
	spec, _ = obj["spec"].(map[string]any)
	group, _ = spec["group"].(string)
	kind, _ = nested(spec, "names", "kind").(string)
	return apiVersion, spec, group, kind, group != "" && kind != ""
}

// crdSchemas returns the schema of every version a CustomResourceDefinition
// defines (apiextensions.k8s.io/v1, or the v1beta1 form), keyed by the
// apiVersion and kind of its objects; nil when obj is no CRD.
func crdSchemas(obj map[string]any, source string) map[gvKey]*customSchema {
	av, spec, group, kind, ok := crdHeader(obj)
	if !ok {
		return nil
	}
	if name, _ := nested(obj, "metadata", "name").(string); name != "" {
		source = "CustomResourceDefinition " + name + " (" + source + ")"
	}
	// v1beta1 keeps unknown fields unless told otherwise; v1 prunes them.
	preserve, set := spec["preserveUnknownFields"].(bool)
	if !set {
		preserve = av == "apiextensions.k8s.io/v1beta1"
	}
	shared, _ := nested(spec, "validation", "openAPIV3Schema").(map[string]any)
	out := map[gvKey]*customSchema{}
	add := func(version string, s map[string]any) {
		if version == "" {
			return
		}
		if s == nil {
			s = shared
		}
		out[gvKey{group + "/" + version, kind}] = &customSchema{source: source, dialect: dialectCRD, schema: s, preserveAll: preserve}
	}
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		s, _ := nested(vm, "schema", "openAPIV3Schema").(map[string]any)
		add(name, s)
	}
	if v, _ := spec["version"].(string); v != "" && out[gvKey{group + "/" + v, kind}] == nil {
		add(v, nil)
	}
	return out
}

func nested(m map[string]any, keys ...string) any {
	var v any = m
	for _, k := range keys {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// schemaDir is what --schema-dir holds: CRDs from its YAML files, and JSON
// Schema files in kubeconform's layout, {kind}-{group}-{version}.json
// (group: the first label of the API group, as kubeconform's KindSuffix
// has it, or the whole group; none for the core group), kind and group in
// lower case.
type schemaDir struct {
	crds map[gvKey]*customSchema
	// served: the group/kind of each CRD in the directory, and the
	// apiVersions it serves (the others' schemas are not in crds).
	served map[gvKey]*servedCRD
	files  map[string]string // lower-case base name without .json -> path

	mu      sync.Mutex
	fromDir map[gvKey]*customSchema
}

func loadSchemaDir(dir string) (*schemaDir, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("schema dir: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("schema dir %s: not a directory", dir)
	}
	d := &schemaDir{crds: map[gvKey]*customSchema{}, served: map[gvKey]*servedCRD{}, files: map[string]string{}, fromDir: map[gvKey]*customSchema{}}
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if p != dir && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		name := strings.ToLower(e.Name())
		switch {
		case strings.HasSuffix(name, ".json"):
			base := strings.TrimSuffix(name, ".json")
			if _, dup := d.files[base]; !dup {
				d.files[base] = p
			}
		case strings.HasSuffix(name, ".yaml"), strings.HasSuffix(name, ".yml"):
			raw, err := os.ReadFile(p) //nolint:gosec // G122: the schema directory the user names is read as given
			if err != nil {
				return err
			}
			docs, err := yamlDocuments(raw)
			if err != nil {
				return fmt.Errorf("schema dir: %s: %w", p, err)
			}
			for _, doc := range docs {
				for _, obj := range listOrObject(doc) {
					sc := servedVersionsOf(obj)
					if sc == nil {
						continue
					}
					if _, dup := d.served[sc.key]; !dup {
						d.served[sc.key] = sc
					}
					for k, cs := range crdSchemas(obj, p) {
						if _, dup := d.crds[k]; !dup && sc.served[k.apiVersion] {
							d.crds[k] = cs
						}
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// lookup finds the schema of a custom kind in the directory.
func (d *schemaDir) lookup(k gvKey) *customSchema {
	if cs := d.crds[k]; cs != nil {
		return cs
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if cs, ok := d.fromDir[k]; ok {
		return cs
	}
	var cs *customSchema
	for _, name := range kubeconformNames(k) {
		if p, ok := d.files[name]; ok {
			cs = &customSchema{source: p, dialect: dialectJSON, file: p}
			break
		}
	}
	d.fromDir[k] = cs
	return cs
}

// kubeconformNames are the file names (lower case, without .json) a kind's
// JSON Schema may have in kubeconform's layout.
func kubeconformNames(k gvKey) []string {
	group, version := splitAPIVersion(k.apiVersion)
	kind, version := strings.ToLower(k.kind), strings.ToLower(version)
	if group == "" {
		return []string{kind + "-" + version}
	}
	group = strings.ToLower(group)
	first, _, _ := strings.Cut(group, ".")
	names := []string{kind + "-" + first + "-" + version}
	if first != group {
		names = append(names, kind+"-"+group+"-"+version)
	}
	return names
}

// yamlDocuments decodes every document of a YAML stream into JSON-like
// values (map[string]any, []any, string, int, float64, bool, nil).
func yamlDocuments(raw []byte) ([]any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if v != nil {
			out = append(out, jsonLike(v))
		}
	}
}

// jsonLike turns the map[any]any yaml.v3 makes for non-string keys into
// map[string]any.
func jsonLike(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonLike(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonLike(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonLike(e)
		}
		return x
	}
	return v
}

// listOrObject returns the objects of a document: the items of a List, or
// the document itself.
func listOrObject(doc any) []map[string]any {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil
	}
	if items, ok := m["items"].([]any); ok && strings.HasSuffix(fmt.Sprint(m["kind"]), "List") {
		var out []map[string]any
		for _, it := range items {
			if im, ok := it.(map[string]any); ok {
				out = append(out, im)
			}
		}
		return out
	}
	return []map[string]any{m}
}

// Catalog turns the embedded CRD catalog (package crdcatalog) on, the
// default, or off. The catalog is the last source of a custom kind's
// schema: a CRD among the inputs or in a schema directory for the same
// group and kind overrides it, whatever versions it has.
func Catalog(on bool) Option { return func(o *options) { o.noCatalog = !on } }

// catalogKind is a kind of the catalog: its CRD, and where each version
// came from.
type catalogKind struct {
	cat *crdcatalog.Catalog
	crd *crdcatalog.CRD
}

var (
	catalogIndexOnce sync.Once
	catalogIndex     map[groupKind]catalogKind
	catalogIndexErr  error
	// catalogCompiled holds the compiled schemas of catalog kinds, per
	// Kubernetes minor (its ObjectMeta) and kind, shared by validators.
	catalogCompiled sync.Map // catalogKey -> *customSchema
)

type groupKind struct{ group, kind string }

type catalogKey struct {
	objectMeta *node
	k          gvKey
}

// catalogKinds indexes the catalog by group and kind, decoding it on first
// use: runs without custom kinds never pay for it.
func catalogKinds() (map[groupKind]catalogKind, error) {
	catalogIndexOnce.Do(func() {
		cat, err := crdcatalog.Load()
		if err != nil {
			catalogIndexErr = err
			return
		}
		catalogIndex = make(map[groupKind]catalogKind, len(cat.CRDs))
		for i := range cat.CRDs {
			crd := &cat.CRDs[i]
			catalogIndex[groupKind{crd.Group, crd.Kind}] = catalogKind{cat, crd}
		}
	})
	return catalogIndex, catalogIndexErr
}

// catalogSchema finds k in the embedded CRD catalog; ok is false when the
// catalog is off, does not know k's group and kind, or a CRD among the
// inputs or in a schema directory defines them. A version the catalog's
// CRD does not serve is a problem at /apiVersion naming those it serves.
func (v *Validator) catalogSchema(k gvKey, res *Result) (n *node, ok bool, err error) {
	if !v.catalog {
		return nil, false, nil
	}
	group, version := splitAPIVersion(k.apiVersion)
	if group == "" || v.definesKind(group, k.kind) {
		return nil, false, nil
	}
	kinds, err := catalogKinds()
	if err != nil {
		return nil, true, err
	}
	ck, found := kinds[groupKind{group, k.kind}]
	if !found {
		return nil, false, nil
	}
	for _, cv := range ck.crd.Versions {
		if cv.Name != version || !cv.Served {
			continue
		}
		key := catalogKey{v.b.objectMeta, k}
		cs, loaded := catalogCompiled.Load(key)
		if !loaded {
			s, err := ck.cat.Schema(cv)
			if err != nil {
				return nil, true, err
			}
			src := ck.cat.Sources[cv.Source]
			cs, _ = catalogCompiled.LoadOrStore(key, &customSchema{
				source:  "the CRD catalog (" + src.Release + ")",
				dialect: dialectCRD,
				schema:  s,
			})
		}
		n, err := cs.(*customSchema).compiled(v.b.objectMeta)
		return n, true, err
	}
	res.Unserved = true
	src := ck.cat.Sources[ck.crd.Versions[0].Source]
	msg := fmt.Sprintf("%s %s is not served by its CRD in gatekeep's catalog (%s)", k.apiVersion, k.kind, src.Release)
	if served := ck.crd.Served(); len(served) > 0 {
		msg += ": use " + strings.Join(served, " or ") + ","
	}
	msg += " or give your cluster's CRD among the inputs or in --schema-dir"
	res.Problems = append(res.Problems, Problem{Pointer: "/apiVersion", Message: msg})
	return nil, true, nil
}

// definesKind reports whether a CRD among the inputs or in a schema
// directory defines group and kind, in any version.
func (v *Validator) definesKind(group, kind string) bool {
	match := func(crds map[gvKey]*customSchema) bool {
		for ck := range crds {
			if g, _ := splitAPIVersion(ck.apiVersion); ck.kind == kind && g == group {
				return true
			}
		}
		return false
	}
	if match(v.crds) {
		return true
	}
	for _, d := range v.dirs {
		if match(d.crds) {
			return true
		}
	}
	return false
}

// noSchemaMessage says that k has no schema, and where one can come from:
// its CRD, or a --schema-dir holding the CRD or a JSON Schema file named as
// kubeconform names it.
func noSchemaMessage(k gvKey) string {
	return fmt.Sprintf("no schema for %s %s: add its CustomResourceDefinition to the inputs, or give --schema-dir a directory holding it or %s.json",
		k.apiVersion, k.kind, kubeconformNames(k)[0])
}

// SchemaMissing reports whether nothing describes obj's kind: it is not
// built in, not in the catalog, and no CRD among the inputs nor schema
// directory defines it (or its schema cannot be used); message says so and
// where a schema can come from. It looks the schema up without validating
// obj: what Validate would say as NoSchema, at the cost of a map lookup.
func (v *Validator) SchemaMissing(obj map[string]any) (message string, missing bool) {
	av, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	if av == "" || kind == "" {
		return "", false // the schema check reports it
	}
	var res Result
	_, err := v.schemaFor(gvKey{av, kind}, &res)
	switch {
	case err != nil:
		return fmt.Sprintf("no usable schema for %s %s: %v", av, kind, err), true
	case res.NoSchema:
		return res.Message, true
	}
	return "", false
}
