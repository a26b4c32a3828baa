package schema

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// dialect is the kind of document a schema comes from.
type dialect uint8

const (
	// dialectCRD: the openAPIV3Schema of a CustomResourceDefinition, with
	// the API server's structural-schema semantics (unknown fields are
	// pruned, non-nullable nulls are dropped, defaults fill absent fields).
	dialectCRD dialect = iota
	// dialectJSON: a JSON Schema document (kubeconform's layout), with JSON
	// Schema semantics (null only where the type allows it).
	dialectJSON
)

// compiler turns a CRD schema or a JSON Schema document into nodes.
type compiler struct {
	dialect    dialect
	objectMeta *node
	// preserveAll: the CRD keeps unknown fields everywhere
	// (apiextensions.k8s.io/v1beta1 spec.preserveUnknownFields).
	preserveAll bool

	// JSON Schema references: documents by file, nodes by file#pointer.
	file string
	docs map[string]any
	refs map[string]*node
}

// compileRoot compiles the schema of a whole custom resource: apiVersion
// and kind are always allowed and metadata is always ObjectMeta.
func (c *compiler) compileRoot(s map[string]any) (n *node, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(compileError); ok {
				n, err = nil, e
				return
			}
			panic(r)
		}
	}()
	if s == nil {
		n = &node{types: tsObject, open: true, nullable: true}
	} else {
		n = c.compile(s, c.file, false)
	}
	// The root is a copy: a $ref target may be shared with other places.
	root := *n
	root.props = make(map[string]*node, len(n.props)+3)
	for k, p := range n.props {
		root.props[k] = p
	}
	root.props["metadata"] = c.objectMeta
	for _, f := range [...]string{"apiVersion", "kind"} {
		if root.props[f] == nil {
			root.props[f] = &node{types: tsString, nullable: true}
		}
	}
	if root.types == 0 {
		root.types = tsObject
	}
	return &root, nil
}

type compileError struct{ msg string }

func (e compileError) Error() string { return e.msg }

func (c *compiler) errorf(format string, args ...any) {
	panic(compileError{fmt.Sprintf(format, args...)})
}

// compile builds the node of schema s, found in file (JSON Schema
// references are resolved against it). sub is true inside allOf, anyOf,
// oneOf and not.
func (c *compiler) compile(s map[string]any, file string, sub bool) *node {
	if c.dialect == dialectJSON {
		if ref, ok := s["$ref"].(string); ok {
			return c.ref(ref, file, sub)
		}
	}
	n := &node{}
	c.fill(n, s, file, sub)
	return n
}

func (c *compiler) fill(n *node, s map[string]any, file string, sub bool) {
	crd := c.dialect == dialectCRD
	switch t := s["type"].(type) {
	case string:
		n.types = typeBit(t)
	case []any:
		for _, e := range t {
			if name, ok := e.(string); ok {
				n.types |= typeBit(name)
			}
		}
	}
	nullable, _ := s["nullable"].(bool)
	if crd {
		n.nullable = nullable || sub
		n.pruneNull = !nullable && !sub
		_, n.hasDefault = s["default"]
		if v, _ := s["x-kubernetes-int-or-string"].(bool); v {
			n.types = tsInteger | tsString
		}
	} else if nullable && n.types != 0 {
		n.types |= tsNull
	}
	preserve, _ := s["x-kubernetes-preserve-unknown-fields"].(bool)
	n.embedded, _ = s["x-kubernetes-embedded-resource"].(bool)

	if props, ok := s["properties"].(map[string]any); ok && len(props) > 0 {
		n.props = make(map[string]*node, len(props))
		for name, ps := range props {
			m, ok := ps.(map[string]any)
			if !ok {
				continue
			}
			n.props[name] = c.compile(m, file, sub)
		}
	}
	if req, ok := s["required"].([]any); ok {
		for _, r := range req {
			if name, ok := r.(string); ok {
				n.required = append(n.required, name)
			}
		}
	}
	switch a := s["additionalProperties"].(type) {
	case map[string]any:
		n.additional = c.compile(a, file, sub)
	case bool:
		if a {
			n.additional = anyNode
		} else if n.props == nil && crd {
			// additionalProperties: false alone is not allowed in a CRD.
		} else {
			n.closed = true
		}
	}
	switch it := s["items"].(type) {
	case map[string]any:
		n.items = c.compile(it, file, sub)
	}
	if n.embedded {
		if n.props == nil {
			n.props = map[string]*node{}
		}
		n.props["metadata"] = c.objectMeta
		for _, f := range [...]string{"apiVersion", "kind"} {
			if n.props[f] == nil {
				n.props[f] = &node{types: tsString, nullable: crd}
			}
		}
	}
	switch {
	case preserve || c.preserveAll || (sub && crd):
		n.open = true
	case crd:
		// A structural schema prunes every field it does not specify.
		n.open = n.types&tsObject == 0
	default:
		n.open = n.props == nil && n.additional == nil
	}
	if f, ok := s["format"].(string); ok {
		n.format = c.format(f, n.types)
	}
	c.constraints(n, s, file)
}

func typeBit(t string) typeSet {
	switch t {
	case "object":
		return tsObject
	case "array":
		return tsArray
	case "string":
		return tsString
	case "integer":
		return tsInteger
	case "number":
		return tsNumber
	case "boolean":
		return tsBoolean
	case "null":
		return tsNull
	}
	return 0
}

// format maps the formats the API server (CRDs) or a JSON Schema validator
// (kubeconform) checks; others are not checked.
func (c *compiler) format(f string, types typeSet) format {
	if types != 0 && types&tsString == 0 {
		return fmtNone
	}
	switch f {
	case "date-time", "datetime":
		return fmtDateTime
	case "date":
		return fmtDate
	case "uuid", "uuid3", "uuid4", "uuid5":
		return fmtUUID
	case "ipv4":
		return fmtIPv4
	case "ipv6":
		return fmtIPv6
	}
	if c.dialect == dialectCRD {
		switch f {
		case "byte":
			return fmtByte
		case "cidr":
			return fmtCIDR
		case "mac":
			return fmtMAC
		}
	}
	return fmtNone
}

func (c *compiler) constraints(n *node, s map[string]any, file string) {
	var k *constraints
	get := func() *constraints {
		if k == nil {
			k = newConstraints()
		}
		return k
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		get().enum = e
	}
	if cv, ok := s["const"]; ok {
		get().enum = []any{cv}
	}
	if p, ok := s["pattern"].(string); ok {
		if re, err := regexp.Compile(p); err == nil {
			get().pattern, get().patternText = re, p
		}
	}
	intOf := func(key string) int64 {
		if f, _, ok := number(s[key]); ok && f >= 0 {
			return int64(f)
		}
		return -1
	}
	if v := intOf("minLength"); v >= 0 {
		get().minLength = v
	}
	if v := intOf("maxLength"); v >= 0 {
		get().maxLength = v
	}
	if v := intOf("minItems"); v >= 0 {
		get().minItems = v
	}
	if v := intOf("maxItems"); v >= 0 {
		get().maxItems = v
	}
	if v := intOf("minProperties"); v >= 0 {
		get().minProps = v
	}
	if v := intOf("maxProperties"); v >= 0 {
		get().maxProps = v
	}
	if f, _, ok := number(s["minimum"]); ok {
		get().minimum = &f
		get().exclusiveMin, _ = s["exclusiveMinimum"].(bool)
	} else if f, _, ok := number(s["exclusiveMinimum"]); ok { // draft 6+
		get().minimum, get().exclusiveMin = &f, true
	}
	if f, _, ok := number(s["maximum"]); ok {
		get().maximum = &f
		get().exclMax, _ = s["exclusiveMaximum"].(bool)
	} else if f, _, ok := number(s["exclusiveMaximum"]); ok {
		get().maximum, get().exclMax = &f, true
	}
	if f, _, ok := number(s["multipleOf"]); ok && f > 0 {
		get().multipleOf = f
	}
	if u, _ := s["uniqueItems"].(bool); u {
		get().uniqueItems = true
	}
	if c.dialect == dialectCRD {
		switch lt, _ := s["x-kubernetes-list-type"].(string); lt {
		case "set":
			get().listType = lt
		case "map":
			if keys, ok := s["x-kubernetes-list-map-keys"].([]any); ok {
				for _, key := range keys {
					if ks, ok := key.(string); ok {
						get().listMapKeys = append(get().listMapKeys, ks)
					}
				}
				get().listType = lt
			}
		}
	}
	list := func(key string) []*node {
		arr, _ := s[key].([]any)
		var out []*node
		for _, e := range arr {
			if m, ok := e.(map[string]any); ok {
				out = append(out, c.compile(m, file, true))
			}
		}
		return out
	}
	if l := list("allOf"); len(l) > 0 {
		get().allOf = l
	}
	if l := list("anyOf"); len(l) > 0 {
		get().anyOf = l
	}
	if l := list("oneOf"); len(l) > 0 {
		get().oneOf = l
	}
	if m, ok := s["not"].(map[string]any); ok {
		get().not = c.compile(m, file, true)
	}
	n.extra = k
}

// ref resolves a JSON Schema reference: "#/definitions/x" in the same
// document, or "other.json#/definitions/x" beside it. References to other
// hosts are not followed; they accept any value.
func (c *compiler) ref(ref, file string, sub bool) *node {
	target, frag, _ := strings.Cut(ref, "#")
	doc := file
	if target != "" {
		if u, err := url.Parse(target); err == nil && u.Scheme != "" && u.Scheme != "file" {
			return anyNode
		}
		target = strings.TrimPrefix(target, "file://")
		if filepath.IsAbs(target) {
			doc = target
		} else {
			doc = filepath.Join(filepath.Dir(file), target)
		}
	}
	key := doc + "#" + frag
	if n, ok := c.refs[key]; ok {
		return n
	}
	root, err := c.document(doc)
	if err != nil {
		c.errorf("%s: %v", ref, err)
	}
	v := root
	if frag != "" && frag != "/" {
		for _, tok := range strings.Split(strings.TrimPrefix(frag, "/"), "/") {
			tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
			if t, err := url.PathUnescape(tok); err == nil {
				tok = t
			}
			m, ok := v.(map[string]any)
			if !ok {
				c.errorf("%s: no such definition", ref)
			}
			if v, ok = m[tok]; !ok {
				c.errorf("%s: no such definition", ref)
			}
		}
	}
	m, ok := v.(map[string]any)
	if !ok {
		c.errorf("%s: not a schema", ref)
	}
	n := &node{}
	if c.refs == nil {
		c.refs = map[string]*node{}
	}
	c.refs[key] = n // before filling: definitions may be recursive
	if r, ok := m["$ref"].(string); ok {
		*n = *c.ref(r, doc, sub)
		return n
	}
	c.fill(n, m, doc, sub)
	return n
}

func (c *compiler) document(file string) (any, error) {
	if d, ok := c.docs[file]; ok {
		return d, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var d any
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if c.docs == nil {
		c.docs = map[string]any{}
	}
	c.docs[file] = d
	return d, nil
}
