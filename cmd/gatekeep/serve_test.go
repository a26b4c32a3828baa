package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

// TestServeCertFlags: certificate flags that cannot work are refused
// before anything starts.
func TestServeCertFlags(t *testing.T) {
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeFile(t, dir, "kubeconfig", `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
users: [{name: u, user: {token: t}}]
current-context: c
`)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"secret without names", []string{"--cert-secret", "gatekeep-certs"}, "--cert-dns-name"},
		{"names without a secret", []string{"--cert-dns-name", "gatekeep.gatekeep-system.svc"}, "need --cert-secret"},
		{"configuration without a secret", []string{"--webhook-configuration", "gatekeep"}, "need --cert-secret"},
		{"renewal after expiry", []string{"--cert-secret", "s", "--cert-dns-name", "a.b.svc", "--cert-validity", "720h", "--cert-renew-before", "720h"}, "renew-before"},
		{"not a duration", []string{"--cert-secret", "s", "--cert-dns-name", "a.b.svc", "--ca-validity", "10y"}, "ca-validity"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, code, msg := run(t, "", "", append([]string{"serve", "--kubeconfig", kubeconfig}, c.args...)...)
			if code != exitUnusable || !strings.Contains(msg, c.want) {
				t.Errorf("exit %d %q, want %d naming %q", code, msg, exitUnusable, c.want)
			}
		})
	}
}

// TestServeBoundFlags: the webhooks' bounds are flags with the webhook
// package's defaults, and a bound that is no bound is refused before
// anything starts.
func TestServeBoundFlags(t *testing.T) {
	fl := newServeCommand().Flags()
	for name, want := range map[string]string{
		"read-timeout": webhook.DefaultReadTimeout.String(), "write-timeout": webhook.DefaultWriteTimeout.String(),
		"idle-timeout": webhook.DefaultIdleTimeout.String(), "max-connections": strconv.Itoa(webhook.DefaultMaxConnections),
		"max-decode-bytes": strconv.Itoa(webhook.DefaultDecodeBudget),
	} {
		if f := fl.Lookup(name); f == nil || f.DefValue != want {
			t.Errorf("--%s: %+v, want default %s", name, f, want)
		}
	}
	for _, c := range [][]string{
		{"--read-timeout", "0s"}, {"--write-timeout", "-1s"}, {"--idle-timeout", "0s"},
		{"--max-connections", "0"}, {"--max-decode-bytes", "-5"},
	} {
		_, code, msg := run(t, "", "", append([]string{"serve", "--kubeconfig", "/nonexistent"}, c...)...)
		if code != exitUnusable || !strings.Contains(msg, c[0]+" must be positive") {
			t.Errorf("%v: exit %d %q, want %d naming %s", c, code, msg, exitUnusable, c[0])
		}
	}
}

// TestServeMakesItsCertificate runs gatekeep serve --cert-secret against a
// real API server: it makes its certificate, injects its CA into the
// webhook configurations, and the API server then reaches it over TLS
// verified with that caBundle and gets gatekeep's verdicts.
func TestServeMakesItsCertificate(t *testing.T) {
	kubeconfig, cfg := adminCluster(t)
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx := context.Background()
	const own, team, name = "gatekeep-system", "team-a", "gatekeep"
	for _, ns := range []string{own, team} {
		if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	listen, health := controlplanetest.FreeAddr(t), controlplanetest.FreeAddr(t)
	if err := os.Mkdir(filepath.Join(dir, "certs"), 0o700); err != nil { // the chart's emptyDir
		t.Fatal(err)
	}
	createWebhooks(t, kube, name, "https://"+listen, team)

	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		cmd := newRootCommand()
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs([]string{"serve", "--kubeconfig", kubeconfig,
			"--listen", listen, "--health-listen", health, "--metrics-listen", "0", "--shutdown-delay", "0s",
			"--namespace", own, "--db-path", filepath.Join(dir, "no-db"),
			"--cert-secret", "gatekeep-certs", "--webhook-configuration", name,
			"--cert-dns-name", "gatekeep.gatekeep-system.svc", "--cert-dns-name", "127.0.0.1",
			"--tls-cert-file", filepath.Join(dir, "certs", "tls.crt"), "--tls-private-key-file", filepath.Join(dir, "certs", "tls.key")})
		done <- cmd.ExecuteContext(sctx)
	}()
	waitUntil(t, "gatekeep serve to be ready", done, func() bool {
		resp, err := http.Get("http://" + health + "/readyz")
		if err != nil {
			return false
		}
		_ = resp.Body.Close() // only the status matters
		return resp.StatusCode == http.StatusOK
	})

	secret, err := kube.CoreV1().Secrets(own).Get(ctx, "gatekeep-certs", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the certificate Secret: %v", err)
	}
	v, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(secret.Data["ca.crt"]) == 0 || !bytes.Equal(v.Webhooks[0].ClientConfig.CABundle, secret.Data["ca.crt"]) || !bytes.Equal(m.Webhooks[0].ClientConfig.CABundle, secret.Data["ca.crt"]) {
		t.Fatal("caBundle of the webhook configurations is not the Secret's ca.crt")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "certs", "tls.crt")); err != nil || !bytes.Equal(b, secret.Data["tls.crt"]) {
		t.Errorf("--tls-cert-file is not the Secret's tls.crt (%v)", err)
	}

	// The API server follows configuration changes a moment behind: probe
	// with dry runs.
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}
	waitUntil(t, "the API server to reach gatekeep", done, func() bool {
		_, err := kube.CoreV1().Pods(team).Create(ctx, controlplanetest.Pod("probe", false), dryRun)
		return err == nil
	})
	if _, err := kube.CoreV1().Pods(team).Create(ctx, controlplanetest.Pod("web", false), metav1.CreateOptions{}); err != nil {
		t.Errorf("an ordinary Pod was refused: %v", err)
	}
	if _, err := kube.CoreV1().Pods(team).Create(ctx, controlplanetest.Pod("root", true), metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "privileged") {
		t.Errorf("gatekeep did not deny a privileged Pod: %v", err)
	}

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("gatekeep serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Error("gatekeep serve did not stop")
	}
}

// createWebhooks registers gatekeep's two webhooks at url for Pods of
// namespace ns, without a caBundle.
func createWebhooks(t *testing.T, kube kubernetes.Interface, name, url, ns string) {
	t.Helper()
	ctx := context.Background()
	none := admissionregistrationv1.SideEffectClassNone
	fail := admissionregistrationv1.Fail
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
	}}
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	validate, mutate := url+"/validate", url+"/mutate"
	_, err := kube.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.gatekeep.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &validate},
			Rules: rules, FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: sel,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = kube.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.gatekeep.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &mutate},
			Rules: rules, FailurePolicy: &fail, SideEffects: &none, AdmissionReviewVersions: []string{"v1"}, NamespaceSelector: sel,
		}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// waitUntil polls ok until it holds, failing at once if serve stopped; the
// deadline only stops a hung test.
func waitUntil(t *testing.T, what string, done <-chan error, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !ok() {
		select {
		case err := <-done:
			t.Fatalf("gatekeep serve stopped while waiting for %s: %v", what, err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
