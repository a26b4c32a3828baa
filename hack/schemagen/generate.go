package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// release is one release's schemas before merging: its own node table.
type release struct {
	name   string
	source string // which documents they came from, for the log
	groups []string
	kinds  map[string]int
	nodes  []node
	off    []string // kinds left out as off by default, for the log
	// notObjects: kinds left out as no objects, for the log
	notObjects []string
}

type gvk struct{ Group, Version, Kind string }

func (g gvk) key() string { return g.Group + "/" + g.Version + "/" + g.Kind }

// metaKinds are registered in many group versions and are no resources.
var metaKinds = map[string]bool{"DeleteOptions": true, "WatchEvent": true, "Status": true}

// Reference prefixes of OpenAPI v3 and v2 documents.
const (
	refPrefixV3 = "#/components/schemas/"
	refPrefixV2 = "#/definitions/"
)

// generate reads one release from its module directory.
func generate(rel, moduleDir string) (*release, error) {
	spec := filepath.Join(moduleDir, "api", "openapi-spec")
	r := &release{name: rel, kinds: map[string]int{}}
	defs, err := readV3(filepath.Join(spec, "v3"))
	if err != nil {
		return nil, err
	}
	r.source = "OpenAPI v3"
	// Every release has the v2 document: its paths tell which resource
	// each kind belongs to (see deprecatedOff).
	v2, err := readV2(filepath.Join(spec, "swagger.json"))
	if err != nil {
		return nil, err
	}
	if defs == nil {
		defs, r.source = v2.Definitions, "OpenAPI v2"
	} else {
		// The v3 documents of 1.23 to 1.26 leave out the aggregator's
		// group (apiregistration.k8s.io APIService): take what they lack
		// from v2, which gives the same schemas where both have a kind
		// (TestV2AndV3Agree).
		var added []string
		for name, s := range v2.Definitions {
			if _, ok := defs[name]; !ok {
				defs[name] = s
				for _, g := range gvks(s) {
					added = append(added, g.key())
				}
			}
		}
		if len(added) > 0 {
			sort.Strings(added)
			r.source = "OpenAPI v3, and v2 for " + strings.Join(added, " ")
		}
	}

	b := &builder{defs: defs, byDef: map[string]int{}, byNode: map[string]int{}}
	groups := map[string]bool{}
	all := map[string]string{} // kind key -> definition
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, g := range gvks(defs[name]) {
			groups[g.Group] = true
			if !metaKinds[g.Kind] {
				all[g.key()] = name
			}
		}
	}
	off, err := deprecatedOff(moduleDir, v2, groups)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(all))
	for k := range all {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Only kinds that can be objects: kinds that only a subresource takes
	// (autoscaling/v1 Scale, policy/v1 Eviction, v1 PodExecOptions) or
	// that no path takes (v1 APIGroup) cannot be created from a manifest,
	// and their coming and going is no API's removal.
	_, objects := pathKinds(v2)
	isObject := func(k string) bool {
		if item, ok := strings.CutSuffix(k, "List"); ok && objects[item] {
			return true
		}
		return objects[k]
	}
	for _, k := range keys {
		if off[k] {
			r.off = append(r.off, k)
			continue
		}
		if !isObject(k) {
			r.notObjects = append(r.notObjects, k)
			continue
		}
		idx, err := b.def(all[k])
		if err != nil {
			return nil, err
		}
		r.kinds[k] = idx
	}
	for g := range groups {
		r.groups = append(r.groups, g)
	}
	sort.Strings(r.groups)
	r.nodes = b.nodes
	return r, nil
}

// readV3 reads the definitions of the OpenAPI v3 documents in dir, one per
// group version; nil when there are none (releases before 1.23).
func readV3(dir string) (map[string]map[string]any, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, nil
	}
	defs := map[string]map[string]any{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		var doc struct {
			Components struct {
				Schemas map[string]map[string]any `json:"schemas"`
			} `json:"components"`
		}
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		for name, s := range doc.Components.Schemas {
			prev, ok := defs[name]
			if !ok {
				defs[name] = s
				continue
			}
			// Each document lists the group versions of its own group in
			// the GVK extension of shared definitions (DeleteOptions):
			// union those; anything else must agree.
			pg, _ := prev["x-kubernetes-group-version-kind"].([]any)
			sg, _ := s["x-kubernetes-group-version-kind"].([]any)
			a, _ := json.Marshal(withoutGVK(prev))
			b, _ := json.Marshal(withoutGVK(s))
			if !bytes.Equal(a, b) {
				fmt.Fprintf(os.Stderr, "%s: definition %s differs between documents; keeping the first\n", p, name)
			}
			if len(sg) > 0 {
				seen := map[string]bool{}
				var all []any
				for _, e := range append(pg, sg...) {
					k, _ := json.Marshal(e)
					if !seen[string(k)] {
						seen[string(k)] = true
						all = append(all, e)
					}
				}
				prev["x-kubernetes-group-version-kind"] = all
			}
		}
	}
	return defs, nil
}

// swagger is what is read of an OpenAPI v2 document.
type swagger struct {
	Definitions map[string]map[string]any             `json:"definitions"`
	Paths       map[string]map[string]json.RawMessage `json:"paths"`
}

func readV2(p string) (*swagger, error) {
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var doc swagger
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	if len(doc.Definitions) == 0 {
		return nil, fmt.Errorf("%s: no definitions", p)
	}
	return &doc, nil
}

func withoutGVK(s map[string]any) map[string]any {
	c := make(map[string]any, len(s))
	for k, v := range s {
		if k != "x-kubernetes-group-version-kind" {
			c[k] = v
		}
	}
	return c
}

func gvks(s map[string]any) []gvk {
	var list []any
	switch x := s["x-kubernetes-group-version-kind"].(type) {
	case []any:
		list = x
	case map[string]any: // operations carry one
		list = []any{x}
	}
	var out []gvk
	for _, e := range list {
		m, _ := e.(map[string]any)
		g, _ := m["group"].(string)
		v, _ := m["version"].(string)
		k, _ := m["kind"].(string)
		if v != "" && k != "" {
			out = append(out, gvk{g, v, k})
		}
	}
	return out
}

type builder struct {
	defs   map[string]map[string]any
	nodes  []node
	byDef  map[string]int
	byNode map[string]int
}

// def returns the node of a named definition, building it on first use.
func (b *builder) def(name string) (int, error) {
	if idx, ok := b.byDef[name]; ok {
		return idx, nil
	}
	s, ok := b.defs[name]
	if !ok {
		return 0, fmt.Errorf("reference to unknown definition %s", name)
	}
	idx := len(b.nodes)
	b.byDef[name] = idx
	b.nodes = append(b.nodes, node{}) // placeholder: definitions may be recursive
	var n node
	switch name {
	case "io.k8s.apimachinery.pkg.api.resource.Quantity":
		n = node{T: "q"}
	case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
		n = node{T: "x"}
	default:
		var err error
		if n, err = b.convert(name, s); err != nil {
			return 0, err
		}
	}
	b.nodes[idx] = n
	return idx, nil
}

// schema returns the node of an inline schema: a reference is its
// definition's node, anything else is stored once however often it occurs.
func (b *builder) schema(at string, s map[string]any) (int, error) {
	if ref, ok := refOf(s); ok {
		return b.def(ref)
	}
	n, err := b.convert(at, s)
	if err != nil {
		return 0, err
	}
	key, _ := json.Marshal(n)
	if idx, ok := b.byNode[string(key)]; ok {
		return idx, nil
	}
	idx := len(b.nodes)
	b.nodes = append(b.nodes, n)
	b.byNode[string(key)] = idx
	return idx, nil
}

// refOf finds the definition a schema stands for: {"$ref": ...} or the
// {"allOf": [{"$ref": ...}], "default": ...} wrapper of OpenAPI v3.
func refOf(s map[string]any) (string, bool) {
	if r, ok := s["$ref"].(string); ok {
		return trimRef(r), true
	}
	if all, ok := s["allOf"].([]any); ok && len(all) == 1 {
		if m, ok := all[0].(map[string]any); ok {
			if r, ok := m["$ref"].(string); ok {
				return trimRef(r), true
			}
		}
	}
	return "", false
}

func trimRef(r string) string {
	if s, ok := strings.CutPrefix(r, refPrefixV3); ok {
		return s
	}
	return strings.TrimPrefix(r, refPrefixV2)
}

var known = map[string]bool{
	"description": true, "default": true, "type": true, "format": true, "properties": true,
	"required": true, "additionalProperties": true, "items": true, "allOf": true, "$ref": true,
	"x-kubernetes-group-version-kind": true, "x-kubernetes-list-type": true, "x-kubernetes-list-map-keys": true,
	"x-kubernetes-patch-strategy": true, "x-kubernetes-patch-merge-key": true, "x-kubernetes-map-type": true,
	"x-kubernetes-unions": true, "x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-embedded-resource": true,
	"x-kubernetes-int-or-string": true, "readOnly": true, "oneOf": true,
}

func (b *builder) convert(at string, s map[string]any) (node, error) {
	for k := range s {
		if !known[k] {
			fmt.Fprintf(os.Stderr, "%s: keyword %q is not stored\n", at, k)
		}
	}
	if v, _ := s["x-kubernetes-int-or-string"].(bool); v || s["format"] == "int-or-string" {
		return node{T: "x"}, nil
	}
	if _, ok := s["oneOf"]; ok {
		return node{}, fmt.Errorf("%s: oneOf outside Quantity and IntOrString", at)
	}
	n := node{}
	n.U, _ = s["x-kubernetes-preserve-unknown-fields"].(bool)
	n.E, _ = s["x-kubernetes-embedded-resource"].(bool)
	typ, _ := s["type"].(string)
	props, _ := s["properties"].(map[string]any)
	addl, hasAddl := s["additionalProperties"]
	if typ == "" && (props != nil || hasAddl) {
		typ = "object"
	}
	switch typ {
	case "object":
		n.T = "o"
		if len(props) > 0 {
			n.P = map[string]int{}
			pnames := make([]string, 0, len(props))
			for p := range props {
				pnames = append(pnames, p)
			}
			sort.Strings(pnames) // node numbers must not depend on map order
			for _, p := range pnames {
				m, ok := props[p].(map[string]any)
				if !ok {
					return node{}, fmt.Errorf("%s.%s: property is not a schema", at, p)
				}
				idx, err := b.schema(at+"."+p, m)
				if err != nil {
					return node{}, err
				}
				n.P[p] = idx
			}
		}
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if r, ok := r.(string); ok {
					n.R = append(n.R, r)
				}
			}
			sort.Strings(n.R)
		}
		switch a := addl.(type) {
		case map[string]any:
			idx, err := b.schema(at+"{}", a)
			if err != nil {
				return node{}, err
			}
			n.A = idx + 1
		case bool:
			if a {
				n.A = b.any() + 1
			}
		}
	case "array":
		n.T = "a"
		if items, ok := s["items"].(map[string]any); ok {
			idx, err := b.schema(at+"[]", items)
			if err != nil {
				return node{}, err
			}
			n.I = idx + 1
		}
	case "string":
		n.T = "s"
		switch f, _ := s["format"].(string); f {
		case "date-time", "byte":
			n.F = f
		}
	case "integer":
		n.T = "i"
		switch f, _ := s["format"].(string); f {
		case "int32", "int64":
			n.F = f
		}
	case "number":
		n.T = "n"
	case "boolean":
		n.T = "b"
	case "":
		n.T = "*"
	default:
		return node{}, fmt.Errorf("%s: unknown type %q", at, typ)
	}
	return n, nil
}

func (b *builder) any() int {
	idx, _ := b.schema("any", map[string]any{})
	return idx
}
