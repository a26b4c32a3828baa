package main

import (
	"sort"
	"strings"
	"testing"
)

// findings runs gatekeep check -o json and lists "check action file:line path: message".
func findings(t *testing.T, dir string, args ...string) ([]string, int) {
	t.Helper()
	out, code, msg := run(t, dir, "", append([]string{"check", "-o", "json"}, args...)...)
	if code == exitUnusable {
		t.Fatalf("exit 2: %s\n%s", msg, out)
	}
	var got []string
	for _, f := range decode(t, out).Findings {
		got = append(got, f.Check+" "+f.Action+" "+f.File+":"+itoa(f.Line)+" "+f.Path+": "+f.Message)
	}
	sort.Strings(got)
	return got, code
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	sort.Strings(want)
	if len(got) != len(want) {
		t.Errorf("got %d findings, want %d:\n%s", len(got), len(want), strings.Join(got, "\n"))
		return
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
}

const widgetCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              properties:
                size: {type: integer, minimum: 1}
                colour: {type: string, enum: [red, blue]}
`

func TestSchemaCheck(t *testing.T) {
	dir := tree(t, map[string]string{
		"apps/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: two
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx
          ports:
            - containerPort: 8080
              protocol: TCP
          resources:
            limits: {cpu: 1, memory: 128Mi}
`,
		"apps/strict.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
  namespace: shop
data:
  a: b
dataa:
  c: d
`,
		"crds/widget.yaml": widgetCRD,
		"apps/widgets.yaml": `apiVersion: example.com/v1
kind: Widget
metadata: {name: ok, namespace: shop}
spec: {size: 3, colour: red}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: bad, namespace: shop}
spec:
  colour: green
`,
		"apps/gadget.yaml":                   "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g, namespace: shop}\nspec: {parts: 3}\n",
		"schemas/gadget-example.com-v1.json": `{"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object", "properties": {"parts": {"type": "string"}}}}}`,
	})
	got, code := findings(t, dir, "apps", "crds")
	if code != exitDenied {
		t.Errorf("exit %d, want 1", code)
	}
	expect(t, got,
		`schema deny apps/deploy.yaml:7 /spec/replicas: /spec/replicas: got string "two", want integer`,
		`schema deny apps/widgets.yaml:9 /spec: /spec: missing required field "size"`,
		`schema deny apps/widgets.yaml:10 /spec/colour: /spec/colour: `,
		`schema-missing warn apps/gadget.yaml:1 : no schema for example.com/v1 Gadget: add its CustomResourceDefinition to the inputs, or give --schema-dir a directory holding it or gadget-example-v1.json`,
	)

	// --strict: unknown fields and duplicate keys, at their lines.
	got, _ = findings(t, dir, "--strict", "--schema-dir", "schemas", "apps/strict.yaml", "apps/gadget.yaml")
	expect(t, got,
		`schema deny apps/gadget.yaml:4 /spec/parts: /spec/parts: got number 3, want string`,
		`schema deny apps/strict.yaml:6 /metadata/namespace: /metadata/namespace: duplicate field "namespace"`,
		`schema deny apps/strict.yaml:9 /dataa: /dataa: unknown field "dataa"`,
	)
	// Without --strict the same object passes; strict: true in a bundle is --strict.
	got, _ = findings(t, dir, "apps/strict.yaml")
	expect(t, got)
	writeFile(t, dir, "strict/gatekeep.yaml", "strict: true\n")
	got, _ = findings(t, dir, "--bundle", "strict", "apps/strict.yaml")
	if len(got) != 2 {
		t.Errorf("strict: true in gatekeep.yaml: %v", got)
	}
}

func TestDeprecatedAPI(t *testing.T) {
	dir := tree(t, map[string]string{
		"pdb.yaml":     "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata: {name: p, namespace: a}\nspec: {minAvailable: 1}\n",
		"ingress.yaml": "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: i, namespace: a}\nspec: {rules: [{host: a.example.com}]}\n",
		"cert.yaml":    "apiVersion: cert-manager.io/v1alpha2\nkind: Certificate\nmetadata: {name: c, namespace: a}\nspec: {secretName: s}\n",
		"certmanager/gatekeep.yaml": `deprecations:
  - {group: cert-manager.io, version: v1alpha2, kind: Certificate, deprecatedIn: "1.30", removedIn: "1.36", replacement: cert-manager.io/v1, replacementAvailableIn: "1.16"}
checks:
  schema: off
`,
	})
	for _, tc := range []struct {
		version string
		want    []string
	}{
		// policy/v1beta1 PodDisruptionBudget: deprecated in 1.21, removed in 1.25.
		{"1.20", nil},
		{"1.21", []string{"deprecated-api warn pdb.yaml:1 /apiVersion: policy/v1beta1 PodDisruptionBudget"}},
		{"1.24.3", []string{"deprecated-api warn pdb.yaml:1 /apiVersion: policy/v1beta1 PodDisruptionBudget"}},
		{"1.25", []string{"deprecated-api deny pdb.yaml:1 /apiVersion: policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25: use policy/v1"}},
	} {
		got, _ := findings(t, dir, "--kubernetes-version", tc.version, "--only", "deprecated-api", "pdb.yaml")
		expect(t, got, tc.want...)
		if tc.version == "1.21" && len(got) == 1 && !strings.Contains(got[0], "1.25") {
			t.Errorf("a deprecation must name the release that removes it: %s", got[0])
		}
	}
	// A removed API is reported once, by deprecated-api, not again by schema.
	got, _ := findings(t, dir, "--kubernetes-version", "1.33", "ingress.yaml")
	expect(t, got, "deprecated-api deny ingress.yaml:1 /apiVersion: extensions/v1beta1 Ingress was removed in Kubernetes 1.22")
	// The bundle's own entries, for a CRD.
	got, _ = findings(t, dir, "--bundle", "certmanager", "--kubernetes-version", "1.31", "cert.yaml")
	expect(t, got, "deprecated-api warn cert.yaml:1 /apiVersion: cert-manager.io/v1alpha2 Certificate")
	got, _ = findings(t, dir, "--bundle", "certmanager", "--kubernetes-version", "1.36", "cert.yaml")
	expect(t, got, "deprecated-api deny cert.yaml:1 /apiVersion: cert-manager.io/v1alpha2 Certificate")
}

// sealedSecretCRD is enough of sealed-secrets' CRD for the schema check to
// validate SealedSecrets.
const sealedSecretCRD = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sealedsecrets.bitnami.com
spec:
  group: bitnami.com
  names: {kind: SealedSecret, plural: sealedsecrets, singular: sealedsecret, listKind: SealedSecretList}
  scope: Namespaced
  versions:
    - name: v1alpha1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                encryptedData:
                  type: object
                  additionalProperties: {type: string, format: byte}
                template:
                  type: object
                  properties:
                    data:
                      type: object
                      additionalProperties: {type: string, minLength: 1}
`

// Issue 17: a schema message about a value of a Secret's data or
// stringData, or of a SealedSecret's encryptedData or template data, names
// the value's type, never the value, in every report; elsewhere values are
// still quoted.
func TestSchemaMessagesHideSecretValues(t *testing.T) {
	for _, tc := range []struct {
		name, doc, secret, want string
	}{
		{"data not base64", "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ndata: {password: \"SECRETVALUE!!notbase64\"}\n",
			"SECRETVALUE!!notbase64", `schema deny in.yaml:4 /data/password: /data/password: got string (value not shown), want base64-encoded data`},
		{"stringData number", "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {pin: 1234567890123}\n",
			"1234567890123", `schema deny in.yaml:4 /stringData/pin: /stringData/pin: got number (value not shown), want string`},
		{"stringData boolean", "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {enabled: true}\n",
			"", `schema deny in.yaml:4 /stringData/enabled: /stringData/enabled: got boolean (value not shown), want string`},
		{"data object", "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\ndata:\n  token: {nested: SECRETNESTED42}\n",
			"SECRETNESTED42", `schema deny in.yaml:5 /data/token: /data/token: got object (value not shown), want string`},
		{"SealedSecret encryptedData", sealedSecretCRD + "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop}\nspec:\n  encryptedData: {password: \"SEALEDSECRET!!notbase64\"}\n",
			"SEALEDSECRET!!notbase64", `schema deny in.yaml:34 /spec/encryptedData/password: /spec/encryptedData/password: got string (value not shown), want base64-encoded data`},
		{"SealedSecret template data", sealedSecretCRD + "---\napiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata: {name: db, namespace: shop}\nspec:\n  template:\n    data: {pin: 98765432109876}\n",
			"98765432109876", `schema deny in.yaml:35 /spec/template/data/pin: /spec/template/data/pin: got number (value not shown), want string`},
		// Not secret: a ConfigMap's values are still quoted.
		{"ConfigMap", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\ndata: {port: 8080}\n",
			"", `schema deny in.yaml:4 /data/port: /data/port: got number 8080, want string`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := tree(t, map[string]string{"in.yaml": tc.doc})
			got, _ := findings(t, dir, "--only", "schema", "in.yaml")
			expect(t, got, tc.want)
			if len(got) == 1 && got[0] != tc.want {
				t.Errorf("message\n got %s\nwant %s", got[0], tc.want)
			}
			if tc.secret == "" {
				return
			}
			// Nowhere in the whole JSON report of every check.
			out, code, msg := run(t, dir, "", "check", "-o", "json", "in.yaml")
			if code != exitDenied {
				t.Errorf("exit %d %s", code, msg)
			}
			if strings.Contains(out, tc.secret) || strings.Contains(msg, tc.secret) {
				t.Errorf("the secret value is in the report:\n%s\n%s", out, msg)
			}
		})
	}
}
