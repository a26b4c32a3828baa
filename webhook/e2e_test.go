package webhook

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
)

var nsCounter atomic.Int64

// namespace creates a namespace for one test (prefix dk- makes it a review app).
func (c *controlPlane) namespace(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s%d", prefix, 40+nsCounter.Add(1))
	_, err := c.kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	// The inventory must know the namespace before its objects arrive.
	waitFor(t, "namespace "+name, func() bool { return c.server.Inventory().Namespace(name) != nil })
	return name
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func deployment(name string, privileged bool) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       controlplanetest.Pod(name, privileged).Spec,
			},
		},
	}
}

func ingress(name, host string) *networkingv1.Ingress {
	prefix := networkingv1.PathTypePrefix
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{{
			Host: host,
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", PathType: &prefix,
				Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name, Port: networkingv1.ServiceBackendPort{Number: 80}}},
			}}}},
		}}},
	}
}

// denied asserts err is the webhook's refusal carrying want.
func denied(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("admitted; want a denial containing %q", want)
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "validate.gatekeep.dev") || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v; want the webhook's denial containing %q", err, want)
	}
}

func TestPrivilegedDenied(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	ns := c.namespace(t, "team-")
	_, err := c.kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod("debug", true), metav1.CreateOptions{})
	denied(t, err, `[privileged-container] container "main" is privileged`)
	_, err = c.kube.AppsV1().Deployments(ns).Create(ctx, deployment("web", true), metav1.CreateOptions{})
	denied(t, err, `[privileged-container] container "main" is privileged`)
	if _, err := c.kube.AppsV1().Deployments(ns).Create(ctx, deployment("web", false), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a clean Deployment was refused: %v", err)
	}
}

func TestUpdateIsJudged(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	ns := c.namespace(t, "team-")
	d, err := c.kube.AppsV1().Deployments(ns).Create(ctx, deployment("api", false), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	d.Spec.Template.Spec.Containers[0].SecurityContext.Privileged = &yes
	_, err = c.kube.AppsV1().Deployments(ns).Update(ctx, d, metav1.UpdateOptions{})
	denied(t, err, "is privileged")
}

func TestIngressHostCollision(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	a, b, w := c.namespace(t, "team-"), c.namespace(t, "team-"), c.namespace(t, "team-")
	host := a + ".example.com"
	if _, err := c.kube.NetworkingV1().Ingresses(a).Create(ctx, ingress("shop", host), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the host index to see the Ingress", func() bool { return len(c.server.Inventory().hosts.Claims(a, "shop")) > 0 })
	_, err := c.kube.NetworkingV1().Ingresses(b).Create(ctx, ingress("shop", host), metav1.CreateOptions{})
	denied(t, err, fmt.Sprintf(`[ingress-host-collision] host %q is also claimed in another namespace by Ingress %s/shop`, host, a))
	// A wildcard covering the host is a collision too.
	_, err = c.kube.NetworkingV1().Ingresses(w).Create(ctx, ingress("wild", "*.example.com"), metav1.CreateOptions{})
	denied(t, err, "Ingress "+a+"/shop")
	// The same namespace may add paths to its own host; another host is fine.
	if _, err := c.kube.NetworkingV1().Ingresses(b).Create(ctx, ingress("other", b+".example.com"), metav1.CreateOptions{}); err != nil {
		t.Errorf("an Ingress with its own host was refused: %v", err)
	}
}

func TestReviewAppLabels(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	ns := c.namespace(t, "dk-")
	pr := strings.TrimPrefix(ns, "dk-")
	d, err := c.kube.AppsV1().Deployments(ns).Create(ctx, deployment("preview", false), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for what, labels := range map[string]map[string]string{"object": d.Labels, "pod template": d.Spec.Template.Labels} {
		if labels["gatekeep.dev/pr"] != pr || labels["gatekeep.dev/review-app"] != "true" {
			t.Errorf("%s labels = %v, want gatekeep.dev/pr=%s", what, labels, pr)
		}
	}
	if _, err := time.Parse(time.RFC3339, d.Annotations["gatekeep.dev/expires-at"]); err != nil {
		t.Errorf("expires-at = %q", d.Annotations["gatekeep.dev/expires-at"])
	}
	// A label the object sets itself wins, and the client is told.
	c.takeWarnings()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "mine", Labels: map[string]string{"gatekeep.dev/pr": "other"}}}
	got, err := c.kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Labels["gatekeep.dev/pr"] != "other" || got.Labels["gatekeep.dev/review-app"] != "true" {
		t.Errorf("labels = %v", got.Labels)
	}
	if w := strings.Join(c.takeWarnings(), "\n"); !strings.Contains(w, "[review-app-labels]") {
		t.Errorf("warnings = %q, want the label conflict", w)
	}
	// Outside review apps nothing is added.
	plain := c.namespace(t, "team-")
	d, err = c.kube.AppsV1().Deployments(plain).Create(ctx, deployment("plain", false), metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Labels["gatekeep.dev/pr"]; ok {
		t.Errorf("labelled outside a review app: %v", d.Labels)
	}
}

func TestWarningsReachTheClient(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	ns := c.namespace(t, "team-")
	// Serve a bundle in which privileged containers only warn.
	prev := c.server.Engines().Get()
	defer c.server.Engines().Set(prev)
	eng, err := engineWith("checks:\n  privileged-container: warn\n")
	if err != nil {
		t.Fatal(err)
	}
	c.server.Engines().Set(eng)
	c.takeWarnings()
	if _, err := c.kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod("tolerated", true), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a warn-level finding refused the Pod: %v", err)
	}
	if w := strings.Join(c.takeWarnings(), "\n"); !strings.Contains(w, `[privileged-container] container "main" is privileged`) {
		t.Errorf("warnings = %q", w)
	}
}

func TestServerSideDryRun(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	ns := c.namespace(t, "team-")
	_, err := c.kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod("dry", true), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	denied(t, err, "is privileged")
	if _, err := c.kube.CoreV1().Pods(ns).Get(ctx, "dry", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the dry run created something: %v", err)
	}
}

// engineWith builds an admission engine from the built-in bundle and one
// gatekeep.yaml.
func engineWith(config string) (*engine.Engine, error) {
	dir, err := osMkdirTemp()
	if err != nil {
		return nil, err
	}
	if err := osWriteFile(dir+"/"+bundle.ConfigFile, config); err != nil {
		return nil, err
	}
	return loadEngine(dir)
}

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "gatekeep-bundle-") }

func osWriteFile(p, content string) error { return os.WriteFile(p, []byte(content), 0o600) }

func TestGatekeeperConstraints(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	a, b := c.namespace(t, "gk-"), c.namespace(t, "gk-")
	c.takeWarnings()
	cm := func(name, owner string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}, Data: map[string]string{"owner": owner}}
	}
	owner := a + "-owner"
	if _, err := c.kube.CoreV1().ConfigMaps(a).Create(ctx, cm("settings", owner), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A warn-level constraint reaches the client as a warning.
	if w := strings.Join(c.takeWarnings(), "\n"); !strings.Contains(w, "[RequiredTeam/team-label] every object needs a team label") {
		t.Errorf("warnings = %q", w)
	}
	// data.inventory holds the synced ConfigMaps of the cluster.
	waitFor(t, "data.inventory to hold the ConfigMap", func() bool {
		for _, o := range c.server.Inventory().Objects() {
			if md, _ := o["metadata"].(map[string]any); md["namespace"] == a && md["name"] == "settings" {
				return true
			}
		}
		return false
	})
	_, err := c.kube.CoreV1().ConfigMaps(b).Create(ctx, cm("settings", owner), metav1.CreateOptions{})
	denied(t, err, fmt.Sprintf("[UniqueOwner/unique-owner] owner %s is already used by ConfigMap %s/settings", owner, a))
	// UPDATE of the object that holds the owner is judged against the others, not itself.
	got, err := c.kube.CoreV1().ConfigMaps(a).Get(ctx, "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got.Labels = map[string]string{"team": "a"}
	if _, err := c.kube.CoreV1().ConfigMaps(a).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Errorf("update refused: %v", err)
	}
}
