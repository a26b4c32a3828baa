package schema

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// quantityPattern is isQuantity as a regular expression.
const quantityPattern = `^\s*[+-]?(\d+\.?\d*|\.\d+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?\d+)?\s*$`

const base64Pattern = `^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$`

// WriteJSONSchemas writes the embedded schemas of v's minor (an error
// naming the supported range when there are none) as draft-04 JSON Schema
// files in kubeconform's layout, {kind}-{group}-{version}.json, one
// self-contained file per kind, so that kubeconform (-schema-location
// 'DIR/{{ .ResourceKind }}{{ .KindSuffix }}.json') validates against the
// very schemas gatekeep uses. strict closes every object whose fields the
// schema lists (additionalProperties: false), as kubeconform's -strict
// schemas do. It returns the number of files written.
func WriteJSONSchemas(v kubeversion.Version, dir string, strict bool) (int, error) {
	b, err := release(v)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: exported schemas are for other tools and users to read
		return 0, err
	}
	index := make(map[*node]int, len(b.nodes))
	for i, n := range b.nodes {
		index[n] = i
	}
	count := 0
	for k, root := range b.kinds {
		x := &exporter{index: index, strict: strict, defs: map[string]any{}}
		doc := x.content(root)
		doc["$schema"] = "http://json-schema.org/draft-04/schema#"
		if len(x.defs) > 0 {
			doc["definitions"] = x.defs
		}
		raw, err := json.Marshal(doc)
		if err != nil {
			return count, err
		}
		name := kubeconformNames(k)[0] + ".json"
		if err := os.WriteFile(filepath.Join(dir, name), raw, 0o644); err != nil { //nolint:gosec // G306: as above
			return count, err
		}
		count++
	}
	return count, nil
}

type exporter struct {
	index  map[*node]int
	strict bool
	defs   map[string]any
}

// ref gives the schema of n: leaves inline, anything else as a reference
// to a definition (definitions may be recursive).
func (x *exporter) ref(n *node) map[string]any {
	if n.props == nil && n.items == nil && n.additional == nil {
		return x.content(n)
	}
	id := "n" + strconv.Itoa(x.index[n])
	if _, ok := x.defs[id]; !ok {
		x.defs[id] = nil // placeholder against recursion
		x.defs[id] = x.content(n)
	}
	return map[string]any{"$ref": "#/definitions/" + id}
}

func (x *exporter) content(n *node) map[string]any {
	s := map[string]any{}
	switch n.format {
	case fmtQuantity:
		s["anyOf"] = []any{
			map[string]any{"type": "string", "pattern": quantityPattern},
			map[string]any{"type": "number"},
			map[string]any{"type": "null"},
		}
		return s
	case fmtIntOrStr:
		s["anyOf"] = []any{
			map[string]any{"type": "string"},
			map[string]any{"type": "integer", "minimum": -2147483648, "maximum": 2147483647},
			map[string]any{"type": "null"},
		}
		return s
	case fmtInt32:
		s["minimum"], s["maximum"] = -2147483648, 2147483647
	case fmtDateTime:
		s["format"] = "date-time"
	case fmtByte:
		s["pattern"] = base64Pattern
	}
	if n.types != 0 {
		var types []string
		for _, t := range []struct {
			bit  typeSet
			name string
		}{{tsObject, "object"}, {tsArray, "array"}, {tsString, "string"}, {tsInteger, "integer"}, {tsNumber, "number"}, {tsBoolean, "boolean"}} {
			if n.types&t.bit != 0 {
				types = append(types, t.name)
			}
		}
		if n.nullable || n.types&tsNull != 0 {
			types = append(types, "null")
		}
		s["type"] = types
	}
	if n.props != nil {
		props := make(map[string]any, len(n.props))
		for name, p := range n.props {
			props[name] = x.ref(p)
		}
		s["properties"] = props
	}
	if len(n.required) > 0 {
		s["required"] = n.required
	}
	if n.additional != nil {
		s["additionalProperties"] = x.ref(n.additional)
	} else if n.closed || (x.strict && !n.open) {
		s["additionalProperties"] = false
	}
	if n.items != nil {
		s["items"] = x.ref(n.items)
	}
	return s
}
