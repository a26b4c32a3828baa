package gatekeeper

import (
	"slices"
	"strings"
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

func TestInventoryFields(t *testing.T) {
	cases := []struct {
		name string
		rego string
		// want maps "apiVersion kind" to the paths read ("*" for the whole
		// object); kinds not listed are not read.
		want map[string][]string
	}{
		{"none", `violation[{"msg": "x"}] { input.review.object.kind == "Pod" }`, nil},
		{"direct field reference", `violation[{"msg": "x"}] {
			data.inventory.namespace[ns][_]["Service"][name].spec.selector == input.review.object.spec.selector
		}`, map[string][]string{"v1 Service": {"spec.selector"}}},
		{"field path stops at a variable key", `violation[{"msg": "x"}] {
			data.inventory.namespace[ns]["networking.k8s.io/v1"]["Ingress"][name].spec.rules[_].host == "a"
		}`, map[string][]string{"networking.k8s.io/v1 Ingress": {"spec.rules"}}},
		{"variable read by fields", `violation[{"msg": "x"}] {
			other := data.inventory.namespace[ns][_]["ConfigMap"][name]
			other.data.owner == input.review.object.metadata.labels.owner
			other.metadata.labels[k]
		}`, map[string][]string{"v1 ConfigMap": {"data.owner", "metadata.labels"}}},
		{"variable passed to a function", `violation[{"msg": "x"}] {
			other := data.inventory.namespace[ns][_]["Service"][name]
			selector(other) == {}
		}
		selector(o) = s { s := o.spec.selector }`, map[string][]string{"v1 Service": {"*"}}},
		{"whole object", `violation[{"msg": "x"}] { data.inventory.cluster["v1"]["Namespace"][n] == input.review.object }`, map[string][]string{"v1 Namespace": {"*"}}},
		{"every kind", `violation[{"msg": "x"}] { walk(data.inventory, [p, v]) }`, map[string][]string{"v1 Service": {"*"}, "v1 ConfigMap": {"*"}, "v1 Namespace": {"*"}, "networking.k8s.io/v1 Ingress": {"*"}}},
	}
	kinds := []string{"v1 Service", "v1 ConfigMap", "v1 Namespace", "networking.k8s.io/v1 Ingress"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmpl := map[string]any{
				"apiVersion": "templates.gatekeeper.sh/v1", "kind": "ConstraintTemplate",
				"metadata": map[string]any{"name": "k8stest"},
				"spec": map[string]any{
					"crd":     map[string]any{"spec": map[string]any{"names": map[string]any{"kind": "K8sTest"}}},
					"targets": []any{map[string]any{"target": TargetName, "rego": "package k8stest\n" + c.rego}},
				},
			}
			f, err := InventoryFieldsOf([]Document{{Object: tmpl}})
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kinds {
				apiVersion, kind, _ := strings.Cut(k, " ")
				paths, read := f.Fields(apiVersion, kind)
				var got []string
				if read && paths == nil {
					got = []string{"*"}
				}
				for _, p := range paths {
					got = append(got, strings.Join(p, "."))
				}
				slices.Sort(got)
				got = slices.Compact(got)
				if want := c.want[k]; !slices.Equal(got, want) {
					t.Errorf("%s: read %v, want %v", k, got, want)
				}
			}
		})
	}
}
