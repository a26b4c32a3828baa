package webhook

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
	"github.com/gatekeep-dev/gatekeep/secrets"
)

// controlPlane is a real kube-apiserver and etcd (envtest) with gatekeep's
// webhooks registered, and a gatekeep server they call.
type controlPlane struct {
	env     *envtest.Environment
	cfg     *rest.Config
	server  *Server
	kube    *kubernetes.Clientset
	dynamic dynamic.Interface
	// bundleDir is the --bundle directory the server watches.
	bundleDir string

	mu       sync.Mutex
	warnings []string
	// keys are the server's sealing keys; logs what it logged.
	keys *secrets.Keys
	logs *syncBuffer
}

// syncBuffer collects the server's log lines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) write(prefix, args string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(prefix + " " + args + "\n")
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (c *controlPlane) HandleWarningHeader(code int, agent, text string) {
	c.mu.Lock()
	c.warnings = append(c.warnings, text)
	c.mu.Unlock()
}

// takeWarnings returns the warnings clients were sent since the last call.
func (c *controlPlane) takeWarnings() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.warnings
	c.warnings = nil
	return w
}

var shared controlplanetest.Shared[*controlPlane]

func startControlPlane(t *testing.T) *controlPlane { return shared.Get(t, newControlPlane) }

func ptr[T any](v T) *T { return &v }

func webhookRules() []admissionregistrationv1.RuleWithOperations {
	return []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		Rule: admissionregistrationv1.Rule{
			APIGroups: []string{"*"}, APIVersions: []string{"*"}, Resources: []string{"*"},
			Scope: ptr(admissionregistrationv1.AllScopes),
		},
	}}
}

// namespaceSelector leaves out the namespaces the control plane writes to
// itself and gatekeep's own, as the Helm chart does.
func namespaceSelector() *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn,
		Values: []string{"kube-system", "kube-node-lease", "kube-public", "gatekeep-system"},
	}}}
}

const testBundle = `# the bundle of the webhook tests
sync:
  - {group: "", version: v1, kind: ConfigMap}
reviewApps:
  - namespacePattern: '^dk-(?P<pr>[0-9]+)$'
    labels:
      gatekeep.dev/review-app: "true"
      gatekeep.dev/pr: "{{ .pr }}"
    ttl: 168h
`

// testTemplates are Gatekeeper policies of the test bundle: one reading
// data.inventory (synced ConfigMaps), one that only warns.
const testTemplates = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: uniqueowner
spec:
  crd:
    spec:
      names:
        kind: UniqueOwner
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package uniqueowner

        violation[{"msg": msg}] {
          owner := input.review.object.data.owner
          other := data.inventory.namespace[ns]["v1"]["ConfigMap"][name]
          other.data.owner == owner
          ns != input.review.object.metadata.namespace
          msg := sprintf("owner %v is already used by ConfigMap %v/%v", [owner, ns, name])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: UniqueOwner
metadata:
  name: unique-owner
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: [ConfigMap]
---
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: requiredteam
spec:
  crd:
    spec:
      names:
        kind: RequiredTeam
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package requiredteam

        violation[{"msg": "every object needs a team label"}] {
          not input.review.object.metadata.labels.team
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: RequiredTeam
metadata:
  name: team-label
spec:
  enforcementAction: warn
  match:
    namespaces: ["gk-*"]
    kinds:
      - apiGroups: [""]
        kinds: [ConfigMap]
`

func newControlPlane(assets string) (*controlPlane, error) {
	none := admissionregistrationv1.SideEffectClassNone
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDInstallOptions:     envtest.CRDInstallOptions{Paths: []string{"../testdata/infra-repo/platform/argocd", sealedSecretsCRD()}},
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			ValidatingWebhooks: []*admissionregistrationv1.ValidatingWebhookConfiguration{{
				ObjectMeta: metav1.ObjectMeta{Name: "gatekeep"},
				Webhooks: []admissionregistrationv1.ValidatingWebhook{{
					Name:                    "validate.gatekeep.dev",
					ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "gatekeep", Namespace: "gatekeep-system", Path: ptr("validate")}},
					Rules:                   webhookRules(),
					FailurePolicy:           ptr(admissionregistrationv1.Fail),
					MatchPolicy:             ptr(admissionregistrationv1.Equivalent),
					SideEffects:             &none,
					AdmissionReviewVersions: []string{"v1"},
					TimeoutSeconds:          ptr(int32(5)),
					NamespaceSelector:       namespaceSelector(),
				}},
			}},
			MutatingWebhooks: []*admissionregistrationv1.MutatingWebhookConfiguration{{
				ObjectMeta: metav1.ObjectMeta{Name: "gatekeep"},
				Webhooks: []admissionregistrationv1.MutatingWebhook{{
					Name:                    "mutate.gatekeep.dev",
					ClientConfig:            admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Name: "gatekeep", Namespace: "gatekeep-system", Path: ptr("mutate")}},
					Rules:                   webhookRules(),
					FailurePolicy:           ptr(admissionregistrationv1.Fail),
					MatchPolicy:             ptr(admissionregistrationv1.Equivalent),
					SideEffects:             &none,
					AdmissionReviewVersions: []string{"v1"},
					TimeoutSeconds:          ptr(int32(3)),
					NamespaceSelector:       namespaceSelector(),
					ReinvocationPolicy:      ptr(admissionregistrationv1.NeverReinvocationPolicy),
				}},
			}},
		},
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	c := &controlPlane{env: env, cfg: cfg, keys: secrets.NewKeys(), logs: &syncBuffer{}}
	c.bundleDir, err = os.MkdirTemp("", "gatekeep-bundle-")
	if err != nil {
		return nil, err
	}
	for name, content := range map[string]string{bundle.ConfigFile: testBundle, "templates.yaml": testTemplates} {
		if err := os.WriteFile(filepath.Join(c.bundleDir, name), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}
	o := env.WebhookInstallOptions
	c.server = New(Options{
		Listen:    fmt.Sprintf("%s:%d", o.LocalServingHost, o.LocalServingPort),
		CertFile:  filepath.Join(o.LocalServingCertDir, "tls.crt"),
		KeyFile:   filepath.Join(o.LocalServingCertDir, "tls.key"),
		Namespace: "gatekeep-system",
		Cluster:   cfg,
		Load: func() (*engine.Engine, error) {
			return loadEngine(c.bundleDir, engine.SealingKeys(c.keys))
		},
		Watch:                  []string{c.bundleDir},
		SealingKeys:            c.keys,
		SealedSecretsNamespace: "kube-system",
		Log:                    funcr.New(c.logs.write, funcr.Options{Verbosity: 10}),
	})
	ctx := context.Background()
	go func() { _ = c.server.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for !c.server.Ready() {
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("gatekeep server not ready in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	clientCfg := rest.CopyConfig(cfg)
	clientCfg.WarningHandler = c
	if c.kube, err = kubernetes.NewForConfig(clientCfg); err != nil {
		return nil, err
	}
	if c.dynamic, err = dynamic.NewForConfig(clientCfg); err != nil {
		return nil, err
	}
	return c, nil
}

// sealedSecretsCRD is the SealedSecret CRD, from the sealed-secrets module.
func sealedSecretsCRD() string {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/bitnami-labs/sealed-secrets").Output()
	if err != nil {
		return "sealed-secrets-module-not-found"
	}
	return filepath.Join(strings.TrimSpace(string(out)), "helm", "sealed-secrets", "crds")
}

// loadEngine builds the admission engine from the built-in bundle and dir,
// as gatekeep serve does.
func loadEngine(dir string, opts ...engine.Option) (*engine.Engine, error) {
	var dirs []string
	if dir != "" {
		dirs = append(dirs, dir)
	}
	b, err := bundle.LoadOverBuiltin(dirs...)
	if err != nil {
		return nil, err
	}
	return engine.New(b, append(opts, engine.WithMode(engine.Admission))...)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if c, ok := shared.Started(); ok {
		_ = c.env.Stop()
		_ = os.RemoveAll(c.bundleDir) // a temp dir: best effort on the way out
	}
	os.Exit(code)
}
