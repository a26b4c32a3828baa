package gatekeeper

import (
	"slices"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestReadsOf(t *testing.T) {
	ingress := []string{"namespace", "team-a", "networking.k8s.io/v1", "Ingress", "web"}
	deployment := []string{"namespace", "team-a", "apps/v1", "Deployment", "web"}
	configMap := []string{"namespace", "team-a", "v1", "ConfigMap", "web"}
	namespace := []string{"cluster", "v1", "Namespace", "team-a"}
	all := [][]string{ingress, deployment, configMap, namespace}
	cases := []struct {
		name  string
		rego  string
		reads [][]string // of all
	}{
		{"none", `violation[{"msg": "x"}] { input.review.object.kind == "Pod" }`, nil},
		{"kind under any apiVersion", `violation[{"msg": "x"}] {
			other := data.inventory.namespace[ns][apiversion]["Ingress"][name]
			other.spec.rules[_].host == "a"
		}`, [][]string{ingress}},
		{"apiVersion, any kind", `violation[{"msg": "x"}] { w := data.inventory.namespace[ns]["apps/v1"][_][_]; w.x }`, [][]string{deployment}},
		{"cluster-scoped", `violation[{"msg": "x"}] { data.inventory.cluster["v1"]["Namespace"][input.review.object.metadata.namespace] }`, [][]string{namespace}},
		{"two kinds", `violation[{"msg": "x"}] {
			not data.inventory.namespace[ns]["v1"]["ConfigMap"][name]
			data.inventory.cluster["v1"].Namespace[ns]
		}`, [][]string{configMap, namespace}},
		{"kind from a parameter", `violation[{"msg": "x"}] { data.inventory.namespace[ns][gv][input.parameters.kind][_] }`, all},
		{"a whole namespace", `violation[{"msg": "x"}] { objs := data.inventory.namespace[ns]; count(objs) > 1 }`, all},
		{"the whole inventory", `violation[{"msg": "x"}] { walk(data.inventory, [p, v]) }`, all},
		{"all of data", `violation[{"msg": "x"}] { data[x].inventory }`, all},
		{"variable layout", `violation[{"msg": "x"}] { data.inventory[layout][a][b]["Ingress"] }`, all},
		{"an alias", "import data.inventory as inv\nviolation[{\"msg\": \"x\"}] { inv.namespace[_][_][\"Ingress\"][_] }", all},
		{"libs are not the inventory", "import data.lib.helpers\nviolation[{\"msg\": \"x\"}] { helpers.ok; data.lib.other.x }", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ast.ParseModuleWithOpts("t.rego", "package t\n"+c.rego, ast.ParserOptions{RegoVersion: ast.RegoV0})
			if err != nil {
				t.Fatal(err)
			}
			r := readsOf([]*ast.Module{m})
			for _, key := range all {
				want := false
				for _, k := range c.reads {
					want = want || slices.Equal(k, key)
				}
				if got := r.reads(key); got != want {
					t.Errorf("reads(%v) = %v, want %v (analysis: %+v)", key, got, want, r)
				}
			}
		})
	}
}
