package gatekeeper

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/gatekeep-dev/gatekeep/internal/regoeval"
)

// Referential templates typically scan the whole inventory for each object
// they judge:
//
//	host := input.review.object.spec.rules[_].host
//	other := data.inventory.namespace[ns][apiversion]["Ingress"][name]
//	re_match("^networking.k8s.io/", apiversion)
//	other.spec.rules[_].host == host
//	not identical(other, input.review)
//
// which costs the size of the inventory per object: quadratic for a CI run
// that reviews every object of the inventory. A joinPlan evaluates the scan
// once per version of the inventory instead, as an index from the compared
// value (other.spec.rules[_].host) to the scan's bindings, and rewrites the
// rule to look the value up:
//
//	host := input.review.object.spec.rules[_].host
//	__gk_t0 = input["__gatekeep_join_0"][host][_]
//	other = __gk_t0[0]; ns = __gk_t0[1]; ...
//	not identical(other, input.review)
//
// The rewrite applies only where it cannot change the result: the scan is
// "x := data.inventory..." with path variables bound there, followed only by
// filters that use nothing but the scan's variables, constants, builtins
// that always give the same result and the module's pure functions (see
// pureFunctions), then "A == B" where A uses only the scan's variables and
// B only what was known before the scan. Negated filters that read more
// (such as "not identical(other, input.review)") bind nothing, so they are
// moved after the lookup. A key computed by a function of the inventory
// object, as in
//
//	input_selector := flatten_selector(input.review.object)
//	other := data.inventory.namespace[namespace][_]["Service"][name]
//	not identical(other, input.review)
//	other_selector := flatten_selector(other)
//	input_selector == other_selector
//
// is then computed once per inventory object and version, and the scan
// becomes a hash join. Anything else is left as written.
type joinPlan struct {
	key   *ast.Term // where in the input the index goes
	query rego.PreparedEvalQuery
	src   string // the index query, as planned

	mu      sync.Mutex
	version uint64
	index   *ast.Term
}

const (
	joinKeyVar   = ast.Var("__gk_key")
	joinTupleVar = ast.Var("__gk_tuple")
)

// planJoins rewrites the joins it finds in mods, in place, and returns their
// plans; first numbers the plans' input keys.
func planJoins(mods []*ast.Module, first int) []*joinPlanSpec {
	var plans []*joinPlanSpec
	for _, m := range mods {
		sc := &joinScope{names: moduleNames(m)}
		sc.pure = pureFunctions(m, sc.names)
		for _, r := range m.Rules {
			if r.Else != nil || hasDeclarations(r.Body) {
				continue
			}
			for k := 0; k < len(r.Body); k++ {
				spec := tryJoin(r, k, sc, first+len(plans))
				if spec == nil {
					continue
				}
				plans = append(plans, spec)
			}
		}
	}
	return plans
}

// joinPlanSpec is a join found at compile time: the query computing its
// index, and the input key its rule reads.
type joinPlanSpec struct {
	key   string
	query ast.Body
}

// joinScope is what the planner knows of a module: the names its rules and
// imports take, and its pure functions, by name, with their full
// references (for the index query, which runs outside the module).
type joinScope struct {
	names map[ast.Var]bool
	pure  map[ast.Var]ast.Ref
}

// pureFunctions finds the module's functions whose result depends only on
// their arguments: no input, no data, no other rule of the module than
// pure functions, no "with", only deterministic builtins. Evaluated
// anywhere with the same arguments, they give the same result.
func pureFunctions(m *ast.Module, names map[ast.Var]bool) map[ast.Var]ast.Ref {
	funcs := map[ast.Var][]*ast.Rule{}
	values := map[ast.Var]bool{}
	for _, r := range m.Rules {
		if name, ok := functionName(r); ok {
			funcs[name] = append(funcs[name], r)
		} else if name, ok := r.Head.Ref()[0].Value.(ast.Var); ok {
			values[name] = true
		}
	}
	pure := map[ast.Var]ast.Ref{}
	for name := range funcs {
		if !values[name] {
			pure[name] = ruleRef(m, name)
		}
	}
	// Every candidate is taken pure until one of its rules is not; that
	// may make its callers impure too.
	for changed := true; changed; {
		changed = false
		for name := range pure {
			for _, r := range funcs[name] {
				if !rulePure(r, names, pure) {
					delete(pure, name)
					changed = true
					break
				}
			}
		}
	}
	return pure
}

// rulePure: a function rule (and its else chain) reads only its
// arguments and local variables (see pureFunctions).
func rulePure(r *ast.Rule, names map[ast.Var]bool, pure map[ast.Var]ast.Ref) bool {
	ok := true
	callable := func(op *ast.Term) bool {
		if deterministicBuiltin(op) {
			return true
		}
		ref, isRef := op.Value.(ast.Ref)
		if !isRef || len(ref) != 1 {
			return false
		}
		v, isVar := ref[0].Value.(ast.Var)
		_, isPure := pure[v]
		return isVar && isPure
	}
	visit := func(x any) {
		ast.WalkExprs(x, func(e *ast.Expr) bool {
			if len(e.With) > 0 {
				ok = false
			}
			if terms, isCall := e.Terms.([]*ast.Term); isCall && len(terms) > 0 && !callable(terms[0]) {
				ok = false
			}
			return !ok
		})
		ast.WalkTerms(x, func(t *ast.Term) bool {
			switch v := t.Value.(type) {
			case ast.Var:
				if names[v] {
					ok = false // input, data, a rule or an import
				}
			case ast.Call:
				if !callable(v[0]) {
					ok = false
				}
			case ast.Ref:
				head, isVar := v[0].Value.(ast.Var)
				if !isVar {
					break
				}
				if _, isPure := pure[head]; isPure && len(v) == 1 {
					return true // a call's operator
				}
				if names[head] {
					ok = false // input, data, a rule or an import
				}
			}
			return !ok
		})
	}
	for ; r != nil && ok; r = r.Else {
		for _, a := range r.Head.Args {
			visit(a)
		}
		if r.Head.Key != nil {
			visit(r.Head.Key)
		}
		if r.Head.Value != nil {
			visit(r.Head.Value)
		}
		visit(r.Body)
	}
	return ok
}

// callable: op is a deterministic builtin or one of the pure functions.
func (sc *joinScope) callable(op *ast.Term) bool {
	if deterministicBuiltin(op) {
		return true
	}
	_, ok := sc.pureRef(op)
	return ok
}

// pureRef is the full reference of a call's operator naming a pure
// function of the module.
func (sc *joinScope) pureRef(op *ast.Term) (ast.Ref, bool) {
	ref, ok := op.Value.(ast.Ref)
	if !ok || len(ref) != 1 {
		return nil, false
	}
	v, ok := ref[0].Value.(ast.Var)
	if !ok {
		return nil, false
	}
	full, ok := sc.pure[v]
	return full, ok
}

// qualify makes the calls of pure functions in e name them in full, for
// the index query (which is not in the module).
func (sc *joinScope) qualify(e *ast.Expr) {
	if terms, ok := e.Terms.([]*ast.Term); ok && len(terms) > 0 {
		if full, ok := sc.pureRef(terms[0]); ok {
			terms[0] = ast.RefTerm(full.Copy()...)
		}
	}
	ast.WalkTerms(e, func(t *ast.Term) bool {
		if c, ok := t.Value.(ast.Call); ok {
			if full, ok := sc.pureRef(c[0]); ok {
				c[0] = ast.RefTerm(full.Copy()...)
			}
		}
		return false
	})
}

func moduleNames(m *ast.Module) map[ast.Var]bool {
	names := map[ast.Var]bool{"input": true, "data": true}
	for _, r := range m.Rules {
		if ref := r.Head.Ref(); len(ref) > 0 {
			if v, ok := ref[0].Value.(ast.Var); ok {
				names[v] = true
			}
		}
	}
	for _, imp := range m.Imports {
		if imp.Alias != "" {
			names[imp.Alias] = true
		} else if ref, ok := imp.Path.Value.(ast.Ref); ok && len(ref) > 1 {
			if s, ok := ref[len(ref)-1].Value.(ast.String); ok {
				names[ast.Var(s)] = true
			}
		}
	}
	return names
}

func hasDeclarations(body ast.Body) bool {
	for _, e := range body {
		switch e.Terms.(type) {
		case *ast.SomeDecl, *ast.Every:
			return true
		}
	}
	return false
}

func isWildcard(v ast.Var) bool { return v.IsWildcard() || v == "_" }

// termVars lists the variables of a term, reference heads included; ok is
// false if the term holds something the rewrite does not reason about
// (comprehensions, calls of functions that are not deterministic builtins).
func (sc *joinScope) termVars(t *ast.Term) (vars ast.VarSet, ok bool) {
	vars = ast.NewVarSet()
	ok = true
	ast.WalkTerms(t, func(x *ast.Term) bool {
		if !ok {
			return true
		}
		switch v := x.Value.(type) {
		case ast.Var:
			if !isWildcard(v) {
				vars.Add(v)
			}
		case *ast.ArrayComprehension, *ast.SetComprehension, *ast.ObjectComprehension, *ast.TemplateString:
			ok = false
			return true
		case ast.Call:
			if !sc.callable(v[0]) {
				ok = false
				return true
			}
			for _, a := range v[1:] {
				av, aok := sc.termVars(a)
				if !aok {
					ok = false
					return true
				}
				vars.Update(av)
			}
			return true
		}
		return false
	})
	return vars, ok
}

func deterministicBuiltin(op *ast.Term) bool {
	ref, ok := op.Value.(ast.Ref)
	if !ok {
		return false
	}
	b, ok := ast.BuiltinMap[ref.String()]
	return ok && !b.Nondeterministic
}

func (sc *joinScope) exprVars(e *ast.Expr) (ast.VarSet, bool) {
	vars := ast.NewVarSet()
	terms, ok := e.Terms.([]*ast.Term)
	if !ok {
		if t, isTerm := e.Terms.(*ast.Term); isTerm {
			return sc.termVars(t)
		}
		return nil, false
	}
	if len(terms) == 0 || !sc.callable(terms[0]) {
		return nil, false
	}
	for _, t := range terms[1:] {
		v, ok := sc.termVars(t)
		if !ok {
			return nil, false
		}
		vars.Update(v)
	}
	return vars, true
}

// tryJoin looks for a join whose scan is body expression k of r, and
// rewrites r if it finds one.
func tryJoin(r *ast.Rule, k int, sc *joinScope, n int) *joinPlanSpec {
	names := sc.names
	body := r.Body
	scan := body[k]
	if scan.Negated || len(scan.With) > 0 || (!scan.IsAssignment() && !scan.IsEquality()) {
		return nil
	}
	x, ok := scan.Operand(0).Value.(ast.Var)
	ref, rok := scan.Operand(1).Value.(ast.Ref)
	if !ok || !rok || isWildcard(x) || names[x] || !ref.HasPrefix(inventoryRef) {
		return nil
	}
	// Variables known before the scan: function arguments and the
	// variables of the expressions before it.
	outer := ast.NewVarSet()
	for _, a := range r.Head.Args {
		v, ok := sc.termVars(a)
		if !ok {
			return nil
		}
		outer.Update(v)
	}
	for _, e := range body[:k] {
		v := e.Vars(ast.VarVisitorParams{})
		outer.Update(v)
	}
	if outer.Contains(x) {
		return nil
	}
	region := ast.NewVarSet(x)
	for _, t := range ref[len(inventoryRef):] {
		switch v := t.Value.(type) {
		case ast.String:
		case ast.Var:
			if isWildcard(v) {
				continue
			}
			if outer.Contains(v) || names[v] || region.Contains(v) {
				return nil
			}
			region.Add(v)
		default:
			return nil
		}
	}

	// Filters, then the comparison.
	m := -1
	var a, b *ast.Term
	var deferred []*ast.Expr // negated filters moved after the lookup
	for j := k + 1; j < len(body) && m < 0; j++ {
		e := body[j]
		if len(e.With) > 0 {
			return nil
		}
		if !e.Negated && isEqualCall(e) {
			l, rt := e.Operand(0), e.Operand(1)
			for _, pair := range [2][2]*ast.Term{{l, rt}, {rt, l}} {
				if sc.onlyVars(pair[0], region) && sc.knownBefore(pair[1], outer, region) {
					m, a, b = j, pair[0], pair[1]
					break
				}
			}
			if m >= 0 {
				break
			}
		}
		vars, ok := sc.filterVars(e, outer, region)
		if !ok {
			if e.Negated {
				deferred = append(deferred, e)
				continue
			}
			return nil
		}
		if !e.Negated {
			for v := range vars {
				if !names[v] {
					region.Add(v)
				}
			}
		}
	}
	if m < 0 {
		return nil
	}

	// The scan's variables the rest of the rule needs.
	later := ast.NewVarSet()
	for _, e := range deferred {
		later.Update(e.Vars(ast.VarVisitorParams{}))
	}
	for _, e := range body[m+1:] {
		later.Update(e.Vars(ast.VarVisitorParams{}))
	}
	hv := ast.NewVarVisitor()
	hv.Walk(r.Head)
	later.Update(hv.Vars())
	var keep []ast.Var
	for v := range region {
		if later.Contains(v) {
			keep = append(keep, v)
		}
	}
	sort.Slice(keep, func(i, j int) bool { return keep[i] < keep[j] })

	// The index query: the scan and its filters, the key and the bindings.
	loc := scan.Location
	query := make(ast.Body, 0, m-k+2)
	for _, e := range body[k:m] {
		if slices.Contains(deferred, e) {
			continue
		}
		c := e.Copy()
		sc.qualify(c)
		query = append(query, c)
	}
	tuple := make([]*ast.Term, len(keep))
	for i, v := range keep {
		tuple[i] = ast.VarTerm(string(v))
	}
	key0 := &ast.Expr{Terms: a.Copy()}
	sc.qualify(key0)
	query = append(query,
		ast.Equality.Expr(ast.NewTerm(joinKeyVar), key0.Terms.(*ast.Term)),
		ast.Equality.Expr(ast.NewTerm(joinTupleVar), ast.ArrayTerm(tuple...)),
	)
	for i := range query {
		query[i].Index = i
	}

	// The rule, looking the value up.
	key := fmt.Sprintf("__gatekeep_join_%d", n)
	tv := ast.VarTerm(fmt.Sprintf("__gk_t%d", n))
	lookup := ast.RefTerm(ast.InputRootDocument, ast.StringTerm(key), b.Copy(), ast.VarTerm("_"))
	repl := []*ast.Expr{ast.Equality.Expr(tv, lookup).SetLocation(loc)}
	for i, v := range keep {
		repl = append(repl, ast.Equality.Expr(ast.VarTerm(string(v)), ast.RefTerm(tv, ast.InternedTerm(i))).SetLocation(loc))
	}
	nb := make(ast.Body, 0, len(body)-(m-k+1)+len(repl)+len(deferred))
	nb = append(nb, body[:k]...)
	nb = append(nb, repl...)
	nb = append(nb, deferred...)
	nb = append(nb, body[m+1:]...)
	for i := range nb {
		nb[i].Index = i
	}
	r.Body = nb
	return &joinPlanSpec{key: key, query: query}
}

func isEqualCall(e *ast.Expr) bool {
	op := e.Operator()
	return len(op) == 1 && op[0].Value.Compare(ast.Var(ast.Equal.Name)) == 0 && len(e.Operands()) == 2
}

// filterVars are the variables of a filter that the index query can
// evaluate: one reading only the scan's variables, data.inventory,
// constants, deterministic builtins and pure functions. ok is false for
// any other.
func (sc *joinScope) filterVars(e *ast.Expr, outer, region ast.VarSet) (ast.VarSet, bool) {
	vars, ok := sc.exprVars(e)
	if !ok {
		return nil, false
	}
	for v := range vars {
		switch {
		case sc.names[v] && !isInventoryRoot(e, v):
			return nil, false
		case outer.Contains(v):
			return nil, false
		case !region.Contains(v) && e.Negated:
			return nil, false
		}
	}
	if !refsOK(e) {
		return nil, false
	}
	return vars, true
}

// onlyVars: t uses only the scan's variables (and wildcards, constants,
// deterministic builtins, pure functions).
func (sc *joinScope) onlyVars(t *ast.Term, region ast.VarSet) bool {
	vars, ok := sc.termVars(t)
	if !ok || len(vars) == 0 {
		return false
	}
	for v := range vars {
		if !region.Contains(v) {
			return false
		}
	}
	return true
}

// knownBefore: t uses nothing the scan binds.
func (sc *joinScope) knownBefore(t *ast.Term, outer, region ast.VarSet) bool {
	vars, ok := sc.termVars(t)
	if !ok {
		return false
	}
	for v := range vars {
		if region.Contains(v) {
			return false
		}
		if !outer.Contains(v) && v != ast.InputRootDocument.Value.(ast.Var) {
			return false
		}
	}
	return true
}

// isInventoryRoot: v is the "data" of a data.inventory reference in e.
func isInventoryRoot(e *ast.Expr, v ast.Var) bool {
	if v != ast.DefaultRootDocument.Value.(ast.Var) {
		return false
	}
	ok := true
	ast.WalkRefs(e, func(ref ast.Ref) bool {
		if ref[0].Value.Compare(v) == 0 && !ref.HasPrefix(inventoryRef) {
			ok = false
		}
		return false
	})
	return ok
}

// refsOK: every reference in e starts at a variable (a pure function's
// name is one) or at data.inventory.
func refsOK(e *ast.Expr) bool {
	ok := true
	ast.WalkRefs(e, func(ref ast.Ref) bool {
		head, isVar := ref[0].Value.(ast.Var)
		switch {
		case !isVar:
			ok = false
		case head == ast.InputRootDocument.Value.(ast.Var):
			ok = false
		case head == ast.DefaultRootDocument.Value.(ast.Var) && !ref.HasPrefix(inventoryRef):
			ok = false
		}
		return false
	})
	return ok
}

// prepareJoins prepares the index queries of a template, with its compiled
// modules (for the pure functions they call).
func (d *regoDriver) prepareJoins(ctx context.Context, specs []*joinPlanSpec, compiler *ast.Compiler) ([]*joinPlan, error) {
	plans := make([]*joinPlan, len(specs))
	for i, s := range specs {
		src := s.query.String()
		q, err := rego.New(
			rego.Compiler(compiler),
			rego.ParsedQuery(s.query),
			rego.Store(d.store),
			rego.Capabilities(d.caps),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, err
		}
		plans[i] = &joinPlan{key: ast.StringTerm(s.key), query: q, src: src}
	}
	return plans, nil
}

var termAsIs = rego.EvalGenerateJSON(func(t *ast.Term, _ *rego.EvalContext) (any, error) { return t, nil })

// indexAt returns the plan's index for the inventory version, building it
// if the inventory changed since.
func (p *joinPlan) indexAt(ctx context.Context, txn storage.Transaction, version uint64) (*ast.Term, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.index != nil && p.version == version {
		return p.index, nil
	}
	opts, stop := regoeval.Options(ctx)
	defer stop()
	rs, err := p.query.Eval(ctx, append(opts, rego.EvalTransaction(txn), termAsIs)...)
	if err != nil {
		return nil, err
	}
	groups := ast.NewValueMap()
	var keys []ast.Value
	for _, r := range rs {
		k, _ := r.Bindings[string(joinKeyVar)].(*ast.Term)
		t, _ := r.Bindings[string(joinTupleVar)].(*ast.Term)
		if k == nil || t == nil {
			return nil, fmt.Errorf("join index: unexpected result %v", r.Bindings)
		}
		set, _ := groups.Get(k.Value).(ast.Set)
		if set == nil {
			set = ast.NewSet()
			groups.Put(k.Value, set)
			keys = append(keys, k.Value)
		}
		set.Add(t)
	}
	items := make([][2]*ast.Term, len(keys))
	for i, k := range keys {
		items[i] = [2]*ast.Term{ast.NewTerm(k), ast.NewTerm(groups.Get(k))}
	}
	p.index, p.version = ast.NewTerm(ast.NewObject(items...)), version
	return p.index, nil
}
