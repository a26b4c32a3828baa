package gatekeeper

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// guards are, for each violation rule of a template, the conditions of its
// body that compare a constant path of input.review with a string
// (input.review.kind.kind == "Service"). A review that fails one of each
// rule's guards cannot violate, whatever the inventory and parameters: the
// unit is not evaluated for it. At the webhook that spares the templates
// written for one kind (uniqueserviceselector, which also reads the
// inventory and so is never cached) every review of another kind.
type guards [][]guard

type guard struct {
	path ast.Ref // relative to input.review
	want ast.String
}

// violationGuards finds the guards of the violation rules of a template's
// entry module; nil when a rule has none (or an else), so that the unit is
// always evaluated.
func violationGuards(entry *ast.Module) guards {
	var out guards
	for _, r := range entry.Rules {
		if name := r.Head.Ref(); len(name) != 1 || name[0].Value.Compare(ast.Var("violation")) != 0 {
			continue
		}
		if r.Else != nil {
			return nil
		}
		var gs []guard
		for _, e := range r.Body {
			if g, ok := guardOf(e); ok {
				gs = append(gs, g)
			}
		}
		if len(gs) == 0 {
			return nil
		}
		out = append(out, gs)
	}
	return out
}

// guardOf takes apart input.review.a.b == "s" (or "s" == ..., or =).
func guardOf(e *ast.Expr) (guard, bool) {
	if e.Negated || len(e.With) > 0 || !e.IsCall() {
		return guard{}, false
	}
	ts := e.Terms.([]*ast.Term)
	if len(ts) != 3 || ts[0].Value.Compare(ast.Equal.Ref()) != 0 && ts[0].Value.Compare(ast.Equality.Ref()) != 0 {
		return guard{}, false
	}
	for _, pair := range [][2]*ast.Term{{ts[1], ts[2]}, {ts[2], ts[1]}} {
		ref, isRef := pair[0].Value.(ast.Ref)
		s, isStr := pair[1].Value.(ast.String)
		if !isRef || !isStr || len(ref) < 3 || !ref[0].Equal(ast.InputRootDocument) || !ref[1].Equal(reviewKey) {
			continue
		}
		constant := true
		for _, t := range ref[2:] {
			constant = constant && ast.IsScalar(t.Value)
		}
		if constant {
			return guard{path: ref[2:].Copy(), want: s}, true
		}
	}
	return guard{}, false
}

// mayViolate tells whether review passes every guard of some rule (true
// when there are no guards).
func (gs guards) mayViolate(review ast.Value) bool {
	if gs == nil {
		return true
	}
	for _, rule := range gs {
		passes := true
		for _, g := range rule {
			v, err := review.Find(g.path)
			if err != nil || v.Compare(g.want) != 0 {
				passes = false
				break
			}
		}
		if passes {
			return true
		}
	}
	return false
}
