package main

import (
	"bytes"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/schema/crdcatalog"
)

// TestEmbeddedCatalogIsGenerated runs the generator against the pinned
// modules and fails when the embedded catalog differs from what it makes.
// It needs the Go module proxy (go mod download); without it the test
// fails, saying so, rather than passing on data nothing checked.
func TestEmbeddedCatalogIsGenerated(t *testing.T) {
	cat, err := generate(sources)
	if err != nil {
		t.Fatalf("generating the CRD catalog from the pinned modules failed (it needs the Go module proxy): %v", err)
	}
	want, err := crdcatalog.Encode(cat)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../schema/crdcatalog/" + crdcatalog.File)
	if err != nil {
		t.Fatal(err)
	}
	// The JSON is compared: the same catalog gzip'd by another Go release
	// may differ in bytes.
	got, err := crdcatalog.Unzip(raw)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, err := crdcatalog.Unzip(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, wantJSON) {
		t.Errorf("schema/crdcatalog/%s differs from what hack/crdgen makes of the pinned modules (%d bytes of JSON, want %d): run make schemas", crdcatalog.File, len(got), len(wantJSON))
	}
}

func TestGenerateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		src  source
	}{
		{"a pattern matching no file", source{Project: "x", Module: sources[0].Module, Version: sources[0].Version, Files: []string{"no/such/*.yaml"}}},
		{"no CRD of the groups", source{Project: "x", Module: sources[0].Module, Version: sources[0].Version, Files: sources[0].Files, Groups: []string{"example.com"}}},
	} {
		if _, err := generate([]source{tc.src}); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestStrip(t *testing.T) {
	in := map[string]any{
		"description": "drop", "type": "object", "x-kubernetes-validations": []any{map[string]any{"rule": "self.a > 0"}},
		"properties": map[string]any{
			"description": map[string]any{"type": "string", "description": "a field named description"},
			"items":       map[string]any{"type": "array", "items": map[string]any{"type": "integer", "example": 3}},
		},
		"anyOf": []any{map[string]any{"required": []any{"a"}, "title": "drop"}},
	}
	got := strip(in)
	want := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"description": map[string]any{"type": "string"},
			"items":       map[string]any{"type": "array", "items": map[string]any{"type": "integer"}},
		},
		"anyOf": []any{map[string]any{"required": []any{"a"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("strip: got %v, want %v", got, want)
	}
}

func TestCRDsOf(t *testing.T) {
	crds, err := crdsOf([]byte(`apiVersion: v1
kind: Namespace
metadata: {name: x}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  names: {kind: Widget}
  scope: Namespaced
  versions:
    - {name: v1, served: true, schema: {openAPIV3Schema: {type: object, description: a widget}}}
    - {name: v1beta1, served: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []crd{{group: "example.com", kind: "Widget", scope: "Namespaced", versions: []crdVersion{
		{name: "v1", served: true, schema: map[string]any{"type": "object"}},
		{name: "v1beta1"},
	}}}
	if !reflect.DeepEqual(crds, want) {
		t.Errorf("got %+v, want %+v", crds, want)
	}
	for _, bad := range []string{
		"apiVersion: apiextensions.k8s.io/v1beta1\nkind: CustomResourceDefinition\nspec: {group: example.com, names: {kind: Widget}}\n",
		"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: {group: example.com, names: {kind: Widget}, versions: [{name: v1, served: true}]}\n",
		"apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nspec: {group: example.com, names: {kind: Widget}, preserveUnknownFields: true}\n",
	} {
		if _, err := crdsOf([]byte(bad)); err == nil || !strings.Contains(err.Error(), "Widget") && !strings.Contains(err.Error(), "v1beta1") {
			t.Errorf("%s: err %v", bad, err)
		}
	}
}

// TestChartCRDsAreGenerated fails when the chart's PolicyReport CRDs differ
// from the pinned modules' (or when one is missing or left over).
func TestChartCRDsAreGenerated(t *testing.T) {
	want, err := chartCRDFiles(chartCRDs)
	if err != nil {
		t.Fatalf("reading the chart's CRDs from the pinned modules failed (it needs the Go module proxy): %v", err)
	}
	dir := "../../" + chartCRDDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Name()] = true
		got, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		if w, ok := want[e.Name()]; !ok {
			t.Errorf("%s/%s comes from no pinned module: run make schemas", chartCRDDir, e.Name())
		} else if !bytes.Equal(got, w) {
			t.Errorf("%s/%s differs from the pinned module's: run make schemas", chartCRDDir, e.Name())
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s/%s is missing: run make schemas", chartCRDDir, name)
		}
	}
}
