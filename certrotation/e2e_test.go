package certrotation

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
)

// admitter is a TLS webhook server on the rotator's files (re-read by
// controller-runtime's certwatcher, as gatekeep serve does) that admits
// everything and counts the calls.
type admitter struct {
	addr  string
	calls atomic.Int64
}

func startAdmitter(t *testing.T, ln net.Listener, certFile, keyFile string) *admitter {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cw, err := certwatcher.New(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = cw.Start(ctx) }()
	a := &admitter{addr: ln.Addr().String()}
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cw.GetCertificate},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			var review admissionv1.AdmissionReview
			if err := json.NewDecoder(req.Body).Decode(&review); err != nil || review.Request == nil {
				http.Error(w, "not an AdmissionReview", http.StatusBadRequest)
				return
			}
			a.calls.Add(1)
			review.Response = &admissionv1.AdmissionResponse{UID: review.Request.UID, Allowed: true}
			review.Request = nil
			_ = json.NewEncoder(w).Encode(&review)
		}),
	}
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("webhook server: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
	})
	return a
}

func testPod(name string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "registry.example.com/app:1.0"}}},
	}
}

// TestEndToEnd: the API server calls a webhook serving the rotator's
// certificate, verifying it with the caBundle the rotator injected, before
// and after a CA rotation; a configuration without that caBundle is
// refused the same server.
func TestEndToEnd(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.kube.CoreV1().Namespaces().Patch(ctx, f.ns, "application/merge-patch+json",
		[]byte(`{"metadata":{"labels":{"certrotation-e2e":"`+f.ns+`"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://" + ln.Addr().String()
	f.webhooks(t, url, admissionregistrationv1.Fail, map[string]string{"certrotation-e2e": f.ns})

	// The clock moves by less than the certificates are backdated, so that
	// the API server (on the real clock) finds them valid. The CA has 20
	// minutes more than renew-before: half an hour on, it is rotated.
	r := f.rotator(t, func(o *Options) {
		o.CAValidity, o.CertValidity, o.RenewBefore = 80*time.Minute, 70*time.Minute, time.Hour
		o.Interval = 200 * time.Millisecond
	})
	run(t, r)
	<-r.Ready()
	srv := startAdmitter(t, ln, r.opts.CertFile, r.opts.KeyFile)
	first := f.check(t, r)

	admitted := func(name string) {
		t.Helper()
		before := srv.calls.Load()
		if _, err := f.kube.CoreV1().Pods(f.ns).Create(ctx, testPod(name), metav1.CreateOptions{}); err != nil {
			t.Fatalf("Pod create through the webhooks: %v", err)
		}
		// Two validating and two mutating webhooks.
		if got := srv.calls.Load() - before; got != 4 {
			t.Errorf("the webhook server was called %d times for one Pod, want 4", got)
		}
	}
	// The API server's webhook clients follow configuration changes a
	// moment behind: probe with dry runs until the caBundle is in force.
	waitFor(t, "the injected caBundle to be in force", func() bool {
		_, err := f.kube.CoreV1().Pods(f.ns).Create(ctx, testPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil
	})
	admitted("before-rotation")

	f.clock.advance(30 * time.Minute)
	waitFor(t, "the CA rotation", func() bool { return len(parseCerts(f.secret(t).Data[caCertKey])) == 2 })
	rotated := f.secret(t)
	waitFor(t, "the server to serve the new certificate", func() bool { return serving(srv.addr, rotated.Data[tlsCertKey]) })
	rotated = f.check(t, r)
	if parseCerts(rotated.Data[caCertKey])[0].Equal(parseCerts(first.Data[caCertKey])[0]) {
		t.Fatal("the CA was not rotated")
	}
	// The previous certificate is still trusted by what the API server
	// holds (the real clock): a pod that has not reloaded yet is not
	// refused.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(f.caBundles(t)[0])
	if _, err := parseCerts(first.Data[tlsCertKey])[0].Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: roots}); err != nil {
		t.Errorf("the previous serving certificate is not trusted after the rotation: %v", err)
	}
	waitFor(t, "the rotated caBundle to be in force", func() bool {
		_, err := f.kube.CoreV1().Pods(f.ns).Create(ctx, testPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil
	})
	admitted("after-rotation")

	// The same server, called by a configuration that does not trust the
	// rotator's CA: the API server refuses the TLS handshake.
	other := newFixture(t)
	if _, err := f.kube.CoreV1().Namespaces().Patch(ctx, other.ns, "application/merge-patch+json",
		[]byte(`{"metadata":{"labels":{"certrotation-e2e":"`+other.ns+`"}}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	other.webhooks(t, url, admissionregistrationv1.Fail, map[string]string{"certrotation-e2e": other.ns})
	waitFor(t, "the untrusting configuration to be in force", func() bool {
		_, err := f.kube.CoreV1().Pods(other.ns).Create(ctx, testPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err != nil
	})
	_, err = f.kube.CoreV1().Pods(other.ns).Create(ctx, testPod("untrusted"), metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "x509") {
		t.Errorf("without the injected caBundle: %v, want a refusal for an unknown authority", err)
	}
}
