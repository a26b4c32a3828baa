package main

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
)

// adminCluster starts a control plane with the CRDs of crdPaths, stopped
// when the test ends, and returns a kubeconfig file of a cluster-admin and
// its REST config.
func adminCluster(t *testing.T, crdPaths ...string) (kubeconfig string, cfg *rest.Config) {
	t.Helper()
	env := &envtest.Environment{
		BinaryAssetsDirectory: controlplanetest.Assets(t),
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: crdPaths, ErrorIfPathMissing: len(crdPaths) > 0},
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	admin, err := env.AddUser(envtest.User{Name: "gatekeep", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig = filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, cfg
}

// auditCluster is a control plane with the chart's report CRDs and a CRD
// serving a deprecated version, and its clients.
func auditCluster(t *testing.T) (kubeconfig string, kube kubernetes.Interface, dyn dynamic.Interface) {
	t.Helper()
	kubeconfig, cfg := adminCluster(t, "testdata/audit/crds", "../../charts/gatekeep/files/crds")
	var err error
	if kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	return kubeconfig, kube, dyn
}

// resources are the kinds the audit tests create.
var resources = map[string]string{"Pod": "pods", "Ingress": "ingresses", "Widget": "widgets", "ConfigMap": "configmaps"}

// createAll creates the objects of a manifest file, with their namespaces.
func createAll(t *testing.T, kube kubernetes.Interface, dyn dynamic.Interface, file string) []*unstructured.Unstructured {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		ns := u.GetNamespace()
		if _, err := kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
			if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		gv, _ := schema.ParseGroupVersion(u.GetAPIVersion())
		got, err := dyn.Resource(gv.WithResource(resources[u.GetKind()])).Namespace(ns).Create(ctx, u, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("create %s %s/%s: %v", u.GetKind(), ns, u.GetName(), err)
		}
		out = append(out, got)
	}
	return out
}

// TestAudit: what a cluster held before gatekeep's bundle was loaded (a
// privileged Pod, two namespaces claiming one host, a Widget written at a
// version the bundle says is deprecated) is found by gatekeep audit, with the findings
// gatekeep check gives the same objects as manifests; its PolicyReports are
// written, replaced on the next run, and removed for a namespace once it
// is clean.
func TestAudit(t *testing.T) {
	kubeconfig, kube, dyn := auditCluster(t)
	created := createAll(t, kube, dyn, "testdata/audit/cluster.yaml")
	uids := map[string]string{}
	for _, u := range created {
		uids[u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName()] = string(u.GetUID())
	}

	out, code, msg := run(t, "", "", "audit", "--kubeconfig", kubeconfig, "--bundle", "testdata/audit/bundle", "-o", "json", "--policy-report-format", "wgpolicyk8s")
	if code != exitDenied {
		t.Fatalf("audit: exit %d, want 1: %s\n%s", code, msg, out)
	}
	audited := decode(t, out)
	if len(audited.Errors) > 0 {
		t.Errorf("audit errors: %+v", audited.Errors)
	}
	if n := audited.Summary["audited"]; n < len(created) || audited.Summary["objects"] != n {
		t.Errorf("summary %v: want audited = objects >= %d", audited.Summary, len(created))
	}
	var got []string
	for _, f := range audited.Findings {
		key := f.Object["kind"] + " " + f.Object["namespace"] + "/" + f.Object["name"]
		uid, ours := uids[key]
		if !ours {
			t.Errorf("finding on an object the test did not make: %s %s: %s", f.Check, key, f.Message)
			continue
		}
		if f.Object["uid"] != uid {
			t.Errorf("%s: object.uid %q, want %q", key, f.Object["uid"], uid)
		}
		got = append(got, f.Check+" "+f.Action+" "+f.Object["apiVersion"]+" "+key+" "+f.Path+": "+f.Message)
	}
	sort.Strings(got)

	out, code, msg = run(t, "", "", "check", "--bundle", "testdata/audit/bundle", "--schema-dir", "testdata/audit/crds", "-o", "json", "testdata/audit/cluster.yaml")
	if code != exitDenied {
		t.Fatalf("check: exit %d, want 1: %s\n%s", code, msg, out)
	}
	var want []string
	for _, f := range decode(t, out).Findings {
		want = append(want, f.Check+" "+f.Action+" "+f.Object["apiVersion"]+" "+f.Object["kind"]+" "+f.Object["namespace"]+"/"+f.Object["name"]+" "+f.Path+": "+f.Message)
	}
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("audit findings differ from check's on the same objects\naudit:\n  %s\ncheck:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, must := range []string{"privileged-container deny v1 Pod team-a/debug", "ingress-host-collision deny networking.k8s.io/v1 Ingress team-b/storefront", "deprecated-api warn example.com/v1beta1 Widget team-b/gadget"} {
		if !slices.ContainsFunc(got, func(s string) bool { return strings.HasPrefix(s, must) }) {
			t.Errorf("audit did not find %q; found:\n  %s", must, strings.Join(got, "\n  "))
		}
	}

	// The reports: one per namespace with findings, none for the quiet one.
	policyReports := schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	reportOf := func(gvr schema.GroupVersionResource, ns string) (*unstructured.Unstructured, bool) {
		r, err := dyn.Resource(gvr).Namespace(ns).Get(context.Background(), "gatekeep-audit", metav1.GetOptions{})
		return r, err == nil
	}
	results := func(r *unstructured.Unstructured) []string {
		items, _, _ := unstructured.NestedSlice(r.Object, "results")
		var out []string
		for _, it := range items {
			m := it.(map[string]any)
			res := m["resources"].([]any)[0].(map[string]any)
			props := m["properties"].(map[string]any)
			if props["bundleDigest"] != audited.Bundle.Digest {
				t.Errorf("result %v: bundleDigest %v, want %s", m["policy"], props["bundleDigest"], audited.Bundle.Digest)
			}
			if want := uids[res["kind"].(string)+" "+r.GetNamespace()+"/"+res["name"].(string)]; res["uid"] != want {
				t.Errorf("result %v: resource uid %v, want %s", m["policy"], res["uid"], want)
			}
			out = append(out, m["policy"].(string)+" "+m["result"].(string)+" "+m["severity"].(string)+" "+res["kind"].(string)+"/"+res["name"].(string))
		}
		sort.Strings(out)
		return out
	}
	expectReport := func(gvr schema.GroupVersionResource, ns string, want ...string) {
		t.Helper()
		r, ok := reportOf(gvr, ns)
		if len(want) == 0 {
			if ok {
				t.Errorf("%s: report of namespace %s still there: %v", gvr.Resource, ns, results(r))
			}
			return
		}
		if !ok {
			t.Fatalf("%s: no report in namespace %s", gvr.Resource, ns)
		}
		if got := results(r); !slices.Equal(got, want) {
			t.Errorf("%s of %s:\n  %s\nwant\n  %s", gvr.Resource, ns, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
	}
	expectReport(policyReports, "team-a", "ingress-host-collision fail high Ingress/shop", "privileged-container fail high Pod/debug")
	expectReport(policyReports, "team-b", "deprecated-api warn medium Widget/gadget", "ingress-host-collision fail high Ingress/storefront")
	expectReport(policyReports, "quiet")

	// team-a is cleaned up: its report goes, team-b's is replaced.
	ctx := context.Background()
	if err := kube.CoreV1().Pods("team-a").Delete(ctx, "debug", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := kube.NetworkingV1().Ingresses("team-a").Delete(ctx, "shop", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Only a warning is left: exit 0, and 1 with --fail-on-warn.
	if _, code, msg = run(t, "", "", "audit", "--kubeconfig", kubeconfig, "--bundle", "testdata/audit/bundle", "-o", "json", "--policy-report-format", "wgpolicyk8s"); code != exitPass {
		t.Fatalf("second audit: exit %d, want 0: %s", code, msg)
	}
	expectReport(policyReports, "team-a")
	expectReport(policyReports, "team-b", "deprecated-api warn medium Widget/gadget")

	// openreports.io, for the tools that moved there.
	if _, code, msg = run(t, "", "", "audit", "--kubeconfig", kubeconfig, "--bundle", "testdata/audit/bundle", "-o", "json", "--fail-on-warn", "--policy-report-format", "openreports"); code != exitDenied {
		t.Fatalf("openreports audit --fail-on-warn: exit %d, want 1: %s", code, msg)
	}
	expectReport(schema.GroupVersionResource{Group: "openreports.io", Version: "v1alpha1", Resource: "reports"}, "team-b", "deprecated-api warn medium Widget/gadget")

	// A referential template reads the synced kinds in data.inventory:
	// two ConfigMaps claiming one owner find each other.
	for _, ns := range []string{"team-a", "team-b"} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}, Data: map[string]string{"owner": "shop-team"}}
		if _, err := kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	out, _, msg = run(t, "", "", "audit", "--kubeconfig", kubeconfig, "--bundle", "../../testdata/bundles/inventory", "-o", "json")
	owners := 0
	for _, f := range decode(t, out).Findings {
		if f.Check == "K8sUniqueOwner/unique-owner" && f.Object["name"] == "owner" {
			owners++
		}
	}
	if owners != 2 {
		t.Errorf("%d K8sUniqueOwner findings on the two ConfigMaps, want 2 (%s)\n%s", owners, msg, out)
	}

	// Progress, when asked for: kinds listed and objects judged.
	out, _, _ = run(t, "", "", "audit", "--kubeconfig", kubeconfig, "--progress=always", "-q")
	if !strings.Contains(out, "objects judged") || !strings.Contains(out, "kinds ") {
		t.Errorf("audit --progress=always drew no progress:\n%s", out)
	}
}
