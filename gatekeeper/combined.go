package gatekeeper

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// A review usually matches many constraints. Evaluating each one's
// template on its own costs an OPA evaluation per constraint, and the libs
// that templates share (the classic one gathers the containers of a
// workload) are evaluated again in each. The combined program evaluates
// all the constraints a review matches in one evaluation instead: each
// constraint of a template becomes a unit, a copy of the template's entry
// module in a package of its own (data.__gk_u<n>) that reads its
// parameters from input.__gk_p.__gk_u<n>. Libs that do not read the
// parameters are shared by every unit whose template has the very same
// libs (each lib package moves to data.__gk_l_<key>_<i>, or data.libs to
// data.__gk_l_<key>), so that OPA evaluates them, and caches their rules,
// once per review. The query walks the units the review matched, whose
// names are in input.__gk_units:
//
//	u := input.__gk_units[_]; data[u].violation[r]
//
// Units are made only of templates that read nothing but input.review,
// input.parameters, data.inventory and their libs, never replace input
// with "with" and use neither rego.metadata nor nondeterministic builtins
// (time.now_ns, http.send, ...). The other templates, and all
// constraints when the combined evaluation fails (a template's runtime
// error: the per-template evaluation then reports it for its constraint
// alone, with its message), go through the per-template queries. The
// verdicts are the same either way.
type combinedProgram struct {
	gen   uint64 // the driver generation it was built for
	query rego.PreparedEvalQuery
	units map[drivers.ConstraintKey]*unit
	// params is input.__gk_p: the parameters of every unit.
	params *ast.Term
	// verdicts caches the violations of units that can be cached; nil
	// unless the driver keeps a cache.
	verdicts *verdictCache
}

type unit struct {
	n      int       // number
	name   *ast.Term // key in input.__gk_p and input.__gk_units
	params *ast.Term
	tmpl   *regoTemplate
	// eval is the unit evaluated for this one: itself, or an earlier unit
	// with the very same code and parameters, whose verdicts are the same.
	eval *unit
	// joins are the template's join plans under this program's input keys.
	joins []combinedJoin
	// cached: the program keeps a verdictCache, and the unit's violations
	// depend on nothing but its parameters and the values of input.review
	// at reviewPaths.
	cached      bool
	reviewPaths []ast.Ref
	// messagePaths are read for messages only, definedPaths for whether
	// they are defined only (reviewReads).
	messagePaths, definedPaths []ast.Ref
	// guards tell reviews the unit cannot find violations in.
	guards guards
}

type combinedJoin struct {
	key  *ast.Term
	plan *joinPlan
}

// maxUnits bounds the size of the combined program (each unit is a
// compiled copy of its template): constraints past it are judged by
// their templates' own queries.
const maxUnits = 1000

const (
	unitsKey   = "__gk_units"
	unitParams = "__gk_p"
	unitVar    = "__gk_unit"
)

var (
	unitsKeyTerm   = ast.StringTerm(unitsKey)
	unitParamsTerm = ast.StringTerm(unitParams)

	paramsRef   = ast.Ref{ast.InputRootDocument, ast.StringTerm("parameters")}
	libsRef     = ast.MustParseRef("data.libs")
	combinedVio = ast.MustParseBody("__gk_unit = input.__gk_units[_]; data[__gk_unit].violation[r]")
)

// combined returns the combined program of the driver's templates and
// constraints, building it if they changed since. The caller holds d.mu
// for reading. It returns nil when there is nothing to combine.
func (d *regoDriver) combined(ctx context.Context) *combinedProgram {
	if !d.optimize {
		return nil
	}
	p := d.comb.Load()
	if p == nil || p.gen != d.gen {
		d.combMu.Lock()
		p = d.comb.Load()
		if p == nil || p.gen != d.gen {
			p = d.buildCombined(ctx)
			d.comb.Store(p)
		}
		d.combMu.Unlock()
	}
	if len(p.units) == 0 {
		return nil
	}
	return p
}

// warm builds the combined program ahead of the first review.
func (d *regoDriver) warm(ctx context.Context) {
	d.mu.RLock()
	d.combined(ctx)
	d.mu.RUnlock()
}

// buildCombined compiles the combined program. Whatever goes wrong leaves
// the templates concerned, or all of them, to their own queries.
func (d *regoDriver) buildCombined(ctx context.Context) *combinedProgram {
	prog := &combinedProgram{gen: d.gen}
	byKind := map[string][]drivers.ConstraintKey{}
	for k := range d.params {
		byKind[k.Kind] = append(byKind[k.Kind], k)
	}
	kinds := make([]string, 0, len(byKind))
	for kind := range byKind {
		if d.templates[kind] != nil && d.templates[kind].target != nil {
			kinds = append(kinds, kind)
		}
	}
	sort.Strings(kinds)

	modules := map[string]*ast.Module{}
	units := map[drivers.ConstraintKey]*unit{}
	libKeys := map[string]string{} // lib modules as text -> package key
	alike := map[string]*unit{}    // code and parameters -> unit
	joins := 0
	var covered []*regoTemplate // templates whose every constraint is a unit
	for _, kind := range kinds {
		t := d.templates[kind]
		keys := byKind[kind]
		sort.Slice(keys, func(i, j int) bool { return keys[i].Name < keys[j].Name })
		if len(units)+len(keys) > maxUnits {
			continue
		}
		mods := t.parsed()
		if len(mods) == 0 {
			continue
		}
		// The same rewrites as the template's own query, joins numbered
		// across the program.
		specs, viaInput := optimizeModules(mods, joins)
		if viaInput != t.inventoryInInput || len(specs) != len(t.joins) {
			continue
		}
		same := true
		for i, s := range specs {
			same = same && s.query.String() == t.joins[i].src
		}
		if !same || !combinable(mods) {
			continue
		}
		joins += len(specs)
		cj := make([]combinedJoin, len(specs))
		for i, s := range specs {
			cj[i] = combinedJoin{key: ast.StringTerm(s.key), plan: t.joins[i]}
		}
		paths, messages, defined, readable := reviewReads(mods)
		guarded := violationGuards(mods[0])
		cached := d.verdictCacheSize > 0 && readable && len(specs) == 0 && !t.inventoryInInput && !t.reads.all && len(t.reads.kinds) == 0
		entry, libs := mods[0], mods[1:]
		moves := libMoves(mods, libs)
		relocate := func(m *ast.Module, key string) {
			for _, mv := range moves(key) {
				rebaseModule(m, mv[0], mv[1])
			}
		}
		shared := !usesParams(libs)
		libKey := ""
		if shared {
			var b strings.Builder
			b.WriteString(entry.RegoVersion().String()) //nolint:staticcheck // SA1019: RegoVersionSpan().String() is not equivalent ("v1v2" where this gives "v1"), and would split groups
			for _, m := range libs {
				b.WriteString("\x00")
				b.WriteString(m.String())
			}
			k, ok := libKeys[b.String()]
			if !ok {
				k = "l" + strconv.Itoa(len(libKeys))
				libKeys[b.String()] = k
				for i, m := range libs {
					m := m.Copy()
					relocate(m, k)
					modules[fmt.Sprintf("%s/lib%d", k, i)] = m
				}
			}
			libKey = k
		}
		// The code of the template's units, for finding units that judge
		// alike: templates see nothing of their constraints but the
		// parameters.
		var code strings.Builder
		code.WriteString(entry.RegoVersion().String()) //nolint:staticcheck // SA1019: as above, RegoVersionSpan's String differs for spans
		code.WriteString("\x00")
		code.WriteString(entry.String())
		code.WriteString("\x00")
		if shared {
			code.WriteString(libKey)
		} else {
			for _, m := range libs {
				code.WriteString(m.String())
				code.WriteString("\x00")
			}
		}
		for _, key := range keys {
			name := "__gk_u" + strconv.Itoa(len(units))
			u := &unit{n: len(units), name: ast.StringTerm(name), params: d.params[key], tmpl: t, joins: cj, cached: cached, reviewPaths: paths, messagePaths: messages, definedPaths: defined, guards: guarded}
			sig := code.String() + "\x00" + u.params.String()
			if e, ok := alike[sig]; ok {
				u.eval = e
				units[key] = u
				continue
			}
			u.eval = u
			alike[sig] = u
			lk := libKey
			if !shared {
				lk = "u" + strconv.Itoa(len(units))
			}
			paramsBase := ast.Ref{ast.InputRootDocument, ast.StringTerm(unitParams), ast.StringTerm(name)}
			m := entry.Copy()
			m.Package = &ast.Package{
				Path:     ast.Ref{ast.DefaultRootDocument, ast.StringTerm(name)},
				Location: entry.Package.Location,
			}
			relocate(m, lk)
			rebaseModule(m, paramsRef, paramsBase)
			modules[name+"/template"] = m
			if !shared {
				for i, l := range libs {
					l := l.Copy()
					relocate(l, lk)
					rebaseModule(l, paramsRef, paramsBase)
					modules[fmt.Sprintf("%s/lib%d", name, i)] = l
				}
			}
			units[key] = u
		}
		covered = append(covered, t)
	}
	if len(units) < 2 {
		return prog // nothing to gain
	}
	compiler := ast.NewCompiler().WithCapabilities(d.caps).WithEnablePrintStatements(false)
	compiler.Compile(modules)
	if compiler.Failed() {
		return prog
	}
	q, err := rego.New(
		rego.Compiler(compiler),
		rego.Store(d.store),
		rego.ParsedQuery(combinedVio),
		rego.SetRegoVersion(ast.RegoV0),
	).PrepareForEval(ctx)
	if err != nil {
		return prog
	}
	params := make([][2]*ast.Term, 0, len(units))
	for _, u := range units {
		if u.eval == u {
			params = append(params, [2]*ast.Term{u.name, u.params})
		}
	}
	prog.query, prog.units, prog.params = q, units, ast.NewTerm(ast.NewObject(params...))
	if d.verdictCacheSize > 0 {
		prog.verdicts = newVerdictCache(d.verdictCacheSize)
	}
	for _, t := range covered {
		t.prepared.Store(nil)
	}
	return prog
}

// unitCache is OPA's virtual cache, less the violations of units: each is
// evaluated once per review, and caching it only costs.
type unitCache struct{ topdown.VirtualCache }

func (c unitCache) Put(ref ast.Ref, value *ast.Term) {
	if len(ref) == 3 && ref[2].Equal(violationTerm) && ref[0].Equal(ast.DefaultRootDocument) {
		if s, ok := ref[1].Value.(ast.String); ok && strings.HasPrefix(string(s), "__gk_u") {
			return
		}
	}
	c.VirtualCache.Put(ref, value)
}

var violationTerm = ast.StringTerm("violation")

// combinable tells whether a template's modules (rewritten as for its own
// query) can be a unit: they read input only as input.review,
// input.parameters and the keys the driver puts there, data only as
// data.inventory and data.libs, do not replace input with "with", do not
// use rego.metadata (whose answers name the package) nor builtins whose
// answers may change between evaluations.
func combinable(mods []*ast.Module) bool {
	ok := true
	var vis *ast.GenericVisitor
	vis = ast.NewGenericVisitor(func(x any) bool {
		if !ok {
			return true
		}
		switch v := x.(type) {
		case *ast.Expr:
			if v.IsCall() && nondeterministic(v.Operator()) {
				ok = false
			}
		case ast.Call:
			if nondeterministic(v.Operator()) {
				ok = false
			}
		case *ast.With:
			if ref, isRef := v.Target.Value.(ast.Ref); !isRef || ref[0].Equal(ast.InputRootDocument) {
				ok = false
			}
		case ast.Ref:
			head, _ := v[0].Value.(ast.Var)
			var allowed func(string) bool
			switch head {
			case ast.InputRootDocument.Value.(ast.Var):
				allowed = func(s string) bool {
					return s == "review" || s == "parameters" || s == inventoryKey || strings.HasPrefix(s, "__gatekeep_join_")
				}
			case ast.DefaultRootDocument.Value.(ast.Var):
				allowed = func(s string) bool { return s == "inventory" || s == "libs" }
			case "rego":
				allowed = func(s string) bool { return s != "metadata" }
			default:
				return false
			}
			if len(v) < 2 {
				ok = false
				return true
			}
			s, isStr := v[1].Value.(ast.String)
			if !isStr || !allowed(string(s)) {
				ok = false
				return true
			}
			for _, t := range v[1:] {
				vis.Walk(t)
			}
			return true
		case ast.Var:
			if v.Equal(ast.InputRootDocument.Value) || v.Equal(ast.DefaultRootDocument.Value) {
				ok = false
			}
		}
		return false
	})
	for _, m := range mods {
		if len(m.Annotations) > 0 {
			return false
		}
		for _, imp := range m.Imports {
			vis.Walk(imp.Path)
		}
		for _, r := range m.Rules {
			vis.Walk(r)
			for ; r != nil; r = r.Else {
				if r.Head.Reference != nil {
					vis.Walk(r.Head.Reference)
				}
			}
		}
	}
	return ok
}

// libMoves says where a template's lib packages go for a key: each
// package to data["__gk_l_<key>_<n>"], which keeps the references to lib
// rules short (OPA walks them term by term), when every reference into
// data.libs is into one package and no package holds another; otherwise
// data.libs as a whole to data["__gk_l_<key>"].
func libMoves(mods, libs []*ast.Module) func(key string) [][2]ast.Ref {
	var pkgs []ast.Ref
	for _, l := range libs {
		seen := false
		for _, p := range pkgs {
			seen = seen || p.Equal(l.Package.Path)
		}
		if !seen {
			pkgs = append(pkgs, l.Package.Path)
		}
	}
	flat := true
	for _, p := range pkgs {
		for _, q := range pkgs {
			if !p.Equal(q) && q.HasPrefix(p) {
				flat = false
			}
		}
	}
	intoPackage := func(ref ast.Ref) {
		if !ref.HasPrefix(libsRef) {
			return
		}
		for _, p := range pkgs {
			if ref.HasPrefix(p) {
				return
			}
		}
		flat = false
	}
	for _, m := range mods {
		for _, imp := range m.Imports {
			if ref, ok := imp.Path.Value.(ast.Ref); ok {
				intoPackage(ref)
			}
		}
		for _, r := range m.Rules {
			ast.WalkRefs(r, func(ref ast.Ref) bool { intoPackage(ref); return false })
			for ; r != nil; r = r.Else {
				if r.Head.Reference != nil {
					ast.WalkRefs(r.Head.Reference, func(ref ast.Ref) bool { intoPackage(ref); return false })
				}
			}
		}
	}
	return func(key string) [][2]ast.Ref {
		if !flat {
			return [][2]ast.Ref{{libsRef, ast.Ref{ast.DefaultRootDocument, ast.StringTerm("__gk_l_" + key)}}}
		}
		moves := make([][2]ast.Ref, len(pkgs))
		for i, p := range pkgs {
			moves[i] = [2]ast.Ref{p, {ast.DefaultRootDocument, ast.StringTerm(fmt.Sprintf("__gk_l_%s_%d", key, i))}}
		}
		return moves
	}
}

// nondeterministic tells a builtin whose answers may differ from one
// evaluation to the next (time.now_ns, rand.intn, http.send, ...): one
// evaluation for all constraints could change what each one sees.
func nondeterministic(op ast.Ref) bool {
	b := ast.BuiltinMap[op.String()]
	return b != nil && b.Nondeterministic
}

// usesParams tells whether modules read input.parameters.
func usesParams(mods []*ast.Module) bool {
	found := false
	for _, m := range mods {
		for _, imp := range m.Imports {
			if ref, ok := imp.Path.Value.(ast.Ref); ok && ref.HasPrefix(paramsRef) {
				return true
			}
		}
		ast.WalkRefs(m, func(ref ast.Ref) bool {
			found = found || ref.HasPrefix(paramsRef)
			return found
		})
	}
	return found
}

// rebaseModule replaces the prefix from of the module's package, imports
// and references with to. An import of exactly from keeps its name.
func rebaseModule(m *ast.Module, from, to ast.Ref) {
	rebase := func(ref ast.Ref) (ast.Ref, bool) {
		if !ref.HasPrefix(from) {
			return nil, false
		}
		out := make(ast.Ref, 0, len(to)+len(ref)-len(from))
		out = append(out, to.Copy()...)
		return append(out, ref[len(from):]...), true
	}
	if r, ok := rebase(m.Package.Path); ok {
		m.Package = &ast.Package{Path: r, Location: m.Package.Location}
	}
	for _, imp := range m.Imports {
		ref, ok := imp.Path.Value.(ast.Ref)
		if !ok {
			continue
		}
		if r, ok := rebase(ref); ok {
			if imp.Alias == "" && len(ref) == len(from) {
				if s, ok := from[len(from)-1].Value.(ast.String); ok {
					imp.Alias = ast.Var(s)
				}
			}
			imp.Path = ast.NewTerm(r).SetLocation(imp.Path.Location)
		}
	}
	f := func(t *ast.Term) bool {
		if ref, ok := t.Value.(ast.Ref); ok {
			if r, ok := rebase(ref); ok {
				t.Value = r
			}
		}
		return false
	}
	for _, r := range m.Rules {
		ast.WalkTerms(r, f)
		for ; r != nil; r = r.Else {
			if r.Head.Reference != nil {
				ast.WalkTerms(r.Head.Reference, f)
			}
		}
	}
}
