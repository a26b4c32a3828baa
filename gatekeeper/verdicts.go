package gatekeeper

import (
	"slices"
	"sort"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatekeep-dev/gatekeep/internal/gencache"
)

// At the webhook most reviews repeat an earlier one in all a template can
// see: a ReplicaSet's Pods differ in name and uid, and most templates read
// neither. A verdictCache keeps a unit's violations keyed by the values of
// input.review it can read, so that such a review is judged without
// evaluating the unit again. What a unit can read is found in its code
// (reviewReads): the constant prefix of every reference into input.review.
// Units that read the inventory, or input.review as a whole, are not
// cached; the combined program's own conditions (no "with input", no
// nondeterministic builtin, no rego.metadata) make the rest a function of
// those values and the unit's parameters, which are fixed per program.
//
// Some values only name things in messages (messageReads): of those a
// verdict without violations keeps only whether each was defined, so
// that it answers a review that differs in them (a ReplicaSet's Pods, in
// their names); a verdict with violations answers only the same values.
type verdictCache struct {
	mu sync.Mutex
	// verdicts are kept the second time their key is met, so that the
	// many met only once (a new Pod's spec) hold no memory.
	verdicts *gencache.Cache[verdictKey, *verdict]
	// interned holds one of each composite value the current
	// generation's verdicts hold, by hash: a review's values are swapped
	// for the equal ones held here once, and the verdicts then compare by
	// identity.
	interned map[uint64]ast.Value
	// hits and misses count the lookups, for tests.
	hits, misses int
}

type verdictKey struct {
	u    *unit
	hash uint64
}

type verdict struct {
	vals       []ast.Value // the values read, nil where undefined
	msgs       []ast.Value // the values read for messages, likewise
	defs       []bool      // which defined paths were
	violations []*ast.Term
}

func newVerdictCache(size int) *verdictCache {
	c := &verdictCache{verdicts: gencache.New[verdictKey, *verdict](size, verdictsWeight), interned: map[uint64]ast.Value{}}
	// A new generation interns anew, so that interned values are only
	// those its verdicts hold.
	c.verdicts.OnNewGeneration = func() { clear(c.interned) }
	return c
}

// reads is the values of a review that a unit can read, and their hash:
// of the message paths' values, only whether each is defined.
type reads struct {
	vals, msgs []ast.Value
	// defs says which of the unit's definedPaths are defined.
	defs []bool
	hash uint64
}

// lookup finds the reads of one review's units. They mostly read the
// same fields (object.spec), whose values are interned once per review.
type lookup struct {
	c      *verdictCache
	review *ast.Term
	met    []metValue
}

type metValue struct {
	v, canon ast.Value
	hash     uint64
}

func (c *verdictCache) lookup(review *ast.Term) *lookup {
	return &lookup{c: c, review: review}
}

// reads looks up a cacheable unit's paths in input.review.
func (l *lookup) reads(u *unit) reads {
	r := reads{vals: make([]ast.Value, len(u.reviewPaths)), hash: uint64(len(u.reviewPaths))}
	const undefined = uint64(0x9e3779b97f4a7c15)
	for i, p := range u.reviewPaths {
		v, err := l.review.Value.Find(p)
		h := undefined
		if err == nil {
			v, h = l.intern(v)
			r.vals[i] = v
		}
		r.hash = r.hash*1099511628211 ^ h
	}
	if len(u.messagePaths) > 0 {
		r.msgs = make([]ast.Value, len(u.messagePaths))
	}
	for i, p := range u.messagePaths {
		h := undefined
		if v, err := l.review.Value.Find(p); err == nil {
			r.msgs[i], _ = l.intern(v)
			h = 1
		}
		r.hash = r.hash*1099511628211 ^ h
	}
	if len(u.definedPaths) > 0 {
		r.defs = make([]bool, len(u.definedPaths))
	}
	for i, p := range u.definedPaths {
		h := undefined
		if _, err := l.review.Value.Find(p); err == nil {
			r.defs[i], h = true, 1
		}
		r.hash = r.hash*1099511628211 ^ h
	}
	return r
}

func (l *lookup) intern(v ast.Value) (ast.Value, uint64) {
	if !composite(v) {
		return v, uint64(v.Hash()) //nolint:gosec // G115: hash bits reinterpreted, wrapping is intended
	}
	for _, m := range l.met {
		if identical(m.v, v) {
			return m.canon, m.hash
		}
	}
	h := uint64(v.Hash()) //nolint:gosec // G115: hash bits reinterpreted, wrapping is intended
	c := l.c
	c.mu.Lock()
	canon := c.interned[h]
	c.mu.Unlock()
	if canon == nil || !identical(canon, v) && !sameValue(canon, v) {
		canon = v
	}
	l.met = append(l.met, metValue{v: v, canon: canon, hash: h})
	return canon, h
}

// identical tells the same value: the same composite, or equal scalars
// (spelled alike).
func identical(a, b ast.Value) bool {
	switch a.(type) {
	case ast.String, ast.Number, ast.Boolean, ast.Null, *ast.Array, ast.Object:
		return a == b
	}
	return false
}

// get returns the unit's violations for reads, if cached.
func (c *verdictCache) get(u *unit, r reads) ([]*ast.Term, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.verdicts.Get(verdictKey{u, r.hash}, func(v *verdict) bool {
		return sameValues(v.vals, r.vals) && slices.Equal(v.defs, r.defs) && sameDefined(v.msgs, r.msgs) && (len(v.violations) == 0 || sameValues(v.msgs, r.msgs))
	})
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	return v.violations, true
}

func (c *verdictCache) put(u *unit, r reads, violations []*ast.Term) {
	k := verdictKey{u, r.hash}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.verdicts.Admit(k) {
		return
	}
	// What the entry holds, in Rego values; interned ones are counted
	// once. Requests can be large (MiBs): the cache must not hold many.
	weight := 0
	all := append(slices.Clip(r.vals), r.msgs...)
	for _, v := range all {
		if composite(v) && !identical(c.interned[uint64(v.Hash())], v) { //nolint:gosec // G115: hash bits reinterpreted, wrapping is intended
			weight += nodes(v, maxVerdictWeight+1-weight)
		}
	}
	for _, t := range violations {
		weight += nodes(t.Value, maxVerdictWeight+1-weight)
	}
	if weight > maxVerdictWeight {
		return
	}
	c.verdicts.Put(k, &verdict{vals: r.vals, msgs: r.msgs, defs: r.defs, violations: violations}, weight)
	for _, v := range all {
		if !composite(v) {
			continue
		}
		if h := uint64(v.Hash()); c.interned[h] == nil { //nolint:gosec // G115: hash bits reinterpreted, wrapping is intended
			c.interned[h] = v
		}
	}
}

// composite tells the values that are interned: arrays and objects.
func composite(v ast.Value) bool {
	switch v.(type) {
	case *ast.Array, ast.Object:
		return true
	}
	return false
}

// maxVerdictWeight bounds the Rego values (terms) one verdict may hold;
// a generation holds at most verdictsWeight a verdict.
const (
	maxVerdictWeight = 4096
	verdictsWeight   = 64
)

// nodes counts the terms of v, up to limit.
func nodes(v ast.Value, limit int) int {
	n := 1
	switch x := v.(type) {
	case *ast.Array:
		for i := 0; i < x.Len() && n <= limit; i++ {
			n += nodes(x.Elem(i).Value, limit-n)
		}
	case ast.Object:
		x.Until(func(k, e *ast.Term) bool {
			n += 1 + nodes(e.Value, limit-n-1)
			return n > limit
		})
	case ast.Set:
		x.Until(func(e *ast.Term) bool {
			n += nodes(e.Value, limit-n)
			return n > limit
		})
	}
	return n
}

// sameDefined tells whether a and b are defined at the same places.
func sameDefined(a, b []ast.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) {
			return false
		}
	}
	return true
}

func sameValues(a, b []ast.Value) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if (a[i] == nil) != (b[i] == nil) || a[i] != nil && !identical(a[i], b[i]) && !sameValue(a[i], b[i]) {
			return false
		}
	}
	return true
}

// sameValue is equality that also tells numbers apart by their text:
// Rego's equality has 1 == 1.0, but sprintf and JSON spell them apart, so
// a message could differ.
func sameValue(a, b ast.Value) bool {
	switch x := a.(type) {
	case ast.Number:
		y, ok := b.(ast.Number)
		return ok && x == y
	case ast.String:
		y, ok := b.(ast.String)
		return ok && x == y
	case *ast.Array:
		y, ok := b.(*ast.Array)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for i := 0; i < x.Len(); i++ {
			if !sameValue(x.Elem(i).Value, y.Elem(i).Value) {
				return false
			}
		}
		return true
	case ast.Object:
		y, ok := b.(ast.Object)
		if !ok || x.Len() != y.Len() {
			return false
		}
		differ := x.Until(func(k, v *ast.Term) bool {
			if _, isStr := k.Value.(ast.String); !isStr {
				return true // not from JSON; not worth telling apart
			}
			w := y.Get(k)
			return w == nil || !sameValue(v.Value, w.Value)
		})
		return !differ
	case ast.Boolean, ast.Null:
		return ast.Compare(a, b) == 0
	default:
		return false // sets and the like: not from JSON
	}
}

// reviewReads is what of input.review a template's modules can read: the
// constant prefix of every reference into it (input.review.object.spec
// for input.review.object.spec[x].image), relative to input.review, none
// a prefix of another. ok is false when that cannot be told or is
// input.review as a whole: an import or a reference into input.review
// that starts with a variable, or input itself.
//
// messages are the paths read only for messages (see messageTerms),
// apart from paths and none within one of them.
func reviewReads(mods []*ast.Module) (paths, messages, defined []ast.Ref, ok bool) {
	ok = true
	var all, forMessages, aliases []ast.Ref
	mods, aliased := followAliases(mods)
	inMessage := messageTerms(mods)
	fns := newFunctionTable(mods)
	// Arguments that hand input.review (or a part of it) to a function of
	// the modules are read through its parameter: is_update(input.review)
	// reads input.review.operation.
	handled := map[*ast.Term]bool{}
	for _, m := range mods {
		eachCall(m, func(op *ast.Term, args []*ast.Term) {
			for i, a := range args {
				ref, isRef := a.Value.(ast.Ref)
				if !isRef || len(ref) < 2 || !ref[0].Equal(ast.InputRootDocument) || !ref[1].Equal(reviewKey) {
					continue
				}
				n := 2
				for n < len(ref) && ast.IsScalar(ref[n].Value) {
					n++
				}
				if n < len(ref) {
					continue // an index with a variable: read as written below
				}
				suffixes, found := fns.paramReads(m, op, i, 0)
				if !found {
					continue
				}
				handled[a] = true
				for _, s := range suffixes {
					p := append(ref[2:].Copy(), s...)
					if len(p) == 0 {
						ok = false
					}
					all = append(all, p)
				}
			}
		})
	}
	visit := func(ref ast.Ref) {
		if !ref[0].Equal(ast.InputRootDocument) || !ok {
			return
		}
		if len(ref) < 2 {
			ok = false
			return
		}
		s, isStr := ref[1].Value.(ast.String)
		if !isStr {
			ok = false // input[x] may be input.review
			return
		}
		if s != "review" {
			return // input.parameters: fixed per unit; others are not combined
		}
		n := 2
		for n < len(ref) && ast.IsScalar(ref[n].Value) {
			n++
		}
		if n == 2 {
			ok = false
			return
		}
		all = append(all, ref[2:n].Copy())
	}
	for _, m := range mods {
		// Imports' paths too.
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if handled[t] {
				return true
			}
			if inMessage[t] {
				forMessages = append(forMessages, t.Value.(ast.Ref)[2:].Copy())
				return true
			}
			if aliased[t] {
				aliases = append(aliases, t.Value.(ast.Ref)[2:].Copy())
				return true
			}
			if ref, isRef := t.Value.(ast.Ref); isRef {
				visit(ref)
			}
			return !ok
		})
		for _, imp := range m.Imports {
			if ref, isRef := imp.Path.Value.(ast.Ref); isRef {
				visit(ref)
			}
		}
	}
	if !ok {
		return nil, nil, nil, false
	}
	// A message path that holds a path read otherwise is read whole.
	for _, m := range forMessages {
		if slices.ContainsFunc(all, func(p ast.Ref) bool { return p.HasPrefix(m) && len(p) > len(m) }) {
			all = append(all, m)
		}
	}
	paths = prefixFree(all)
	for _, m := range prefixFree(forMessages) {
		if !slices.ContainsFunc(paths, m.HasPrefix) {
			messages = append(messages, m)
		}
	}
	// An alias's part only needs to be defined for the rule to go on; if
	// a path read or a message path holds it, that keys it already.
	for _, a := range prefixFree(aliases) {
		if !slices.ContainsFunc(paths, a.HasPrefix) && !slices.ContainsFunc(messages, a.HasPrefix) {
			defined = append(defined, a)
		}
	}
	return paths, messages, defined, true
}

// followAliases returns copies of mods in which the uses of a local alias
// of a part of the review (obj := input.review.object, as the library's
// templates write it) are references into the review itself
// (obj.spec becomes input.review.object.spec), so that what is read
// through the alias is what is counted. aliased are the aliases' own
// right-hand sides: all the assignment reads of them is whether they are
// defined (reviewReads' defined paths). A use of the alias as a whole
// becomes a reference to the part as a whole, read whole as before.
func followAliases(mods []*ast.Module) ([]*ast.Module, map[*ast.Term]bool) {
	aliased := map[*ast.Term]bool{}
	out := make([]*ast.Module, len(mods))
	for i, m := range mods {
		m = m.Copy()
		out[i] = m
		for _, r := range m.Rules {
			if r.Else != nil {
				continue
			}
			aliases := map[ast.Var]ast.Ref{}
			defining := map[*ast.Expr]bool{}
			for _, e := range r.Body {
				v, ref, ok := reviewAlias(e)
				if !ok {
					continue
				}
				if _, twice := aliases[v]; twice {
					aliases = nil // cannot be: := declares once; leave the rule be
					break
				}
				aliases[v], defining[e] = ref, true
				aliased[e.Operand(1)] = true
			}
			if len(aliases) == 0 {
				continue
			}
			replace := func(t *ast.Term) bool {
				switch x := t.Value.(type) {
				case ast.Var:
					if ref, ok := aliases[x]; ok {
						t.Value = ref.Copy()
						return true
					}
				case ast.Ref:
					if v, ok := x[0].Value.(ast.Var); ok {
						if ref, ok := aliases[v]; ok {
							t.Value = append(ref.Copy(), x[1:].Copy()...)
							return true
						}
					}
				}
				return false
			}
			ast.WalkTerms(r.Head, replace)
			for _, e := range r.Body {
				if !defining[e] {
					ast.WalkTerms(e, replace)
				}
			}
		}
	}
	return out, aliased
}

// reviewAlias takes apart v := input.review.a.b... (constant keys, at
// least one), not negated, without with.
func reviewAlias(e *ast.Expr) (ast.Var, ast.Ref, bool) {
	if e.Negated || len(e.With) > 0 || !e.IsAssignment() {
		return "", nil, false
	}
	v, isVar := e.Operand(0).Value.(ast.Var)
	ref, isRef := e.Operand(1).Value.(ast.Ref)
	if !isVar || !isRef || v.IsWildcard() || len(ref) < 3 || !ref[0].Equal(ast.InputRootDocument) || !ref[1].Equal(reviewKey) ||
		slices.ContainsFunc(ref[2:], func(t *ast.Term) bool { return !ast.IsScalar(t.Value) }) {
		return "", nil, false
	}
	return v, ref, true
}

// messageTerms finds the references into input.review whose values only
// make messages: the constant references (input.review.object.metadata.name)
// among the arguments of a
//
//	msg := sprintf("constant format", [...])
//
// in the body of a violation rule, where msg is read by the rule's head
// alone and no rule reads the violation rule. Given whether each such
// reference is defined (if not, the body fails), the rule's body
// succeeds alike whatever their values: sprintf formats any values.
func messageTerms(mods []*ast.Module) map[*ast.Term]bool {
	if namesViolation(mods) {
		return nil
	}
	terms := map[*ast.Term]bool{}
	for _, m := range mods {
		for _, r := range m.Rules {
			if name := r.Head.Ref(); len(name) != 1 || name[0].Value.Compare(ast.Var("violation")) != 0 {
				continue
			}
			for _, e := range r.Body {
				msg, args, ok := sprintfAssignment(e)
				if !ok || !readByHeadAlone(r, e, msg) {
					continue
				}
				for i := 0; i < args.Len(); i++ {
					a := args.Elem(i)
					ref, isRef := a.Value.(ast.Ref)
					if !isRef || len(ref) < 3 || !ref[0].Equal(ast.InputRootDocument) || !ref[1].Equal(reviewKey) ||
						slices.ContainsFunc(ref[2:], func(t *ast.Term) bool { return !ast.IsScalar(t.Value) }) {
						continue
					}
					terms[a] = true
				}
			}
		}
	}
	return terms
}

// namesViolation tells whether anything in mods but the rules' own names
// refers to a violation rule (an import, count(violation), ...).
func namesViolation(mods []*ast.Module) bool {
	found := false
	var visit func(x any) bool
	visit = func(x any) bool {
		switch x := x.(type) {
		case *ast.Head:
			// A rule's name is not a read of it; its key, value and
			// arguments may be.
			for _, t := range append([]*ast.Term{x.Key, x.Value}, x.Args...) {
				if t != nil {
					ast.NewGenericVisitor(visit).Walk(t)
				}
			}
			return true
		case *ast.Term:
			found = found || x.Value.Compare(ast.Var("violation")) == 0 || x.Value.Compare(ast.String("violation")) == 0
		}
		return found
	}
	for _, m := range mods {
		ast.NewGenericVisitor(visit).Walk(m)
	}
	return found
}

// sprintfAssignment takes apart msg := sprintf("format", [args]) (or =,
// or sprintf("format", [args], msg)).
func sprintfAssignment(e *ast.Expr) (msg ast.Var, args *ast.Array, ok bool) {
	if e.Negated || len(e.With) > 0 || !e.IsCall() {
		return "", nil, false
	}
	ts := e.Terms.([]*ast.Term)
	var call []*ast.Term
	switch {
	case (e.IsAssignment() || e.IsEquality()) && len(ts) == 3:
		v, isVar := ts[1].Value.(ast.Var)
		c, isCall := ts[2].Value.(ast.Call)
		if !isVar || !isCall {
			return "", nil, false
		}
		msg, call = v, c
	case len(ts) == 4:
		v, isVar := ts[3].Value.(ast.Var)
		if !isVar {
			return "", nil, false
		}
		msg, call = v, ts[:3]
	default:
		return "", nil, false
	}
	if len(call) != 3 || call[0].Value.Compare(ast.Sprintf.Ref()) != 0 {
		return "", nil, false
	}
	if _, isStr := call[1].Value.(ast.String); !isStr {
		return "", nil, false
	}
	args, ok = call[2].Value.(*ast.Array)
	return msg, args, ok && !msg.IsWildcard() && !msg.IsGenerated()
}

// readByHeadAlone tells whether v, bound by the expression at, is read
// by nothing in r's body but at, and nowhere else than the head.
func readByHeadAlone(r *ast.Rule, at *ast.Expr, v ast.Var) bool {
	for _, e := range r.Body {
		if e == at {
			continue
		}
		uses := false
		ast.WalkVars(e, func(x ast.Var) bool {
			uses = uses || x == v
			return uses
		})
		if uses {
			return false
		}
	}
	return r.Else == nil
}

// prefixFree keeps the paths that have no other as a prefix (one of
// equal ones), shortest first.
func prefixFree(all []ast.Ref) (paths []ast.Ref) {
	// Shortest first, so that a path's prefixes are met before it.
	sort.SliceStable(all, func(i, j int) bool { return len(all[i]) < len(all[j]) })
	for _, p := range all {
		if !slices.ContainsFunc(paths, func(q ast.Ref) bool { return p.HasPrefix(q) }) {
			paths = append(paths, p)
		}
	}
	return paths
}

// functionTable finds the functions of a template's modules by the
// references that call them.
type functionTable struct {
	byPath map[string][]*ast.Rule // full path: data.x.f
}

func newFunctionTable(mods []*ast.Module) *functionTable {
	t := &functionTable{byPath: map[string][]*ast.Rule{}}
	for _, m := range mods {
		for _, r := range m.Rules {
			if name, ok := functionName(r); ok {
				p := ruleRef(m, name).String()
				t.byPath[p] = append(t.byPath[p], r)
			}
		}
	}
	return t
}

// functionName is the name of a function rule (one with arguments, named
// by one term); ok is false for other rules.
func functionName(r *ast.Rule) (ast.Var, bool) {
	ref := r.Head.Ref()
	name, ok := ref[0].Value.(ast.Var)
	return name, ok && len(ref) == 1 && len(r.Head.Args) > 0
}

// ruleRef is the full reference of module m's rule name: data.pkg.name.
func ruleRef(m *ast.Module, name ast.Var) ast.Ref {
	return m.Package.Path.Append(ast.StringTerm(string(name)))
}

// resolve is the rules of the function op calls from module m: one of
// m's own, one imported, or one named in full.
func (t *functionTable) resolve(m *ast.Module, op *ast.Term) []*ast.Rule {
	ref, ok := op.Value.(ast.Ref)
	if !ok {
		return nil
	}
	head, ok := ref[0].Value.(ast.Var)
	if !ok {
		return nil
	}
	if len(ref) == 1 {
		if rules := t.byPath[ruleRef(m, head).String()]; rules != nil {
			return rules
		}
	}
	if head == ast.DefaultRootDocument.Value.(ast.Var) {
		return t.byPath[ref.String()]
	}
	for _, imp := range m.Imports {
		path, isRef := imp.Path.Value.(ast.Ref)
		if !isRef || len(path) < 2 {
			continue
		}
		name := imp.Alias
		if name == "" {
			s, isStr := path[len(path)-1].Value.(ast.String)
			if !isStr {
				continue
			}
			name = ast.Var(s)
		}
		if name == head {
			return t.byPath[path.Concat(ref[1:]).String()]
		}
	}
	return nil
}

// paramReads is what a function reads of its i-th argument, as paths
// relative to it; found is false if the function is not one of the
// modules', or its parameter is used other than by references with
// constant prefixes (then the argument is read as written).
func (t *functionTable) paramReads(m *ast.Module, op *ast.Term, i, depth int) (suffixes []ast.Ref, found bool) {
	rules := t.resolve(m, op)
	if len(rules) == 0 || depth > 4 {
		return nil, false
	}
	for _, r := range rules {
		for x := r; x != nil; x = x.Else {
			if i >= len(x.Head.Args) {
				return nil, false
			}
			v, isVar := x.Head.Args[i].Value.(ast.Var)
			if !isVar {
				return nil, false
			}
			ok := true
			walk := func(node any) {
				ast.WalkTerms(node, func(term *ast.Term) bool {
					if !ok {
						return true
					}
					switch tv := term.Value.(type) {
					case ast.Ref:
						if tv[0].Value.Compare(v) != 0 {
							return false
						}
						n := 1
						for n < len(tv) && ast.IsScalar(tv[n].Value) {
							n++
						}
						suffixes = append(suffixes, tv[1:n].Copy())
						for _, e := range tv[1:] {
							ast.WalkTerms(e, func(y *ast.Term) bool {
								if yv, isV := y.Value.(ast.Var); isV && yv == v {
									ok = false
								}
								return !ok
							})
						}
						return true
					case ast.Var:
						if tv == v {
							ok = false // the parameter whole
						}
					}
					return !ok
				})
			}
			if x.Head.Key != nil {
				walk(x.Head.Key)
			}
			if x.Head.Value != nil {
				walk(x.Head.Value)
			}
			walk(x.Body)
			if !ok {
				return nil, false
			}
		}
	}
	return suffixes, true
}

// eachCall calls f with the operator and arguments of every function call
// in m, as a term or as an expression.
func eachCall(m *ast.Module, f func(op *ast.Term, args []*ast.Term)) {
	ast.WalkExprs(m, func(e *ast.Expr) bool {
		if terms, ok := e.Terms.([]*ast.Term); ok && len(terms) > 0 && e.IsCall() {
			f(terms[0], terms[1:])
		}
		return false
	})
	ast.WalkTerms(m, func(t *ast.Term) bool {
		if c, ok := t.Value.(ast.Call); ok {
			f(c[0], c[1:])
		}
		return false
	})
}
