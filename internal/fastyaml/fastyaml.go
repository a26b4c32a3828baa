// Package fastyaml parses the YAML that Kubernetes manifests are mostly
// written in (block mappings and sequences of one-line scalars) into the
// same yaml.Node tree as gopkg.in/yaml.v3, several times faster. Anything
// outside that subset is refused, and the caller parses it with yaml.v3.
package fastyaml

import (
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Parse returns the yaml.Node that yaml.Unmarshal(src, &n) would give (n
// being the DocumentNode), and true; or nil, false when src uses anything
// outside the fast path, and the caller uses yaml.v3.
//
// The fast path is one document (an optional first line "---" alone)
// whose root is a block mapping or sequence; block mappings with plain or
// quoted keys; block sequences (also at their key's indentation, and with
// "- key: value" items); plain, single- and double-quoted scalars on one
// line; empty values; flow sequences and mappings of such scalars on one
// line. Duplicate keys are kept, as yaml.v3 keeps them in a Node. It is
// refused on comments, anchors, aliases, tags, block scalars, multi-line
// scalars and flow collections, nested flow collections, empty sequence
// items, "- - x", complex keys, keys of more than 1000 bytes, directives,
// a second document or a document end marker, tabs, carriage returns, a
// byte order mark, control characters, invalid UTF-8, and whatever
// yaml.v3 would fail on.
func Parse(src []byte) (node *yaml.Node, ok bool) {
	nodes, ascii, valid := scan(src)
	if !valid {
		return nil, false
	}
	p := parserPool.Get().(*parser)
	defer func() {
		if r := recover(); r != nil {
			if r != errBail { //nolint:errorlint // a sentinel panic value, never wrapped
				panic(r)
			}
			node, ok = nil, false
		}
		p.release()
	}()
	p.init(string(src), nodes, ascii)
	return p.document(), true
}

// maxKey is the longest key taken, in bytes (yaml.v3 counts characters,
// and takes up to 1024).
const maxKey = 1000

// bail is the panic that stops a parse outside the fast path.
type bail struct{}

func (bail) Error() string { return "fastyaml: outside the fast path" }

var errBail error = bail{}

func (p *parser) bail() {
	panic(errBail)
}

// scan checks that src holds only what the fast path reads (printable
// characters as yaml.v3's reader allows them, no tab, carriage return or
// line separator, valid UTF-8) and bounds the number of nodes it holds:
// two for each ": " (a key and its value), one for each "- " (an item),
// each "," and each "[" or "{" (items of flow collections), and the
// document and its root.
func scan(src []byte) (nodes int, ascii, ok bool) {
	ascii = true
	nodes = 2
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ':' || c == '-':
				if i+1 == len(src) || src[i+1] == ' ' || src[i+1] == '\n' {
					nodes++
					if c == ':' {
						nodes++
					}
				}
			case c == ',' || c == '[' || c == '{':
				nodes++
			case c == '\n':
			case c < 0x20 || c == 0x7f:
				return 0, false, false
			}
			i++
			continue
		}
		ascii = false
		r, size := utf8.DecodeRune(src[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return 0, false, false
		case r == 0xFEFF, r == 0x2028, r == 0x2029:
			return 0, false, false
		case r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		default:
			return 0, false, false
		}
		i += size
	}
	return nodes, ascii, true
}

type parser struct {
	s     string
	ascii bool // s is all ASCII: columns are byte offsets

	// The current line: s[ls:le], its number from 1, and its indentation.
	ls, le, ln, ind int
	eof             bool
	// markerOK lets the first line be "---".
	markerOK bool

	nodes []yaml.Node  // nodes are carved from here
	ptrs  []*yaml.Node // and Content slices from here
	stack []*yaml.Node // children of the collections being read
	buf   []byte       // quoted scalars with escapes
}

var parserPool = sync.Pool{New: func() any { return new(parser) }}

func (p *parser) init(s string, nodes int, ascii bool) {
	p.s, p.ascii = s, ascii
	p.ls, p.le, p.ln, p.eof = 0, -1, 0, false
	// Every node but the document is in the Content of another.
	p.nodes = make([]yaml.Node, 0, nodes)
	p.ptrs = make([]*yaml.Node, 0, nodes-1)
	p.stack = p.stack[:0]
}

func (p *parser) release() {
	p.s, p.nodes, p.ptrs = "", nil, nil
	clear(p.stack[:cap(p.stack)])
	p.stack = p.stack[:0]
	parserPool.Put(p)
}

func (p *parser) node(kind yaml.Kind, style yaml.Style, tag, value string, line, col int) *yaml.Node {
	if len(p.nodes) == cap(p.nodes) {
		p.nodes = make([]yaml.Node, 0, 64)
	}
	p.nodes = p.nodes[:len(p.nodes)+1]
	n := &p.nodes[len(p.nodes)-1]
	n.Kind, n.Style, n.Tag, n.Value, n.Line, n.Column = kind, style, tag, value, line, col
	return n
}

// content moves the children stacked from base into n's Content.
func (p *parser) content(n *yaml.Node, base int) {
	k := len(p.stack) - base
	if k == 0 {
		return
	}
	if cap(p.ptrs)-len(p.ptrs) < k {
		p.ptrs = make([]*yaml.Node, 0, max(k, 64))
	}
	i := len(p.ptrs)
	p.ptrs = p.ptrs[:i+k]
	c := p.ptrs[i : i+k : i+k]
	copy(c, p.stack[base:])
	n.Content = c
	p.stack = p.stack[:base]
}

// col is the column, from 1, of byte off of the current line.
func (p *parser) col(off int) int {
	if p.ascii {
		return off - p.ls + 1
	}
	return utf8.RuneCountInString(p.s[p.ls:off]) + 1
}

// nextLine moves to the next line that is not blank.
func (p *parser) nextLine() {
	s := p.s
	for {
		if p.le >= len(s) {
			p.eof = true
			return
		}
		p.ls = p.le + 1
		p.ln++
		if i := strings.IndexByte(s[p.ls:], '\n'); i >= 0 {
			p.le = p.ls + i
		} else {
			p.le = len(s)
		}
		i := p.ls
		for i < p.le && s[i] == ' ' {
			i++
		}
		if i == p.le {
			continue
		}
		p.ind = i - p.ls
		switch s[i] {
		case '#', '%':
			p.bail() // a comment or a directive
		case '-', '.':
			// A document marker; "---" alone may open the document.
			if p.ind == 0 && p.le-i >= 3 && (s[i:i+3] == "---" || s[i:i+3] == "...") && (p.le-i == 3 || s[i+3] == ' ') {
				if !p.markerOK || s[i:p.le] != "---" {
					p.bail()
				}
			}
		}
		p.markerOK = false
		return
	}
}

func (p *parser) document() *yaml.Node {
	p.markerOK = true
	p.nextLine()
	if p.eof {
		p.bail()
	}
	doc := p.node(yaml.DocumentNode, 0, "", "", 0, 0)
	explicit := p.ind == 0 && p.s[p.ls:p.le] == "---"
	if explicit {
		doc.Line, doc.Column = p.ln, 1
		p.nextLine()
		if p.eof {
			p.bail()
		}
	}
	root := p.block()
	if !p.eof {
		p.bail()
	}
	if !explicit {
		doc.Line, doc.Column = root.Line, root.Column
	}
	p.stack = append(p.stack[:0], root)
	p.content(doc, 0)
	return doc
}

// isEntry tells a "-" block sequence entry at byte i of the current line.
func (p *parser) isEntry(i int) bool {
	return p.s[i] == '-' && (i+1 == p.le || p.s[i+1] == ' ')
}

// block reads the block collection that starts the current line.
func (p *parser) block() *yaml.Node {
	i := p.ls + p.ind
	if p.isEntry(i) {
		return p.sequence(p.ind)
	}
	k, after := p.key(i)
	if k == nil {
		p.bail()
	}
	return p.mapping(p.ind, k, after)
}

// sequence reads a block sequence whose "-" are at column ind (from 0) of
// the current line and those after it.
func (p *parser) sequence(ind int) *yaml.Node {
	n := p.node(yaml.SequenceNode, 0, seqTag, "", p.ln, ind+1)
	base := len(p.stack)
	for {
		i := p.ls + ind + 1
		for i < p.le && p.s[i] == ' ' {
			i++
		}
		var item *yaml.Node
		switch {
		case i == p.le:
			// The item starts on a line of its own.
			p.nextLine()
			if p.eof || p.ind <= ind {
				p.bail() // an empty item
			}
			item = p.block()
		case p.isEntry(i):
			p.bail() // "- - x"
		default:
			if k, after := p.key(i); k != nil {
				item = p.mapping(i-p.ls, k, after)
			} else {
				item = p.inline(i, ind)
			}
		}
		p.stack = append(p.stack, item)
		if p.eof || p.ind != ind || !p.isEntry(p.ls+ind) {
			// Whatever the line is, the collections around have to
			// take it, or the parse bails.
			break
		}
	}
	p.content(n, base)
	return n
}

// mapping reads a block mapping whose keys are at column ind (from 0),
// the first of them k, read up to byte after of the current line.
func (p *parser) mapping(ind int, k *yaml.Node, after int) *yaml.Node {
	n := p.node(yaml.MappingNode, 0, mapTag, "", k.Line, k.Column)
	base := len(p.stack)
	for {
		p.stack = append(p.stack, k)
		p.stack = append(p.stack, p.value(ind, after))
		if p.eof || p.ind < ind {
			break
		}
		if p.ind > ind {
			p.bail()
		}
		i := p.ls + ind
		if p.isEntry(i) {
			p.bail()
		}
		if k, after = p.key(i); k == nil {
			p.bail()
		}
	}
	p.content(n, base)
	return n
}

// value reads the value of a key of a mapping at column ind, from byte
// after (just after the ":") of the current line, and moves past it.
func (p *parser) value(ind, after int) *yaml.Node {
	i := after
	for i < p.le && p.s[i] == ' ' {
		i++
	}
	if i < p.le {
		return p.inline(i, ind)
	}
	line, col := p.ln, p.col(after)
	p.nextLine()
	switch {
	case p.eof || p.ind < ind:
	case p.ind == ind:
		if p.isEntry(p.ls + ind) {
			return p.sequence(ind)
		}
	default:
		return p.block()
	}
	return p.node(yaml.ScalarNode, 0, nullTag, "", line, col)
}

// inline reads the scalar or flow collection at byte i of the current
// line, which must end the line, and moves to the next line: it must not
// be indented more than ind, the column of the block collection around.
func (p *parser) inline(i, ind int) *yaml.Node {
	var n *yaml.Node
	var end int
	switch p.s[i] {
	case '"', '\'':
		n, end = p.quoted(i)
	case '[', '{':
		n, end = p.flow(i)
	default:
		n = p.plain(i)
		end = p.le
	}
	for end < p.le && p.s[end] == ' ' {
		end++
	}
	if end != p.le {
		p.bail()
	}
	p.nextLine()
	if !p.eof && p.ind > ind {
		p.bail() // a multi-line scalar, or worse
	}
	return n
}

// plainStart tells the bytes that cannot start a plain scalar, or that
// the fast path does not take there.
var plainStart = func() (t [256]bool) {
	for _, c := range "-?:,[]{}#&*!|>'\"%@`" {
		t[c] = true
	}
	return t
}()

// plain reads a plain scalar in block context that runs to the end of
// the current line.
func (p *parser) plain(i int) *yaml.Node {
	s := p.s
	if plainStart[s[i]] && (s[i] != '-' || i+1 == p.le || s[i+1] == ' ') {
		p.bail()
	}
	for j := i; j < p.le; j++ {
		switch s[j] {
		case ':':
			if j+1 == p.le || s[j+1] == ' ' {
				p.bail() // a mapping where it is not allowed
			}
		case '#':
			if s[j-1] == ' ' {
				p.bail() // a comment
			}
		}
	}
	v := strings.TrimRight(s[i:p.le], " ")
	return p.node(yaml.ScalarNode, 0, resolve(v), v, p.ln, p.col(i))
}

// key reads the key of a block mapping at byte i of the current line,
// with its ":", and returns it and the byte after the ":"; nil when
// there is no key there.
func (p *parser) key(i int) (*yaml.Node, int) {
	s := p.s
	var k *yaml.Node
	j := i
	switch s[i] {
	case '"', '\'':
		k, j = p.quoted(i)
		for j < p.le && s[j] == ' ' {
			j++
		}
		if j == p.le || s[j] != ':' || (j+1 < p.le && s[j+1] != ' ') {
			return nil, 0
		}
	default:
		if plainStart[s[i]] && (s[i] != '-' || i+1 == p.le || s[i+1] == ' ') {
			return nil, 0 // not a plain scalar: a flow collection, or worse
		}
		for ; ; j++ {
			if j == p.le {
				return nil, 0
			}
			if c := s[j]; c == ':' {
				if j+1 == p.le || s[j+1] == ' ' {
					break
				}
			} else if c == '#' && s[j-1] == ' ' {
				p.bail() // a comment
			}
		}
		v := strings.TrimRight(s[i:j], " ")
		k = p.node(yaml.ScalarNode, 0, resolve(v), v, p.ln, p.col(i))
	}
	if j-i > maxKey {
		p.bail() // yaml.v3 takes no simple key of more than 1024 characters
	}
	return k, j + 1
}

// quoted reads the single- or double-quoted scalar at byte i of the
// current line, and returns it and the byte after its closing quote.
func (p *parser) quoted(i int) (*yaml.Node, int) {
	s := p.s
	q := s[i]
	style := yaml.DoubleQuotedStyle
	if q == '\'' {
		style = yaml.SingleQuotedStyle
	}
	j := i + 1
	for ; j < p.le; j++ {
		if c := s[j]; c == q || c == '\\' && q == '"' {
			break
		}
	}
	if j == p.le {
		p.bail() // more than one line
	}
	if s[j] == q && (q == '"' || j+1 == p.le || s[j+1] != '\'') {
		// Nothing to unescape.
		return p.node(yaml.ScalarNode, style, strTag, s[i+1:j], p.ln, p.col(i)), j + 1
	}
	b := append(p.buf[:0], s[i+1:j]...)
	for {
		if j == p.le {
			p.bail()
		}
		c := s[j]
		switch {
		case q == '\'' && c == '\'':
			if j+1 < p.le && s[j+1] == '\'' {
				b = append(b, '\'')
				j += 2
				continue
			}
		case q == '"' && c == '"':
		case q == '"' && c == '\\':
			b, j = p.escape(b, j)
			continue
		default:
			b = append(b, c)
			j++
			continue
		}
		break
	}
	p.buf = b
	return p.node(yaml.ScalarNode, style, strTag, string(b), p.ln, p.col(i)), j + 1
}

// escape decodes the escape sequence at byte j (a backslash) of a
// double-quoted scalar as yaml.v3 does, appending it to b.
func (p *parser) escape(b []byte, j int) ([]byte, int) {
	s := p.s
	if j+1 >= p.le {
		p.bail() // an escaped line break
	}
	n := 0
	switch s[j+1] {
	case '0':
		b = append(b, 0)
	case 'a':
		b = append(b, '\a')
	case 'b':
		b = append(b, '\b')
	case 't':
		b = append(b, '\t')
	case 'n':
		b = append(b, '\n')
	case 'v':
		b = append(b, '\v')
	case 'f':
		b = append(b, '\f')
	case 'r':
		b = append(b, '\r')
	case 'e':
		b = append(b, 0x1b)
	case ' ', '"', '\'', '\\':
		b = append(b, s[j+1])
	case 'N':
		b = append(b, "\u0085"...)
	case '_':
		b = append(b, "\u00a0"...)
	case 'L':
		b = append(b, "\u2028"...)
	case 'P':
		b = append(b, "\u2029"...)
	case 'x':
		n = 2
	case 'u':
		n = 4
	case 'U':
		n = 8
	default:
		p.bail() // an unknown escape: yaml.v3 fails
	}
	j += 2
	if n == 0 {
		return b, j
	}
	if j+n > p.le {
		p.bail()
	}
	v := 0
	for _, c := range []byte(s[j : j+n]) {
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 + int(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 + int(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 + int(c-'A'+10)
		default:
			p.bail()
		}
	}
	if v >= 0xD800 && v <= 0xDFFF || v > 0x10FFFF {
		p.bail()
	}
	if v <= 0x7f {
		return append(b, byte(v)), j + n
	}
	return utf8.AppendRune(b, rune(v)), j + n
}

// flowPlain tells the bytes a plain scalar in a flow collection may hold
// on the fast path: no indicator of a flow collection, of a key or of a
// comment.
var flowPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = true
	}
	for _, c := range ",[]{}:?#" {
		t[c] = false
	}
	return t
}()

// flow reads the flow sequence or mapping at byte i of the current line,
// which must end on it, of scalars only; it returns it and the byte after
// it.
func (p *parser) flow(i int) (*yaml.Node, int) {
	s := p.s
	kind, tag, closer := yaml.SequenceNode, seqTag, byte(']')
	if s[i] == '{' {
		kind, tag, closer = yaml.MappingNode, mapTag, '}'
	}
	n := p.node(kind, yaml.FlowStyle, tag, "", p.ln, p.col(i))
	base := len(p.stack)
	j := p.skip(i + 1)
	if j < p.le && s[j] == closer {
		return n, j + 1
	}
	for {
		var item *yaml.Node
		start := j
		item, j = p.flowScalar(j)
		p.stack = append(p.stack, item)
		j = p.skip(j)
		if kind == yaml.MappingNode {
			if j-start > maxKey {
				p.bail()
			}
			if j+1 >= p.le || s[j] != ':' || s[j+1] != ' ' {
				p.bail()
			}
			item, j = p.flowScalar(p.skip(j + 1))
			p.stack = append(p.stack, item)
			j = p.skip(j)
		}
		if j == p.le {
			p.bail()
		}
		if s[j] == closer {
			break
		}
		if s[j] != ',' {
			p.bail()
		}
		j = p.skip(j + 1)
	}
	p.content(n, base)
	return n, j + 1
}

func (p *parser) skip(j int) int {
	for j < p.le && p.s[j] == ' ' {
		j++
	}
	return j
}

// flowScalar reads a scalar in a flow collection at byte i of the current
// line, and returns it and the byte after it.
func (p *parser) flowScalar(i int) (*yaml.Node, int) {
	s := p.s
	if i == p.le {
		p.bail()
	}
	switch c := s[i]; {
	case c == '"' || c == '\'':
		return p.quoted(i)
	case plainStart[c] && (c != '-' || i+1 == p.le || !flowPlain[s[i+1]] || s[i+1] == ' '):
		p.bail()
	}
	j := i
	for j < p.le && flowPlain[s[j]] {
		j++
	}
	v := strings.TrimRight(s[i:j], " ")
	return p.node(yaml.ScalarNode, 0, resolve(v), v, p.ln, p.col(i)), j
}
