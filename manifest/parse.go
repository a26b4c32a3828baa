package manifest

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/internal/fastyaml"
)

// Error is input that could not be read, with where it is.
type Error struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

func (e Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return e.File + ": " + e.Message
}

// document is one YAML document of a file: its text and its first line.
type document struct {
	file  string
	raw   []byte
	line0 int // line of raw's first byte in the file, from 1
	last  int // line of raw's last byte
	// lines answers line look-ups without parsing raw again; nil where
	// they must parse it (see lineIndex).
	lines lineIndex
}

// Parse reads every Kubernetes object of one YAML or JSON file (several
// documents, kind: List expanded). Documents that are not Kubernetes objects
// (no apiVersion and kind: kustomization files, values files, CI
// configuration) are skipped; a document that does not parse is an Error
// and the others are still read.
func Parse(file string, data []byte) ([]*Object, []Error) {
	objs, errs, _ := parse(file, data, false)
	return objs, errs
}

// parse is Parse that also counts the documents it skipped. Strict, as for
// the manifests of a repository, an object also needs an API group a
// cluster could serve and a name (see isManifest); bundles and test cases
// hold unnamed fragments and requests.
func parse(file string, data []byte, strict bool) ([]*Object, []Error, int) {
	isObject := hasKind
	if strict {
		isObject = isManifest
	}
	var objs []*Object
	var itemErrs []Error
	skipped := 0
	errs := eachDocument(file, data, true, func(d *document, root *yaml.Node, v any, c *converter) {
		m, ok := v.(map[string]any)
		if !ok || !hasKind(m) {
			if v != nil {
				skipped++
			}
			return
		}
		line := d.at(root.Line)
		if items, isList := listItems(m); isList {
			for i, it := range items {
				im, ok := it.(map[string]any)
				if !ok || !hasKind(im) {
					itemErrs = append(itemErrs, Error{File: file, Line: d.itemLine(root, i, line), Message: fmt.Sprintf("items[%d] of the List is not a Kubernetes object (it needs apiVersion and kind)", i)})
					continue
				}
				if !isObject(im) {
					skipped++
					continue
				}
				prefix := "/items/" + strconv.Itoa(i)
				objs = append(objs, &Object{Data: im, Source: Source{File: file, Line: d.itemLine(root, i, line)}, doc: d, prefix: prefix, duplicates: within(c.duplicates, prefix)})
			}
			return
		}
		if !isObject(m) {
			skipped++
			return
		}
		objs = append(objs, &Object{Data: m, Source: Source{File: file, Line: line}, doc: d, duplicates: c.duplicates})
	})
	errs = append(errs, itemErrs...)
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Line < errs[j].Line })
	return objs, errs, skipped
}

// eachDocument parses each document of a file and hands it to use, with
// its value; documents that do not parse are the errors returned. With
// index, each document keeps the lines of its fields.
func eachDocument(file string, data []byte, index bool, use func(d *document, root *yaml.Node, v any, c *converter)) []Error {
	var errs []Error
	// One indexer and one path buffer serve every document of the file.
	var lines indexer
	var path []string
	for _, d := range splitDocuments(file, data) {
		root, err := d.parse()
		if err != nil {
			errs = append(errs, *err)
			continue
		}
		if root == nil {
			continue
		}
		c := converter{root: root, path: path[:0]}
		if index {
			lines.reset()
			c.lines = &lines
		}
		v, cerr := c.value(root, 0)
		path = c.path
		if cerr != nil {
			errs = append(errs, Error{File: file, Line: d.at(cerr.line), Message: cerr.msg})
			continue
		}
		if index {
			d.lines = c.lines.index(d)
		}
		use(d, root, v, &c)
	}
	return errs
}

// within keeps the pointers under prefix, relative to it.
func within(pointers []string, prefix string) []string {
	var out []string
	for _, p := range pointers {
		if strings.HasPrefix(p, prefix+"/") {
			out = append(out, strings.TrimPrefix(p, prefix))
		}
	}
	return out
}

func (d *document) itemLine(root *yaml.Node, i int, fallback int) int {
	if n, _ := lookup(root, "/items/"+strconv.Itoa(i)); n != nil {
		return d.at(n.Line)
	}
	return fallback
}

// hasKind tells a document that claims to be a Kubernetes object (or a
// List of them): it has apiVersion and kind, and is not a kustomization.
func hasKind(m map[string]any) bool {
	av, _ := m["apiVersion"].(string)
	kind, _ := m["kind"].(string)
	return av != "" && kind != "" && !strings.HasPrefix(av, "kustomize.config.k8s.io/")
}

// isManifest tells a Kubernetes object from other YAML that has apiVersion
// and kind (skaffold.yaml, fragments without a name): it needs an API group
// a cluster could serve and metadata naming it.
func isManifest(m map[string]any) bool {
	return hasKind(m) && IsKubernetesAPI(str(m["apiVersion"])) && hasName(m)
}

// listItems returns the items of a kind: List (or any *List with items).
func listItems(m map[string]any) ([]any, bool) {
	kind, _ := m["kind"].(string)
	if !strings.HasSuffix(kind, "List") {
		return nil, false
	}
	items, ok := m["items"].([]any)
	if !ok && m["items"] != nil {
		return nil, false
	}
	return items, true
}

// isSeparator tells a "---" line (alone, or followed by a space or tab).
func isSeparator(line []byte) bool {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
	return bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t')
}

// at turns a line the YAML parser gives (from 1 in the document) into the
// file's. The parser also breaks lines at a lone carriage return, which
// the file's lines (and editors) do not: such a line is taken as the
// document's last.
func (d *document) at(line int) int {
	l := d.line0 + line - 1
	if d.last > 0 && l > d.last {
		l = d.last
	}
	return max(l, d.line0)
}

// splitDocuments cuts a file at its "---" lines, as kubectl does, so that
// each document keeps its own text for line look-ups later. The separator
// line stays with the document it opens; it may carry a comment.
func splitDocuments(file string, data []byte) []*document {
	var docs []*document
	start, startLine, line := 0, 1, 1
	for off := 0; off < len(data); line++ {
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			next = off + end + 1
		}
		if off > start && isSeparator(data[off:next]) {
			docs = append(docs, &document{file: file, raw: data[start:off], line0: startLine, last: line - 1})
			start, startLine = off, line
		}
		off = next
	}
	if start < len(data) {
		docs = append(docs, &document{file: file, raw: data[start:], line0: startLine, last: line - 1})
	}
	return docs
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parse returns the document's root node, nil for an empty document.
func (d *document) parse() (*yaml.Node, *Error) {
	// yaml.v3 reports invalid UTF-8 and NULs without a line: find them first.
	if at, what := badByte(d.raw); at >= 0 {
		return nil, &Error{File: d.file, Line: d.line0 + bytes.Count(d.raw[:at], []byte{'\n'}), Message: "invalid YAML: " + what}
	}
	// Most manifests are in the subset fastyaml parses, to the same tree.
	if n, ok := fastyaml.Parse(d.raw); ok {
		if len(n.Content) == 0 {
			return nil, nil
		}
		return n.Content[0], nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal(d.raw, &n); err != nil {
		msg, line := err.Error(), d.line0
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			l, _ := strconv.Atoi(m[1])
			line, msg = d.at(l), m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		return nil, &Error{File: d.file, Line: line, Message: "invalid YAML: " + msg}
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) == 0 {
		return nil, nil
	}
	return n.Content[0], nil
}

// badByte finds the first byte of a document that is not UTF-8, or is a
// NUL, and says what it is; -1 when there is none. Text in UTF-16 (with
// its byte order mark) is left to the YAML parser, which reads it.
func badByte(raw []byte) (int, string) {
	if utf8.Valid(raw) && bytes.IndexByte(raw, 0) < 0 {
		return -1, ""
	}
	if bytes.HasPrefix(raw, []byte{0xff, 0xfe}) || bytes.HasPrefix(raw, []byte{0xfe, 0xff}) {
		return -1, ""
	}
	for i := 0; i < len(raw); {
		r, size := utf8.DecodeRune(raw[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return i, fmt.Sprintf("invalid UTF-8 (byte 0x%02x)", raw[i])
		case r == 0:
			return i, "NUL byte (control characters are not allowed)"
		}
		i += size
	}
	return -1, ""
}

// field finds the node at a JSON pointer under the document's root and
// returns its line and value.
func (d *document) field(root *yaml.Node, pointer string) (line int, value any, ok bool) {
	at, n := lookup(root, pointer)
	if n == nil {
		return 0, nil, false
	}
	c := converter{root: root} // the document's size sets the alias budget
	v, _ := c.value(n, 0)
	return d.at(at.Line), v, true
}

// lookup walks a JSON pointer through a YAML node tree and returns the node
// whose line a person looks for (the key, for a mapping entry) and the value.
func lookup(n *yaml.Node, pointer string) (at, value *yaml.Node) {
	if pointer == "" {
		return n, n
	}
	toks := strings.Split(strings.TrimPrefix(pointer, "/"), "/")
	cur, at := n, n
	for _, tok := range toks {
		cur = resolve(cur)
		tok = Unescape(tok)
		switch cur.Kind {
		case yaml.MappingNode:
			k, v := mappingEntry(cur, tok)
			if v == nil {
				return nil, nil
			}
			at, cur = k, v
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur.Content) {
				return nil, nil
			}
			cur = cur.Content[i]
			at = cur
		default:
			return nil, nil
		}
	}
	return at, cur
}

// mappingEntry finds key in a mapping, following merge keys.
func mappingEntry(m *yaml.Node, key string) (k, v *yaml.Node) {
	for i := len(m.Content) - 2; i >= 0; i -= 2 { // the last duplicate wins
		if kn := m.Content[i]; kn.Value == key && kn.ShortTag() != "!!merge" {
			return kn, m.Content[i+1]
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].ShortTag() != "!!merge" {
			continue
		}
		for _, src := range mergeSources(m.Content[i+1]) {
			if k, v := mappingEntry(src, key); v != nil {
				return k, v
			}
		}
	}
	return nil, nil
}

func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func mergeSources(v *yaml.Node) []*yaml.Node {
	v = resolve(v)
	if v.Kind == yaml.SequenceNode {
		out := make([]*yaml.Node, 0, len(v.Content))
		for _, c := range v.Content {
			out = append(out, resolve(c))
		}
		return out
	}
	return []*yaml.Node{v}
}

type convertError struct {
	line int
	msg  string
}

// convert turns a node into the values JSON decoding gives, as the API
// server would see the object.
func convert(n *yaml.Node) (any, *convertError) {
	c := converter{root: n}
	return c.value(n, 0)
}

// converter converts a node tree, noting keys a mapping repeats (strict
// validation rejects them, as kubectl apply --validate=strict does).
type converter struct {
	path       []string
	duplicates []string
	lines      *indexer // nil: no index wanted

	// root is the tree converted: its size sets the alias budget.
	root *yaml.Node
	// aliased counts the nodes produced through aliases (merge keys
	// included), budget bounds them once the first alias is met (-1: not
	// yet set); inAlias is the depth of aliases being expanded.
	aliased, budget, inAlias int
}

// Alias expansion is bounded, as kustomize bounds it ("excessive
// aliasing"): a document may produce through its aliases at most
// aliasFactor times the nodes it holds, and at least minAliasBudget nodes.
// Ordinary anchors and merge keys stay far below; a "billion laughs"
// document of a few hundred bytes would otherwise expand to gigabytes.
const (
	minAliasBudget = 10_000
	aliasFactor    = 100
)

// countNodes counts the nodes of a tree without following aliases.
func countNodes(n *yaml.Node) int {
	count := 1
	for _, c := range n.Content {
		count += countNodes(c)
	}
	return count
}

// spend counts one node produced through an alias against the budget.
func (c *converter) spend() *convertError {
	if c.inAlias == 0 {
		return nil
	}
	if c.budget == 0 {
		c.budget = minAliasBudget
		if c.root != nil {
			c.budget = max(minAliasBudget, aliasFactor*countNodes(c.root))
		}
	}
	c.aliased++
	if c.aliased > c.budget {
		line := 1
		if c.root != nil {
			line = c.root.Line
		}
		return &convertError{line, fmt.Sprintf("excessive aliasing: the document's aliases expand to more than %d nodes", c.budget)}
	}
	return nil
}

func (c *converter) pointer() string {
	if len(c.path) == 0 {
		return ""
	}
	return "/" + strings.Join(c.path, "/")
}

func (c *converter) value(n *yaml.Node, depth int) (any, *convertError) {
	if depth > 1000 {
		return nil, &convertError{n.Line, "document nests too deeply"}
	}
	if n.Kind == yaml.AliasNode {
		c.lines.stop()
		c.inAlias++
		defer func() { c.inAlias-- }()
	}
	if err := c.spend(); err != nil {
		return nil, err
	}
	n = resolve(n)
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.ShortTag() == "!!merge" {
				c.lines.stop()
				// Explicit keys win over merged ones, whatever their order.
				for _, src := range mergeSources(v) {
					// A merged mapping is produced through its alias: it
					// spends the same budget.
					inner := converter{root: c.root, aliased: c.aliased, budget: c.budget, inAlias: c.inAlias + 1}
					sv, err := inner.value(src, depth+1)
					c.aliased, c.budget = inner.aliased, inner.budget
					if err != nil {
						return nil, err
					}
					sm, ok := sv.(map[string]any)
					if !ok {
						return nil, &convertError{k.Line, "merge key (<<) must refer to a mapping"}
					}
					for mk, mv := range sm {
						if _, set := explicitKey(n, mk); !set {
							if _, done := m[mk]; !done {
								m[mk] = mv
							}
						}
					}
				}
				continue
			}
			rk := resolve(k)
			if rk.Kind != yaml.ScalarNode {
				return nil, &convertError{k.Line, "mapping key is not a scalar"}
			}
			c.path = append(c.path, Escape(rk.Value))
			if _, dup := m[rk.Value]; dup {
				c.duplicates = append(c.duplicates, c.pointer())
				c.lines.stop()
			}
			c.lines.enter(c.path[len(c.path)-1], k.Line)
			val, err := c.value(v, depth+1)
			c.lines.leave()
			c.path = c.path[:len(c.path)-1]
			if err != nil {
				return nil, err
			}
			m[rk.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, e := range n.Content {
			c.path = append(c.path, strconv.Itoa(i))
			c.lines.enter(c.path[len(c.path)-1], e.Line)
			v, err := c.value(e, depth+1)
			c.lines.leave()
			c.path = c.path[:len(c.path)-1]
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, nil
}

func explicitKey(m *yaml.Node, key string) (*yaml.Node, bool) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; k.ShortTag() != "!!merge" && k.Value == key {
			return k, true
		}
	}
	return nil, false
}

func scalar(n *yaml.Node) (any, *convertError) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		b, err := strconv.ParseBool(strings.ToLower(n.Value))
		if err != nil {
			return n.Value, nil
		}
		return b, nil
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i, nil
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &convertError{n.Line, err.Error()}
		}
		switch x := v.(type) {
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case uint64:
			return float64(x), nil
		}
		return v, nil
	case "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, &convertError{n.Line, err.Error()}
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, &convertError{n.Line, fmt.Sprintf("%q is not a number JSON can hold", n.Value)}
		}
		return f, nil
	}
	return n.Value, nil
}

// ParseValue reads every document of a YAML or JSON file as plain values
// (data files of a policy bundle), with the same errors as Parse.
func ParseValue(file string, data []byte) ([]any, []Error) {
	var out []any
	errs := eachDocument(file, data, false, func(_ *document, _ *yaml.Node, v any, _ *converter) { out = append(out, v) })
	return out, errs
}
