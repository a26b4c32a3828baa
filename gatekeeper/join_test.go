package gatekeeper

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"
)

// TestJoinPlans checks which inventory scans become index lookups.
func TestJoinPlans(t *testing.T) {
	cases := []struct {
		name  string
		rego  string
		joins int
	}{
		{"unique host", `package x
violation[{"msg": msg}] {
  host := input.review.object.spec.rules[_].host
  other := data.inventory.namespace[ns][apiversion]["Ingress"][name]
  re_match("^(extensions|networking.k8s.io)/.+$", apiversion)
  other.spec.rules[_].host == host
  not same(other)
  msg := sprintf("%v %v %v", [host, ns, name])
}
same(o) { o.metadata.name == input.review.object.metadata.name }`, 1},
		{"comparison the other way round, cluster scope", `package x
violation[{"msg": "dup"}] {
  name := input.review.object.spec.name
  other := data.inventory.cluster["v1"]["Thing"][_]
  name == other.spec.name
}`, 1},
		{"comparison with the input: an index by namespace", `package x
violation[{"msg": "x"}] {
  host := input.review.object.spec.host
  other := data.inventory.namespace[ns][_]["Ingress"][_]
  ns == input.review.object.metadata.namespace
  other.spec.host == host
}`, 1},
		{"filter reading the input", `package x
violation[{"msg": "x"}] {
  host := input.review.object.spec.host
  other := data.inventory.namespace[ns][_]["Ingress"][_]
  startswith(ns, input.review.object.metadata.namespace)
  other.spec.host == host
}`, 0},
		{"scan inside a comprehension is left alone", `package x
violation[{"msg": "x"}] {
  host := input.review.object.spec.host
  others := [o | o := data.inventory.namespace[_][_]["Ingress"][_]; o.spec.host == host]
  count(others) > 1
}`, 0},
		{"rule with else is left alone", `package x
default allow = false
allow = true {
  host := input.review.object.spec.host
  other := data.inventory.namespace[_][_]["Ingress"][_]
  other.spec.host == host
} else = false { true }
violation[{"msg": "x"}] { not allow }`, 0},
		{"filter calling a rule", `package x
allowed[v] { v := "networking.k8s.io/v1" }
violation[{"msg": "x"}] {
  host := input.review.object.spec.host
  other := data.inventory.namespace[_][v]["Ingress"][_]
  allowed[v]
  other.spec.host == host
}`, 0},
		{"path variable known before", `package x
violation[{"msg": "x"}] {
  ns := input.review.object.metadata.namespace
  other := data.inventory.namespace[ns][_]["Service"][_]
  other.spec.selector == input.review.object.spec.selector
}`, 0},
		{"non-deterministic builtin", `package x
violation[{"msg": "x"}] {
  host := input.review.object.spec.host
  other := data.inventory.namespace[_][_]["Ingress"][_]
  time.now_ns() > 0
  other.spec.host == host
}`, 0},
		{"key from a builtin of the object", `package x
violation[{"msg": "x"}] {
  h := lower(input.review.object.spec.host)
  other := data.inventory.namespace[_][_]["Ingress"][n]
  lower(other.spec.host) == h
  n != input.review.object.metadata.name
}`, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := ast.ParseModuleWithOpts("x.rego", c.rego, ast.ParserOptions{RegoVersion: ast.RegoV0})
			if err != nil {
				t.Fatal(err)
			}
			specs := planJoins([]*ast.Module{m}, 0)
			if len(specs) != c.joins {
				t.Fatalf("%d joins, want %d\n%v", len(specs), c.joins, m)
			}
			// The rewritten module must still compile.
			comp := ast.NewCompiler()
			comp.Compile(map[string]*ast.Module{"x": m})
			if comp.Failed() {
				t.Fatalf("rewritten module does not compile: %v\n%v", comp.Errors, m)
			}
		})
	}
}

// TestOptimizationsKeepVerdicts reviews a generated repository with and
// without the rewrites of referential templates: the violations must be
// the same, message for message.
func TestOptimizationsKeepVerdicts(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := genWrite(dir, 50); err != nil {
		t.Fatal(err)
	}
	b := loadBundle(t, dir)
	tb := loadBundle(t, "testdata/policies")
	b.templates = append(b.templates, tb.templates...)
	b.constraints = append(b.constraints, tb.constraints...)
	b.expansions = tb.expansions
	objs := repoObjects(t, 120)
	// Some duplicate hosts across namespaces, and an ingress with two rules.
	for i := 0; i < 6; i++ {
		objs = append(objs, parseObj(t, fmt.Sprintf(`
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: extra-%d, namespace: team-%d}
spec:
  rules: [{host: app-%d.team-%d.example.com}, {host: shared.example.com}]
`, i, i, i*7, (i*7)%50)))
	}
	stored := map[bool]int{}
	run := func(opt bool) []string {
		p := b.policy(t, WithOptimizations(opt))
		var all []map[string]any
		for _, o := range objs {
			all = append(all, o.Data)
		}
		if err := p.AddInventory(ctx, all...); err != nil {
			t.Fatal(err)
		}
		stored[opt] = storedObjects(t, p)
		var out []string
		for _, o := range objs {
			vs, err := p.Review(ctx, Request{Object: o.Data})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				out = append(out, fmt.Sprintf("%s %s: %s %s %s %v", o.Ref(), v.Check, v.Action, v.Message, v.Path, v.Details))
			}
		}
		return out
	}
	plain, optimized := run(false), run(true)
	if len(plain) == 0 {
		t.Fatal("no violations at all")
	}
	referential := 0
	for _, s := range plain {
		if strings.Contains(s, "UniqueIngressHost") {
			referential++
		}
	}
	if referential == 0 {
		t.Fatal("the test data has no inventory-based violations")
	}
	if !reflect.DeepEqual(plain, optimized) {
		for i := range plain {
			if i >= len(optimized) || plain[i] != optimized[i] {
				t.Fatalf("first difference at %d:\n plain     %s\n optimized %s", i, plain[i], at(optimized, i))
			}
		}
		t.Fatalf("optimized has %d more violations", len(optimized)-len(plain))
	}
	// The templates read Ingresses, ConfigMaps and apps/v1 objects: the
	// optimized inventory leaves the other kinds out.
	if stored[false] != len(objs) || stored[true] == 0 || stored[true] >= stored[false] {
		t.Fatalf("objects in data.inventory: %d plain, %d optimized, of %d", stored[false], stored[true], len(objs))
	}
	t.Logf("%d violations, %d from inventory scans, identical; %d of %d objects kept in data.inventory", len(plain), referential, stored[true], len(objs))
}

// storedObjects counts the objects in a policy's data.inventory.
func storedObjects(t *testing.T, p *Policy) int {
	t.Helper()
	inv, err := storage.ReadOne(context.Background(), p.driver.store, storage.Path{"inventory"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(v any, depth int)
	walk = func(v any, depth int) {
		obj, ok := v.(ast.Object)
		if !ok {
			return
		}
		if depth == 0 {
			n += obj.Len()
			return
		}
		obj.Foreach(func(_, x *ast.Term) { walk(x.Value, depth-1) })
	}
	root, _ := inv.(ast.Object)
	if root == nil {
		t.Fatalf("data.inventory is %T", inv)
	}
	if c := root.Get(ast.StringTerm("cluster")); c != nil {
		walk(c.Value, 2) // apiVersion, kind, name
	}
	if ns := root.Get(ast.StringTerm("namespace")); ns != nil {
		walk(ns.Value, 3) // namespace, apiVersion, kind, name
	}
	return n
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return "<none>"
}
