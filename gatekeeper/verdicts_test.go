package gatekeeper

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatekeep-dev/gatekeep/gatekeeper/gen"
	"github.com/gatekeep-dev/gatekeep/internal/infragen"
	"github.com/gatekeep-dev/gatekeep/internal/regovalue"
)

// TestVerdictCacheAgrees reviews every object of a generated repository,
// and every object that differs from one of them in a single field
// (changed or removed), with and without the verdict cache, and wants the
// same violations. A field a template reads but the cache's key misses
// gives the earlier object's verdict for the changed one.
func TestVerdictCacheAgrees(t *testing.T) {
	bd := genBundle(t)
	ctx := context.Background()
	plain, err := New(ctx, bd.templates, bd.constraints, WithEnforcementPoint(WebhookEnforcementPoint))
	if err != nil {
		t.Fatal(err)
	}
	cached, err := New(ctx, bd.templates, bd.constraints, WithEnforcementPoint(WebhookEnforcementPoint), WithVerdictCache(64))
	if err != nil {
		t.Fatal(err)
	}
	var pod map[string]any
	if err := json.Unmarshal([]byte(benchPod), &pod); err != nil {
		t.Fatal(err)
	}
	objs := []map[string]any{pod}
	for _, o := range repoObjects(t, 6) {
		objs = append(objs, o.Data)
	}
	// The cached policy gets the objects as Rego values, as the engine
	// makes them at the webhook: fields met again are the same values.
	values := regovalue.New(64)
	uid := 0
	judge := func(p *Policy, obj map[string]any) string {
		uid++
		r := Request{Admission: admissionOf(obj, fmt.Sprint("uid-", uid))}
		if p == cached {
			v, err := values.Object(obj)
			if err != nil {
				t.Fatal(err)
			}
			r.ObjectValue = v
		}
		vs, err := p.Review(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		lines := make([]string, len(vs))
		for i, v := range vs {
			b, _ := json.Marshal(v)
			lines[i] = string(b)
		}
		sort.Strings(lines)
		return strings.Join(lines, "\n")
	}
	reviews, violations := 0, 0
	compare := func(obj map[string]any, what string) {
		want, got := judge(plain, obj), judge(cached, obj)
		if got != want {
			t.Errorf("%s: with the cache\n%s\nwant\n%s", what, got, want)
		}
		reviews++
		if want != "" {
			violations++
		}
	}
	for _, obj := range objs {
		name := fmt.Sprintf("%v %v", obj["kind"], obj["metadata"].(map[string]any)["name"])
		compare(obj, name)
		for i, v := range infragen.Variants(obj) {
			compare(v.Object, fmt.Sprintf("%s, %s (variant %d)", name, v.Change, i))
			compare(obj, name+" again")
		}
	}
	vc := cached.driver.comb.Load().verdicts
	t.Logf("%d reviews, %d with violations; cache: %d hits, %d misses", reviews, violations, vc.hits, vc.misses)
	if vc.hits == 0 || vc.misses == 0 || violations == 0 {
		t.Fatalf("the test did not exercise the cache: %d hits, %d misses, %d reviews with violations", vc.hits, vc.misses, violations)
	}
}

// TestVerdictCacheConcurrent reviews the same objects from several
// goroutines, which share the cache's verdicts and interned values (run
// with -race).
func TestVerdictCacheConcurrent(t *testing.T) {
	bd := genBundle(t)
	ctx := context.Background()
	p, err := New(ctx, bd.templates, bd.constraints, WithEnforcementPoint(WebhookEnforcementPoint), WithVerdictCache(64))
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	for _, o := range repoObjects(t, 2) {
		objs = append(objs, o.Data)
	}
	judge := func(obj map[string]any, uid string) string {
		vs, err := p.Review(ctx, Request{Admission: admissionOf(deepCopy(obj).(map[string]any), uid)})
		if err != nil {
			t.Error(err)
		}
		b, _ := json.Marshal(vs)
		return string(b)
	}
	want := make([]string, len(objs))
	for i, o := range objs {
		want[i] = judge(o, "first")
	}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round := 0; round < 5; round++ {
				for i, o := range objs {
					if got := judge(o, fmt.Sprint(w, round)); got != want[i] {
						t.Errorf("%v %v: got %s, want %s", o["kind"], o["metadata"], got, want[i])
					}
				}
			}
		}()
	}
	wg.Wait()
	if vc := p.driver.comb.Load().verdicts; vc.hits == 0 {
		t.Fatal("no verdict came from the cache")
	}
}

// TestVerdictCacheInventory: a template that reads the inventory is
// judged again when the inventory changes, whatever the cache holds.
func TestVerdictCacheInventory(t *testing.T) {
	var tdocs, cdocs []Document
	for _, p := range gen.Policies(14) {
		if p.Shape == "uniqueingresshost" || p.Shape == "requiredlabels" {
			tdocs = append(tdocs, Document{Object: obj(t, p.Template)})
			cdocs = append(cdocs, Document{Object: obj(t, p.Constraint)})
		}
	}
	ctx := context.Background()
	p, err := New(ctx, tdocs, cdocs, WithEnforcementPoint(WebhookEnforcementPoint), WithVerdictCache(64))
	if err != nil {
		t.Fatal(err)
	}
	ing := obj(t, `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: web, namespace: team-1}, spec: {rules: [{host: web.example.com}]}}`)
	count := func() int {
		vs, err := p.Review(ctx, Request{Admission: admissionOf(ing, "uid")})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, v := range vs {
			if strings.Contains(v.Message, "web.example.com") {
				n++
			}
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d host conflicts before the other Ingress", n)
	}
	other := obj(t, `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: web, namespace: team-2}, spec: {rules: [{host: web.example.com}]}}`)
	if err := p.AddInventory(ctx, other); err != nil {
		t.Fatal(err)
	}
	if n := count(); n == 0 {
		t.Fatal("no host conflict once another namespace holds the host")
	}
}

func admissionOf(obj map[string]any, uid string) map[string]any {
	md, _ := obj["metadata"].(map[string]any)
	group, version := splitAPIVersion(str(obj["apiVersion"]))
	return map[string]any{
		"uid": uid, "operation": "CREATE", "namespace": md["namespace"], "name": md["name"],
		"kind":     map[string]any{"group": group, "version": version, "kind": obj["kind"]},
		"userInfo": map[string]any{"username": "system:serviceaccount:ci:deployer"},
		"object":   obj,
	}
}

func TestReviewReads(t *testing.T) {
	for _, tc := range []struct {
		name, rego string
		want       []string // nil: not cacheable
	}{
		{"through a function's parameter", `violation[{"msg": m}] { not is_update(input.review); m := input.review.object.spec.x }
is_update(review) { review.operation == "UPDATE" }`, []string{"object.spec.x", "operation"}},
		{"through a parameter, from a part of the review", `violation[{"msg": m}] { m := name_of(input.review.object) }
name_of(o) = n { n := o.metadata.name }`, []string{"object.metadata.name"}},
		{"parameter used whole", `violation[{"msg": m}] { m := f(input.review) }
f(r) = r`, nil},
		{"parameter indexed by a variable", `violation[{"msg": m}] { m := f(input.review, "kind") }
f(r, k) = r[k]`, nil},
		{"parameter passed on", `violation[{"msg": m}] { m := f(input.review) }
f(r) = g(r)
g(x) = x.kind`, nil},
		{"prefix up to a variable", `violation[{"msg": m}] { c := input.review.object.spec.containers[_]; m := c.image }`, []string{"object.spec.containers"}},
		{"shortest of nested paths", `violation[{"msg": m}] { input.review.object.spec; m := input.review.object.spec.y.z }`, []string{"object.spec"}},
		{"paths apart", `violation[{"msg": m}] { input.review.object.spec.x; m := input.review.object.spec.y.z }`, []string{"object.spec.x", "object.spec.y.z"}},
		{"several", `violation[{"msg": m}] { input.review.kind.kind == "Pod"; m := input.review.object.metadata.name }`, []string{"kind.kind", "object.metadata.name"}},
		{"reference in an index", `violation[{"msg": m}] { m := input.parameters.x[input.review.object.kind] }`, []string{"object.kind"}},
		{"parameters only", `violation[{"msg": m}] { m := input.parameters.x }`, []string{}},
		{"the whole review", `violation[{"msg": m}] { r := input.review; m := r.object.kind }`, nil},
		{"a variable key", `violation[{"msg": m}] { m := input.review[k] }`, nil},
		{"input itself", `violation[{"msg": m}] { m := input[_] }`, nil},
		{"an import", "import input.review.object.spec as s\nviolation[{\"msg\": m}] { m := s.x }", []string{"object.spec"}},
		{"an import of the review", "import input.review as r\nviolation[{\"msg\": m}] { m := r.x }", nil},
		{"in the rule head", `violation[{"msg": "x", "details": input.review.object.metadata.labels}] { true }`, []string{"object.metadata.labels"}},
		{"a message's", `violation[{"msg": msg}] { input.review.object.spec.x; msg := sprintf("%v in %v", [input.review.object.metadata.name, input.review.namespace]) }`,
			[]string{"(msg) namespace", "(msg) object.metadata.name", "object.spec.x"}},
		{"sprintf with its output last", `violation[{"msg": msg}] { input.review.object.spec.x; sprintf("%v", [input.review.object.metadata.name], msg) }`,
			[]string{"(msg) object.metadata.name", "object.spec.x"}},
		{"read otherwise too", `violation[{"msg": msg}] { input.review.object.metadata.name != "x"; msg := sprintf("%v", [input.review.object.metadata.name]) }`,
			[]string{"object.metadata.name"}},
		{"within a path read otherwise", `violation[{"msg": msg}] { input.review.object.metadata; msg := sprintf("%v", [input.review.object.metadata.name]) }`,
			[]string{"object.metadata"}},
		{"holding a path read otherwise", `violation[{"msg": msg}] { input.review.object.metadata.name.x; msg := sprintf("%v", [input.review.object.metadata]) }`,
			[]string{"object.metadata"}},
		{"the message read in the body", `violation[{"msg": msg}] { msg := sprintf("%v", [input.review.object.metadata.name]); msg != "" }`,
			[]string{"object.metadata.name"}},
		{"a variable format", `violation[{"msg": msg}] { f := input.parameters.f; msg := sprintf(f, [input.review.object.metadata.name]) }`,
			[]string{"object.metadata.name"}},
		{"another function", `violation[{"msg": msg}] { msg := concat("", [input.review.object.metadata.name]) }`,
			[]string{"object.metadata.name"}},
		{"a rule other than violation", `violation[{"msg": msg}] { msg := m }
m := sprintf("%v", [input.review.object.metadata.name])`, []string{"object.metadata.name"}},
		{"violation read by a rule", `violation[{"msg": msg}] { msg := sprintf("%v", [input.review.object.metadata.name]) }
n := count(violation)`, []string{"object.metadata.name"}},
		{"an index with a variable", `violation[{"msg": msg}] { c := input.parameters.c; msg := sprintf("%v", [input.review.object.spec.containers[c]]) }`,
			[]string{"object.spec.containers"}},
		// automount-serviceaccount-token's shape: what is read through
		// the alias counts, the alias itself only if it is defined.
		{"through an alias", `violation[{"msg": msg}] { obj := input.review.object; f(obj.spec); msg := sprintf("pod: %v", [obj.metadata.name]) }
f(spec) { spec.x == true }`, []string{"(defined) object", "(msg) object.metadata.name", "object.spec.x"}},
		{"an alias used whole", `violation[{"msg": msg}] { obj := input.review.object; msg := sprintf("%v", [obj]); obj.spec.x }`,
			[]string{"object"}},
		{"an alias indexed by a variable", `violation[{"msg": msg}] { obj := input.review.object; k := input.parameters.k; msg := obj[k] }`,
			[]string{"object"}},
		{"an alias in the head", `violation[{"msg": "x", "details": obj}] { obj := input.review.object.spec }`,
			[]string{"object.spec"}},
		{"an alias of the review itself", `violation[{"msg": m}] { r := input.review; m := r.object.kind }`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ast.ParseModuleWithOpts("t.rego", "package t\n"+tc.rego, ast.ParserOptions{RegoVersion: ast.RegoV0})
			if err != nil {
				t.Fatal(err)
			}
			paths, messages, defined, ok := reviewReads([]*ast.Module{m})
			if tc.want == nil {
				if ok {
					t.Fatalf("cacheable with paths %v", paths)
				}
				return
			}
			got := []string{}
			for i, p := range append(append(paths, messages...), defined...) {
				var parts []string
				for _, term := range p {
					parts = append(parts, string(term.Value.(ast.String)))
				}
				switch {
				case i >= len(paths)+len(messages):
					parts[0] = "(defined) " + parts[0]
				case i >= len(paths):
					parts[0] = "(msg) " + parts[0]
				}
				got = append(got, strings.Join(parts, "."))
			}
			sort.Strings(got)
			if !ok || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v (ok %v), want %v", got, ok, tc.want)
			}
		})
	}
}

func TestSameValue(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{`{"a": [1, "x", true, null]}`, `{"a": [1, "x", true, null]}`, true},
		{`{"a": 1}`, `{"a": 1.0}`, false}, // equal in Rego, printed apart
		{`{"a": 1}`, `{"a": 1, "b": 2}`, false},
		{`{"a": 1, "b": 2}`, `{"a": 1, "c": 2}`, false},
		{`["x"]`, `["x", "y"]`, false},
		{`"1"`, `1`, false},
		{`false`, `false`, true},
	} {
		a, b := ast.MustParseTerm(tc.a).Value, ast.MustParseTerm(tc.b).Value
		if got := sameValue(a, b); got != tc.same {
			t.Errorf("sameValue(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

// TestVerdictCacheLookups: a verdict is kept once met twice; a hash alone
// never answers (values that collide are told apart); a hit survives one
// generation.
func TestVerdictCacheLookups(t *testing.T) {
	c := newVerdictCache(2)
	u, w := &unit{n: 1}, &unit{n: 2}
	at := func(s string, hash uint64) reads {
		return reads{vals: []ast.Value{ast.String(s), nil}, hash: hash}
	}
	vio := []*ast.Term{ast.StringTerm("v")}
	keep := func(r reads) { c.put(u, r, vio); c.put(u, r, vio) } // kept when met again
	c.put(u, at("a", 1), vio)
	if _, ok := c.get(u, at("a", 1)); ok {
		t.Fatal("a verdict met once is kept")
	}
	c.put(u, at("a", 1), vio)
	for _, tc := range []struct {
		u    *unit
		r    reads
		want bool
	}{
		{u, at("a", 1), true},
		{u, at("b", 1), false}, // same hash, other value
		{w, at("a", 1), false}, // other unit
		{u, reads{vals: []ast.Value{ast.String("a"), ast.String("")}, hash: 1}, false},
	} {
		if _, ok := c.get(tc.u, tc.r); ok != tc.want {
			t.Errorf("get(%d, %v) = %v", tc.u.n, tc.r.vals, ok)
		}
	}
	keep(at("b", 2))
	keep(at("c", 3)) // a new generation: a and b are old
	if _, ok := c.get(u, at("a", 1)); !ok {
		t.Error("a verdict of the last generation was lost")
	}
	keep(at("d", 4))
	keep(at("e", 5)) // another: b was not used since
	if _, ok := c.get(u, at("b", 2)); ok {
		t.Error("a verdict two generations old is still kept")
	}
}

// TestVerdictCacheWeight: a verdict that would hold a large value is not
// kept, and a generation ends when its verdicts hold too many terms.
func TestVerdictCacheWeight(t *testing.T) {
	const size = 4
	c := newVerdictCache(size)
	u := &unit{n: 1}
	array := func(n, seed int) ast.Value {
		elems := make([]*ast.Term, n)
		for i := range elems {
			elems[i] = ast.IntNumberTerm(seed*100000 + i)
		}
		return ast.NewArray(elems...)
	}
	keep := func(v ast.Value) reads {
		r := reads{vals: []ast.Value{v}, hash: uint64(v.Hash())} //nolint:gosec // G115: hash bits, as verdicts.go takes them
		c.put(u, r, nil)
		c.put(u, r, nil)
		return r
	}
	big := keep(array(maxVerdictWeight+1, 0))
	if _, ok := c.get(u, big); ok {
		t.Fatal("a verdict holding more than maxVerdictWeight terms is kept")
	}
	limit := size * verdictsWeight
	var last reads
	for i := 1; i <= 3; i++ {
		last = keep(array(limit/3+1, i)) // three are over the limit
	}
	if c.verdicts.Len() != 1 || c.verdicts.Weight() > limit {
		t.Fatalf("the generation holds %d verdicts of %d terms in all, over %d", c.verdicts.Len(), c.verdicts.Weight(), limit)
	}
	if _, ok := c.get(u, last); !ok {
		t.Fatal("the newest verdict was not kept")
	}
}

// TestVerdictCachesAgreeOnLibrary reviews the public gatekeeper-library's
// sample objects (GATEKEEPER_LIBRARY), each twice under other names as a
// ReplicaSet's Pods come, at the webhook with and without the verdict
// caches (Rego and CEL): the violations must be the same.
func TestVerdictCachesAgreeOnLibrary(t *testing.T) {
	b, objs := library(t)
	plain, cached := webhookPolicies(t, b, 256)
	violations := 0
	for i, o := range objs {
		for copyN := 0; copyN < 3; copyN++ {
			c := deepCopyMap(o.Data)
			md, _ := c["metadata"].(map[string]any)
			if md == nil {
				md = map[string]any{}
				c["metadata"] = md
			}
			md["name"] = fmt.Sprintf("%v-%d", md["name"], copyN)
			if _, ok := md["namespace"]; !ok && c["kind"] == "Pod" {
				md["namespace"] = "default"
			}
			r := Request{Admission: admissionOf(c, fmt.Sprint("uid-", i, "-", copyN))}
			violations += len(sameReview(t, plain, cached, r))
		}
	}
	if violations == 0 {
		t.Fatal("no violations: the samples were not read")
	}
	t.Logf("%d objects reviewed 3 times each, %d violations, identical", len(objs), violations)
}
