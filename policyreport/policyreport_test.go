package policyreport

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

func finding(ref manifest.Ref, check string, a engine.Action) engine.Finding {
	return engine.Finding{Check: check, Action: a, Message: check + " on " + ref.Name, Object: ref}
}

// TestWrite writes reports to a real API server with the chart's CRDs:
// a ClusterPolicyReport for cluster-scoped objects, pass results when
// asked for, the results bounded with the summary counting them all, and
// the cluster's report removed once it has nothing to say.
func TestWrite(t *testing.T) {
	env := &envtest.Environment{
		BinaryAssetsDirectory: controlplanetest.Assets(t),
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: []string{"../charts/gatekeep/files/crds"}, ErrorIfPathMissing: true},
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	node := manifest.Ref{APIVersion: "v1", Kind: "Namespace", Name: "legacy", UID: "u-ns"}
	pods := []manifest.Ref{
		{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "a", UID: "u-a"},
		{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "b", UID: "u-b"},
		{APIVersion: "v1", Kind: "Pod", Namespace: "default", Name: "c", UID: "u-c"},
	}
	res := &engine.Result{BundleName: "builtin", BundleDigest: "sha256:ab", KubernetesVersion: "1.37", Audited: 5, Objects: []engine.ObjectResult{
		{Object: node, Findings: []engine.Finding{finding(node, "schema", engine.Warn)}},
		{Object: pods[0], Findings: []engine.Finding{finding(pods[0], "privileged-container", engine.Deny)}},
		{Object: pods[1], Findings: []engine.Finding{finding(pods[1], "privileged-container", engine.Deny), finding(pods[1], "K8sRequiredProbes/must-have-probes", engine.DryRun)}},
		{Object: pods[2]}, // kept by the audit for pass results
	}}
	stamp := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	w := New(dyn, WGPolicy, WithClock(func() time.Time { return stamp }), WithPass(true), MaxResults(3))
	written, err := w.Write(ctx, res)
	if err != nil {
		t.Fatal(err)
	}
	if len(written.Reports) != 2 {
		t.Errorf("reports written %q, want the cluster's and default's", written.Reports)
	}
	clusterGVR := schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "clusterpolicyreports"}
	nsGVR := schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}

	cluster, err := dyn.Resource(clusterGVR).Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("ClusterPolicyReport: %v", err)
	}
	results, _, _ := unstructured.NestedSlice(cluster.Object, "results")
	if len(results) != 1 || results[0].(map[string]any)["result"] != "warn" || results[0].(map[string]any)["severity"] != "medium" {
		t.Errorf("ClusterPolicyReport results %v, want one warning", results)
	}

	report, err := dyn.Resource(nsGVR).Namespace("default").Get(ctx, Name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("PolicyReport default: %v", err)
	}
	results, _, _ = unstructured.NestedSlice(report.Object, "results")
	summary, _, _ := unstructured.NestedMap(report.Object, "summary")
	// Four results (two failures, a dryrun warning, a pass), three kept.
	if len(results) != 3 || summary["fail"] != int64(2) || summary["warn"] != int64(1) || summary["pass"] != int64(1) {
		t.Errorf("default: %d results, summary %v; want 3 results of 2 fail, 1 warn, 1 pass", len(results), summary)
	}
	if left := report.GetAnnotations()["gatekeep.dev/results-left-out"]; left != "1" {
		t.Errorf("results-left-out annotation %q, want 1", left)
	}
	first := results[0].(map[string]any)
	if ts, _ := first["timestamp"].(map[string]any); ts["seconds"] != stamp.Unix() {
		t.Errorf("timestamp %v, want %d", first["timestamp"], stamp.Unix())
	}
	if props, _ := first["properties"].(map[string]any); props["bundleDigest"] != "sha256:ab" {
		t.Errorf("properties %v lack the bundle digest", first["properties"])
	}

	// The next run has nothing cluster-scoped to say: that report goes.
	res.Objects = res.Objects[1:]
	written, err = w.Write(ctx, res)
	if err != nil {
		t.Fatal(err)
	}
	if len(written.Removed) != 1 || written.Removed[0] != "" {
		t.Errorf("removed %q, want the cluster's report", written.Removed)
	}
	if _, err := dyn.Resource(clusterGVR).Get(ctx, Name, metav1.GetOptions{}); err == nil {
		t.Error("the ClusterPolicyReport is still there")
	}
}

func TestParseFormat(t *testing.T) {
	for in, ok := range map[string]bool{"wgpolicyk8s": true, "openreports": true, "policyreport": false, "": false} {
		if _, err := ParseFormat(in); (err == nil) != ok {
			t.Errorf("ParseFormat(%q): %v", in, err)
		}
	}
}
