package schema_test

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/schema"
	"github.com/gatekeep-dev/gatekeep/schema/crdcatalog"
)

// catalogFindings validates, under --strict, every object of a fixture in
// testdata/catalog with the embedded catalog, and gives its problems as
// "Kind name: /pointer: message" (a kind with no schema: "Kind name: no
// schema").
func catalogFindings(t *testing.T, v *schema.Validator, file string) (objs []testObject, findings []string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "catalog", file))
	if err != nil {
		t.Fatal(err)
	}
	objs = parseManifests(t, raw)
	for _, o := range objs {
		name := fmt.Sprintf("%v %v", o.Data["kind"], o.Data["metadata"].(map[string]any)["name"])
		r := v.ValidateWithDuplicates(o.Data, o.Duplicates)
		if r.NoSchema {
			findings = append(findings, name+": no schema")
		}
		for _, p := range problemStrings(r) {
			findings = append(findings, name+": "+p)
		}
	}
	return objs, findings
}

// TestCatalogProjects validates a valid and an invalid custom resource of
// every project of the CRD catalog: unknown fields (--strict), wrong types,
// missing required fields and versions the project no longer serves.
func TestCatalogProjects(t *testing.T) {
	cases := []struct {
		file string
		want []string
	}{
		{"argocd.yaml", nil},
		{"argocd-invalid.yaml", []string{
			`Application guestbook: /spec/source/recurse: unknown field "recurse"`,
			`Application guestbook: /spec/syncPolicy/automated/prune: got string "yes", want boolean`,
			`AppProject platform: /spec/sourceRepos: got string "https://git.example.com/*", want array`,
		}},
		{"rollouts.yaml", nil},
		{"rollouts-invalid.yaml", []string{
			`Rollout web: /spec/replicas: got string "three", want integer`,
			`Rollout web: /spec/strategy/canary/steps/0/pauze: unknown field "pauze" (did you mean "pause"?)`,
		}},
		{"sealedsecrets.yaml", nil},
		{"sealedsecrets-invalid.yaml", []string{
			`SealedSecret db: /spec/encryptedData: got string (value not shown), want object`,
			`SealedSecret db: /spec/encrypteddata: unknown field "encrypteddata" (did you mean "encryptedData"?)`,
		}},
		{"certmanager.yaml", nil},
		{"certmanager-invalid.yaml", []string{
			`Certificate shop: /spec/dnsName: unknown field "dnsName" (did you mean "dnsNames"?)`,
			`Certificate shop: /spec/issuerRef: missing required field "name"`,
			`Certificate shop: /spec/privateKey/size: got string "256", want integer`,
		}},
		{"flux.yaml", nil},
		{"flux-invalid.yaml", []string{
			`Kustomization apps: /spec/healthcheck: unknown field "healthcheck" (did you mean "healthChecks"?)`,
			`Kustomization apps: /spec/prune: got string "true", want boolean`,
			`HelmRelease podinfo: /spec/chart/spec: missing required field "chart"`,
			`HelmRelease podinfo: /spec/chart/spec/version: got number 6, want string`,
			`HelmRelease old: /apiVersion: helm.toolkit.fluxcd.io/v2beta1 HelmRelease is not served by its CRD in gatekeep's catalog (Flux v2.9.5): use helm.toolkit.fluxcd.io/v2, or give your cluster's CRD among the inputs or in --schema-dir`,
		}},
		{"gatewayapi.yaml", nil},
		{"gatewayapi-invalid.yaml", []string{
			`HTTPRoute shop: /spec/hostnames: got string "shop.example.com", want array`,
			`HTTPRoute shop: /spec/rules/0/backendRefs/0/port: got string "8080", want integer`,
			`HTTPRoute shop: /spec/rules/0/backendRefs/0/weigth: unknown field "weigth" (did you mean "weight"?)`,
		}},
		{"prometheus.yaml", nil},
		{"prometheus-invalid.yaml", []string{
			`ServiceMonitor web: /spec/endpoints: got object, want array`,
			`ServiceMonitor web: /spec/jobLabel: got number 7, want string`,
			`ServiceMonitor web: /spec/scrapeInterval: unknown field "scrapeInterval"`,
		}},
		{"istio.yaml", nil},
		{"istio-invalid.yaml", []string{
			`VirtualService reviews: /spec/hosts: got string "reviews", want array`,
			`VirtualService reviews: /spec/http/0/route/0/weight: got string "100", want integer`,
			`PeerAuthentication default: /spec/mtls/enabled: unknown field "enabled"`,
		}},
		{"externalsecrets.yaml", nil},
		{"externalsecrets-invalid.yaml", []string{
			`ExternalSecret db: /spec/data: got object, want array`,
			`ExternalSecret db: /spec/dataFrom/0/extract/versionn: unknown field "versionn" (did you mean "version"?)`,
			`ExternalSecret old: /apiVersion: external-secrets.io/v1beta1 ExternalSecret is not served by its CRD in gatekeep's catalog (External Secrets v1.3.2): use external-secrets.io/v1, or give your cluster's CRD among the inputs or in --schema-dir`,
		}},
		{"keda.yaml", nil},
		{"keda-invalid.yaml", []string{
			`ScaledObject worker: /spec/maxReplicas: unknown field "maxReplicas"`,
			`ScaledObject worker: /spec/minReplicaCount: got string "1", want integer`,
			`ScaledObject worker: /spec/triggers/0/metadata/value: got number 20, want string`,
		}},
		{"contour.yaml", nil},
		{"contour-invalid.yaml", []string{
			`HTTPProxy shop: /spec/routes/0/retryPolicy/perTryTimout: unknown field "perTryTimout" (did you mean "perTryTimeout"?)`,
			`HTTPProxy shop: /spec/routes/0/services/0/port: got string "8080", want integer`,
		}},
		{"gatekeeper.yaml", nil},
		{"gatekeeper-invalid.yaml", []string{
			`ConstraintTemplate k8srequiredlabels: /spec/crd/spec/names/shortName: unknown field "shortName" (did you mean "shortNames"?)`,
			`ConstraintTemplate k8srequiredlabels: /spec/targets: got object, want array`,
		}},
	}
	cat, err := crdcatalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(t, "1.35", schema.Strict(true))
	covered := map[int]bool{} // catalog sources with a valid fixture
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			objs, got := catalogFindings(t, v, tc.file)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("findings:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
			if strings.HasSuffix(tc.file, "-invalid.yaml") {
				return
			}
			for _, o := range objs {
				if src, ok := sourceOf(cat, o.Data); ok {
					covered[src] = true
				}
			}
		})
	}
	for i, src := range cat.Sources {
		if !covered[i] {
			t.Errorf("no valid fixture in testdata/catalog is of a kind from %s (%s %s)", src.Project, src.Module, src.Version)
		}
	}
}

// sourceOf finds the catalog source of an object's apiVersion and kind.
func sourceOf(cat *crdcatalog.Catalog, obj map[string]any) (int, bool) {
	av, _ := obj["apiVersion"].(string)
	group, version, _ := strings.Cut(av, "/")
	for _, crd := range cat.CRDs {
		if crd.Group != group || crd.Kind != obj["kind"] {
			continue
		}
		if i := slices.IndexFunc(crd.Versions, func(v crdcatalog.Version) bool { return v.Name == version && v.Served }); i >= 0 {
			return crd.Versions[i].Source, true
		}
	}
	return 0, false
}

// applicationCRD is a user's own CRD of Argo CD's Application, looser than
// the catalog's: spec holds any field.
func applicationCRD(version string) string {
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: applications.argoproj.io}
spec:
  group: argoproj.io
  names: {kind: Application, plural: applications}
  scope: Namespaced
  versions:
    - name: ` + version + `
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
`
}

// TestCatalogOverridden: a CRD among the inputs or in a schema directory
// for a catalog kind replaces the catalog's, whatever versions it has; the
// catalog can be left out.
func TestCatalogOverridden(t *testing.T) {
	app := one(t, `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  project: default
  source: {repoURL: https://git.example.com/infra.git, path: web, recurse: true}
  destination: {server: https://kubernetes.default.svc}
`).Data
	fromCatalog := []string{`/spec/source/recurse: unknown field "recurse"`}
	if got := problemStrings(newValidator(t, "1.35", schema.Strict(true)).Validate(app)); !reflect.DeepEqual(got, fromCatalog) {
		t.Fatalf("with the catalog: %q, want %q", got, fromCatalog)
	}

	input := one(t, applicationCRD("v1alpha1")).Data
	if r := newValidator(t, "1.35", schema.Strict(true), schema.WithCRDs(input)).Validate(app); len(r.Problems) != 0 || r.NoSchema {
		t.Errorf("a CRD among the inputs: %+v, want the object valid", r)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "application.yaml"), []byte(applicationCRD("v1alpha1")), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := newValidator(t, "1.35", schema.Strict(true), schema.WithSchemaDir(dir)).Validate(app); len(r.Problems) != 0 || r.NoSchema {
		t.Errorf("a CRD in a schema directory: %+v, want the object valid", r)
	}
	// The inputs' CRD of another version still overrides: the catalog's
	// schema of v1alpha1 is not used.
	other := one(t, applicationCRD("v1beta1")).Data
	if r := newValidator(t, "1.35", schema.Strict(true), schema.WithCRDs(other)).Validate(app); reflect.DeepEqual(problemStrings(r), fromCatalog) {
		t.Errorf("a CRD among the inputs of another version: the catalog's schema was used: %+v", r)
	}

	r := newValidator(t, "1.35", schema.Strict(true), schema.Catalog(false)).Validate(app)
	if !r.NoSchema || len(r.Problems) != 0 {
		t.Errorf("catalog off: %+v, want no schema", r)
	}
	if msg, missing := newValidator(t, "1.35", schema.Catalog(false)).SchemaMissing(app); !missing || msg != r.Message {
		t.Errorf("catalog off: SchemaMissing = %q, %v, want %q", msg, missing, r.Message)
	}
	if msg, missing := newValidator(t, "1.35").SchemaMissing(app); missing {
		t.Errorf("catalog on: SchemaMissing = %q", msg)
	}
}

// TestCatalogDecodes: every schema of the embedded catalog compiles, and
// every served version of every kind validates an empty object of it.
func TestCatalogDecodes(t *testing.T) {
	cat, err := crdcatalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	v := newValidator(t, "1.35")
	for _, crd := range cat.CRDs {
		for _, ver := range crd.Versions {
			if !ver.Served {
				continue
			}
			obj := map[string]any{"apiVersion": crd.APIVersion(ver), "kind": crd.Kind, "metadata": map[string]any{"name": "x"}}
			if r := v.Validate(obj); r.NoSchema || r.Unserved {
				t.Errorf("%s %s: %+v", crd.APIVersion(ver), crd.Kind, r)
			}
		}
	}
}
