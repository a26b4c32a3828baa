package charts

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/certrotation"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
	"github.com/gatekeep-dev/gatekeep/secrets"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

// controlPlane is a real kube-apiserver and etcd (envtest), with no
// webhooks of its own: the chart brings them.
type controlPlane struct {
	env  *envtest.Environment
	cfg  *rest.Config
	kube *kubernetes.Clientset
	// kubeconfig is the file Helm's client reads.
	kubeconfig string
	dir        string
}

var shared controlplanetest.Shared[*controlPlane]

func startControlPlane(t *testing.T) *controlPlane { return shared.Get(t, newControlPlane) }

func newControlPlane(assets string) (*controlPlane, error) {
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	c := &controlPlane{env: env, cfg: cfg}
	if c.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if c.dir, err = os.MkdirTemp("", "gatekeep-chart-"); err != nil {
		return nil, err
	}
	admin, err := env.AddUser(envtest.User{Name: "helm", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return nil, err
	}
	kc, err := admin.KubeConfig()
	if err != nil {
		return nil, err
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	return c, os.WriteFile(c.kubeconfig, kc, 0o600)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if c, ok := shared.Started(); ok {
		_ = c.env.Stop()
		if err := os.RemoveAll(c.dir); err != nil {
			fmt.Fprintf(os.Stderr, "removing %s: %v\n", c.dir, err)
		}
	}
	os.Exit(code)
}

// helm is Helm's configuration for a release in namespace ns.
func (c *controlPlane) helm(t *testing.T, ns string) *action.Configuration {
	t.Helper()
	cfg := new(action.Configuration)
	if err := cfg.Init(kube.GetConfig(c.kubeconfig, "", ns), ns, "secret", func(string, ...any) {}); err != nil {
		t.Fatalf("helm: %v", err)
	}
	return cfg
}

// install is helm install NAME charts/gatekeep -n NS --create-namespace.
func (c *controlPlane) install(t *testing.T, name, ns string, vals map[string]any) {
	t.Helper()
	inst := action.NewInstall(c.helm(t, ns))
	inst.ReleaseName = name
	inst.Namespace = ns
	inst.CreateNamespace = true
	inst.Timeout = time.Minute
	if _, err := inst.RunWithContext(context.Background(), loadChart(t), vals); err != nil {
		t.Fatalf("helm install %s: %v", name, err)
	}
}

// upgrade is helm upgrade NAME charts/gatekeep -n NS.
func (c *controlPlane) upgrade(t *testing.T, name, ns string, vals map[string]any) {
	t.Helper()
	up := action.NewUpgrade(c.helm(t, ns))
	up.Namespace = ns
	up.Timeout = time.Minute
	if _, err := up.RunWithContext(context.Background(), name, loadChart(t), vals); err != nil {
		t.Fatalf("helm upgrade %s: %v", name, err)
	}
}

func (c *controlPlane) uninstall(t *testing.T, name, ns string) {
	t.Helper()
	un := action.NewUninstall(c.helm(t, ns))
	un.Timeout = time.Minute
	if _, err := un.Run(name); err != nil {
		t.Errorf("helm uninstall %s: %v", name, err)
	}
}

// live returns what the API server stores of the release's objects, as a
// rendering, so that the render checks apply to it.
func (c *controlPlane) live(t *testing.T, ns string) *rendered {
	t.Helper()
	ctx := context.Background()
	r := &rendered{}
	// get("Kind")(client.Get(...)) adds what the API server holds.
	get := func(kind string) func(runtime.Object, error) {
		return func(o runtime.Object, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("the API server does not hold the release's %s: %v", kind, err)
			}
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(o)
			if err != nil {
				t.Fatal(err)
			}
			u := &unstructured.Unstructured{Object: m}
			u.SetKind(kind)
			r.objects = append(r.objects, u)
		}
	}
	rbac, none := c.kube.RbacV1(), metav1.GetOptions{}
	get("Deployment")(c.kube.AppsV1().Deployments(ns).Get(ctx, releaseName, none))
	get("Service")(c.kube.CoreV1().Services(ns).Get(ctx, releaseName, none))
	get("ServiceAccount")(c.kube.CoreV1().ServiceAccounts(ns).Get(ctx, releaseName, none))
	get("PodDisruptionBudget")(c.kube.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, releaseName, none))
	get("ClusterRole")(rbac.ClusterRoles().Get(ctx, releaseName, none))
	get("ClusterRoleBinding")(rbac.ClusterRoleBindings().Get(ctx, releaseName, none))
	get("Role")(rbac.Roles("kube-system").Get(ctx, "gatekeep-sealed-secrets", none))
	get("RoleBinding")(rbac.RoleBindings("kube-system").Get(ctx, "gatekeep-sealed-secrets", none))
	get("Role")(rbac.Roles(ns).Get(ctx, "gatekeep-certs", none))
	get("RoleBinding")(rbac.RoleBindings(ns).Get(ctx, "gatekeep-certs", none))
	get("ClusterRole")(rbac.ClusterRoles().Get(ctx, "gatekeep-certs", none))
	get("ClusterRoleBinding")(rbac.ClusterRoleBindings().Get(ctx, "gatekeep-certs", none))
	get("ValidatingWebhookConfiguration")(c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, releaseName, none))
	get("MutatingWebhookConfiguration")(c.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, releaseName, none))
	return r
}

func (c *controlPlane) secret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	s, err := c.kube.CoreV1().Secrets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (c *controlPlane) caBundles(t *testing.T) (validate, mutate []byte) {
	t.Helper()
	ctx := context.Background()
	v, err := c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return v.Webhooks[0].ClientConfig.CABundle, m.Webhooks[0].ClientConfig.CABundle
}

// TestInstallOnAPIServer installs the chart with Helm on a real API server
// and follows the release through upgrades, certificate renewal, its RBAC,
// admission through the stored webhook configurations, and gatekeep's
// failure.
func TestInstallOnAPIServer(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	dnsName := releaseName + "." + releaseNamespace + ".svc"

	// The bundle the test's gatekeep loads syncs Services: the chart grants
	// them through rbac.syncRules. (Set at install: with the webhooks
	// registered and no gatekeep answering, an upgrade that changes the
	// ClusterRole, cluster-scoped and so judged, is refused.)
	syncRule := rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}}
	withSync := values(t, "rbac: {syncRules: [{apiGroups: [\"\"], resources: [services]}]}")
	c.install(t, releaseName, releaseNamespace, withSync)
	installed := true
	defer func() {
		if installed {
			c.uninstall(t, releaseName, releaseNamespace)
		}
	}()

	// The API server accepted every object, and stores them as rendered.
	live := c.live(t, releaseNamespace)
	checkRBAC(t, live, "kube-system", []rbacv1.PolicyRule{syncRule})
	checkCertRBAC(t, live)
	checkWebhooks(t, live, webhookExpectations{
		validate: admissionregistrationv1.Fail, mutate: admissionregistrationv1.Ignore,
		validateTimeout: 5, mutateTimeout: 3,
		exempt: []string{"kube-system", "kube-node-lease", releaseNamespace},
	})
	var d appsv1.Deployment
	live.typed(t, "Deployment", releaseName, &d)
	if *d.Spec.Replicas != 3 || d.Spec.Template.Spec.PriorityClassName != "system-cluster-critical" {
		t.Errorf("stored Deployment: replicas %d, priorityClassName %q", *d.Spec.Replicas, d.Spec.Template.Spec.PriorityClassName)
	}
	// Built-in certificates: the chart made none; gatekeep makes them.
	if v, m := c.caBundles(t); len(v)+len(m) > 0 {
		t.Error("caBundle is set before gatekeep ran")
	}
	if _, err := c.kube.CoreV1().Secrets(releaseNamespace).Get(ctx, "gatekeep-certs", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the certificate Secret exists before gatekeep ran: %v", err)
	}

	// gatekeep as the chart's ServiceAccount: what its RBAC allows.
	sa := "system:serviceaccount:" + releaseNamespace + ":" + releaseName
	t.Run("RBAC", func(t *testing.T) {
		for _, a := range []struct {
			verb, group, resource, namespace string // resource: RESOURCE[/NAME]
			allowed                          bool
		}{
			{"list", "", "namespaces", "", true},
			{"watch", "", "namespaces", "", true},
			{"list", "networking.k8s.io", "ingresses", "", true},
			{"watch", "networking.k8s.io", "ingresses", "team-a", true},
			{"list", "", "services", "", true},
			{"watch", "", "services", "", true},
			{"list", "", "secrets", "kube-system", true},
			{"watch", "", "secrets", "kube-system", true},
			{"list", "", "secrets", "", false},
			{"get", "", "secrets", "team-a", false},
			{"get", "", "secrets", releaseNamespace, false},
			{"list", "", "configmaps", "", false},
			{"list", "", "pods", "", false},
			{"update", "networking.k8s.io", "ingresses", "team-a", false},
			{"create", "", "secrets", "kube-system", false},
			{"update", "admissionregistration.k8s.io", "validatingwebhookconfigurations", "", false},
			// Built-in certificates: its own Secret, and no other.
			{"get", "", "secrets/gatekeep-certs", releaseNamespace, true},
			{"watch", "", "secrets/gatekeep-certs", releaseNamespace, true},
			{"update", "", "secrets/gatekeep-certs", releaseNamespace, true},
			{"delete", "", "secrets/gatekeep-certs", releaseNamespace, false},
			{"get", "", "secrets/sh.helm.release.v1.gatekeep.v1", releaseNamespace, false},
			{"list", "", "secrets", releaseNamespace, false},
			{"create", "", "secrets", releaseNamespace, true}, // RBAC cannot limit create by name
			// ... and caBundle of its own webhook configurations.
			{"update", "admissionregistration.k8s.io", "validatingwebhookconfigurations/" + releaseName, "", true},
			{"update", "admissionregistration.k8s.io", "mutatingwebhookconfigurations/" + releaseName, "", true},
			{"watch", "admissionregistration.k8s.io", "mutatingwebhookconfigurations/" + releaseName, "", true},
			{"delete", "admissionregistration.k8s.io", "validatingwebhookconfigurations/" + releaseName, "", false},
			{"update", "admissionregistration.k8s.io", "validatingwebhookconfigurations/other-webhook", "", false},
		} {
			resource, name, _ := strings.Cut(a.resource, "/")
			sar, err := c.kube.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{
					User:   sa,
					Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"},
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Verb: a.verb, Group: a.group, Resource: resource, Namespace: a.namespace, Name: name,
					},
				},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != a.allowed {
				where := a.namespace
				if where == "" {
					where = "every namespace"
				}
				t.Errorf("%s may %s %s in %s: %v, want %v", sa, a.verb, a.resource, where, sar.Status.Allowed, a.allowed)
			}
		}
	})

	// Start gatekeep as the ServiceAccount, as gatekeep serve runs it with
	// the Deployment's flags: it makes its certificate and injects its CA,
	// and its caches (Namespaces, Ingresses, the bundle's sync: kinds, the
	// sealing keys in the sealed-secrets namespace) sync, with nothing but
	// the chart's RBAC, or it never becomes ready.
	asSA := rest.CopyConfig(c.cfg)
	asSA.Impersonate = rest.ImpersonationConfig{UserName: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + releaseNamespace, "system:authenticated"}}
	gk := startGatekeep(t, asSA, "sync:\n  - {group: \"\", version: v1, kind: Service}\n", "kube-system", d.Spec.Template.Spec.Containers[0].Args)
	defer gk.stop(t)

	certs := c.secret(t, releaseNamespace, "gatekeep-certs")
	t.Run("gatekeep made its certificate and injected its CA", func(t *testing.T) {
		v, m := c.caBundles(t)
		if len(v) == 0 || string(v) != string(certs.Data["ca.crt"]) || string(m) != string(certs.Data["ca.crt"]) {
			t.Fatal("caBundle of the webhook configurations is not the CA of gatekeep's Secret")
		}
		verifyServing(t, certs.Data["tls.crt"], v, dnsName)
		if certs.Labels["app.kubernetes.io/managed-by"] != "gatekeep" {
			t.Errorf("the Secret's labels %v do not say gatekeep made it", certs.Labels)
		}
	})

	t.Run("upgrade keeps the injected caBundle", func(t *testing.T) {
		// Neither rendering holds caBundle: Helm's three-way merge leaves
		// gatekeep's alone.
		c.upgrade(t, releaseName, releaseNamespace, withSync)
		v, m := c.caBundles(t)
		if string(v) != string(certs.Data["ca.crt"]) || string(m) != string(certs.Data["ca.crt"]) {
			t.Error("helm upgrade changed caBundle")
		}
		if again := c.secret(t, releaseNamespace, "gatekeep-certs"); again.ResourceVersion != certs.ResourceVersion {
			t.Error("the certificate Secret changed")
		}
	})

	// Point the stored webhook configurations at it, changing nothing but
	// where they call: the API server verifies gatekeep's certificate with
	// the caBundle gatekeep injected.
	c.pointWebhooks(t, gk.url)
	settle(t, "the webhooks to call the test's gatekeep", func() bool {
		_, err := c.kube.CoreV1().Pods("default").Create(ctx, controlplanetest.Pod("probe", false), dryRun)
		return err == nil
	})

	t.Run("the stored webhooks call gatekeep", func(t *testing.T) {
		ns := c.namespace(t, "team-a", nil)
		waitFor(t, "gatekeep to know namespace "+ns, func() bool { return gk.server.Inventory().Namespace(ns) != nil })
		before := gk.requests(t)
		if _, err := c.kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod("web", false), metav1.CreateOptions{}); err != nil {
			t.Fatalf("an ordinary Pod was refused: %v", err)
		}
		after := gk.requests(t)
		t.Logf("gatekeep_admission_requests_total by webhook: %v before the Pod create, %v after", before, after)
		if after["validate"] <= before["validate"] || after["mutate"] <= before["mutate"] {
			t.Errorf("gatekeep was not called for a Pod create: requests %v, then %v", before, after)
		}
		_, err := c.kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod("root", true), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "privileged") {
			t.Errorf("gatekeep did not deny a privileged Pod: %v", err)
		}
	})

	t.Run("exempted namespaces are never called", func(t *testing.T) {
		before := gk.requests(t)
		// Not even the labelled Namespace's own create is sent.
		ignored := c.namespace(t, "team-ignored", map[string]string{"gatekeep.dev/ignore": "true"})
		for _, ns := range []string{"kube-system", "kube-node-lease", releaseNamespace, ignored} {
			// Privileged: gatekeep would deny it, had it been asked.
			if _, err := c.kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod("exempt", true), metav1.CreateOptions{}); err != nil {
				t.Errorf("Pod in exempted namespace %s refused: %v", ns, err)
			}
		}
		after := gk.requests(t)
		t.Logf("gatekeep_admission_requests_total by webhook: %v before the exempted Pods, %v after", before, after)
		if after["validate"] != before["validate"] || after["mutate"] != before["mutate"] {
			t.Errorf("gatekeep was called for exempted namespaces: requests %v, then %v", before, after)
		}
	})

	t.Run("mutation skipped: validation refuses a still-sealed Secret", func(t *testing.T) {
		// The mutating webhook (failurePolicy Ignore) cannot be reached:
		// the API server goes on without it, and validation must stop the
		// sealed values from being stored.
		dead := "https://" + controlplanetest.FreeAddr(t)
		patch, _ := json.Marshal([]map[string]any{{"op": "replace", "path": "/webhooks/0/clientConfig/url", "value": dead + "/mutate"}})
		if _, err := c.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Patch(ctx, releaseName, types.JSONPatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
		settle(t, "the mutating webhook to stop calling gatekeep", func() bool {
			before := gk.requests(t)
			_, err := c.kube.CoreV1().Pods("default").Create(ctx, controlplanetest.Pod("probe", false), dryRun)
			after := gk.requests(t)
			return err == nil && after["validate"] > before["validate"] && after["mutate"] == before["mutate"]
		})
		sealed := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "db", Annotations: map[string]string{"gatekeep.dev/sealed": "true"}},
			Data:       map[string][]byte{"password": []byte("AgBy3i4OJSWK+PiTySYZZA==")},
		}
		_, err := c.kube.CoreV1().Secrets("team-a").Create(ctx, sealed, metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), "gatekeep.dev/sealed") {
			t.Errorf("a Secret still sealed after mutation was skipped was not refused: %v", err)
		} else {
			t.Logf("refused: %v", err)
		}
	})

	gk.stop(t)

	t.Run("gatekeep stopped, failurePolicy Fail refuses", func(t *testing.T) {
		_, err := c.kube.CoreV1().Pods("team-a").Create(ctx, controlplanetest.Pod("while-down", false), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), `failed calling webhook "validate.gatekeep.dev"`) {
			t.Errorf("with gatekeep stopped and failurePolicy Fail, a Pod create gave %v", err)
		} else {
			t.Logf("refused: %v", err)
		}
		for _, ns := range []string{"kube-system", releaseNamespace, "team-ignored"} {
			if _, err := c.kube.CoreV1().Pods(ns).Create(ctx, controlplanetest.Pod("while-down", false), metav1.CreateOptions{}); err != nil {
				t.Errorf("with gatekeep stopped, exempted namespace %s refused a Pod: %v", ns, err)
			}
		}
	})

	t.Run("gatekeep stopped, failurePolicy Ignore admits", func(t *testing.T) {
		c.applyWebhooks(t, gk.url, values(t, "webhooks: {validate: {failurePolicy: Ignore}}"))
		settle(t, "failurePolicy Ignore to be in force", func() bool {
			_, err := c.kube.CoreV1().Pods("team-a").Create(ctx, controlplanetest.Pod("probe", false), dryRun)
			return err == nil
		})
		if _, err := c.kube.CoreV1().Pods("team-a").Create(ctx, controlplanetest.Pod("while-down-ignored", false), metav1.CreateOptions{}); err != nil {
			t.Errorf("with failurePolicy Ignore, a Pod create was refused: %v", err)
		}
		// The same for the mutating webhook, which the chart lets fail
		// open by default: made Fail, it refuses.
		c.applyWebhooks(t, gk.url, values(t, "webhooks: {validate: {failurePolicy: Ignore}, mutate: {failurePolicy: Fail}}"))
		settle(t, "the mutating webhook's failurePolicy Fail to be in force", func() bool {
			_, err := c.kube.CoreV1().Pods("team-a").Create(ctx, controlplanetest.Pod("probe", false), dryRun)
			return err != nil
		})
		_, err := c.kube.CoreV1().Pods("team-a").Create(ctx, controlplanetest.Pod("while-down-mutate-fail", false), metav1.CreateOptions{})
		if err == nil || !strings.Contains(err.Error(), `failed calling webhook "mutate.gatekeep.dev"`) {
			t.Errorf("with the mutating webhook on Fail, a Pod create gave %v", err)
		}
	})

	t.Run("the README's matchConditions compile and leave out Leases", func(t *testing.T) {
		c.applyWebhooks(t, gk.url, values(t, readmeMatchConditions))
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: "leader"}}
		settle(t, "the matchConditions to be in force", func() bool {
			_, err := c.kube.CoordinationV1().Leases("team-a").Create(ctx, lease, dryRun)
			return err == nil
		})
		if _, err := c.kube.CoordinationV1().Leases("team-a").Create(ctx, lease, metav1.CreateOptions{}); err != nil {
			t.Errorf("with gatekeep stopped, a Lease left out by matchConditions was refused: %v", err)
		}
		_, err := c.kube.CoreV1().Pods("team-a").Create(ctx, controlplanetest.Pod("while-down-conditions", false), metav1.CreateOptions{})
		if err == nil {
			t.Error("with gatekeep stopped and failurePolicy Fail, matchConditions let a Pod in")
		}
	})

	c.uninstall(t, releaseName, releaseNamespace)
	installed = false
	if _, err := c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("helm uninstall left the ValidatingWebhookConfiguration: %v", err)
	}

	t.Run("own Secret, HA off", func(t *testing.T) {
		ca := testCA(t)
		const name, ns = "gatekeep-own", "gatekeep-own"
		c.install(t, name, ns, map[string]any{"replicas": 1, "certs": map[string]any{"existingSecret": "corp-serving", "caBundle": ca.certPEM}})
		defer c.uninstall(t, name, ns)
		d, err := c.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *d.Spec.Replicas != 1 {
			t.Errorf("replicas = %d", *d.Spec.Replicas)
		}
		if _, err := c.kube.PolicyV1().PodDisruptionBudgets(ns).Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("PodDisruptionBudget with one replica: %v", err)
		}
		v, err := c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(v.Webhooks[0].ClientConfig.CABundle) != ca.certPEM {
			t.Error("stored caBundle is not certs.caBundle")
		}
	})
}

// namespace creates a namespace with labels.
func (c *controlPlane) namespace(t *testing.T, name string, labels map[string]string) string {
	t.Helper()
	_, err := c.kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("create namespace %s: %v", name, err)
	}
	return name
}

// pointWebhooks makes the stored webhook configurations call url (the test's
// gatekeep) instead of the Service, and changes nothing else (caBundle
// included).
func (c *controlPlane) pointWebhooks(t *testing.T, url string) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []struct{ kind, path string }{{"validating", "/validate"}, {"mutating", "/mutate"}} {
		patch, _ := json.Marshal([]map[string]any{
			{"op": "remove", "path": "/webhooks/0/clientConfig/service"},
			{"op": "add", "path": "/webhooks/0/clientConfig/url", "value": url + p.path},
		})
		var err error
		if p.kind == "validating" {
			_, err = c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Patch(ctx, releaseName, types.JSONPatchType, patch, metav1.PatchOptions{})
		} else {
			_, err = c.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Patch(ctx, releaseName, types.JSONPatchType, patch, metav1.PatchOptions{})
		}
		if err != nil {
			t.Fatalf("point the %s webhook at %s: %v", p.kind, url, err)
		}
	}
}

// applyWebhooks replaces the stored webhook configurations with the chart's
// for vals, calling url.
func (c *controlPlane) applyWebhooks(t *testing.T, url string, vals map[string]any) {
	t.Helper()
	ctx := context.Background()
	r := mustRender(t, vals)
	var v admissionregistrationv1.ValidatingWebhookConfiguration
	var m admissionregistrationv1.MutatingWebhookConfiguration
	r.typed(t, "ValidatingWebhookConfiguration", releaseName, &v)
	r.typed(t, "MutatingWebhookConfiguration", releaseName, &m)
	ca := []byte(testCA(t).certPEM)
	v.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr(url + "/validate"), CABundle: ca}
	m.Webhooks[0].ClientConfig = admissionregistrationv1.WebhookClientConfig{URL: ptr(url + "/mutate"), CABundle: ca}
	vs, err := c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	vs.Webhooks = v.Webhooks
	if _, err := c.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, vs, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	ms, err := c.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, releaseName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ms.Webhooks = m.Webhooks
	if _, err := c.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, ms, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// readmeMatchConditions is the chart README's example, word for word.
const readmeMatchConditions = `
webhooks:
  matchConditions:
    - name: not-control-plane-churn
      expression: >-
        !(request.resource.group == "coordination.k8s.io" && request.resource.resource == "leases") &&
        !(request.resource.group == "discovery.k8s.io" && request.resource.resource == "endpointslices") &&
        !(request.resource.group in ["", "events.k8s.io"] && request.resource.resource == "events")
`

// dryRun: the API server admits (webhooks included) but stores nothing.
var dryRun = metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}

// settle waits until ok holds: the API server's admission reads webhook
// configurations through an informer, a moment behind their update. ok
// probes with dry runs, so that nothing is stored meanwhile.
func settle(t *testing.T, what string, ok func() bool) {
	t.Helper()
	poll(t, what, 15*time.Second, 100*time.Millisecond, ok)
}

// poll asks ok every interval until it holds, failing the test after
// within.
func poll(t *testing.T, what string, within, interval time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(interval)
	}
}

func ptr[T any](v T) *T { return &v }

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	poll(t, what, 20*time.Second, 20*time.Millisecond, ok)
}

// gatekeep is a gatekeep webhook server the test started, as gatekeep serve
// does, with the built-in bundle.
type gatekeep struct {
	server     *webhook.Server
	url        string // https://127.0.0.1:PORT
	metricsURL string
	cancel     context.CancelFunc
	done       chan error
	rotated    chan struct{} // closed when the certificate rotator stopped
	stopped    bool
}

// certRotator makes the certificate rotator gatekeep serve makes from the
// Deployment's args (nil without --cert-secret), writing to certFile and
// keyFile, and naming 127.0.0.1 too: the test's API server calls gatekeep
// there.
func certRotator(t *testing.T, cluster *rest.Config, args []string, certFile, keyFile string) *certrotation.Rotator {
	t.Helper()
	opts := certrotation.Options{Namespace: releaseNamespace, CertFile: certFile, KeyFile: keyFile, Log: logr.Discard()}
	dur := func(flag, v string) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("--%s=%s: %v", flag, v, err)
		}
		return d
	}
	for _, a := range args {
		flag, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch flag {
		case "cert-secret":
			opts.SecretName = v
		case "webhook-configuration":
			opts.ValidatingWebhookConfiguration, opts.MutatingWebhookConfiguration = v, v
		case "cert-dns-name":
			opts.DNSNames = append(opts.DNSNames, v)
		case "ca-validity":
			opts.CAValidity = dur(flag, v)
		case "cert-validity":
			opts.CertValidity = dur(flag, v)
		case "cert-renew-before":
			opts.RenewBefore = dur(flag, v)
		}
	}
	if opts.SecretName == "" {
		return nil
	}
	opts.DNSNames = append(opts.DNSNames, "127.0.0.1")
	client, err := kubernetes.NewForConfig(cluster)
	if err != nil {
		t.Fatal(err)
	}
	opts.Client = client
	r, err := certrotation.New(opts)
	if err != nil {
		t.Fatalf("the chart's certificate flags: %v", err)
	}
	return r
}

// startGatekeep starts gatekeep with the serve args of the chart's
// Deployment: with --cert-secret it makes its own certificate, else it
// serves one of the test CA.
func startGatekeep(t *testing.T, cluster *rest.Config, gatekeepYAML, sealedNamespace string, args []string) *gatekeep {
	t.Helper()
	dir := t.TempDir()
	bundleDir := filepath.Join(dir, "bundle")
	if err := os.Mkdir(bundleDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bundleDir, bundle.ConfigFile), []byte(gatekeepYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	rotator := certRotator(t, cluster, args, certFile, keyFile)
	var certReady <-chan struct{}
	if rotator != nil {
		certReady = rotator.Ready()
	} else {
		certPEM, keyPEM, err := testCA(t).serving()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	metrics := controlplanetest.FreeAddr(t)
	keys := secrets.NewKeys()
	srv := webhook.New(webhook.Options{
		Listen: "127.0.0.1:0", MetricsListen: metrics,
		CertFile: certFile, KeyFile: keyFile, CertReady: certReady,
		Namespace: releaseNamespace, Cluster: cluster,
		// As gatekeep serve --bundle DIR --sealed-secrets-namespace NS.
		Load: func() (*engine.Engine, error) {
			builtin, err := bundle.Builtin()
			if err != nil {
				return nil, err
			}
			b, err := bundle.LoadPath(bundleDir)
			if err != nil {
				return nil, err
			}
			return engine.New(bundle.Merge(builtin, b), engine.WithMode(engine.Admission), engine.SealingKeys(keys))
		},
		Watch:                  []string{bundleDir},
		SealingKeys:            keys,
		SealedSecretsNamespace: sealedNamespace,
		Log:                    logr.Discard(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	g := &gatekeep{server: srv, metricsURL: "http://" + metrics + "/metrics", cancel: cancel, done: make(chan error, 1), rotated: make(chan struct{})}
	go func() {
		defer close(g.rotated)
		if rotator != nil {
			_ = rotator.Run(ctx)
		}
	}()
	go func() { g.done <- srv.Run(ctx) }()
	actx, acancel := context.WithTimeout(ctx, 20*time.Second)
	defer acancel()
	addr, err := srv.Addr(actx)
	if err != nil {
		cancel()
		t.Fatalf("gatekeep did not listen: %v", err)
	}
	g.url = "https://" + addr.String()
	deadline := time.Now().Add(20 * time.Second)
	for !srv.Ready() {
		select {
		case err := <-g.done:
			t.Fatalf("gatekeep stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatal("gatekeep not ready in 20s: its caches did not sync with the chart's RBAC")
		}
		time.Sleep(50 * time.Millisecond)
	}
	return g
}

// stop stops gatekeep and waits until nothing listens at its address.
func (g *gatekeep) stop(t *testing.T) {
	t.Helper()
	if g.stopped {
		return
	}
	g.stopped = true
	g.cancel()
	select {
	case err := <-g.done:
		if err != nil {
			t.Logf("gatekeep stopped: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("gatekeep did not stop")
	}
	<-g.rotated
	host := strings.TrimPrefix(g.url, "https://")
	waitFor(t, "gatekeep's port to close", func() bool {
		// A whole TLS handshake, so that the server logs nothing.
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: time.Second}, "tcp", host, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // a probe
		if err == nil {
			_ = conn.Close() // a probe: that it answered is all it asks
			return false
		}
		return true
	})
}

// requests reads gatekeep_admission_requests_total from /metrics, summed by
// webhook (validate, mutate).
func (g *gatekeep) requests(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(g.metricsURL)
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "gatekeep_admission_requests_total{") {
			continue
		}
		labels, value, ok := strings.Cut(strings.TrimPrefix(line, "gatekeep_admission_requests_total{"), "} ")
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		for _, l := range strings.Split(labels, ",") {
			if k, val, _ := strings.Cut(l, "="); k == "webhook" {
				out[strings.Trim(val, `"`)] += v
			}
		}
	}
	return out
}
