package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// step is one token of the JSON pointer of the value under validation: an
// object key, or an array index when idx >= 0.
type step struct {
	key string
	idx int
}

// walker validates one object. It allocates only for what it reports.
type walker struct {
	strict bool
	// lenient > 0 inside allOf/anyOf/oneOf/not: those value validations
	// never make a field unknown.
	lenient int
	// probe: stop at the first problem and record nothing (anyOf, oneOf, not).
	probe  bool
	failed bool

	path     []step
	problems []Problem
	// secret are the paths of the object's secret fields (secretPathsOf):
	// a message about a value under them names its type only.
	secret [][]string
}

func (w *walker) push(key string) {
	if !w.probe {
		w.path = append(w.path, step{key: key, idx: -1})
	}
}

func (w *walker) pushIndex(i int) {
	if !w.probe {
		w.path = append(w.path, step{idx: i})
	}
}

func (w *walker) pop() {
	if !w.probe {
		w.path = w.path[:len(w.path)-1]
	}
}

func (w *walker) pointer() string {
	if len(w.path) == 0 {
		return ""
	}
	var b strings.Builder
	for _, s := range w.path {
		b.WriteByte('/')
		if s.idx >= 0 {
			b.WriteString(strconv.Itoa(s.idx))
		} else {
			b.WriteString(escape(s.key))
		}
	}
	return b.String()
}

func escape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

func (w *walker) fail(msg string) {
	w.failed = true
	if w.probe {
		return
	}
	w.problems = append(w.problems, Problem{Pointer: w.pointer(), Message: msg})
}

// check validates v against n.
func (w *walker) check(v any, n *node) {
	if n == nil || (w.probe && w.failed) {
		return
	}
	switch x := v.(type) {
	case nil:
		if n.nullable || n.types == 0 || n.types&tsNull != 0 {
			if n.extra != nil && !n.nullable && len(n.extra.enum) > 0 {
				w.constraints(v, n)
			}
			return
		}
		w.typeFail(v, n)
		return
	case map[string]any:
		if n.types != 0 && n.types&tsObject == 0 {
			w.typeFail(v, n)
			return
		}
		w.object(x, n)
	case []any:
		if n.types != 0 && n.types&tsArray == 0 {
			w.typeFail(v, n)
			return
		}
		if it := n.items; it != nil && !it.trivial() {
			for i, e := range x {
				w.pushIndex(i)
				w.check(e, it)
				w.pop()
			}
		}
	case string:
		if n.types != 0 && n.types&tsString == 0 {
			w.typeFail(v, n)
			return
		}
		if n.format != fmtNone {
			w.stringFormat(x, n)
		}
	case bool:
		if n.types != 0 && n.types&tsBoolean == 0 {
			w.typeFail(v, n)
			return
		}
	default:
		f, isInt, ok := number(v)
		if !ok {
			w.fail(fmt.Sprintf("got a value of Go type %T, want %s", v, want(n)))
			return
		}
		if n.types != 0 {
			switch {
			case n.types&tsNumber != 0:
			case n.types&tsInteger != 0 && isInt:
			default:
				w.typeFail(v, n)
				return
			}
		}
		switch n.format {
		case fmtInt32:
			if isInt && !inInt32(v, f) {
				w.fail(fmt.Sprintf("got %s, want an integer from -2147483648 to 2147483647 (int32)", w.describe(v)))
				return
			}
		case fmtIntOrStr:
			if !inInt32(v, f) {
				w.fail(fmt.Sprintf("got %s, want a string or an integer from -2147483648 to 2147483647", w.describe(v)))
				return
			}
		case fmtInt64:
			if isInt && !inInt64(v, f) {
				w.fail(fmt.Sprintf("got %s, want an integer that fits in 64 bits", w.describe(v)))
				return
			}
		}
	}
	if n.extra != nil {
		w.constraints(v, n)
	}
}

func (w *walker) typeFail(v any, n *node) {
	w.fail("got " + w.describe(v) + ", want " + want(n))
}

func (w *walker) object(m map[string]any, n *node) {
	for k, v := range m {
		if p := n.props[k]; p != nil {
			if v == nil && p.pruneNull {
				continue // the API server drops it: the field is absent
			}
			w.push(k)
			w.check(v, p)
			w.pop()
			continue
		}
		if n.additional != nil {
			if v == nil && n.additional.pruneNull {
				continue
			}
			w.push(k)
			w.check(v, n.additional)
			w.pop()
			continue
		}
		if n.closed || (w.strict && w.lenient == 0 && !n.open) {
			w.push(k)
			w.fail(unknownField(k, n))
			w.pop()
			if w.probe {
				return
			}
		}
	}
	for _, r := range n.required {
		v, ok := m[r]
		p := n.props[r]
		if ok && v == nil && p != nil && p.pruneNull {
			ok = false
		}
		if !ok && (p == nil || !p.hasDefault) {
			w.fail(fmt.Sprintf("missing required field %q", r))
		}
	}
	if n.embedded {
		for _, f := range [...]string{"apiVersion", "kind"} {
			v, ok := m[f]
			if !ok || v == nil {
				w.fail(fmt.Sprintf("missing required field %q (an embedded object needs apiVersion and kind)", f))
				continue
			}
			if s, isString := v.(string); isString && s == "" {
				w.push(f)
				w.fail("got an empty string, want " + f + " of the embedded object")
				w.pop()
			} // other types are the apiVersion and kind properties' to report
		}
	}
}

func unknownField(k string, n *node) string {
	best, bestD := "", 3
	for name := range n.props {
		d := 0
		if !strings.EqualFold(name, k) {
			d = editDistance(strings.ToLower(name), strings.ToLower(k))
			if d > len(k)/3 {
				continue
			}
		}
		if d < bestD || (d == bestD && name < best) {
			best, bestD = name, d
		}
	}
	if best != "" {
		return fmt.Sprintf("unknown field %q (did you mean %q?)", k, best)
	}
	return fmt.Sprintf("unknown field %q", k)
}

// editDistance is the optimal string alignment distance of a and b (a
// swap of neighbours counts as one edit).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if d := len(ra) - len(rb); d > 2 || d < -2 {
		return 3
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

func (w *walker) stringFormat(s string, n *node) {
	switch n.format {
	case fmtQuantity:
		if !isQuantity(s) {
			w.fail(fmt.Sprintf("got %s, want a quantity such as 500m, 128Mi, 2Gi or 1.5", w.describe(s)))
		}
	case fmtDateTime:
		if !isDateTime(s) {
			w.fail(fmt.Sprintf("got %s, want an RFC 3339 date-time such as 2006-01-02T15:04:05Z", w.describe(s)))
		}
	case fmtDate:
		if !isDate(s) {
			w.fail(fmt.Sprintf("got %s, want a date such as 2006-01-02", w.describe(s)))
		}
	case fmtByte:
		if err := base64Error(s); err != nil {
			if w.hidden() { // the offset of the first bad byte says something of the value
				w.fail(fmt.Sprintf("got %s, want base64-encoded data", w.describe(s)))
			} else {
				w.fail(fmt.Sprintf("got %s, want base64-encoded data (%v)", w.describe(s), err))
			}
		}
	case fmtUUID:
		if !isUUID(s) {
			w.fail(fmt.Sprintf("got %s, want a UUID", w.describe(s)))
		}
	case fmtIPv4:
		if !isIPv4(s) {
			w.fail(fmt.Sprintf("got %s, want an IPv4 address", w.describe(s)))
		}
	case fmtIPv6:
		if !isIPv6(s) {
			w.fail(fmt.Sprintf("got %s, want an IPv6 address", w.describe(s)))
		}
	case fmtCIDR:
		if !isCIDR(s) {
			w.fail(fmt.Sprintf("got %s, want a CIDR such as 10.0.0.0/8", w.describe(s)))
		}
	case fmtMAC:
		if !isMAC(s) {
			w.fail(fmt.Sprintf("got %s, want a MAC address", w.describe(s)))
		}
	}
}

// constraints checks the value validations of CRD and JSON Schema documents.
func (w *walker) constraints(v any, n *node) {
	c := n.extra
	if len(c.enum) > 0 {
		found := false
		for _, e := range c.enum {
			if equal(v, e) {
				found = true
				break
			}
		}
		if !found {
			w.fail(fmt.Sprintf("got %s, want one of %s", w.describe(v), enumList(c.enum)))
		}
	}
	switch x := v.(type) {
	case string:
		if c.minLength >= 0 || c.maxLength >= 0 {
			l := int64(utf8.RuneCountInString(x))
			if c.minLength >= 0 && l < c.minLength {
				w.fail(fmt.Sprintf("got %s (%d characters), want at least %d", w.describe(x), l, c.minLength))
			}
			if c.maxLength >= 0 && l > c.maxLength {
				w.fail(fmt.Sprintf("got a string of %d characters, want at most %d", l, c.maxLength))
			}
		}
		if c.pattern != nil && !c.pattern.MatchString(x) {
			w.fail(fmt.Sprintf("got %s, want a string matching %s", w.describe(x), c.patternText))
		}
	case []any:
		l := int64(len(x))
		if c.minItems >= 0 && l < c.minItems {
			w.fail(fmt.Sprintf("got %d items, want at least %d", l, c.minItems))
		}
		if c.maxItems >= 0 && l > c.maxItems {
			w.fail(fmt.Sprintf("got %d items, want at most %d", l, c.maxItems))
		}
		if c.uniqueItems || c.listType == "set" {
			w.unique(x, nil)
		} else if c.listType == "map" && len(c.listMapKeys) > 0 {
			w.unique(x, c.listMapKeys)
		}
	case map[string]any:
		l := int64(len(x))
		if c.minProps >= 0 && l < c.minProps {
			w.fail(fmt.Sprintf("got %d fields, want at least %d", l, c.minProps))
		}
		if c.maxProps >= 0 && l > c.maxProps {
			w.fail(fmt.Sprintf("got %d fields, want at most %d", l, c.maxProps))
		}
	case nil, bool:
	default:
		f, _, ok := number(v)
		if !ok {
			break
		}
		if c.minimum != nil {
			if c.exclusiveMin && f <= *c.minimum {
				w.fail(fmt.Sprintf("got %s, want more than %s", w.describe(v), fnum(*c.minimum)))
			} else if f < *c.minimum {
				w.fail(fmt.Sprintf("got %s, want at least %s", w.describe(v), fnum(*c.minimum)))
			}
		}
		if c.maximum != nil {
			if c.exclMax && f >= *c.maximum {
				w.fail(fmt.Sprintf("got %s, want less than %s", w.describe(v), fnum(*c.maximum)))
			} else if f > *c.maximum {
				w.fail(fmt.Sprintf("got %s, want at most %s", w.describe(v), fnum(*c.maximum)))
			}
		}
		if c.multipleOf > 0 {
			q := f / c.multipleOf
			if math.Abs(q-math.Round(q)) > 1e-9 {
				w.fail(fmt.Sprintf("got %s, want a multiple of %s", w.describe(v), fnum(c.multipleOf)))
			}
		}
	}
	if len(c.allOf) > 0 {
		w.lenient++
		for _, s := range c.allOf {
			w.check(v, s)
		}
		w.lenient--
	}
	if len(c.anyOf) > 0 {
		ok := false
		for _, s := range c.anyOf {
			if w.matches(v, s) {
				ok = true
				break
			}
		}
		if !ok {
			w.fail(fmt.Sprintf("got %s, want a value matching at least one of the schemas of anyOf", w.describe(v)))
		}
	}
	if len(c.oneOf) > 0 {
		count := 0
		for _, s := range c.oneOf {
			if w.matches(v, s) {
				count++
			}
		}
		if count != 1 {
			w.fail(fmt.Sprintf("got %s, which matches %d of the schemas of oneOf, want exactly one", w.describe(v), count))
		}
	}
	if c.not != nil && w.matches(v, c.not) {
		w.fail(fmt.Sprintf("got %s, want a value that does not match the schema of not", w.describe(v)))
	}
}

// matches reports whether v passes n, without recording anything.
func (w *walker) matches(v any, n *node) bool {
	sub := walker{lenient: 1, probe: true}
	sub.check(v, n)
	return !sub.failed
}

// unique reports repeated items of a list: whole items, or items with the
// same values of the given keys (x-kubernetes-list-type: map).
func (w *walker) unique(items []any, keys []string) {
	seen := make(map[string]int, len(items))
	for i, it := range items {
		var k string
		if keys == nil {
			k = canonical(it)
		} else {
			m, ok := it.(map[string]any)
			if !ok {
				continue
			}
			parts := make([]string, len(keys))
			for j, key := range keys {
				parts[j] = canonical(m[key])
			}
			k = strings.Join(parts, "\x00")
		}
		if j, dup := seen[k]; dup {
			w.pushIndex(i)
			if keys == nil {
				w.fail(fmt.Sprintf("duplicate entry %s: item %d holds the same value, want unique items", w.describe(it), j))
			} else {
				m := it.(map[string]any)
				var desc []string
				for _, key := range keys {
					desc = append(desc, key+"="+w.describeShort(m[key]))
				}
				w.fail(fmt.Sprintf("duplicate entry with %s: item %d has the same keys", strings.Join(desc, ", "), j))
			}
			w.pop()
			continue
		}
		seen[k] = i
	}
}

// canonical encodes a value so that equal values (whatever Go number type
// they arrived as) encode the same.
func canonical(v any) string {
	if f, _, ok := number(v); ok {
		return "n" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	switch x := v.(type) {
	case string:
		return "s" + x
	case nil:
		return "z"
	case bool:
		return "b" + strconv.FormatBool(x)
	}
	b, _ := json.Marshal(normalize(v))
	return "j" + string(b)
}

// normalize turns every number into float64 so json.Marshal encodes equal
// values equally.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = normalize(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = normalize(e)
		}
		return s
	}
	if f, _, ok := number(v); ok {
		return f
	}
	return v
}

func equal(a, b any) bool {
	fa, _, oka := number(a)
	fb, _, okb := number(b)
	if oka || okb {
		return oka && okb && fa == fb
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	}
	return canonical(a) == canonical(b)
}

// describe names a value for a message: string "two", number 1.5, object.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	if f, _, ok := number(v); ok {
		return "number " + numString(v, f)
	}
	return fmt.Sprintf("%T", v)
}

func describeShort(v any) string {
	if s, ok := v.(string); ok {
		return quote(s)
	}
	if f, _, ok := number(v); ok {
		return numString(v, f)
	}
	return describe(v)
}

func numString(v any, f float64) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case uint64:
		return strconv.FormatUint(x, 10)
	}
	return fnum(f)
}

func fnum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

func quote(s string) string {
	const max = 60
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		return strconv.Quote(string(r[:max])) + "…"
	}
	return strconv.Quote(s)
}

func enumList(vals []any) string {
	const max = 12
	var parts []string
	for i, v := range vals {
		if i == max {
			parts = append(parts, fmt.Sprintf("… (%d more)", len(vals)-max))
			break
		}
		parts = append(parts, describeShort(v))
	}
	return strings.Join(parts, ", ")
}

// want says what a node accepts: "integer", "string or null", ...
func want(n *node) string {
	switch n.format {
	case fmtQuantity:
		return "a quantity (a string such as 500m or 2Gi, or a number)"
	case fmtIntOrStr:
		return "integer or string"
	}
	var names []string
	for _, t := range []struct {
		bit  typeSet
		name string
	}{{tsObject, "object"}, {tsArray, "array"}, {tsInteger, "integer"}, {tsNumber, "number"}, {tsString, "string"}, {tsBoolean, "boolean"}, {tsNull, "null"}} {
		if n.types&t.bit != 0 {
			if t.bit == tsInteger && n.types&tsNumber != 0 {
				continue
			}
			names = append(names, t.name)
		}
	}
	if len(names) == 0 {
		return "any value"
	}
	return strings.Join(names, " or ")
}

// sortProblems orders problems by pointer (array indices numerically) so
// that reports do not depend on map order.
func sortProblems(ps []Problem) {
	if len(ps) < 2 {
		return
	}
	sort.SliceStable(ps, func(i, j int) bool {
		if c := comparePointers(ps[i].Pointer, ps[j].Pointer); c != 0 {
			return c < 0
		}
		return ps[i].Message < ps[j].Message
	})
}

func comparePointers(a, b string) int {
	ta, tb := strings.Split(a, "/"), strings.Split(b, "/")
	for i := 0; i < len(ta) && i < len(tb); i++ {
		if ta[i] == tb[i] {
			continue
		}
		na, ea := strconv.Atoi(ta[i])
		nb, eb := strconv.Atoi(tb[i])
		if ea == nil && eb == nil {
			if na < nb {
				return -1
			}
			return 1
		}
		if ta[i] < tb[i] {
			return -1
		}
		return 1
	}
	return len(ta) - len(tb)
}
