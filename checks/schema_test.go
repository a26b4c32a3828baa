package checks

import (
	"reflect"
	"slices"
	"testing"
)

// reviewAll runs every built-in check of cfg over objs (the CI inventory
// of them) and gives "check /path: message" per violation.
func reviewAll(t *testing.T, cfg Config, ids []string, docs ...string) []string {
	t.Helper()
	all, err := Builtin(cfg)
	if err != nil {
		t.Fatal(err)
	}
	objs := parse(t, docs...)
	inv := InventoryOf(objs)
	var out []string
	for _, c := range all {
		if !slices.Contains(ids, c.ID) {
			continue
		}
		for _, o := range objs {
			for _, v := range c.Review(o, inv) {
				s := c.ID + " " + v.Path + ": " + v.Message
				if v.Warning {
					s += " (warning)"
				}
				out = append(out, s)
			}
		}
	}
	return out
}

// TestSchemaMissing: a kind with no schema anywhere is schema-missing's,
// not schema's; a catalog kind is schema's alone; in the cluster
// schema-missing says nothing and the catalog is not used.
func TestSchemaMissing(t *testing.T) {
	gadget := "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: a}\n"
	app := "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: web, namespace: argocd}\nspec: {project: 7}\n"
	gadgetCRD := `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
`
	ids := []string{SchemaCheck, SchemaMissingCheck}
	for _, tc := range []struct {
		name string
		cfg  Config
		docs []string
		want []string
	}{
		{"no schema", Config{}, []string{gadget}, []string{
			"schema-missing : no schema for example.com/v1 Gadget: add its CustomResourceDefinition to the inputs, or give --schema-dir a directory holding it or gadget-example-v1.json",
		}},
		{"its CRD among the inputs", Config{}, []string{gadget, gadgetCRD}, nil},
		{"a catalog kind", Config{}, []string{app}, []string{
			"schema /spec: /spec: missing required field \"destination\"",
			"schema /spec/project: /spec/project: got number 7, want string",
		}},
		{"admission", Config{Admission: true}, []string{gadget, app}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := reviewAll(t, tc.cfg, ids, tc.docs...); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
