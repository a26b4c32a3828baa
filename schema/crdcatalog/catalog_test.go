package crdcatalog_test

import (
	"os"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/schema/crdcatalog"
)

// TestREADMETable: the README's catalog table is the embedded catalog's
// (make schemas rewrites both).
func TestREADMETable(t *testing.T) {
	cat, err := crdcatalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	got, err := crdcatalog.READMETable(string(raw))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if want := cat.Table(); got != want {
		t.Errorf("README.md's catalog table differs from the embedded catalog's (make schemas rewrites it):\n--- README\n%s\n--- catalog\n%s", got, want)
	}
}

// TestCatalog: the embedded catalog decodes, and holds at least the
// projects and kinds gatekeep promises.
func TestCatalog(t *testing.T) {
	cat, err := crdcatalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, crd := range cat.CRDs {
		for _, av := range crd.Served() {
			served[av+" "+crd.Kind] = true
		}
	}
	for _, k := range []string{
		"argoproj.io/v1alpha1 Application", "argoproj.io/v1alpha1 ApplicationSet", "argoproj.io/v1alpha1 AppProject",
		"bitnami.com/v1alpha1 SealedSecret",
		"cert-manager.io/v1 Certificate", "cert-manager.io/v1 ClusterIssuer",
		"source.toolkit.fluxcd.io/v1 GitRepository", "kustomize.toolkit.fluxcd.io/v1 Kustomization",
		"helm.toolkit.fluxcd.io/v2 HelmRelease", "notification.toolkit.fluxcd.io/v1beta3 Alert",
		"image.toolkit.fluxcd.io/v1 ImagePolicy",
		"gateway.networking.k8s.io/v1 HTTPRoute", "gateway.networking.k8s.io/v1alpha2 TCPRoute",
		"monitoring.coreos.com/v1 ServiceMonitor", "monitoring.coreos.com/v1 PrometheusRule",
		"networking.istio.io/v1 VirtualService", "security.istio.io/v1 AuthorizationPolicy",
		"external-secrets.io/v1 ExternalSecret", "keda.sh/v1alpha1 ScaledObject",
		"projectcontour.io/v1 HTTPProxy", "templates.gatekeeper.sh/v1 ConstraintTemplate",
	} {
		if !served[k] {
			t.Errorf("the catalog does not serve %s", k)
		}
	}
	for _, s := range cat.Sources {
		if s.Project == "" || s.Module == "" || !strings.HasPrefix(s.Version, "v") || len(s.Files) == 0 || s.Release == "" {
			t.Errorf("source %+v: incomplete", s)
		}
	}
}

func TestEncodeDecode(t *testing.T) {
	cat, err := crdcatalog.Load()
	if err != nil {
		t.Fatal(err)
	}
	gz, err := crdcatalog.Encode(cat)
	if err != nil {
		t.Fatal(err)
	}
	again, err := crdcatalog.Decode(gz)
	if err != nil {
		t.Fatal(err)
	}
	if again.Table() != cat.Table() || len(again.Schemas) != len(cat.Schemas) {
		t.Error("the catalog changed through Encode and Decode")
	}
	if _, err := crdcatalog.Decode([]byte("not gzip")); err == nil {
		t.Error("Decode of garbage: no error")
	}
}
