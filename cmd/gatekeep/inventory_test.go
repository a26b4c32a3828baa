package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/inventory"
)

// runSplit runs gatekeep with its standard output and error apart.
func runSplit(t *testing.T, args ...string) (stdout, stderr string, code int, msg string) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	if err := cmd.Execute(); err != nil {
		var ex *exitError
		if !errors.As(err, &ex) {
			t.Fatalf("gatekeep %v: unexpected error %v", args, err)
		}
		code, msg = ex.code, ex.msg
	}
	return out.String(), errOut.String(), code, msg
}

// The inventory bundle syncs ConfigMaps and Secrets: one template
// (testdata/bundles/inventory/unique-owner.yaml) reads a ConfigMap field,
// this one a Secret's data (which is never exported).
const inventoryBundle = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: k8ssecretpeek}
spec:
  crd: {spec: {names: {kind: K8sSecretPeek}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8ssecretpeek
        violation[{"msg": "a Secret's password is this ConfigMap's"}] {
          s := data.inventory.namespace[_]["v1"]["Secret"][_]
          s.data.password == input.review.object.data.password
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sSecretPeek
metadata: {name: secret-peek}
spec:
  match: {kinds: [{apiGroups: [""], kinds: [ConfigMap]}]}
`

func repoIngress(ns, name, host string) string {
	return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  rules:
    - host: ` + host + `
      http:
        paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
`
}

// TestInventoryExportThenCheck exports a real API server's Ingresses and
// synced objects, then checks repositories against the export: a host
// claimed only in the cluster fails the check naming the cluster's
// Ingress, a run's Ingress replaces its cluster copy, and a stale export,
// one for another bundle and an unreadable one are reported.
func TestInventoryExportThenCheck(t *testing.T) {
	kubeconfig, cfg := adminCluster(t)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()

	ctx := context.Background()
	for _, ns := range []string{"team-a", "team-b"} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	prefix, class := networkingv1.PathTypePrefix, "nginx"
	for name, host := range map[string]string{"shop": "shop.example.com", "moving": "move.example.com", "blog": "blog.example.com"} {
		ing := &networkingv1.Ingress{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-b", Annotations: map[string]string{"team": "b"}},
			Spec: networkingv1.IngressSpec{
				IngressClassName: &class,
				Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
					Paths: []networkingv1.HTTPIngressPath{{Path: "/", PathType: &prefix, Backend: networkingv1.IngressBackend{
						Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}},
					}}},
				}}}},
			},
		}
		if _, err := kube.NetworkingV1().Ingresses("team-b").Create(ctx, ing, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := kube.CoreV1().ConfigMaps("team-b").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "owner-y", Namespace: "team-b", Labels: map[string]string{"app": "y"}},
		Data:       map[string]string{"owner": "alice", "notes": "not read by any template"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.CoreV1().Secrets("team-b").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "team-b", Annotations: map[string]string{
			"kubectl.kubernetes.io/last-applied-configuration": `{"data":{"password":"aHVudGVyMg=="}}`,
		}},
		Data: map[string][]byte{"password": []byte("hunter2")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	bundleDir := tree(t, map[string]string{
		"gatekeep.yaml":     "sync:\n  - {version: v1, kind: ConfigMap}\n  - {version: v1, kind: Secret}\n",
		"policy.yaml":       inventoryBundle,
		"unique-owner.yaml": readTestFile(t, "../../testdata/bundles/inventory/unique-owner.yaml"),
	})
	b, err := bundle.LoadOverBuiltin(bundleDir)
	if err != nil {
		t.Fatal(err)
	}

	// One object a page: the lists must follow continue tokens.
	out, errOut, code, msg := runSplit(t, "inventory", "export", "--kubeconfig", kubeconfig, "--bundle", bundleDir, "--page-size", "1")
	if code != exitPass {
		t.Fatalf("export: exit %d: %s %s", code, msg, errOut)
	}
	for _, secret := range []string{"hunter2", "aHVudGVyMg==", "last-applied-configuration", "not read by any template", "nginx", `"team":"b"`, "managedFields"} {
		if strings.Contains(out, secret) {
			t.Errorf("the export holds %q:\n%s", secret, out)
		}
	}
	inv, err := inventory.Parse([]byte(out))
	if err != nil {
		t.Fatalf("the export does not read back: %v\n%s", err, out)
	}
	if inv.BundleDigest != b.Digest || inv.ExportedAt.IsZero() {
		t.Errorf("export stamped %s at %s, want bundle %s", inv.BundleDigest, inv.ExportedAt, b.Digest)
	}
	if len(inv.Ingresses) != 3 {
		t.Errorf("%d Ingresses exported, want 3:\n%s", len(inv.Ingresses), out)
	}
	objects := map[string]map[string]any{}
	for _, o := range inv.Objects {
		md := o["metadata"].(map[string]any)
		objects[o["kind"].(string)+" "+md["namespace"].(string)+"/"+md["name"].(string)] = o
	}
	cm := objects["ConfigMap team-b/owner-y"]
	if cm == nil || cm["data"].(map[string]any)["owner"] != "alice" || cm["metadata"].(map[string]any)["labels"] == nil || cm["metadata"].(map[string]any)["uid"] == nil {
		t.Errorf("ConfigMap team-b/owner-y exported as %v", cm)
	}
	if s := objects["Secret team-b/creds"]; s == nil || s["data"] != nil {
		t.Errorf("Secret team-b/creds exported as %v", s)
	}
	invFile := filepath.Join(dir, "inventory.json")
	writeFile(t, dir, "inventory.json", out)

	check := func(repo map[string]string, args ...string) (stdout, stderr string, code int, msg string) {
		t.Helper()
		return runSplit(t, append(append([]string{"check"}, args...), tree(t, repo))...)
	}
	withBundle := []string{"--bundle", bundleDir, "--inventory", invFile}

	// A host and an owner only the cluster has.
	out, errOut, code, _ = check(map[string]string{
		"ingress.yaml":   repoIngress("team-a", "web", "shop.example.com"),
		"configmap.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: team-a}\ndata: {owner: alice, password: hunter2}\n",
	}, withBundle...)
	if code != exitDenied {
		t.Errorf("a host claimed in the cluster: exit %d, want 1:\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		`host "shop.example.com" is also claimed in another namespace by Ingress team-b/shop in the cluster (inventory file ` + invFile + `)`,
		"owner alice is also ConfigMap team-b/owner-y's",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "a Secret's password") {
		t.Errorf("the Secret's data reached data.inventory:\n%s", out)
	}
	if strings.Contains(errOut, "warning:") {
		t.Errorf("a fresh export for this bundle warns:\n%s", errOut)
	}

	// The run's team-b/moving replaces the cluster's, moving its host
	// away: team-a may take it.
	moved := map[string]string{
		"a.yaml": repoIngress("team-a", "web", "move.example.com"),
		"b.yaml": repoIngress("team-b", "moving", "elsewhere.example.com"),
	}
	out, errOut, code, _ = check(moved, append(withBundle, "-o", "json")...)
	if code != exitPass {
		t.Errorf("a host the run moves away: exit %d, want 0:\n%s%s", code, out, errOut)
	}
	var report map[string]any
	if err := json.Unmarshal([]byte(out), &report); err != nil {
		t.Errorf("-o json with --inventory is not JSON: %v\n%s", err, out)
	}

	// Stale, and for another bundle (the built-in one): warnings, the
	// verdict unchanged.
	_, errOut, code, _ = check(moved, "--inventory", invFile, "--inventory-max-age", "1ns")
	if code != exitPass {
		t.Errorf("stale export for another bundle: exit %d, want 0", code)
	}
	for _, want := range []string{
		"warning: inventory " + invFile + " was exported at " + inv.ExportedAt.UTC().Format("2006-01-02T15:04:05Z"),
		"more than --inventory-max-age 1ns",
		"warning: inventory " + invFile + " was exported for bundle " + b.Digest + ", and this run's is ",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("no %q in:\n%s", want, errOut)
		}
	}

	// An unreadable file.
	writeFile(t, dir, "bad.json", `{"apiVersion": "gatekeep.dev/v1alpha1", "kind": "Inventory", "ingresses": [`)
	for _, file := range []string{filepath.Join(dir, "bad.json"), filepath.Join(dir, "missing.json")} {
		_, _, code, msg = check(moved, "--inventory", file)
		if code != exitUnusable || !strings.Contains(msg, "read inventory "+file) {
			t.Errorf("--inventory %s: exit %d %q, want 2 naming the file", file, code, msg)
		}
	}
}

func readTestFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
