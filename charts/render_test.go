package charts

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const (
	chartDir         = "gatekeep"
	releaseName      = "gatekeep"
	releaseNamespace = "gatekeep-system"
)

// kubeVersion is what the chart is rendered for without a cluster (the
// Helm library alone would say v1.20).
var kubeVersion = chartutil.KubeVersion{Version: "v1.37.1", Major: "1", Minor: "37"}

var (
	chartOnce   sync.Once
	loadedChart *chart.Chart
	chartErr    error
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	chartOnce.Do(func() { loadedChart, chartErr = loader.Load(chartDir) })
	if chartErr != nil {
		t.Fatalf("load chart: %v", chartErr)
	}
	return loadedChart
}

// values parses a values file given as YAML, as helm -f does.
func values(t *testing.T, doc string) map[string]any {
	t.Helper()
	v := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &v); err != nil {
		t.Fatalf("values %q: %v", doc, err)
	}
	return v
}

// rendered is the output of helm template for one set of values.
type rendered struct {
	manifest string
	notes    string
	objects  []*unstructured.Unstructured
}

// render renders the chart as helm template (the Helm library, client only)
// would, in releaseNamespace.
func render(t *testing.T, vals map[string]any) (*rendered, error) {
	t.Helper()
	return renderIn(t, releaseName, releaseNamespace, vals)
}

func renderIn(t *testing.T, name, namespace string, vals map[string]any) (*rendered, error) {
	t.Helper()
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.ClientOnly = true
	inst.DryRun = true
	inst.ReleaseName = name
	inst.Namespace = namespace
	inst.KubeVersion = &kubeVersion
	rel, err := inst.RunWithContext(context.Background(), loadChart(t), vals)
	if err != nil {
		return nil, err
	}
	r := &rendered{manifest: rel.Manifest, notes: rel.Info.Notes}
	r.objects, err = splitObjects(rel.Manifest)
	return r, err
}

func mustRender(t *testing.T, vals map[string]any) *rendered {
	t.Helper()
	r, err := render(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// splitObjects parses a multi-document manifest, in its order.
func splitObjects(manifest string) ([]*unstructured.Unstructured, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	// SplitManifests names them manifest-0, manifest-1, ...
	sort.Slice(keys, func(i, j int) bool {
		return manifestIndex(keys[i]) < manifestIndex(keys[j])
	})
	var out []*unstructured.Unstructured
	for _, k := range keys {
		m := map[string]any{}
		if err := yaml.Unmarshal([]byte(docs[k]), &m); err != nil {
			return nil, fmt.Errorf("%s: %w\n%s", k, err, docs[k])
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
	return out, nil
}

// find returns the object of kind and name ("" matches any name), or nil.
func (r *rendered) find(kind, name string) *unstructured.Unstructured {
	for _, o := range r.objects {
		if o.GetKind() == kind && (name == "" || o.GetName() == name) {
			return o
		}
	}
	return nil
}

// typed decodes the object of kind and name into out; it fails the test
// when there is none.
func (r *rendered) typed(t *testing.T, kind, name string, out any) {
	t.Helper()
	o := r.find(kind, name)
	if o == nil {
		t.Fatalf("no %s %q rendered; kinds: %v", kind, name, r.kinds())
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, out); err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
}

func (r *rendered) kinds() []string {
	var out []string
	for _, o := range r.objects {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	return out
}

// scenario is one way to install the chart.
type scenario struct {
	name   string
	values string
}

// scenarios are the options the issue names: built-in certificates (the
// default), cert-manager (own CA or an issuer of yours), a Secret of your
// own, high availability off, and every other option at once.
func scenarios(t *testing.T) []scenario {
	ca := testCA(t)
	return []scenario{
		{"default (built-in certificates)", ""},
		{"cert-manager", "certManager: {enabled: true}"},
		{"cert-manager with a ClusterIssuer", "certManager: {enabled: true, issuerRef: {name: corp-ca, kind: ClusterIssuer}}"},
		{"own Secret", fmt.Sprintf("certs:\n  existingSecret: gatekeep-serving\n  caBundle: |\n%s", indent(ca.certPEM, "    "))},
		{"HA off", "replicas: 1"},
		{"every option", `
image: {digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
imagePullSecrets: [{name: registry}]
replicas: 5
podDisruptionBudget: {maxUnavailable: 2}
priorityClassName: ""
topologySpreadConstraints:
  - {maxSkew: 2, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: DoNotSchedule}
nodeSelector: {kubernetes.io/os: linux}
tolerations: [{key: dedicated, operator: Equal, value: platform, effect: NoSchedule}]
podAnnotations: {prometheus.io/scrape: "true"}
podLabels: {team: platform}
serviceAccount: {annotations: {example.com/role: gatekeep}}
kubernetesVersion: "1.33"
metrics: {enabled: false}
extraArgs: ["--bundle=/extra"]
bundle:
  configMap: policy
  optional: false
  items:
    - {key: gatekeep.yaml, path: gatekeep.yaml}
    - {key: data.registries.yaml, path: data/registries.yaml}
  oci: {ref: "registry.example.com/policy/platform:prod", pullSecret: registry-creds, pollInterval: 5m}
audit:
  enabled: true
  interval: 30m
  excludeNamespaces: [batch]
  pageSize: 200
  rules: [{apiGroups: ["", apps], resources: [pods, deployments]}]
  policyReports: {format: openreports, pass: true}
rbac:
  syncRules:
    - {apiGroups: [""], resources: [services]}
    - {apiGroups: [argoproj.io], resources: [applications]}
sealedSecrets: {namespace: sealed-secrets}
webhooks:
  exemptNamespaces: [monitoring, kube-system]
  matchConditions:
    - name: not-leases
      expression: '!(request.resource.group == "coordination.k8s.io" && request.resource.resource == "leases")'
  validate: {failurePolicy: Ignore, timeoutSeconds: 10}
  mutate: {failurePolicy: Fail, timeoutSeconds: 2, reinvocationPolicy: IfNeeded}
certs:
  builtin: {validityDays: 365, renewBeforeDays: 30}
`},
	}
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n") + "\n"
}

// certAuthority is a CA the tests sign serving certificates with.
type certAuthority struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	certPEM string
}

var (
	caOnce   sync.Once
	sharedCA *certAuthority
	caErr    error
)

func testCA(t *testing.T) *certAuthority {
	t.Helper()
	caOnce.Do(func() { sharedCA, caErr = newCA() })
	if caErr != nil {
		t.Fatal(caErr)
	}
	return sharedCA
}

func newCA() (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gatekeep-chart-test-ca"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certAuthority{cert: cert, key: key, certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}, nil
}

// serving issues a serving certificate for 127.0.0.1, as PEM.
func (ca *certAuthority) serving() (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), nil
}

// parseCerts reads every certificate of a PEM bundle.
func parseCerts(t *testing.T, data []byte) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("parse certificate: %v", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		t.Fatal("no certificate in the PEM")
	}
	return out
}

// verifyServing checks that certPEM is a serving certificate for dnsName
// that roots (a PEM bundle) trust.
func verifyServing(t *testing.T, certPEM, roots []byte, dnsName string) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		t.Fatal("caBundle holds no certificate")
	}
	leaf := parseCerts(t, certPEM)[0]
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: dnsName, Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("serving certificate does not verify for %s against caBundle: %v", dnsName, err)
	}
	return leaf
}

// manifestIndex is n in SplitManifests' "manifest-n", or 0 for a key not
// of that form (so those sort first, as they always have).
func manifestIndex(key string) int {
	var n int
	if _, err := fmt.Sscanf(key, "manifest-%d", &n); err != nil {
		return 0
	}
	return n
}
