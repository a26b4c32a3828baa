package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
)

func review(t testing.TB, op admissionv1.Operation, obj string) []byte {
	t.Helper()
	ar := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID("uid-1"), Operation: op, Namespace: "team-1",
			Kind:   metav1.GroupVersionKind{Version: "v1", Kind: "Pod"},
			Object: runtime.RawExtension{Raw: []byte(obj)},
		},
	}
	b, err := json.Marshal(ar)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const privilegedPodJSON = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"main","image":"x","securityContext":{"privileged":true}}]}}`

func newTestServer(t *testing.T) *Server {
	t.Helper()
	s := New(Options{Load: func() (*engine.Engine, error) { return loadEngine("") }, Log: logr.Discard(), Namespace: "gatekeep-system"})
	if err := s.reload(); err != nil {
		t.Fatal(err)
	}
	return s
}

func post(t *testing.T, h http.Handler, path string, body []byte) admissionv1.AdmissionReview {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	var out admissionv1.AdmissionReview
	if rec.Code == http.StatusOK {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("response is not an AdmissionReview: %v\n%s", err, rec.Body.String())
		}
	}
	return out
}

func TestEndpointVerdicts(t *testing.T) {
	s := newTestServer(t)
	h := s.Handler()
	out := post(t, h, "/validate", review(t, admissionv1.Create, privilegedPodJSON))
	r := out.Response
	if r == nil || r.UID != "uid-1" || r.Allowed || r.Result.Code != http.StatusForbidden || r.Result.Reason != metav1.StatusReasonForbidden {
		t.Fatalf("privileged pod: %+v", r)
	}
	if !strings.Contains(r.Result.Message, `[privileged-container] container "main" is privileged`) {
		t.Errorf("message %q", r.Result.Message)
	}
	if r.AuditAnnotations[DigestAnnotation] != s.Engines().Get().Bundle().Digest {
		t.Errorf("audit annotations %v lack the bundle digest", r.AuditAnnotations)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" {
		t.Errorf("response type %s %s", out.APIVersion, out.Kind)
	}
	// DELETE passes without judging; gatekeep's own namespace too.
	out = post(t, h, "/validate", review(t, admissionv1.Delete, privilegedPodJSON))
	if !out.Response.Allowed {
		t.Errorf("DELETE refused")
	}
	body := bytes.Replace(review(t, admissionv1.Create, privilegedPodJSON), []byte(`"namespace":"team-1"`), []byte(`"namespace":"gatekeep-system"`), 1)
	if out = post(t, h, "/validate", body); !out.Response.Allowed {
		t.Errorf("gatekeep's own namespace was judged")
	}
	// dryrun findings become audit annotations only.
	eng, err := engineWith("checks:\n  privileged-container: dryrun\n")
	if err != nil {
		t.Fatal(err)
	}
	s.Engines().Set(eng)
	out = post(t, h, "/validate", review(t, admissionv1.Create, privilegedPodJSON))
	if !out.Response.Allowed || len(out.Response.Warnings) != 0 || !strings.Contains(out.Response.AuditAnnotations["dryrun-1"], "privileged-container") {
		t.Errorf("dryrun: %+v", out.Response)
	}
}

func TestEndpointBadInput(t *testing.T) {
	h := newTestServer(t).Handler()
	for _, tc := range []struct {
		name string
		body []byte
		code int
		want string
	}{
		{"not JSON", []byte("hello"), http.StatusBadRequest, "not an AdmissionReview"},
		{"no request", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest, "no request"},
		{"v1beta1", bytes.Replace(review(t, admissionv1.Create, "{}"), []byte("admission.k8s.io/v1"), []byte("admission.k8s.io/v1beta1"), 1), http.StatusBadRequest, "use admission.k8s.io/v1"},
		{"data after the review", append(review(t, admissionv1.Create, "{}"), []byte(` {}`)...), http.StatusBadRequest, "data after the AdmissionReview"},
		{"operation not a string", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":5,"object":{}}}`), http.StatusBadRequest, "operation"},
		{"too large", append(review(t, admissionv1.Create, "{}"), bytes.Repeat([]byte(" "), MaxBodyBytes)...), http.StatusRequestEntityTooLarge, "larger than"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(tc.body)))
		if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("%s: %d %q, want %d with %q", tc.name, rec.Code, rec.Body.String(), tc.code, tc.want)
		}
	}
	// An object that is not JSON is this request's error, not the server's.
	out := post(t, h, "/validate", review(t, admissionv1.Create, `"just a string"`))
	if out.Response == nil || out.Response.Allowed || out.Response.Result.Code != http.StatusBadRequest {
		t.Errorf("bad object: %+v", out.Response)
	}
}

type panicking struct{}

func (panicking) decide(context.Context, *admissionRequest) admission.Response { panic("a policy bug") }

type slow struct{}

func (slow) decide(ctx context.Context, _ *admissionRequest) admission.Response {
	<-ctx.Done()
	return admission.Allowed("")
}

func TestEndpointSurvivesPanicsAndDeadlines(t *testing.T) {
	m := newMetrics()
	p := &endpoint{name: "validate", decider: panicking{}, metrics: m, log: logr.Discard()}
	out := post(t, p, "/validate", review(t, admissionv1.Create, "{}"))
	if out.Response == nil || out.Response.Allowed || out.Response.Result.Code != http.StatusInternalServerError || out.Response.UID != "uid-1" {
		t.Errorf("panic: %+v", out.Response)
	}
	if strings.Contains(out.Response.Result.Message, "a policy bug") {
		t.Errorf("the panic's text reached the client: %q", out.Response.Result.Message)
	}
	// The same endpoint still answers.
	out = post(t, p, "/validate", review(t, admissionv1.Create, "{}"))
	if out.Response == nil {
		t.Errorf("no answer after a panic")
	}
	// The deadline the API server gives (?timeout=) is honoured.
	s := &endpoint{name: "validate", decider: slow{}, metrics: m, log: logr.Discard()}
	start := time.Now()
	out = post(t, s, "/validate?timeout=200ms", review(t, admissionv1.Create, "{}"))
	if out.Response == nil || out.Response.Allowed || out.Response.Result.Code != http.StatusGatewayTimeout {
		t.Errorf("deadline: %+v", out.Response)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("the review outlived its deadline")
	}
}

func TestMutateEndpointPatches(t *testing.T) {
	s := newTestServer(t)
	eng, err := engineWith(testBundle)
	if err != nil {
		t.Fatal(err)
	}
	s.Engines().Set(eng)
	body := bytes.Replace(review(t, admissionv1.Create, `{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`), []byte(`"namespace":"team-1"`), []byte(`"namespace":"dk-7"`), 1)
	out := post(t, s.Handler(), "/mutate", body)
	r := out.Response
	if r == nil || !r.Allowed || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("mutate: %+v", r)
	}
	if !strings.Contains(string(r.Patch), `"gatekeep.dev/pr":"7"`) {
		t.Errorf("patch %s", r.Patch)
	}
}

// TestServeHealthMetricsAndReload runs the whole server (TLS, probes,
// metrics, bundle watching) without a cluster.
func TestServeHealthMetricsAndReload(t *testing.T) {
	reloads := make(chan error, 64)
	ts := startServer(t, "checks:\n  privileged-container: deny\n", func(o *Options) {
		o.hooks.reloaded = func(err error) { reloads <- err }
	})
	s, addr, health, metricsAddr, bundleDir, certFile, keyFile := ts.s, ts.addr, ts.health, ts.metrics, ts.bundleDir, ts.certFile, ts.keyFile
	waitFor(t, "readyz", func() bool { return get(health, "/readyz") == http.StatusOK })
	if get(health, "/healthz") != http.StatusOK {
		t.Errorf("healthz not ok")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // G402: the test server's self-signed certificate, on loopback
	resp, err := client.Post("https://"+addr.String()+"/validate", "application/json", bytes.NewReader(review(t, admissionv1.Create, privilegedPodJSON)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the status matters
	first := s.Engines().Get().Bundle().Digest
	metrics := fetch(t, "http://"+metricsAddr+"/metrics")
	for _, want := range []string{
		`gatekeep_admission_requests_total{operation="CREATE",outcome="denied",webhook="validate"} 1`,
		`gatekeep_decisions_total{action="deny",check="privileged-container"} 1`,
		`gatekeep_bundle_info{digest="` + first + `"`,
		`gatekeep_admission_duration_seconds_bucket{webhook="validate",le=`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// A changed bundle is picked up; a broken one is logged and ignored.
	if err := os.WriteFile(filepath.Join(bundleDir, bundle.ConfigFile), []byte("checks:\n  privileged-container: warn\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the bundle to reload", func() bool { return s.Engines().Get().Bundle().Digest != first })
	second := s.Engines().Get().Bundle().Digest
	if err := os.WriteFile(filepath.Join(bundleDir, bundle.ConfigFile), []byte("checks:\n  privileged-container: maybe\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Wait for the reload of the broken bundle (the loads before it, of
	// good bundles, succeeded).
	for broken := false; !broken; {
		select {
		case err := <-reloads:
			broken = err != nil
		case <-time.After(time.Minute): // a guard against a hang only
			t.Fatal("the broken bundle was never loaded")
		}
	}
	if m := fetch(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(m, `gatekeep_bundle_reloads_total{result="failed"} 1`) {
		t.Errorf("the failed reload was not counted")
	}
	if got := s.Engines().Get().Bundle().Digest; got != second {
		t.Errorf("a broken bundle replaced the good one")
	}
	// The serving certificate is re-read when it changes.
	old := peerCert(addr)
	writeCertTo(t, certFile, keyFile, "127.0.0.1")
	waitFor(t, "the new certificate", func() bool { return !bytes.Equal(peerCert(addr), old) })
}

// TestServeWithoutABundleAtStart: a bundle that does not load at start
// leaves the server up but not ready, answering 503; fixed, it is taken at
// once and the server judges.
func TestServeWithoutABundleAtStart(t *testing.T) {
	ts := startServer(t, "checks:\n  privileged-container: maybe\n")
	addr, health, metricsAddr, bundleDir, ran := ts.addr, ts.health, ts.metrics, ts.bundleDir, ts.ran
	waitFor(t, "healthz", func() bool { return get(health, "/healthz") == http.StatusOK })
	if code := get(health, "/readyz"); code == http.StatusOK {
		t.Fatalf("ready without a bundle")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // G402: the test server's self-signed certificate, on loopback
	validate := func() admissionv1.AdmissionReview {
		t.Helper()
		resp, err := client.Post("https://"+addr.String()+"/validate", "application/json", bytes.NewReader(review(t, admissionv1.Create, privilegedPodJSON)))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out admissionv1.AdmissionReview
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if r := validate().Response; r.Allowed || r.Result == nil || r.Result.Code != http.StatusServiceUnavailable {
		t.Fatalf("without a bundle: %+v", r)
	}
	if m := fetch(t, "http://"+metricsAddr+"/metrics"); !strings.Contains(m, "gatekeep_bundle_load_failures_total 1") {
		t.Errorf("no load failure counted")
	}
	if err := os.WriteFile(filepath.Join(bundleDir, bundle.ConfigFile), []byte("checks:\n  privileged-container: deny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "readyz", func() bool { return get(health, "/readyz") == http.StatusOK })
	if r := validate().Response; r.Allowed || r.Result == nil || r.Result.Code != http.StatusForbidden || !strings.Contains(r.Result.Message, "privileged") {
		t.Fatalf("with the bundle: %+v", r)
	}
	select {
	case err := <-ran:
		t.Fatalf("Run returned: %v", err)
	default:
	}
}

// testServer is a whole server (TLS, probes, metrics, a watched bundle
// folder) running without a cluster until the test ends.
type testServer struct {
	s                            *Server
	addr                         net.Addr
	health, metrics              string
	bundleDir, certFile, keyFile string
	ran                          chan error // what Run returned
	stop                         context.CancelFunc
}

// startServer starts a server whose bundle folder holds gatekeep.yaml
// with config, and waits until it is live. Its probe and metrics ports are
// found free and then taken by the server, so another process (go test
// runs packages at once) may take one in between: the server then fails
// at once, and is started again on other ports.
func startServer(t *testing.T, config string, opts ...func(*Options)) *testServer {
	t.Helper()
attempts:
	for attempt := 1; ; attempt++ {
		ts := startServerOnce(t, config, opts...)
		deadline := time.Now().Add(20 * time.Second)
		for get(ts.health, "/healthz") != http.StatusOK {
			select {
			case err := <-ts.ran:
				if attempt < 3 && errors.Is(err, syscall.EADDRINUSE) {
					continue attempts
				}
				t.Fatalf("server did not start: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for healthz")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return ts
	}
}

func startServerOnce(t *testing.T, config string, opts ...func(*Options)) *testServer {
	t.Helper()
	dir := t.TempDir()
	ts := &testServer{bundleDir: filepath.Join(dir, "bundle"), ran: make(chan error, 1),
		health: controlplanetest.FreeAddr(t), metrics: controlplanetest.FreeAddr(t)}
	ts.certFile, ts.keyFile = writeCert(t, dir, "127.0.0.1")
	if err := os.MkdirAll(ts.bundleDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ts.bundleDir, bundle.ConfigFile), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	o := Options{
		Listen: "127.0.0.1:0", HealthListen: ts.health, MetricsListen: ts.metrics,
		CertFile: ts.certFile, KeyFile: ts.keyFile,
		Load:  func() (*engine.Engine, error) { return loadEngine(ts.bundleDir) },
		Watch: []string{ts.bundleDir}, Log: logr.Discard(),
	}
	for _, f := range opts {
		f(&o)
	}
	ts.s = New(o)
	ctx, cancel := context.WithCancel(context.Background())
	ts.stop = cancel
	t.Cleanup(cancel)
	go func() { ts.ran <- ts.s.Run(ctx) }()
	wait, stop := context.WithTimeout(ctx, 20*time.Second)
	defer stop()
	var err error
	if ts.addr, err = ts.s.Addr(wait); err != nil {
		t.Fatal(err)
	}
	return ts
}

func get(addr, path string) int {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0
	}
	_ = resp.Body.Close() // only the status matters
	return resp.StatusCode
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) //nolint:gosec // G107: the test's own loopback metrics endpoint
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func peerCert(addr net.Addr) []byte {
	conn, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // G402: the test server's self-signed certificate, on loopback
	if err != nil {
		return nil
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Raw
}
