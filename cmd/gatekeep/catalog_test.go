package main

import (
	"strings"
	"testing"
)

const gadgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`

// TestSchemaMissingAction: a kind with no schema is schema-missing, a warning
// that gatekeep.yaml turns off or to deny; its CRD in --schema-dir ends it.
func TestSchemaMissingAction(t *testing.T) {
	dir := tree(t, map[string]string{
		"apps/gadget.yaml":        "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: shop}\nspec: {parts: 3}\n",
		"crds/gadget.yaml":        gadgetCRD,
		"off/gatekeep.yaml":       "checks: {schema-missing: off}\n",
		"deny/gatekeep.yaml":      "checks: {schema-missing: deny}\n",
		"typo/gatekeep.yaml":      "checks: {schema-mising: off}\n",
		"schemaoff/gatekeep.yaml": "checks: {schema: off}\n",
	})
	const missing = "apps/gadget.yaml:1 : no schema for example.com/v1 Gadget: add its CustomResourceDefinition to the inputs, or give --schema-dir a directory holding it or gadget-example-v1.json"
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"default", nil, exitPass, []string{"schema-missing warn " + missing}},
		{"off", []string{"--bundle", "off"}, exitPass, nil},
		{"deny", []string{"--bundle", "deny"}, exitDenied, []string{"schema-missing deny " + missing}},
		{"schema off leaves it", []string{"--bundle", "schemaoff"}, exitPass, []string{"schema-missing warn " + missing}},
		{"its CRD in --schema-dir", []string{"--schema-dir", "crds"}, exitPass, nil},
		{"--skip", []string{"--skip", "schema-missing"}, exitPass, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, code := findings(t, dir, append(tc.args, "apps")...)
			if code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			expect(t, got, tc.want...)
		})
	}
	_, code, msg := run(t, dir, "", "check", "--bundle", "typo", "apps")
	if code != exitUnusable || !strings.Contains(msg, `unknown check "schema-mising"`) || !strings.Contains(msg, "schema-missing") {
		t.Errorf("a misspelt check ID: exit %d, %q; want exit 2 naming the known schema-missing", code, msg)
	}
}

// TestCatalogInCheck: catalog kinds are validated at their lines with no
// CRD at hand, and a CRD among the inputs overrides the catalog's. Only the
// schema check runs: the Application's source is another repository, which
// the render check would warn about.
func TestCatalogInCheck(t *testing.T) {
	dir := tree(t, map[string]string{
		"apps/app.yaml": `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source:
    repoURL: https://git.example.com/infra.git
    path: web
    recurse: true
  destination: {server: https://kubernetes.default.svc, namespace: web}
  syncPolicy:
    automated: {prune: "yes"}
`,
		"crds/application.yaml": `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: applications.argoproj.io}
spec:
  group: argoproj.io
  names: {kind: Application, plural: applications}
  scope: Namespaced
  versions:
    - {name: v1alpha1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
`,
	})
	got, code := findings(t, dir, "--only", "schema", "--strict", "apps")
	if code != exitDenied {
		t.Errorf("exit %d, want 1", code)
	}
	expect(t, got,
		`schema deny apps/app.yaml:9 /spec/source/recurse: /spec/source/recurse: unknown field "recurse"`,
		`schema deny apps/app.yaml:12 /spec/syncPolicy/automated/prune: /spec/syncPolicy/automated/prune: got string "yes", want boolean`,
	)
	got, code = findings(t, dir, "--only", "schema", "--strict", "apps", "crds")
	if code != exitPass {
		t.Errorf("with the CRD among the inputs: exit %d, want 0", code)
	}
	expect(t, got)
}
