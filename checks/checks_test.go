package checks

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

func parse(t *testing.T, docs ...string) []*manifest.Object {
	t.Helper()
	objs, errs := manifest.Parse("test.yaml", []byte(strings.Join(docs, "\n---\n")))
	if len(errs) > 0 {
		t.Fatalf("parse: %v", errs)
	}
	return objs
}

func ingress(ns, name string, rules string, tls string) string {
	s := fmt.Sprintf("apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: %s, namespace: %s}\nspec:\n  rules: %s\n", name, ns, rules)
	if tls != "" {
		s += "  tls: " + tls + "\n"
	}
	return s
}

func rule(host string, paths ...string) string {
	if len(paths) == 0 {
		return fmt.Sprintf("{host: %q}", host)
	}
	var ps []string
	for _, p := range paths {
		ps = append(ps, fmt.Sprintf("{path: %q, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}", p))
	}
	return fmt.Sprintf("{host: %q, http: {paths: [%s]}}", host, strings.Join(ps, ", "))
}

func TestIngressHostCollision(t *testing.T) {
	for _, tc := range []struct {
		name string
		docs []string
		want map[string][]string // object -> "path: message fragment"
	}{
		{
			name: "same host in two namespaces: both flagged, naming the other",
			docs: []string{
				ingress("a", "web", "["+rule("shop.example.com", "/")+"]", ""),
				ingress("b", "web", "["+rule("SHOP.example.com.", "/api")+"]", ""),
			},
			want: map[string][]string{
				"Ingress a/web": {`/spec/rules/0/host: host "shop.example.com" is also claimed in another namespace by Ingress b/web`},
				"Ingress b/web": {`/spec/rules/0/host: host "shop.example.com" is also claimed in another namespace by Ingress a/web`},
			},
		},
		{
			name: "a wildcard covers one more label",
			docs: []string{
				ingress("a", "wild", "["+rule("*.example.com")+"]", ""),
				ingress("b", "one", "["+rule("a.example.com", "/")+"]", ""),
				ingress("c", "two", "["+rule("x.y.example.com", "/")+"]", ""),
				ingress("d", "apex", "["+rule("example.com", "/")+"]", ""),
			},
			want: map[string][]string{
				"Ingress a/wild": {`/spec/rules/0/host: host "*.example.com" is also claimed in another namespace by Ingress b/one (a.example.com)`},
				"Ingress b/one":  {`/spec/rules/0/host: host "a.example.com" is also claimed in another namespace by Ingress a/wild (*.example.com)`},
			},
		},
		{
			name: "TLS hosts claim too",
			docs: []string{
				ingress("a", "web", "["+rule("a.example.com", "/")+"]", "[{hosts: [b.example.com], secretName: t}]"),
				ingress("b", "web", "["+rule("b.example.com", "/")+"]", ""),
			},
			want: map[string][]string{
				"Ingress a/web": {`/spec/tls/0/hosts/0: host "b.example.com" is also claimed in another namespace by Ingress b/web`},
				"Ingress b/web": {`/spec/rules/0/host: host "b.example.com" is also claimed in another namespace by Ingress a/web`},
			},
		},
		{
			name: "same namespace: same host on other paths is fine, the same path twice is not",
			docs: []string{
				ingress("a", "api", "["+rule("shop.example.com", "/api", "/v2")+"]", ""),
				ingress("a", "web", "["+rule("shop.example.com", "/")+"]", ""),
				ingress("a", "v2", "["+rule("shop.example.com", "/v2")+"]", ""),
			},
			want: map[string][]string{
				"Ingress a/api": {`/spec/rules/0/http/paths/1/path: host "shop.example.com" path "/v2" is also served by Ingress a/v2 in the same namespace`},
				"Ingress a/v2":  {`/spec/rules/0/http/paths/0/path: host "shop.example.com" path "/v2" is also served by Ingress a/api in the same namespace`},
			},
		},
		{
			name: "an Ingress does not collide with itself, nor without hosts",
			docs: []string{
				ingress("a", "web", "["+rule("shop.example.com", "/")+", "+rule("shop.example.com", "/x")+"]", "[{hosts: [shop.example.com]}]"),
				ingress("b", "catch-all", "[{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]", ""),
				ingress("c", "catch-all", "[{http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 80}}}}]}}]", ""),
			},
		},
		{
			name: "an empty namespace is the default namespace",
			docs: []string{
				strings.Replace(ingress("x", "web", "["+rule("d.example.com", "/")+"]", ""), "namespace: x", "namespace: default", 1),
				strings.Replace(ingress("x", "web", "["+rule("d.example.com", "/")+"]", ""), ", namespace: x", "", 1),
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs := parse(t, tc.docs...)
			inv := InventoryOf(objs)
			got := map[string][]string{}
			for _, o := range objs {
				for _, v := range IngressHostCollision.Review(o, inv) {
					got[o.Ref().String()] = append(got[o.Ref().String()], v.Path+": "+v.Message)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("flagged %d objects, want %d: %v", len(got), len(tc.want), got)
			}
			for obj, want := range tc.want {
				if len(got[obj]) != len(want) {
					t.Errorf("%s: got %q, want %q", obj, got[obj], want)
					continue
				}
				for i := range want {
					if !strings.HasPrefix(got[obj][i], want[i]) {
						t.Errorf("%s: got %q\nwant prefix %q", obj, got[obj][i], want[i])
					}
				}
			}
		})
	}
}

func TestHostIndexUpdates(t *testing.T) {
	objs := parse(t,
		ingress("a", "web", "["+rule("shop.example.com", "/")+"]", ""),
		ingress("b", "web", "["+rule("shop.example.com", "/")+"]", ""),
	)
	idx := NewHostIndex()
	idx.Add("a", "web", IngressClaims(objs[0]))
	inv := &Inventory{Hosts: idx}
	if vs := IngressHostCollision.Review(objs[1], inv); len(vs) != 1 {
		t.Fatalf("b/web against a/web: %+v", vs)
	}
	idx.Set("a", "web", []Claim{{Host: "other.example.com", Pointer: "/spec/rules/0/host"}})
	if vs := IngressHostCollision.Review(objs[1], inv); len(vs) != 0 {
		t.Errorf("after a/web moved to another host: %+v", vs)
	}
	idx.Delete("a", "web")
	if idx.Len() != 0 {
		t.Errorf("index holds %d Ingresses after delete", idx.Len())
	}
	if vs := IngressHostCollision.Review(objs[0], nil); len(vs) != 0 {
		t.Errorf("no inventory: %+v", vs)
	}
}

// An Ingress added from elsewhere (the cluster, by an inventory file) is
// named with where it is, in both kinds of collision; deleting it forgets
// that.
func TestHostIndexOrigin(t *testing.T) {
	objs := parse(t,
		ingress("b", "web", "["+rule("shop.example.com", "/")+"]", ""),
		ingress("a", "api", "["+rule("shop.example.com", "/")+"]", ""),
	)
	idx := NewHostIndex()
	const origin = "in the cluster (inventory file inventory.json)"
	idx.AddFrom(origin, "a", "web", []Claim{{Host: "shop.example.com", Path: "/", Pointer: "/spec/rules/0/http/paths/0/path"}})
	inv := &Inventory{Hosts: idx}
	for i, want := range []string{
		`host "shop.example.com" is also claimed in another namespace by Ingress a/web ` + origin,
		`host "shop.example.com" path "/" is also served by Ingress a/web ` + origin + ` in the same namespace`,
	} {
		vs := IngressHostCollision.Review(objs[i], inv)
		if len(vs) != 1 || vs[0].Message != want {
			t.Errorf("%s: %+v, want %q", objs[i].Ref(), vs, want)
		}
	}
	idx.Delete("a", "web")
	idx.Add("a", "web", []Claim{{Host: "shop.example.com", Pointer: "/spec/rules/0/host"}})
	if vs := IngressHostCollision.Review(objs[0], inv); len(vs) != 1 || strings.Contains(vs[0].Message, origin) {
		t.Errorf("after delete and add: %+v", vs)
	}
}

// A wildcard Ingress collides with every host under it, however many
// share the parent domain (the index's sets change form past a few), and
// no longer with those deleted.
func TestHostIndexManyUnderOneParent(t *testing.T) {
	for _, n := range []int{1, 3, 20} {
		idx := NewHostIndex()
		for i := range n {
			idx.Add("team", fmt.Sprint("app-", i), []Claim{{Host: fmt.Sprintf("app-%d.example.com", i), Pointer: "/spec/rules/0/host"}})
			idx.Add("team", fmt.Sprint("app-", i), []Claim{{Host: fmt.Sprintf("app-%d.example.com", i), Pointer: "/spec/tls/0/hosts/0"}})
		}
		wild := parse(t, ingress("other", "wild", "["+rule("*.example.com", "/")+"]", ""))[0]
		if vs := IngressHostCollision.Review(wild, &Inventory{Hosts: idx}); len(vs) != 1 || !strings.Contains(vs[0].Message, "Ingress team/app-0 ") {
			t.Errorf("%d hosts under example.com: %+v", n, vs)
		}
		self := IngressID{"other", "wild"}
		if got, _ := idx.overlapping(self, "*.example.com"); len(got) != n {
			t.Errorf("%d hosts under example.com: %d overlap", n, len(got))
		}
		for i := 0; i < n; i += 2 {
			idx.Delete("team", fmt.Sprint("app-", i))
		}
		if got, _ := idx.overlapping(self, "*.example.com"); len(got) != n/2 {
			t.Errorf("%d hosts, every other deleted: %d overlap, want %d", n, len(got), n/2)
		}
		for i := 1; i < n; i += 2 {
			idx.Delete("team", fmt.Sprint("app-", i))
		}
		if len(idx.byHost) != 0 || len(idx.byParent) != 0 || idx.Len() != 0 {
			t.Errorf("%d hosts, all deleted: byHost %v, byParent %v", n, idx.byHost, idx.byParent)
		}
	}
}

func TestHostsOverlap(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"a.example.com", "a.example.com", true},
		{"*.example.com", "a.example.com", true},
		{"a.example.com", "*.example.com", true},
		{"*.example.com", "*.example.com", true},
		{"*.example.com", "example.com", false},
		{"*.example.com", "a.b.example.com", false},
		{"*.a.example.com", "*.example.com", false},
		{"a.example.com", "b.example.com", false},
	} {
		if got := hostsOverlap(tc.a, tc.b); got != tc.want {
			t.Errorf("hostsOverlap(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
