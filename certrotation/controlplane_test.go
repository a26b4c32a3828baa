package certrotation

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/testr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
)

// A real kube-apiserver and etcd (envtest), shared by the tests; each test
// works in a namespace and webhook configurations of its own.
type controlPlane struct {
	env  *envtest.Environment
	kube *kubernetes.Clientset
}

var shared controlplanetest.Shared[*controlPlane]

func startControlPlane(t *testing.T) *kubernetes.Clientset {
	return shared.Get(t, func(assets string) (*controlPlane, error) {
		env := &envtest.Environment{BinaryAssetsDirectory: assets}
		cfg, err := env.Start()
		if err != nil {
			return nil, err
		}
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			_ = env.Stop()
			return nil, err
		}
		return &controlPlane{env: env, kube: kube}, nil
	}).kube
}

func TestMain(m *testing.M) {
	code := m.Run()
	if c, ok := shared.Started(); ok {
		_ = c.env.Stop()
	}
	os.Exit(code)
}

// clock is a clock the tests move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// fixture is one test's namespace, Secret name, webhook configurations and
// certificate folder.
type fixture struct {
	kube  *kubernetes.Clientset
	ns    string
	name  string // of the Secret and of both configurations
	clock *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	kube := startControlPlane(t)
	ctx := context.Background()
	ns, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "rotation-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{kube: kube, ns: ns.Name, name: ns.Name, clock: newClock()}
}

// webhooks creates both configurations, each with two webhooks calling
// url, for Pods in namespaces labelled selector (none: no namespace is).
func (f *fixture) webhooks(t *testing.T, url string, failure admissionregistrationv1.FailurePolicyType, selector map[string]string) {
	t.Helper()
	ctx := context.Background()
	if selector == nil {
		selector = map[string]string{"no-namespace-has": "this-label"}
	}
	none := admissionregistrationv1.SideEffectClassNone
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	cc := func(path string) admissionregistrationv1.WebhookClientConfig {
		u := url + path
		return admissionregistrationv1.WebhookClientConfig{URL: &u}
	}
	sel := &metav1.LabelSelector{MatchLabels: selector}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: f.name}}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: f.name}}
	for _, n := range []string{"a", "b"} {
		v.Webhooks = append(v.Webhooks, admissionregistrationv1.ValidatingWebhook{
			Name: n + ".validate.gatekeep.dev", ClientConfig: cc("/validate"), Rules: rules, FailurePolicy: &failure,
			SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: sel,
		})
		m.Webhooks = append(m.Webhooks, admissionregistrationv1.MutatingWebhook{
			Name: n + ".mutate.gatekeep.dev", ClientConfig: cc("/mutate"), Rules: rules, FailurePolicy: &failure,
			SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: sel,
		})
	}
	if _, err := f.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, v, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, m, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = f.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(ctx, f.name, metav1.DeleteOptions{})
		_ = f.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Delete(ctx, f.name, metav1.DeleteOptions{})
	})
}

// rotator makes a replica: its own certificate folder, the fixture's
// Secret, configurations and clock.
func (f *fixture) rotator(t *testing.T, change func(*Options)) *Rotator {
	t.Helper()
	dir := t.TempDir()
	opts := Options{
		Client: f.kube, Namespace: f.ns, SecretName: f.name,
		DNSNames:                       []string{"gatekeep." + f.ns + ".svc", "127.0.0.1"},
		ValidatingWebhookConfiguration: f.name, MutatingWebhookConfiguration: f.name,
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key"),
		Interval: time.Hour, // tests call sync, or say otherwise
		Now:      f.clock.Now,
		Log:      testr.New(t),
	}
	if change != nil {
		change(&opts)
	}
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run runs r until the test ends.
func run(t *testing.T, r *Rotator) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func mustSync(t *testing.T, r *Rotator) {
	t.Helper()
	if err := r.sync(context.Background()); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func (f *fixture) secret(t *testing.T) *corev1.Secret {
	t.Helper()
	s, err := f.kube.CoreV1().Secrets(f.ns).Get(context.Background(), f.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// caBundles returns the caBundle of every webhook of both configurations.
func (f *fixture) caBundles(t *testing.T) [][]byte {
	t.Helper()
	ctx := context.Background()
	var out [][]byte
	v, err := f.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, f.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range v.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	m, err := f.kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, f.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out
}

// injected reports whether every webhook trusts exactly bundle.
func (f *fixture) injected(t *testing.T, bundle []byte) bool {
	t.Helper()
	for _, b := range f.caBundles(t) {
		if !bytes.Equal(b, bundle) {
			return false
		}
	}
	return true
}

// check checks the Secret (usable certificates for r's names), caBundle
// (its ca.crt) and r's files (its tls.crt and tls.key), and returns the
// Secret.
func (f *fixture) check(t *testing.T, r *Rotator) *corev1.Secret {
	t.Helper()
	s := f.secret(t)
	checkData(t, r, s.Data, f.clock.Now())
	if !f.injected(t, s.Data[caCertKey]) {
		t.Error("caBundle of the webhooks is not the Secret's ca.crt")
	}
	for file, key := range map[string]string{r.opts.CertFile: tlsCertKey, r.opts.KeyFile: tlsKeyKey} {
		b, err := os.ReadFile(file)
		if err != nil || !bytes.Equal(b, s.Data[key]) {
			t.Errorf("%s is not the Secret's %s (%v)", file, key, err)
		}
	}
	return s
}

// waitFor polls ok until it holds; the deadline only stops a hung test.
func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestFirstRun: a Secret is made, both configurations trust its CA, the
// files are written and Ready says so.
func TestFirstRun(t *testing.T) {
	f := newFixture(t)
	f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
	r := f.rotator(t, nil)
	select {
	case <-r.Ready():
		t.Fatal("ready before the first pass")
	default:
	}
	mustSync(t, r)
	select {
	case <-r.Ready():
	default:
		t.Fatal("not ready after the first pass")
	}
	s := f.check(t, r)
	if s.Type != corev1.SecretTypeTLS || len(parseCerts(s.Data[caCertKey])) != 1 {
		t.Errorf("Secret of type %s with %d CAs", s.Type, len(parseCerts(s.Data[caCertKey])))
	}
	if st, err := os.Stat(r.opts.KeyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file: %v %v", st.Mode(), err)
	}
	// A second pass changes nothing.
	mustSync(t, r)
	if again := f.secret(t); again.ResourceVersion != s.ResourceVersion {
		t.Error("a pass with nothing due wrote the Secret")
	}
}

// TestReplicas: replicas share one Secret; none churns what another made.
func TestReplicas(t *testing.T) {
	t.Run("a second replica keeps the certificate", func(t *testing.T) {
		f := newFixture(t)
		f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
		a, b := f.rotator(t, nil), f.rotator(t, nil)
		mustSync(t, a)
		first := f.check(t, a)
		mustSync(t, b)
		if f.check(t, b).ResourceVersion != first.ResourceVersion {
			t.Error("the second replica rewrote the Secret")
		}
	})
	t.Run("replicas starting together agree", func(t *testing.T) {
		f := newFixture(t)
		f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
		rs := []*Rotator{f.rotator(t, nil), f.rotator(t, nil), f.rotator(t, nil)}
		var wg sync.WaitGroup
		errs := make([]error, len(rs))
		for i, r := range rs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = r.sync(context.Background())
			}()
		}
		wg.Wait()
		for i, r := range rs {
			if errs[i] != nil {
				t.Errorf("replica %d: %v", i, errs[i])
				continue
			}
			f.check(t, r) // every replica's files are the one Secret's
		}
	})
}

// TestRenewal: what is due is renewed, and only that.
func TestRenewal(t *testing.T) {
	day := 24 * time.Hour
	short := func(o *Options) { o.CAValidity, o.CertValidity, o.RenewBefore = 48*day, 40*day, 12*day }
	for _, c := range []struct {
		name           string
		after          time.Duration
		names          []string // asked for by the second pass (nil: the same)
		newCA, newCert bool
	}{
		{"nothing due", 27 * day, nil, false, false},
		{"serving certificate within renew-before", 29 * day, nil, false, true},
		{"a DNS name added", time.Hour, []string{"gatekeep.other.svc"}, false, true},
		{"CA within renew-before", 37 * day, nil, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
			r := f.rotator(t, short)
			mustSync(t, r)
			before := f.check(t, r)
			f.clock.advance(c.after)
			if c.names != nil {
				r = f.rotator(t, func(o *Options) { short(o); o.DNSNames = append(o.DNSNames, c.names...) })
			}
			mustSync(t, r)
			after := f.check(t, r)
			if got := !bytes.Equal(after.Data[caKeyKey], before.Data[caKeyKey]); got != c.newCA {
				t.Errorf("new CA: %v, want %v", got, c.newCA)
			}
			if got := !bytes.Equal(after.Data[tlsCertKey], before.Data[tlsCertKey]); got != c.newCert {
				t.Errorf("new serving certificate: %v, want %v", got, c.newCert)
			}
		})
	}
}

// TestCARotation: a CA near expiry is replaced; caBundle trusts the new
// and the previous CA (pods still serving a certificate of the previous
// one are not refused) until the previous one expires.
func TestCARotation(t *testing.T) {
	day := 24 * time.Hour
	f := newFixture(t)
	f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
	r := f.rotator(t, func(o *Options) { o.CAValidity, o.CertValidity, o.RenewBefore = 48*day, 47*day, 12*day })
	mustSync(t, r)
	old := f.check(t, r)

	f.clock.advance(37 * day) // the CA has 11 days left
	mustSync(t, r)
	rotated := f.check(t, r)
	cas := parseCerts(rotated.Data[caCertKey])
	oldCA := parseCerts(old.Data[caCertKey])[0]
	if len(cas) != 2 || !cas[1].Equal(oldCA) || cas[0].Equal(oldCA) {
		t.Fatalf("after the rotation ca.crt holds %d CAs, want the new one and then the previous", len(cas))
	}
	roots := x509.NewCertPool()
	for _, b := range f.caBundles(t) {
		roots.AppendCertsFromPEM(b)
	}
	oldLeaf := parseCerts(old.Data[tlsCertKey])[0]
	if _, err := oldLeaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: roots, CurrentTime: f.clock.Now()}); err != nil {
		t.Errorf("a pod still serving the previous certificate is not trusted: %v", err)
	}

	f.clock.advance(12 * day) // the previous CA has expired
	mustSync(t, r)
	pruned := f.check(t, r)
	if cas := parseCerts(pruned.Data[caCertKey]); len(cas) != 1 || !cas[0].Equal(parseCerts(rotated.Data[caCertKey])[0]) {
		t.Errorf("after the previous CA expired ca.crt holds %d CAs, want the current one", len(cas))
	}
	if !bytes.Equal(pruned.Data[tlsCertKey], rotated.Data[tlsCertKey]) {
		t.Error("dropping the previous CA reissued the serving certificate")
	}
}

// TestRepairsSecret: a damaged Secret is repaired; while Run runs, at once
// (it watches the Secret), not at the next interval.
func TestRepairsSecret(t *testing.T) {
	for _, c := range []struct {
		name   string
		damage func(*corev1.Secret)
	}{
		{"garbage in every key", func(s *corev1.Secret) {
			for k := range s.Data {
				s.Data[k] = []byte("garbage")
			}
		}},
		{"no CA key", func(s *corev1.Secret) { delete(s.Data, caKeyKey) }},
		{"serving certificate and key swapped", func(s *corev1.Secret) {
			s.Data[tlsCertKey], s.Data[tlsKeyKey] = s.Data[tlsKeyKey], s.Data[tlsCertKey]
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
			r := f.rotator(t, nil) // Interval: an hour
			run(t, r)
			<-r.Ready()
			s := f.check(t, r)
			c.damage(s)
			if _, err := f.kube.CoreV1().Secrets(f.ns).Update(context.Background(), s, metav1.UpdateOptions{}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the Secret to be repaired", func() bool {
				_, why, err := r.plan(f.secret(t).Data, f.clock.Now())
				return err == nil && len(why) == 0
			})
			waitFor(t, "the files and caBundle to follow", func() bool {
				s := f.secret(t)
				b, _ := os.ReadFile(r.opts.CertFile)
				return bytes.Equal(b, s.Data[tlsCertKey]) && f.injected(t, s.Data[caCertKey])
			})
			f.check(t, r)
		})
	}

	t.Run("deleted", func(t *testing.T) {
		f := newFixture(t)
		f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
		r := f.rotator(t, nil)
		run(t, r)
		<-r.Ready()
		if err := f.kube.CoreV1().Secrets(f.ns).Delete(context.Background(), f.name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the Secret to be made again", func() bool {
			_, err := f.kube.CoreV1().Secrets(f.ns).Get(context.Background(), f.name, metav1.GetOptions{})
			return err == nil
		})
		waitFor(t, "the files and caBundle to follow", func() bool {
			s := f.secret(t)
			b, _ := os.ReadFile(r.opts.CertFile)
			return bytes.Equal(b, s.Data[tlsCertKey]) && f.injected(t, s.Data[caCertKey])
		})
		f.check(t, r)
	})
}

// TestConfigurationsLater: webhook configurations that do not exist yet
// hold nothing back (the files are written, Ready closes), and get their
// caBundle once they are created.
func TestConfigurationsLater(t *testing.T) {
	f := newFixture(t)
	r := f.rotator(t, nil) // Interval: an hour
	if err := r.sync(context.Background()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("first pass without configurations: %v", err)
	}
	select {
	case <-r.Ready():
	default:
		t.Fatal("not ready without the configurations")
	}
	run(t, r)
	f.webhooks(t, "https://127.0.0.1:1", admissionregistrationv1.Ignore, nil)
	waitFor(t, "caBundle in the new configurations", func() bool { return f.injected(t, f.secret(t).Data[caCertKey]) })
	f.check(t, r)

	// Someone (helm upgrade --force, kubectl replace) clears it: it is put
	// back.
	v, err := f.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(context.Background(), f.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v.Webhooks[1].ClientConfig.CABundle = nil
	if _, err := f.kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(context.Background(), v, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "caBundle put back", func() bool { return f.injected(t, f.secret(t).Data[caCertKey]) })
}

// serving reports whether the TLS server at addr serves certPEM.
func serving(addr string, certPEM []byte) bool {
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // compares the certificate itself
	if err != nil {
		return false
	}
	defer conn.Close()
	want := parseCerts(certPEM)
	peer := conn.ConnectionState().PeerCertificates
	return len(want) == 1 && len(peer) > 0 && peer[0].Equal(want[0])
}
