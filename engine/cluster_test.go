package engine

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// inventoryBundle syncs ConfigMaps and holds a referential template: a
// ConfigMap's data.owner is no other ConfigMap's.
const inventoryBundle = "../testdata/bundles/inventory"

func TestClusterInventory(t *testing.T) {
	builtin, err := bundle.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	team, err := bundle.LoadPath(inventoryBundle)
	if err != nil {
		t.Fatal(err)
	}
	b := bundle.Merge(builtin, team)

	ingress := func(ns, name, host string) map[string]any {
		return map[string]any{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     map[string]any{"rules": []any{map[string]any{"host": host}}}}
	}
	configMap := func(ns, name, owner string) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": map[string]any{"owner": owner}}
	}
	const origin = "in the cluster (inventory file test.json)"
	cases := []struct {
		name               string
		run                []map[string]any
		ingresses, objects []map[string]any
		want               []string // "check: message fragment" of the findings
	}{
		{
			name:      "a host and an owner the cluster has",
			run:       []map[string]any{ingress("a", "web", "shop.example.com"), configMap("a", "x", "alice")},
			ingresses: []map[string]any{ingress("b", "web", "shop.example.com")},
			objects:   []map[string]any{configMap("b", "y", "alice")},
			want: []string{
				`ingress-host-collision: host "shop.example.com" is also claimed in another namespace by Ingress b/web ` + origin,
				"K8sUniqueOwner/unique-owner: owner alice is also ConfigMap b/y's",
			},
		},
		{
			name: "the run moves the cluster's copies away",
			run: []map[string]any{
				ingress("a", "web", "shop.example.com"), ingress("b", "web", "new.example.com"),
				configMap("a", "x", "alice"), configMap("b", "y", "bob"),
			},
			ingresses: []map[string]any{ingress("b", "web", "shop.example.com")},
			objects:   []map[string]any{configMap("b", "y", "alice")},
		},
		{
			name:      "an Ingress of the run without a namespace replaces default's",
			run:       []map[string]any{ingress("", "web", "new.example.com"), ingress("a", "web", "shop.example.com")},
			ingresses: []map[string]any{ingress("default", "web", "shop.example.com")},
		},
		{
			name: "without a cluster inventory",
			run:  []map[string]any{ingress("a", "web", "shop.example.com"), configMap("a", "x", "alice")},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []Option
			if c.ingresses != nil || c.objects != nil {
				opts = append(opts, ClusterInventory(origin, c.ingresses, c.objects))
			}
			e, err := New(b, opts...)
			if err != nil {
				t.Fatal(err)
			}
			set := &manifest.Set{Files: 1}
			for i, m := range c.run {
				o := manifest.New(m)
				o.Source = manifest.Source{File: "in.yaml", Line: i + 1}
				set.Objects = append(set.Objects, o)
			}
			res, err := e.Check(context.Background(), set)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range res.Findings() {
				if f.Check == "ingress-host-collision" || strings.HasPrefix(f.Check, "K8sUniqueOwner/") {
					got = append(got, f.Check+": "+f.Message)
				}
			}
			for _, w := range c.want {
				if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w) }) {
					t.Errorf("no finding %q in %q", w, got)
				}
			}
			if len(got) != len(c.want) {
				t.Errorf("findings %q, want %q", got, c.want)
			}
		})
	}
}
