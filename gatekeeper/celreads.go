package gatekeeper

import (
	"maps"
	"slices"
	"sync"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	celschema "github.com/open-policy-agent/gatekeeper/v3/pkg/drivers/k8scel/schema"
	"github.com/open-policy-agent/opa/v1/ast"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/cel/environment"

	"github.com/gatekeep-dev/gatekeep/internal/gencache"
)

// celReads finds what of a review a template's CEL code can read, as
// paths into input.review (the AdmissionRequest): the constant prefix of
// every selection from object, oldObject, request and namespaceObject,
// and of Gatekeeper's variables.anyObject (object or, on DELETE,
// oldObject), following the template's own variables to their
// expressions. ok is false if the code reads a root whole (the variables
// map, the request, the authorizer): its verdicts are then not cached.
// The operation is always read, since it decides what object is.
//
// decide is what the match conditions and validations read (and the
// variables they use; the others are never evaluated): whether a
// constraint is violated. messages is what the message expressions read
// besides: what a violation says, often the object's name.
//
// Under a failure policy of Fail, what a map's transform reads inside
// size() is a message read, not a decide one: size(xs.map(x, f)) is
// size(xs), and f runs only on elements, so it can change the verdict
// (by an error, which denies) only when there are elements, that is when
// the constraint is violated anyway (the library's host-filesystem
// builds its messages so, naming the Pod in a list it counts).
func celReads(ct *templates.ConstraintTemplate) (decide, messages []ast.Ref, ok bool) {
	src, err := celschema.GetSourceFromTemplate(ct)
	if err != nil {
		return nil, nil, false
	}
	env, err := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).Env(environment.StoredExpressions)
	if err != nil {
		return nil, nil, false
	}
	vars := map[string]string{}
	for _, v := range src.Variables {
		vars[v.Name] = v.Expression
	}
	d := &celReader{env: env, vars: vars, done: map[string]bool{}, counted: map[string]bool{}, ok: true}
	if fp, err := src.GetFailurePolicy(); err == nil && fp != nil && *fp == admissionv1.Fail {
		d.counting = true
	}
	d.add(ast.Ref{ast.StringTerm("operation")})
	for _, m := range src.MatchConditions {
		d.expr(m.Expression)
	}
	for _, v := range src.Validations {
		d.expr(v.Expression)
	}
	// Variables decide reads whole need no message reads.
	m := &celReader{env: env, vars: vars, done: maps.Clone(d.done), ok: true}
	for _, v := range src.Validations {
		if v.MessageExpression != "" {
			m.expr(v.MessageExpression)
		}
	}
	for _, f := range d.transforms {
		m.walk(f)
	}
	if !d.ok || !m.ok {
		return nil, nil, false
	}
	decide = prefixFree(d.paths)
	for _, p := range prefixFree(m.paths) {
		if !slices.ContainsFunc(decide, p.HasPrefix) {
			messages = append(messages, p)
		}
	}
	return decide, messages, true
}

type celReader struct {
	env   *cel.Env
	vars  map[string]string // the template's variables' expressions
	done  map[string]bool   // variables read already
	paths []ast.Ref
	ok    bool
	// counting: walkSize leaves map transforms to transforms (see
	// celReads); counted are the variables it has walked so.
	counting   bool
	counted    map[string]bool
	transforms []celast.Expr
}

func (r *celReader) add(p ast.Ref) { r.paths = append(r.paths, p) }

func (r *celReader) variable(name string) {
	if r.done[name] {
		return
	}
	r.done[name] = true
	if e, ok := r.vars[name]; ok {
		r.expr(e)
	}
}

func (r *celReader) expr(text string) {
	parsed, ok := r.parse(text)
	if ok {
		r.walk(parsed)
	}
}

func (r *celReader) parse(text string) (celast.Expr, bool) {
	parsed, iss := r.env.Parse(text)
	if iss.Err() != nil {
		r.ok = false // the check at load reports it
		return nil, false
	}
	return parsed.NativeRep().Expr(), true
}

// walk records the reads of e.
func (r *celReader) walk(e celast.Expr) {
	if !r.ok {
		return
	}
	switch e.Kind() {
	case celast.IdentKind:
		r.root(e.AsIdent(), nil)
	case celast.SelectKind:
		// A chain of selections: the fields from its root.
		var fields []string
		x := e
		for x.Kind() == celast.SelectKind {
			fields = append(fields, x.AsSelect().FieldName())
			x = x.AsSelect().Operand()
		}
		if x.Kind() != celast.IdentKind {
			r.walk(x)
			return
		}
		for i, j := 0, len(fields)-1; i < j; i, j = i+1, j-1 {
			fields[i], fields[j] = fields[j], fields[i]
		}
		r.root(x.AsIdent(), fields)
	case celast.CallKind:
		c := e.AsCall()
		if r.counting && c.FunctionName() == "size" {
			switch {
			case c.IsMemberFunction() && len(c.Args()) == 0:
				r.walkSize(c.Target())
				return
			case !c.IsMemberFunction() && len(c.Args()) == 1:
				r.walkSize(c.Args()[0])
				return
			}
		}
		if c.IsMemberFunction() {
			r.walk(c.Target())
		}
		for _, a := range c.Args() {
			r.walk(a)
		}
	case celast.ListKind:
		for _, x := range e.AsList().Elements() {
			r.walk(x)
		}
	case celast.MapKind:
		for _, en := range e.AsMap().Entries() {
			r.walk(en.AsMapEntry().Key())
			r.walk(en.AsMapEntry().Value())
		}
	case celast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			r.walk(f.AsStructField().Value())
		}
	case celast.ComprehensionKind:
		c := e.AsComprehension()
		for _, x := range []celast.Expr{c.IterRange(), c.AccuInit(), c.LoopCondition(), c.LoopStep(), c.Result()} {
			r.walk(x)
		}
	}
}

// walkSize records what decides the size of e's value: through a map
// macro, its range's size and its filter; a variable, so walked once.
// Anything else is read whole (the size of a string is its content's).
func (r *celReader) walkSize(e celast.Expr) {
	if !r.ok {
		return
	}
	if e.Kind() == celast.SelectKind && e.AsSelect().Operand().Kind() == celast.IdentKind && e.AsSelect().Operand().AsIdent() == "variables" {
		name := e.AsSelect().FieldName()
		if _, ok := r.vars[name]; !ok || r.done[name] {
			r.walk(e)
			return
		}
		if r.counted[name] {
			return
		}
		r.counted[name] = true
		if x, ok := r.parse(r.vars[name]); ok {
			r.walkSize(x)
		}
		return
	}
	rng, filter, transform, ok := mapMacro(e)
	if !ok {
		r.walk(e)
		return
	}
	if filter != nil {
		// Which elements pass reads them: the range whole.
		r.walk(rng)
		r.walk(filter)
	} else {
		r.walkSize(rng)
	}
	r.transforms = append(r.transforms, transform)
}

// mapMacro takes apart what the map (and filter) macros expand to: a
// comprehension over rng that appends transform for each element (that
// passes filter, if any) to an empty list and yields it.
func mapMacro(e celast.Expr) (rng, filter, transform celast.Expr, ok bool) {
	if e.Kind() != celast.ComprehensionKind {
		return nil, nil, nil, false
	}
	c := e.AsComprehension()
	accu := c.AccuVar()
	isAccu := func(x celast.Expr) bool { return x.Kind() == celast.IdentKind && x.AsIdent() == accu }
	if c.HasIterVar2() || c.AccuInit().Kind() != celast.ListKind || len(c.AccuInit().AsList().Elements()) != 0 ||
		c.LoopCondition().Kind() != celast.LiteralKind || c.LoopCondition().AsLiteral() != types.True || !isAccu(c.Result()) {
		return nil, nil, nil, false
	}
	step := c.LoopStep()
	if step.Kind() == celast.CallKind && step.AsCall().FunctionName() == operators.Conditional && len(step.AsCall().Args()) == 3 &&
		isAccu(step.AsCall().Args()[2]) {
		filter, step = step.AsCall().Args()[0], step.AsCall().Args()[1]
	}
	if step.Kind() != celast.CallKind || step.AsCall().FunctionName() != operators.Add || len(step.AsCall().Args()) != 2 || !isAccu(step.AsCall().Args()[0]) {
		return nil, nil, nil, false
	}
	add := step.AsCall().Args()[1]
	if add.Kind() != celast.ListKind || len(add.AsList().Elements()) != 1 {
		return nil, nil, nil, false
	}
	return c.IterRange(), filter, add.AsList().Elements()[0], true
}

// root records a read of fields from a root variable. Comprehension
// variables that shadow a root only make the reads larger.
func (r *celReader) root(name string, fields []string) {
	path := func(root string, fields []string) ast.Ref {
		p := ast.Ref{ast.StringTerm(root)}
		for _, f := range fields {
			p = append(p, ast.StringTerm(f))
		}
		return p
	}
	switch name {
	case "object", "oldObject", "namespaceObject":
		r.add(path(name, fields))
	case "request":
		if len(fields) == 0 {
			r.ok = false
			return
		}
		r.add(path(fields[0], fields[1:]))
	case "params":
		// The constraint: part of the cache key already.
	case "variables":
		if len(fields) == 0 {
			r.ok = false
			return
		}
		switch fields[0] {
		case "anyObject":
			r.add(path("object", fields[1:]))
			r.add(path("oldObject", fields[1:]))
		case "params":
		default:
			r.variable(fields[0])
		}
	case "authorizer":
		r.ok = false
	}
}

// celVerdicts keeps the messages of a CEL constraint's evaluations, keyed
// by the constraint and the values its template can read (celReads), as
// verdictCache does for Rego: at the webhook a ReplicaSet's Pods differ in
// name and uid, which few templates read.
type celVerdicts struct {
	mu sync.Mutex
	// hits counts the answers from the cache, for tests.
	hits     int
	reads    map[string]celTemplateReads // by template name; absent: not cached
	verdicts *gencache.Cache[celKey, *celVerdict]
}

type celTemplateReads struct{ decide, messages []celPath }

// celPath is a path read, with its text: templates read the same paths
// (object.spec.containers), which a review finds and hashes once.
type celPath struct {
	ref ast.Ref
	key string
}

func celPaths(refs []ast.Ref) []celPath {
	out := make([]celPath, len(refs))
	for i, r := range refs {
		out[i] = celPath{ref: r, key: r.String()}
	}
	return out
}

// celValue is a path's value in one review (nil where undefined), and its
// hash.
type celValue struct {
	v    ast.Value
	hash uint64
}

// celKey is a constraint and the hash of what decides its verdict.
type celKey struct {
	c    *unstructured.Unstructured
	hash uint64
}

// celVerdict is a constraint's messages for a review: none answers every
// review that reads the same for decide; some, only those that also read
// the same for messages.
type celVerdict struct {
	decide, messages []ast.Value // the values read, nil where undefined
	msgs             []string
}

// celLookup is one review's values for a constraint.
type celLookup struct {
	key              celKey
	decide, messages []ast.Value
	ok               bool // the template's verdicts are cached
}

// lookup reads what decides a constraint's verdict in review; seen holds
// the paths this review has found already.
func (v *celVerdicts) lookup(c *unstructured.Unstructured, template string, review *ast.Term, seen map[string]celValue) celLookup {
	v.mu.Lock()
	reads, ok := v.reads[template]
	v.mu.Unlock()
	if !ok {
		return celLookup{}
	}
	find := func(p celPath) celValue {
		if x, ok := seen[p.key]; ok {
			return x
		}
		x := celValue{hash: 0x9e3779b97f4a7c15} // undefined
		if found, err := review.Value.Find(p.ref); err == nil {
			x = celValue{v: found, hash: uint64(found.Hash())} //nolint:gosec // G115: hash bits reinterpreted, wrapping is intended
		}
		seen[p.key] = x
		return x
	}
	l := celLookup{ok: true, key: celKey{c: c, hash: uint64(len(reads.decide))}}
	l.decide = make([]ast.Value, len(reads.decide))
	for i, p := range reads.decide {
		x := find(p)
		l.decide[i] = x.v
		l.key.hash = l.key.hash*1099511628211 ^ x.hash
	}
	l.messages = make([]ast.Value, len(reads.messages))
	for i, p := range reads.messages {
		l.messages[i] = find(p).v
	}
	return l
}

func (v *celVerdicts) get(l celLookup) ([]string, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.verdicts.Get(l.key, func(e *celVerdict) bool {
		return sameValues(e.decide, l.decide) && (len(e.msgs) == 0 || sameValues(e.messages, l.messages))
	})
	if !ok {
		return nil, false
	}
	v.hits++
	return e.msgs, true
}

func (v *celVerdicts) put(l celLookup, msgs []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if !v.verdicts.Admit(l.key) {
		return
	}
	weight := len(l.decide) + len(l.messages)
	for _, m := range msgs {
		weight += len(m) / 64
	}
	v.verdicts.Put(l.key, &celVerdict{decide: l.decide, messages: l.messages, msgs: msgs}, weight)
}
