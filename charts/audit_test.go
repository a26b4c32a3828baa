package charts

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/gatekeep-dev/gatekeep/audit"
	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
	"github.com/gatekeep-dev/gatekeep/policyreport"
)

// argValues are the values of --name=... among args, in order.
func argValues(args []string, name string) []string {
	var out []string
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

// TestAuditInCluster installs the chart with audit.enabled on a real API
// server and runs gatekeep as serve runs it with the Deployment's args, as
// the chart's ServiceAccount: the replica takes the audit Lease, finds the
// privileged Pod the cluster ran before gatekeep came, and writes its
// PolicyReport with nothing but the chart's RBAC and CRDs.
func TestAuditInCluster(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	// The control plane is shared: what gatekeep made at run time (its
	// certificates, the Lease) goes when the test ends, after gatekeep
	// stopped and the release is uninstalled.
	t.Cleanup(func() {
		_ = c.kube.CoreV1().Secrets(releaseNamespace).Delete(ctx, "gatekeep-certs", metav1.DeleteOptions{})
		_ = c.kube.CoordinationV1().Leases(releaseNamespace).Delete(ctx, releaseName+"-audit", metav1.DeleteOptions{})
	})
	team := c.namespace(t, "audit-team", nil)
	if _, err := c.kube.CoreV1().Pods(team).Create(ctx, controlplanetest.Pod("debug", true), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.install(t, releaseName, releaseNamespace, values(t, "audit: {enabled: true, interval: 1h, excludeNamespaces: [quiet]}"))
	defer c.uninstall(t, releaseName, releaseNamespace)

	d, err := c.kube.AppsV1().Deployments(releaseNamespace).Get(ctx, releaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	args := d.Spec.Template.Spec.Containers[0].Args
	sa := "system:serviceaccount:" + releaseNamespace + ":" + releaseName
	asSA := rest.CopyConfig(c.cfg)
	asSA.Impersonate = rest.ImpersonationConfig{UserName: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"}}
	gk := startGatekeep(t, asSA, "", "kube-system", args)
	defer gk.stop(t)
	c.pointWebhooks(t, gk.url)

	// The audit as gatekeep serve makes it of its flags.
	interval, err := time.ParseDuration(argValues(args, "audit-interval")[0])
	if err != nil {
		t.Fatal(err)
	}
	format, err := policyreport.ParseFormat(argValues(args, "policy-report-format")[0])
	if err != nil {
		t.Fatal(err)
	}
	lease := argValues(args, "audit-lease")[0]
	exclude := append([]string{releaseNamespace}, argValues(args, "audit-exclude-namespace")...)
	if !slices.Contains(exclude, "quiet") || !slices.Contains(exclude, "kube-system") {
		t.Errorf("the audit's exclusions %v lack the chart's", exclude)
	}
	kube, err := kubernetes.NewForConfig(asSA)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(asSA)
	if err != nil {
		t.Fatal(err)
	}
	runner := audit.Runner{Cluster: asSA, Reports: policyreport.New(dyn, format), Metrics: audit.NewMetrics()}
	newEngine := func(b *bundle.Bundle) (*engine.Engine, error) { return engine.New(b, engine.WithMode(engine.Audit)) }
	sched := &audit.Schedule{Client: kube, Namespace: releaseNamespace, Lease: lease, Identity: "gatekeep-0",
		Interval: interval, Ready: gk.server.Ready, Log: logr.Discard(),
		Audit: audit.InServer(gk.server, runner, exclude, newEngine, logr.Discard())}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { _ = sched.Run(sctx) }()

	reports := schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	var report *unstructured.Unstructured
	// A Lease taken and an audit run: a control plane round or two.
	poll(t, "the audit's PolicyReport of "+team, time.Minute, 100*time.Millisecond, func() bool {
		report, err = dyn.Resource(reports).Namespace(team).Get(ctx, policyreport.Name, metav1.GetOptions{})
		return err == nil
	})
	results, _, _ := unstructured.NestedSlice(report.Object, "results")
	if len(results) != 1 || results[0].(map[string]any)["policy"] != "privileged-container" || results[0].(map[string]any)["result"] != "fail" {
		t.Errorf("PolicyReport of %s: results %v, want one privileged-container failure", team, results)
	}
	l, err := c.kube.CoordinationV1().Leases(releaseNamespace).Get(ctx, lease, metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != "gatekeep-0" {
		t.Errorf("audit Lease %s: %+v %v, want held by gatekeep-0", lease, l, err)
	}
	// gatekeep's own namespace is not audited: no report there.
	if _, err := dyn.Resource(reports).Namespace(releaseNamespace).Get(ctx, policyreport.Name, metav1.GetOptions{}); err == nil {
		t.Errorf("a PolicyReport in gatekeep's own namespace %s", releaseNamespace)
	}
}
