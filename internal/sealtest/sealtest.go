// Package sealtest makes sealed-secrets material for tests: controller-style
// sealing keys and certificates, and ciphertexts from the real kubeseal
// (built into bin/ by make test).
package sealtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	sscrypto "github.com/bitnami-labs/sealed-secrets/pkg/crypto"
)

// Kubeseal returns the path of the real kubeseal: $KUBESEAL, else the
// repository's bin/. Without it the test is skipped, or fails when
// GATEKEEP_CONTROLPLANE=required (make test).
func Kubeseal(t testing.TB) string {
	t.Helper()
	p := os.Getenv("KUBESEAL")
	if p == "" {
		_, here, _, _ := runtime.Caller(0)
		p = filepath.Join(filepath.Dir(here), "..", "..", "bin", "kubeseal")
	}
	if _, err := os.Stat(p); err != nil { //nolint:gosec // G703: the kubeseal binary the developer names
		if os.Getenv("GATEKEEP_CONTROLPLANE") == "required" {
			t.Fatalf("kubeseal not found at %s: run make test", p)
		}
		t.Skipf("kubeseal not found at %s: make test builds it", p)
	}
	return p
}

// Key is a sealing key as the controller makes one.
type Key struct {
	Private  *rsa.PrivateKey
	KeyPEM   []byte // PKCS#1
	CertPEM  []byte
	CertFile string // the certificate, for kubeseal --cert
	KeyFile  string
}

// NewKey makes a key and its self-signed certificate, written into dir.
func NewKey(t testing.TB, dir string) Key {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := sscrypto.SignKey(rand.Reader, priv, time.Hour, "sealed-secret")
	if err != nil {
		t.Fatal(err)
	}
	k := Key{
		Private: priv,
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}),
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
	}
	f, err := os.CreateTemp(dir, "key-*.pem")
	if err != nil {
		t.Fatal(err)
	}
	k.KeyFile = f.Name()
	if _, err := f.Write(k.KeyPEM); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	k.CertFile = strings.TrimSuffix(k.KeyFile, ".pem") + ".crt"
	if err := os.WriteFile(k.CertFile, k.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return k
}

// Run runs kubeseal with stdin and returns its output.
func Run(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(Kubeseal(t), args...) //nolint:gosec // G204: the test helper runs kubeseal with the test's arguments
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubeseal %v: %v", args, err)
	}
	return string(out)
}

// Raw seals one value with kubeseal --raw for a namespace and name.
func Raw(t testing.TB, k Key, namespace, name, value string) string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "value")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(value); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return Run(t, "", "--raw", "--cert", k.CertFile, "--namespace", namespace, "--name", name, "--from-file", f.Name())
}
