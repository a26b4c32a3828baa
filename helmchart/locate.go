package helmchart

import (
	"fmt"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/internal/jsonptr"
)

// Locate returns the line in d.File of the field at a JSON pointer (e.g.
// /spec/template/spec/containers/0/securityContext/privileged) of the rendered object.
//
// It reads the template's source, not the rendered stream: template actions are masked, and the
// pointer is followed by YAML keys and indentation. Where the field is written literally in the
// template, the answer is its line; where it (or one of its parents) comes from an output action
// (`privileged: {{ .Values.x }}`, `{{- toYaml .Values.securityContext | nindent 12 }}`,
// `{{- include "labels" . | nindent 4 }}`), the line of that action. Where the field is not in the
// template at all, the line of its deepest ancestor that is; at worst d.Line.
//
// Limits: which branch of an if/else rendered is guessed (the branch whose literal value matches
// the rendered value, else the first); an index into a list built by `range` falls to the last
// literal item; keys written with template actions (`{{ $k }}: v`) are not matched by name; flow
// style ({a: b}) and block scalars are not looked into; documents of a template split by `---` are
// matched to the rendered ones by position, or by kind where `---` lines are conditional.
func (d Document) Locate(pointer string) (line int) {
	defer func() {
		if recover() != nil || line <= 0 {
			line = d.Line
		}
	}()
	if d.src == "" || pointer == "" || pointer == "/" {
		return d.Line
	}
	toks := jsonptr.Tokens(pointer)
	if toks == nil {
		return d.Line
	}
	parts := sourceParts(d.src)
	if d.part < 0 || d.part >= len(parts) {
		return d.Line
	}
	l := &locator{es: parts[d.part].entries, toks: toks, data: d.Data}
	h := l.find(0, len(l.es), 0)
	if h.line > 0 {
		return h.line
	}
	return d.Line
}

// firstLine is the line of the document's first entry in its source part.
func (d Document) firstLine() int {
	parts := sourceParts(d.src)
	if d.part < 0 || d.part >= len(parts) {
		return 1
	}
	p := parts[d.part]
	if len(p.entries) > 0 {
		return p.entries[0].line
	}
	if p.start > 0 {
		return p.start
	}
	return 1
}

// entry is one YAML node start in a template's source, with template actions masked.
type entry struct {
	line   int // 1-based line in the file
	indent int // column
	dash   bool
	isKey  bool
	key    string
	value  string // the literal text after "key:" (or of a scalar); actions are \x01
	expr   bool   // an output action standing alone, or a key written with an action
	block  bool   // value is a block scalar (| or >)
	hint   string // the text of the output actions on the line
}

type sourcePartInfo struct {
	start   int // line of the part's first character
	entries []entry
}

// sourceParts splits a template's source at `---` lines (as Helm splits the rendered
// output) and parses each part into entries.
func sourceParts(src string) []sourcePartInfo {
	idx := sep.FindAllStringIndex(src, -1)
	var out []sourcePartInfo
	start := 0
	for i := 0; i <= len(idx); i++ {
		end := len(src)
		if i < len(idx) {
			end = idx[i][0]
		}
		line := 1 + strings.Count(src[:start], "\n")
		out = append(out, sourcePartInfo{start: line, entries: parseEntries(src[start:end], line)})
		if i < len(idx) {
			start = idx[i][1]
		}
	}
	return out
}

const exprMark = "\x01"

// maskActions returns, for each line of s, its text with every template action removed, output
// actions replaced by exprMark, and the text of the output actions that start on that line.
func maskActions(s string) (lits, hints []string) {
	var cur, hint strings.Builder
	flush := func() {
		lits = append(lits, cur.String())
		hints = append(hints, hint.String())
		cur.Reset()
		hint.Reset()
	}
	for i := 0; i < len(s); {
		if strings.HasPrefix(s[i:], "{{") {
			end := actionEnd(s, i)
			act := s[i:end]
			if isOutputAction(act) {
				cur.WriteString(exprMark)
				hint.WriteString(act)
			}
			for range strings.Count(act, "\n") {
				flush()
			}
			i = end
			continue
		}
		if s[i] == '\n' {
			flush()
			i++
			continue
		}
		cur.WriteByte(s[i])
		i++
	}
	flush()
	return lits, hints
}

// actionEnd returns the index just after the "}}" closing the action that starts at i.
func actionEnd(s string, i int) int {
	j := i + 2
	if j < len(s) && s[j] == '-' {
		j++
	}
	for j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '\n') {
		j++
	}
	if strings.HasPrefix(s[j:], "/*") {
		k := strings.Index(s[j+2:], "*/")
		if k < 0 {
			return len(s)
		}
		j = j + 2 + k + 2
	}
	for j < len(s) {
		switch c := s[j]; c {
		case '"', '`', '\'':
			k := j + 1
			for k < len(s) && s[k] != c {
				if c != '`' && s[k] == '\\' {
					k++
				}
				if c != '`' && k < len(s) && s[k] == '\n' {
					break
				}
				k++
			}
			j = k + 1
			continue
		case '}':
			if strings.HasPrefix(s[j:], "}}") {
				return j + 2
			}
		}
		j++
	}
	return len(s)
}

var controlWords = map[string]bool{
	"if": true, "else": true, "end": true, "range": true, "with": true,
	"define": true, "block": true, "break": true, "continue": true,
}

// isOutputAction reports whether an action writes something: not a comment, control word or
// variable assignment.
func isOutputAction(act string) bool {
	in := strings.TrimPrefix(act, "{{")
	in = strings.TrimSuffix(in, "}}")
	in = strings.TrimPrefix(in, "-")
	in = strings.TrimSuffix(in, "-")
	in = strings.TrimSpace(in)
	if in == "" || strings.HasPrefix(in, "/*") {
		return false
	}
	w := in
	if k := strings.IndexAny(w, " \t\n("); k >= 0 {
		w = w[:k]
	}
	if controlWords[w] {
		return false
	}
	if strings.HasPrefix(in, "$") {
		rest := strings.TrimLeft(in[1:], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
		rest = strings.TrimSpace(rest)
		if strings.HasPrefix(rest, ":=") || strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ",") {
			return false
		}
	}
	return true
}

// parseEntries parses one part of a template's source, whose first line is line first of the file.
func parseEntries(text string, first int) []entry {
	lits, hints := maskActions(text)
	var es []entry
	blockIndent := -1
	for i, lit := range lits {
		ind := 0
		for ind < len(lit) && (lit[ind] == ' ' || lit[ind] == '\t') {
			ind++
		}
		rest := strings.TrimRight(lit[ind:], " \t\r")
		if rest == "" {
			continue
		}
		if blockIndent >= 0 {
			if ind > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if strings.HasPrefix(rest, "#") {
			continue
		}
		n := len(es)
		es = parseEntry(es, rest, ind, first+i, hints[i])
		// A block scalar's lines are content, not entries: those indented more than its key
		// (or than the "- " of a list item that is a block scalar).
		if b := es[len(es)-1]; b.block {
			blockIndent = b.indent
			if !b.isKey && len(es)-1 > n && es[len(es)-2].dash {
				blockIndent = es[len(es)-2].indent
			}
		}
	}
	return es
}

func onlyExpr(s string) bool {
	return strings.Trim(s, exprMark+" \t") == "" && strings.Contains(s, exprMark)
}

func parseEntry(es []entry, rest string, ind, line int, hint string) []entry {
	if rest == "-" || strings.HasPrefix(rest, "- ") || strings.HasPrefix(rest, "-\t") {
		es = append(es, entry{line: line, indent: ind, dash: true, hint: hint})
		inner := rest[1:]
		sp := 0
		for sp < len(inner) && (inner[sp] == ' ' || inner[sp] == '\t') {
			sp++
		}
		if strings.TrimSpace(inner) != "" {
			es = parseEntry(es, inner[sp:], ind+1+sp, line, hint)
		}
		return es
	}
	if onlyExpr(rest) {
		return append(es, entry{line: line, indent: ind, expr: true, hint: hint})
	}
	e := entry{line: line, indent: ind, hint: hint}
	if key, val, ok := splitKey(rest); ok {
		e.isKey, e.key, e.value = true, key, val
		if strings.Contains(key, exprMark) {
			e.isKey, e.expr = false, true
		}
		if strings.HasPrefix(val, "|") || strings.HasPrefix(val, ">") {
			e.block = true
		}
	} else {
		e.value = rest
		e.block = strings.HasPrefix(rest, "|") || strings.HasPrefix(rest, ">")
	}
	return append(es, e)
}

// splitKey splits `key: value` (key possibly quoted); value has any trailing comment cut.
func splitKey(s string) (key, val string, ok bool) {
	if s == "" || strings.ContainsRune("{[&*!|>%@`", rune(s[0])) {
		return "", "", false
	}
	i := 0
	if s[0] == '"' || s[0] == '\'' {
		q := s[0]
		j := 1
		for j < len(s) && s[j] != q {
			if q == '"' && s[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(s) {
			return "", "", false
		}
		key = s[1:j]
		i = j + 1
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) || s[i] != ':' || (i+1 < len(s) && s[i+1] != ' ' && s[i+1] != '\t') {
			return "", "", false
		}
	} else {
		for {
			k := strings.IndexByte(s[i:], ':')
			if k < 0 {
				return "", "", false
			}
			i += k
			if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == '\t' {
				break
			}
			i++
		}
		if c := strings.Index(s[:i], " #"); c >= 0 {
			return "", "", false
		}
		key = strings.TrimSpace(s[:i])
	}
	val = strings.TrimSpace(s[i+1:])
	if c := strings.Index(val, " #"); c >= 0 && !strings.HasPrefix(val, "\"") && !strings.HasPrefix(val, "'") {
		val = strings.TrimSpace(val[:c])
	}
	if val == "#" || strings.HasPrefix(val, "#") {
		val = ""
	}
	return key, val, true
}

type locator struct {
	es     []entry
	toks   []string
	data   []byte
	parsed bool
	obj    any
}

// hit is where a pointer (or the leading part of it) was found.
type hit struct {
	line  int
	depth int  // tokens accounted for
	full  bool // all of them
	score int  // literal values that agree with the rendered ones
}

func better(a, b hit) bool {
	if a.full != b.full {
		return a.full
	}
	if a.depth != b.depth {
		return a.depth > b.depth
	}
	return a.score > b.score
}

// childEnd is the end of the range of entries that belong to entry k (its children).
func (l *locator) childEnd(k, hi int) int {
	e := l.es[k]
	for j := k + 1; j < hi; j++ {
		f := l.es[j]
		// A key's children are indented more, or are the items of a list at its own indentation;
		// a list item's children are indented more than its "-".
		if f.indent < e.indent || (f.indent == e.indent && (!f.dash || !e.isKey)) {
			return j
		}
	}
	return hi
}

// find resolves l.toks[ti:] within the entries es[lo:hi].
func (l *locator) find(lo, hi, ti int) hit {
	if lo >= hi || ti >= len(l.toks) {
		return hit{}
	}
	level := -1
	for _, e := range l.es[lo:hi] {
		if level < 0 || e.indent < level {
			level = e.indent
		}
	}
	tok := l.toks[ti]
	last := ti == len(l.toks)-1
	var keys, dashes, exprs []int
	for k := lo; k < hi; k++ {
		e := l.es[k]
		if e.indent != level {
			continue
		}
		switch {
		case e.dash:
			dashes = append(dashes, k)
		case e.expr:
			exprs = append(exprs, k)
		case e.isKey && e.key == tok:
			keys = append(keys, k)
		}
	}

	var best hit
	if n, err := strconv.Atoi(tok); err == nil && n >= 0 && len(dashes) > 0 && len(keys) == 0 {
		var k int
		switch {
		case n < len(dashes):
			k = dashes[n]
		case len(exprs) > 0:
			return hit{line: l.es[l.pickExpr(exprs, tok)].line, depth: ti + 1, full: true}
		default:
			k = dashes[len(dashes)-1]
		}
		if last {
			return hit{line: l.es[k].line, depth: ti + 1, full: true}
		}
		end := l.childEnd(k, hi)
		h := l.find(k+1, end, ti+1)
		if h.line == 0 {
			return hit{line: l.es[k].line, depth: ti + 1}
		}
		return h
	}

	for _, k := range keys {
		h := l.atKey(k, hi, ti)
		if best.line == 0 || better(h, best) {
			best = h
		}
	}
	if best.line != 0 {
		return best
	}
	if len(exprs) > 0 {
		return hit{line: l.es[l.pickExpr(exprs, tok)].line, depth: ti + 1, full: true}
	}
	return hit{}
}

// atKey resolves l.toks[ti+1:] below the key entry k, whose key is l.toks[ti].
func (l *locator) atKey(k, hi, ti int) hit {
	e := l.es[k]
	last := ti == len(l.toks)-1
	here := hit{line: e.line, depth: ti + 1}
	if strings.Contains(e.value, exprMark) {
		here.full = true
		return here
	}
	if last {
		here.full = true
		if e.value != "" && !e.block {
			if v, ok := l.valueAt(ti + 1); ok {
				if sameScalar(e.value, v) {
					here.score = 1
				} else {
					here.score = -1
				}
			}
			return here
		}
		// key: followed by an expression alone (and no literal keys): the expression.
		end := l.childEnd(k, hi)
		if k+1 < end && l.es[k+1].expr {
			literal := false
			for _, c := range l.es[k+1 : end] {
				if c.isKey || c.dash {
					literal = true
					break
				}
			}
			if !literal {
				here.line = l.es[k+1].line
			}
		}
		return here
	}
	if e.value != "" {
		// A literal scalar (or flow or block value): nothing below it to follow.
		return here
	}
	end := l.childEnd(k, hi)
	h := l.find(k+1, end, ti+1)
	if h.line == 0 {
		return here
	}
	return h
}

// pickExpr prefers the expression that names the token (e.g. .Values.securityContext).
func (l *locator) pickExpr(exprs []int, tok string) int {
	t := strings.ToLower(tok)
	for _, k := range exprs {
		if t != "" && strings.Contains(strings.ToLower(l.es[k].hint), t) {
			return k
		}
	}
	return exprs[0]
}

// valueAt is the rendered value at the first n tokens of the pointer.
func (l *locator) valueAt(n int) (any, bool) {
	if !l.parsed {
		l.parsed = true
		_ = yaml.Unmarshal(l.data, &l.obj)
	}
	return jsonptr.Walk(l.obj, l.toks[:n])
}

// sameScalar reports whether a literal YAML scalar is the rendered value v.
func sameScalar(lit string, v any) bool {
	var parsed any
	if err := yaml.Unmarshal([]byte("v: "+lit), &parsed); err == nil {
		if m, ok := parsed.(map[string]any); ok {
			return fmt.Sprint(m["v"]) == fmt.Sprint(v)
		}
	}
	return strings.Trim(lit, `"'`) == fmt.Sprint(v)
}

// sourcePart picks the part of a template's source that the rendered document at index ri of the
// rendered template came from.
func sourcePart(src, rendered string, ri int, data []byte) int {
	sp := sourceParts(src)
	if len(sp) <= 1 {
		return 0
	}
	if ri >= 0 && len(splitParts(rendered)) == len(sp) {
		return ri
	}
	var head struct {
		Kind string `json:"kind"`
	}
	_ = yaml.Unmarshal(data, &head)
	var cand []int
	for i, p := range sp {
		for _, e := range p.entries {
			if e.isKey && e.key == "kind" && e.indent == minIndent(p.entries) && strings.Trim(e.value, `"'`) == head.Kind {
				cand = append(cand, i)
				break
			}
		}
	}
	if len(cand) > 0 {
		bestI := cand[0]
		for _, c := range cand {
			if abs(c-ri) < abs(bestI-ri) {
				bestI = c
			}
		}
		return bestI
	}
	if ri < 0 {
		ri = 0
	}
	if ri >= len(sp) {
		ri = len(sp) - 1
	}
	for i := ri; i >= 0; i-- {
		if len(sp[i].entries) > 0 {
			return i
		}
	}
	return ri
}

func minIndent(es []entry) int {
	m := -1
	for _, e := range es {
		if m < 0 || e.indent < m {
			m = e.indent
		}
	}
	return m
}

func abs(i int) int {
	if i < 0 {
		return -i
	}
	return i
}
