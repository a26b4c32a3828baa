package audit

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
)

// TestRun audits a real API server page by page (a page smaller than a
// namespace's Pods), on every core: every privileged Pod is found once,
// excluded namespaces are left out, progress is told after each page, and
// the kinds RBAC keeps from the auditor are counted as skipped, not
// errors.
func TestRun(t *testing.T) {
	env := &envtest.Environment{BinaryAssetsDirectory: controlplanetest.Assets(t)}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("control plane: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	privileged := map[string]bool{}
	for _, ns := range []string{"team-a", "team-b", "skipped"} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 10; i++ {
			priv := i%3 == 0
			name := fmt.Sprintf("pod-%d", i)
			if _, err := kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod(name, priv), metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			if priv && ns != "skipped" {
				privileged[ns+"/"+name] = true
			}
		}
	}
	b, err := bundle.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(b, engine.WithMode(engine.Audit))
	if err != nil {
		t.Fatal(err)
	}
	run := func(cfg *rest.Config) (*engine.Result, []Progress) {
		t.Helper()
		var seen []Progress
		res, err := Run(ctx, cfg, eng, &checks.Inventory{Hosts: checks.NewHostIndex()}, PageSize(4),
			ExcludeNamespaces(func(ns string) bool { return ns == "skipped" }),
			OnProgress(func(p Progress) { seen = append(seen, p) }))
		if err != nil {
			t.Fatal(err)
		}
		return res, seen
	}

	res, seen := run(cfg)
	found := map[string]bool{}
	for _, f := range res.Findings() {
		if f.Check == "privileged-container" {
			key := f.Object.Namespace + "/" + f.Object.Name
			if found[key] || f.Object.UID == "" {
				t.Errorf("%s found twice or without its uid", key)
			}
			found[key] = true
		}
	}
	if len(found) != len(privileged) {
		t.Errorf("found %d privileged Pods %v, want %d %v", len(found), found, len(privileged), privileged)
	}
	for k := range found {
		if !privileged[k] {
			t.Errorf("%s is not a privileged Pod of an audited namespace", k)
		}
	}
	if res.Audited < 20 || len(res.Errors) > 0 {
		t.Errorf("audited %d objects (want 20 Pods at least), errors %v", res.Audited, res.Errors)
	}
	if len(seen) < 5 || seen[len(seen)-1].Objects != res.Audited || seen[len(seen)-1].Kinds != seen[len(seen)-1].KindsTotal {
		t.Errorf("progress %+v does not end at %d objects, every kind", seen[len(seen)-1], res.Audited)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i].Objects < seen[i-1].Objects || seen[i].Kinds < seen[i-1].Kinds {
			t.Errorf("progress went back: %+v then %+v", seen[i-1], seen[i])
		}
	}

	// An auditor that may list Pods and nothing else.
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "pods-only"}, Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list"}}}}
	if _, err := kube.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "pods-only"}, RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "pods-only"},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "auditor"}}}
	if _, err := kube.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	narrow := rest.CopyConfig(cfg)
	narrow.Impersonate = rest.ImpersonationConfig{UserName: "auditor"}
	res, _ = run(narrow)
	if len(res.Errors) > 0 || res.Audited != 20 || len(res.Objects) != len(privileged) {
		t.Errorf("pods only: audited %d, %d with findings, errors %v; want the 20 Pods, %d", res.Audited, len(res.Objects), res.Errors, len(privileged))
	}
	if res.Skipped["not readable: v1 ConfigMap"] != 1 || !strings.Contains(fmt.Sprint(res.Skipped), "not readable: apps/v1 Deployment") {
		t.Errorf("skipped %v, want the kinds RBAC forbids", res.Skipped)
	}
}
