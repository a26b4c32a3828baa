package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestDataIsCurrent regenerates the embedded schemas from the pinned
// releases and wants the very bytes schema/data holds: after changing the
// generator or a pin, run `make schemas`. The first run downloads the
// k8s.io/kubernetes modules through the module proxy (about 13 MB each).
func TestDataIsCurrent(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("..", "..", "schema", "data", DataFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := generateAll(Releases, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("schema/data/%s (%d bytes) is not what hack/schemagen generates (%d bytes): run make schemas", DataFile, len(want), len(got))
	}
}

// TestV2AndV3Agree: where a release has both documents, its OpenAPI v2
// document gives the same schemas as its v3 documents for every kind they
// share, so that releases with only v2 are read alike.
func TestV2AndV3Agree(t *testing.T) {
	// The first release with v3 documents, the last whose v3 documents
	// lack a group, and the newest.
	for _, rel := range []string{"v1.23.17", "v1.26.15", Releases[len(Releases)-1]} {
		dir, err := moduleDir("k8s.io/kubernetes", rel)
		if err != nil {
			t.Fatal(err)
		}
		v3, err := generate(rel, dir)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(v3.source, "OpenAPI v3") {
			t.Fatalf("%s: read from %s", rel, v3.source)
		}
		v2doc, err := readV2(filepath.Join(dir, "api", "openapi-spec", "swagger.json"))
		if err != nil {
			t.Fatal(err)
		}
		v2 := &release{name: rel + " v2", kinds: map[string]int{}}
		b := &builder{defs: v2doc.Definitions, byDef: map[string]int{}, byNode: map[string]int{}}
		names := make([]string, 0, len(v2doc.Definitions))
		for name := range v2doc.Definitions {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			for _, g := range gvks(v2doc.Definitions[name]) {
				if _, ok := v3.kinds[g.key()]; !ok {
					continue
				}
				idx, err := b.def(name)
				if err != nil {
					t.Fatal(err)
				}
				v2.kinds[g.key()] = idx
			}
		}
		v2.nodes = b.nodes
		f := merge([]*release{v3, v2})
		for k, n := range f.Releases[0].Kinds {
			if m, ok := f.Releases[1].Kinds[k]; !ok || m != n {
				t.Errorf("%s %s: v2 and v3 differ (in v2: %v)", rel, k, ok)
			}
		}
	}
}

func TestResourceOf(t *testing.T) {
	for _, tc := range []struct {
		path, gv, res string
		sub, ok       bool
	}{
		{"/apis/apps/v1/namespaces/{namespace}/deployments", "apps/v1", "deployments", false, true},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "apps/v1", "deployments", false, true},
		{"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "apps/v1", "deployments", true, true},
		{"/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}", "apps/v1", "deployments", false, true},
		{"/api/v1/namespaces/{name}", "v1", "namespaces", false, true},
		{"/api/v1/namespaces/{name}/finalize", "v1", "namespaces", true, true},
		{"/api/v1/nodes", "v1", "nodes", false, true},
		{"/apis/apps/v1/", "", "", false, false},
		{"/version/", "", "", false, false},
	} {
		gv, res, sub, ok := resourceOf(tc.path)
		if gv != tc.gv || res != tc.res || sub != tc.sub || ok != tc.ok {
			t.Errorf("%s: %q %q %v %v, want %q %q %v %v", tc.path, gv, res, sub, ok, tc.gv, tc.res, tc.sub, tc.ok)
		}
	}
}
