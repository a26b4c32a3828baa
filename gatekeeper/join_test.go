package gatekeeper

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/storage"

	"github.com/gatekeep-dev/gatekeep/manifest"
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
		{"key from a pure function, negated filter reading the input moved after", `package x
key(obj) = k {
  pairs := [p | v := obj.spec.selector[n]; p := concat(":", [n, v])]
  k := concat(",", sort(pairs))
}
same(o, r) { o.metadata.name == r.name }
violation[{"msg": msg}] {
  mine := key(input.review.object)
  other := data.inventory.namespace[ns][_]["Service"][name]
  not same(other, input.review)
  theirs := key(other)
  mine == theirs
  msg := sprintf("%v/%v", [ns, name])
}`, 1},
		{"pure function calling a pure function", `package x
norm(s) = lower(trim_space(s))
host(o) = norm(o.spec.host)
violation[{"msg": "x"}] {
  h := host(input.review.object)
  other := data.inventory.namespace[_][_]["Ingress"][_]
  host(other) == h
}`, 1},
		{"function reading the input is not pure", `package x
key(obj) = k { k := concat("/", [obj.spec.host, input.review.object.metadata.namespace]) }
violation[{"msg": "x"}] {
  h := key(input.review.object)
  other := data.inventory.namespace[_][_]["Ingress"][_]
  key(other) == h
}`, 0},
		{"function calling an impure one is not pure", `package x
ns(o) = input.review.namespace
key(obj) = k { k := concat("/", [obj.spec.host, ns(obj)]) }
violation[{"msg": "x"}] {
  h := key(input.review.object)
  other := data.inventory.namespace[_][_]["Ingress"][_]
  key(other) == h
}`, 0},
		{"function reading a rule is not pure", `package x
suffix := ".example.com"
key(obj) = k { k := concat("", [obj.spec.host, suffix]) }
violation[{"msg": "x"}] {
  h := key(input.review.object)
  other := data.inventory.namespace[_][_]["Ingress"][_]
  key(other) == h
}`, 0},
		{"non-deterministic builtin in a function", `package x
key(obj) = k { k := sprintf("%v%v", [obj.spec.host, time.now_ns()]) }
violation[{"msg": "x"}] {
  h := input.review.object.spec.host
  other := data.inventory.namespace[_][_]["Ingress"][_]
  key(other) == h
}`, 0},
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

// TestOptimizationsKeepVerdicts reviews repositories with and without the
// optimizations (rewrites of referential templates, combined programs,
// the reviewer): the violations must be the same, message for message. It
// runs on generated templates and this package's own, and, given
// GATEKEEPER_LIBRARY (a checkout of open-policy-agent/gatekeeper-library),
// on the public library's templates with its samples.
func TestOptimizationsKeepVerdicts(t *testing.T) {
	t.Run("generated", func(t *testing.T) {
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
		// Some duplicate hosts across namespaces, and an ingress with two
		// rules; Services selecting what others do, across namespaces.
		for i := 0; i < 6; i++ {
			objs = append(objs, parseObj(t, fmt.Sprintf(`
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: extra-%d, namespace: team-%d}
spec:
  rules: [{host: app-%d.team-%d.example.com}, {host: shared.example.com}]
`, i, i, i*7, (i*7)%50)))
			objs = append(objs, parseObj(t, fmt.Sprintf(`
apiVersion: v1
kind: Service
metadata: {name: extra-%d, namespace: team-%d}
spec:
  selector: {app.kubernetes.io/name: app-%d}
`, i, (i*3)%50, i*7)))
		}
		stored := sameVerdicts(t, b, objs, "UniqueIngressHost", "UniqueSelector")
		hashJoins(t, b, "AcmeUniqueIngressHost", "AcmeUniqueSelector")
		// The templates read Ingresses, Services, ConfigMaps and apps/v1
		// objects: the optimized inventory leaves the other kinds out.
		if stored[false] != len(objs) || stored[true] == 0 || stored[true] >= stored[false] {
			t.Fatalf("objects in data.inventory: %d plain, %d optimized, of %d", stored[false], stored[true], len(objs))
		}
	})
	t.Run("gatekeeper-library", func(t *testing.T) {
		b, samples := library(t)
		// The generated repository, and every object of the library's
		// samples (which its constraints violate or not, on purpose).
		objs := append(repoObjects(t, 120), samples...)
		sameVerdicts(t, b, objs, "K8sUniqueServiceSelector", "K8sUniqueIngressHost")
		hashJoins(t, b, "K8sUniqueServiceSelector", "K8sUniqueIngressHost")
	})
}

// hashJoins fails unless each template kind's inventory scan became an
// index lookup.
func hashJoins(t *testing.T, b bundle, kinds ...string) {
	t.Helper()
	p := b.policy(t)
	for _, k := range kinds {
		tmpl := p.driver.templates[k]
		if tmpl == nil || len(tmpl.joins) == 0 {
			t.Errorf("%s: no inventory index planned", k)
		}
	}
}

// sameVerdicts reviews objs (all of them the inventory) with the bundle's
// policy, optimized and plain, and fails on any difference, or if no
// violation names one of the referential kinds. It returns how many
// objects each kept in data.inventory.
func sameVerdicts(t *testing.T, b bundle, objs []*manifest.Object, referentialKinds ...string) map[bool]int {
	t.Helper()
	ctx := context.Background()
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
	referential := map[string]int{}
	for _, s := range plain {
		for _, k := range referentialKinds {
			if strings.Contains(s, k) {
				referential[k]++
			}
		}
	}
	for _, k := range referentialKinds {
		if referential[k] == 0 {
			t.Fatalf("the test data has no violations of %s", k)
		}
	}
	if !reflect.DeepEqual(plain, optimized) {
		for i := range plain {
			if i >= len(optimized) || plain[i] != optimized[i] {
				t.Fatalf("first difference at %d:\n plain     %s\n optimized %s", i, plain[i], at(optimized, i))
			}
		}
		t.Fatalf("optimized has %d more violations", len(optimized)-len(plain))
	}
	t.Logf("%d violations (%v from inventory scans), identical; %d of %d objects kept in data.inventory", len(plain), referential, stored[true], len(objs))
	return stored
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
