// Command schemagen writes the schemas gatekeep embeds: for each pinned
// Kubernetes release it reads the OpenAPI v3 documents of the k8s.io/kubernetes
// module (api/openapi-spec/v3, fetched with `go mod download`) and writes
// schema/data/v1.MINOR.json.gz, the form package schema loads.
//
// Usage (from the repository root, as `make schemas` does):
//
//	go run ./hack/schemagen -out schema/data
//
// The stored form is a table of schema nodes in which every reference is an
// index: each definition reachable from a served kind is one node, identical
// anonymous nodes are stored once, descriptions and defaults are dropped, and
// Quantity and IntOrString become node types of their own. The kinds index
// maps "group/version/Kind" (group empty for the core group) to its node,
// taken from the x-kubernetes-group-version-kind extensions.
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Releases are the pinned k8s.io/kubernetes versions, one per minor. Patch
// releases do not change APIs; bump a pin only to pick up a new minor.
var Releases = []string{
	"v1.29.6",
	"v1.30.14",
	"v1.31.14",
	"v1.32.13",
	"v1.33.13",
	"v1.34.4",
	"v1.35.4",
	"v1.36.3",
	"v1.37.1",
}

func main() {
	out := flag.String("out", "schema/data", "directory to write v1.MINOR.json.gz files to")
	only := flag.String("only", "", "comma-separated releases to generate (default: all pinned)")
	flag.Parse()

	releases := Releases
	if *only != "" {
		releases = strings.Split(*only, ",")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil { //nolint:gosec // G301: generated schemas are committed to the repository
		fatal(err)
	}
	keep := map[string]bool{}
	for _, rel := range releases {
		dir, err := moduleDir("k8s.io/kubernetes", rel)
		if err != nil {
			fatal(err)
		}
		f, err := generate(rel, filepath.Join(dir, "api", "openapi-spec", "v3"))
		if err != nil {
			fatal(fmt.Errorf("%s: %w", rel, err))
		}
		data, err := encode(f)
		if err != nil {
			fatal(err)
		}
		name := minorName(rel) + ".json.gz"
		keep[name] = true
		if err := os.WriteFile(filepath.Join(*out, name), data, 0o644); err != nil { //nolint:gosec // G306: generated schemas are committed to the repository
			fatal(err)
		}
		fmt.Printf("%s: %d kinds, %d nodes, %d bytes\n", name, len(f.Kinds), len(f.Nodes), len(data))
	}
	if *only == "" { // drop files of releases no longer pinned
		old, _ := filepath.Glob(filepath.Join(*out, "v1.*.json.gz"))
		for _, p := range old {
			if !keep[filepath.Base(p)] {
				fmt.Printf("removing %s\n", p)
				if err := os.Remove(p); err != nil {
					fatal(err)
				}
			}
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "schemagen:", err)
	os.Exit(1)
}

// minorName turns v1.35.4 into v1.35.
func minorName(rel string) string {
	parts := strings.SplitN(rel, ".", 3)
	return parts[0] + "." + parts[1]
}

// moduleDir downloads a module version (a no-op when it is in the module
// cache) and returns its directory.
func moduleDir(path, version string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", path+"@"+version) //nolint:gosec // G204: a dev tool downloading the module versions it is asked for
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	var info struct{ Dir, Error string }
	if jerr := json.Unmarshal(outb, &info); jerr != nil && err == nil {
		err = jerr
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s@%s: %s", path, version, info.Error)
	}
	if err != nil {
		return "", fmt.Errorf("go mod download %s@%s: %w", path, version, err)
	}
	return info.Dir, nil
}

// file is the stored form; package schema reads the same JSON.
type file struct {
	Kubernetes string         `json:"kubernetes"` // the release it was generated from, v1.35.4
	Groups     []string       `json:"groups"`     // every built-in API group the release knows of, served or not
	Kinds      map[string]int `json:"kinds"`      // "group/version/Kind" -> node
	Nodes      []node         `json:"nodes"`
}

// node is one schema. T is its type: o object, a array, s string, i integer,
// n number, b boolean, q quantity (string or number), x int-or-string, * any.
type node struct {
	T string         `json:"t"`
	F string         `json:"f,omitempty"` // format: int32, int64, double, date-time, byte
	P map[string]int `json:"p,omitempty"` // properties
	R []string       `json:"r,omitempty"` // required properties
	A int            `json:"a,omitempty"` // additionalProperties node + 1
	I int            `json:"i,omitempty"` // items node + 1
	U bool           `json:"u,omitempty"` // x-kubernetes-preserve-unknown-fields
	E bool           `json:"e,omitempty"` // x-kubernetes-embedded-resource
}

type gvk struct{ Group, Version, Kind string }

func (g gvk) key() string { return g.Group + "/" + g.Version + "/" + g.Kind }

// metaKinds are registered in many group versions and are no resources.
var metaKinds = map[string]bool{"DeleteOptions": true, "WatchEvent": true, "Status": true}

type builder struct {
	defs   map[string]map[string]any
	nodes  []node
	byDef  map[string]int
	byNode map[string]int
}

func generate(rel, dir string) (*file, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no OpenAPI v3 documents in %s", dir)
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
			if prev, ok := defs[name]; ok {
				// Each document lists the group versions of its own group in
				// the GVK extension of shared definitions (DeleteOptions):
				// union those; anything else must agree.
				pg, _ := prev["x-kubernetes-group-version-kind"].([]any)
				sg, _ := s["x-kubernetes-group-version-kind"].([]any)
				a, _ := json.Marshal(withoutGVK(prev))
				b, _ := json.Marshal(withoutGVK(s))
				if !bytes.Equal(a, b) {
					fmt.Fprintf(os.Stderr, "%s: definition %s differs between documents; keeping the first\n", rel, name)
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
				continue
			}
			defs[name] = s
		}
	}

	b := &builder{defs: defs, byDef: map[string]int{}, byNode: map[string]int{}}
	f := &file{Kubernetes: rel, Kinds: map[string]int{}}
	groups := map[string]bool{}
	names := make([]string, 0, len(defs))
	for name := range defs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, g := range gvks(defs[name]) {
			groups[g.Group] = true
			if metaKinds[g.Kind] {
				continue
			}
			idx, err := b.def(name)
			if err != nil {
				return nil, err
			}
			f.Kinds[g.key()] = idx
		}
	}
	for g := range groups {
		f.Groups = append(f.Groups, g)
	}
	sort.Strings(f.Groups)
	f.Nodes = b.nodes
	return f, nil
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
	list, _ := s["x-kubernetes-group-version-kind"].([]any)
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

const refPrefix = "#/components/schemas/"

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
		return strings.TrimPrefix(r, refPrefix), true
	}
	if all, ok := s["allOf"].([]any); ok && len(all) == 1 {
		if m, ok := all[0].(map[string]any); ok {
			if r, ok := m["$ref"].(string); ok {
				return strings.TrimPrefix(r, refPrefix), true
			}
		}
	}
	return "", false
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

// encode writes f as gzip-compressed JSON, deterministically (maps are
// written in key order, the gzip header carries no time or name).
func encode(f *file) ([]byte, error) {
	raw, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
