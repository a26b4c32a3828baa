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
	violations []*ast.Term
}

func newVerdictCache(size int) *verdictCache {
	c := &verdictCache{verdicts: gencache.New[verdictKey, *verdict](size, verdictsWeight), interned: map[uint64]ast.Value{}}
	// A new generation interns anew, so that interned values are only
	// those its verdicts hold.
	c.verdicts.OnNewGeneration = func() { clear(c.interned) }
	return c
}

// reads is the values of a review that a unit can read, and their hash.
type reads struct {
	vals []ast.Value
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
	for i, p := range u.reviewPaths {
		v, err := l.review.Value.Find(p)
		h := uint64(0x9e3779b97f4a7c15) // undefined
		if err == nil {
			v, h = l.intern(v)
			r.vals[i] = v
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
	v, ok := c.verdicts.Get(verdictKey{u, r.hash}, func(v *verdict) bool { return sameValues(v.vals, r.vals) })
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
	for _, v := range r.vals {
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
	c.verdicts.Put(k, &verdict{vals: r.vals, violations: violations}, weight)
	for _, v := range r.vals {
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
func reviewReads(mods []*ast.Module) (paths []ast.Ref, ok bool) {
	ok = true
	var all []ast.Ref
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
		ast.WalkRefs(m, func(ref ast.Ref) bool { visit(ref); return !ok })
	}
	if !ok {
		return nil, false
	}
	// Shortest first, so that a path's prefixes are met before it.
	sort.SliceStable(all, func(i, j int) bool { return len(all[i]) < len(all[j]) })
	for _, p := range all {
		if !slices.ContainsFunc(paths, func(q ast.Ref) bool { return p.HasPrefix(q) }) {
			paths = append(paths, p)
		}
	}
	return paths, true
}
