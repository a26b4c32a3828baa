package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	sscrypto "github.com/bitnami-labs/sealed-secrets/pkg/crypto"
)

// kubesealBin finds the real kubeseal (make test builds it into bin/).
func kubesealBin(t *testing.T) string {
	t.Helper()
	p := os.Getenv("KUBESEAL")
	if p == "" {
		p, _ = filepath.Abs("../../bin/kubeseal")
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("GATEKEEP_CONTROLPLANE") == "required" {
			t.Fatalf("kubeseal not found at %s: run make test", p)
		}
		t.Skipf("kubeseal not found at %s: make test builds it", p)
	}
	return p
}

// sealingKey writes a controller-style key and certificate into dir.
func sealingKey(t *testing.T, dir string) (keyFile, certFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := sscrypto.SignKey(rand.Reader, key, time.Hour, "sealed-secret")
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile = filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
	return keyFile, certFile
}

func kubeseal(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(kubesealBin(t), args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubeseal %v: %v", args, err)
	}
	return string(out)
}

const plaintext = "correct-horse-battery-staple"

func TestSealedSecretsInCI(t *testing.T) {
	kubesealBin(t)
	dir := t.TempDir()
	keyFile, certFile := sealingKey(t, dir)
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {password: " + plaintext + "}\n"
	sealed := kubeseal(t, secret, "--cert", certFile, "--format", "yaml")
	writeFile(t, dir, "ok/sealed.yaml", sealed)
	writeFile(t, dir, "renamed/sealed.yaml", strings.Replace(sealed, "name: db\n  namespace: shop", "name: db-v2\n  namespace: shop", 1))
	if !strings.Contains(sealed, "encryptedData") {
		t.Fatalf("kubeseal gave %s", sealed)
	}
	// Without a key: structure only, and it is well formed.
	if _, code, msg := run(t, dir, "", "check", "ok"); code != exitPass {
		t.Errorf("no key: exit %d %s", code, msg)
	}
	if _, code, msg := run(t, dir, "", "check", "--sealed-secrets-key", keyFile, "ok"); code != exitPass {
		t.Errorf("with its key: exit %d %s", code, msg)
	}
	got, code := findings(t, dir, "--sealed-secrets-key", keyFile, "renamed")
	if code != exitDenied || len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "sealed-secret deny") {
		t.Errorf("renamed SealedSecret: exit %d %v", code, got)
	}
	// Another cluster's key.
	otherKey, _ := sealingKey(t, t.TempDir())
	got, _ = findings(t, dir, "--sealed-secrets-key", otherKey, "ok")
	if len(got) == 0 || !strings.Contains(strings.Join(got, "\n"), "another cluster") {
		t.Errorf("other cluster: %v", got)
	}
	for _, f := range got {
		if strings.Contains(f, plaintext) {
			t.Errorf("plaintext in a finding: %s", f)
		}
	}
	if _, code, msg := run(t, dir, "", "check", "--sealed-secrets-key", filepath.Join(dir, "nope.pem"), "ok"); code != exitUnusable || !strings.Contains(msg, "nope.pem") {
		t.Errorf("missing key file: exit %d %s", code, msg)
	}
}

func TestMutateUnsealsInlineValues(t *testing.T) {
	kubesealBin(t)
	dir := t.TempDir()
	keyFile, certFile := sealingKey(t, dir)
	writeFile(t, dir, "value.txt", plaintext)
	raw := kubeseal(t, "", "--raw", "--cert", certFile, "--namespace", "shop", "--name", "db", "--from-file", filepath.Join(dir, "value.txt"))
	inline := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n  annotations:\n    gatekeep.dev/sealed: \"true\"\ndata:\n  password: " + raw + "\n"
	writeFile(t, dir, "good/secret.yaml", inline)
	writeFile(t, dir, "moved/secret.yaml", strings.Replace(inline, "namespace: shop", "namespace: billing", 1))

	out, code, msg := run(t, dir, "", "mutate", "--sealed-secrets-key", keyFile, "good")
	if code != exitPass {
		t.Fatalf("mutate: exit %d %s", code, msg)
	}
	if !strings.Contains(out, "password: "+base64.StdEncoding.EncodeToString([]byte(plaintext))) || !strings.Contains(out, "gatekeep.dev/unsealed-with: SHA256:") || strings.Contains(out, "gatekeep.dev/sealed:") {
		t.Errorf("unsealed Secret:\n%s", out)
	}
	// In CI the inline sealed Secret is no plaintext Secret, and it unseals.
	if _, code, msg := run(t, dir, "", "check", "--sealed-secrets-key", keyFile, "good"); code != exitPass {
		t.Errorf("check of an inline sealed Secret: exit %d %s", code, msg)
	}
	// A value that does not decrypt: nothing printed, exit 1.
	cmd := newRootCommand()
	var stdout, stderr strings.Builder
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"mutate", "--sealed-secrets-key", keyFile, "moved"})
	err := cmd.Execute()
	if err == nil || stdout.Len() != 0 {
		t.Errorf("moved Secret: err %v, printed %q", err, stdout.String())
	}
	if !strings.Contains(stderr.String(), "password") || strings.Contains(stderr.String(), plaintext) {
		t.Errorf("stderr %q: want the value's key named, never the value", stderr.String())
	}
}
