package gatekeeper

import (
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestViolationGuards: a template whose every violation rule compares a
// constant path of the review with a string is skipped for the reviews
// that fail each rule's comparison, and only for those.
func TestViolationGuards(t *testing.T) {
	service := `{"kind": {"kind": "Service", "group": ""}, "object": {"spec": {}}}`
	pod := `{"kind": {"kind": "Pod", "group": ""}, "object": {"spec": {}}}`
	noKind := `{"object": {"spec": {}}}`
	for _, tc := range []struct {
		name, rego string
		may        map[string]bool // review -> may violate
	}{
		{"one kind", `violation[{"msg": "x"}] { input.review.kind.kind == "Service"; data.inventory.x }`,
			map[string]bool{service: true, pod: false, noKind: false}},
		{"the constant first", `violation[{"msg": "x"}] { "Service" == input.review.kind.kind }`,
			map[string]bool{service: true, pod: false}},
		{"unification", `violation[{"msg": "x"}] { input.review.kind.kind = "Service" }`,
			map[string]bool{service: true, pod: false}},
		{"two rules, two kinds", `violation[{"msg": "x"}] { input.review.kind.kind == "Service" }
violation[{"msg": "y"}] { input.review.kind.kind == "Pod" }`, map[string]bool{service: true, pod: true, noKind: false}},
		{"a rule without a guard", `violation[{"msg": "x"}] { input.review.kind.kind == "Service" }
violation[{"msg": "y"}] { input.review.object.spec.x }`, map[string]bool{service: true, pod: true, noKind: true}},
		{"negated: no guard", `violation[{"msg": "x"}] { not input.review.kind.kind == "Service" }`, map[string]bool{service: true, pod: true}},
		{"not a string: no guard", `violation[{"msg": "x"}] { input.review.object.spec.replicas == 1 }`, map[string]bool{service: true, pod: true}},
		{"a variable in the path: no guard", `violation[{"msg": "x"}] { k := "kind"; input.review[k].kind == "Service" }`, map[string]bool{pod: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ast.ParseModuleWithOpts("t.rego", "package t\n"+tc.rego, ast.ParserOptions{RegoVersion: ast.RegoV0})
			if err != nil {
				t.Fatal(err)
			}
			gs := violationGuards(m)
			for review, want := range tc.may {
				v, err := ast.ValueFromReader(strings.NewReader(review))
				if err != nil {
					t.Fatal(err)
				}
				if got := gs.mayViolate(v); got != want {
					t.Errorf("review %s: may violate %v, want %v (guards %v)", review, got, want, gs)
				}
			}
		})
	}
}
