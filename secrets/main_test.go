package secrets

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
	"gopkg.in/yaml.v3"
)

// The secrecy test: every plaintext the tests seal, and the key material of
// every test key, is registered; every message and error this package
// produces in the suite is recorded (record, problems, errText), and so is
// everything written through log and slog; TestMain fails the run when a
// registered secret appears in any of them.
var (
	leakMu      sync.Mutex
	secretTexts []string // plaintexts and key material
	recorded    []string // messages and errors produced
	logBuf      bytes.Buffer
)

func TestMain(m *testing.M) {
	log.SetOutput(&lockedWriter{w: &logBuf})
	slog.SetDefault(slog.New(slog.NewTextHandler(&lockedWriter{w: &logBuf}, &slog.HandlerOptions{Level: slog.LevelDebug - 8})))
	code := m.Run()
	if fixtureDir != "" {
		if err := os.RemoveAll(fixtureDir); err != nil {
			fmt.Fprintln(os.Stderr, "removing the key fixtures:", err)
		}
	}
	leakMu.Lock()
	found := leaks(secretTexts, append(recorded, logBuf.String()))
	n := len(recorded)
	leakMu.Unlock()
	if len(found) > 0 {
		fmt.Fprintf(os.Stderr, "SECRECY: %d messages or logs hold a plaintext or key material:\n", len(found))
		for _, f := range found {
			fmt.Fprintln(os.Stderr, "  ", f)
		}
		code = 1
	} else if testing.Verbose() {
		fmt.Printf("secrecy: %d messages and %d bytes of logs checked, no plaintext or key material in them\n", n, logBuf.Len())
	}
	os.Exit(code)
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// leaks returns the texts that hold a secret (plaintexts are registered as
// is and in base64), the secrets blacked out.
func leaks(secrets, texts []string) []string {
	var out []string
	for _, t := range texts {
		hit := false
		for _, s := range secrets {
			if strings.Contains(t, s) {
				hit = true
				t = strings.ReplaceAll(t, s, "[SECRET]")
			}
		}
		if hit {
			if len(t) > 200 {
				t = t[:200] + "…"
			}
			out = append(out, t)
		}
	}
	return out
}

func TestLeakDetector(t *testing.T) {
	pt := plaintext("detector")
	leakMu.Lock()
	defer leakMu.Unlock()
	if got := leaks(secretTexts, []string{"value " + pt + " refused"}); len(got) != 1 {
		t.Fatalf("the leak detector misses a plaintext in a message: %v", got)
	}
	if got := leaks(secretTexts, []string{"value " + base64.StdEncoding.EncodeToString([]byte(pt)) + " refused"}); len(got) != 1 {
		t.Fatalf("the leak detector misses a base64 plaintext in a message: %v", got)
	}
	if got := leaks(secretTexts, []string{"nothing secret"}); len(got) != 0 {
		t.Fatalf("false positive: %v", got)
	}
}

func registerSecret(s ...string) {
	leakMu.Lock()
	defer leakMu.Unlock()
	secretTexts = append(secretTexts, s...)
}

// record keeps messages for the secrecy check, and returns them joined.
func record(msgs ...string) string {
	leakMu.Lock()
	defer leakMu.Unlock()
	recorded = append(recorded, msgs...)
	return strings.Join(msgs, "\n")
}

func problems(ps []Problem) []Problem {
	for _, p := range ps {
		record(p.Path, p.Message)
	}
	return ps
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return record(err.Error())
}

// plaintext returns a fresh, recognisable plaintext, registered as secret
// (with its base64, which is how a Secret's data would hold it).
func plaintext(what string) string {
	b := make([]byte, 6)
	rand.Read(b)
	pt := "s3cr3t-" + what + "-" + hex.EncodeToString(b)
	registerSecret(pt, base64.StdEncoding.EncodeToString([]byte(pt)))
	return pt
}

// --- keys and certificates, made as the controller makes them ---

type testKey struct {
	priv *rsa.PrivateKey
	cert string // path of the certificate PEM, for kubeseal --cert
}

var (
	fixtureOnce sync.Once
	fixtureDir  string
	fixtureErr  error
	// clusterA has rotated: a1 is its old key, a2 its new one. clusterB is
	// another cluster; small is another cluster with a 1024-bit key.
	a1, a2, clusterB, small testKey
)

func keysFixture(t testing.TB) {
	t.Helper()
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "gatekeep-secrets-")
		if fixtureErr != nil {
			return
		}
		for _, k := range []struct {
			key  *testKey
			name string
			bits int
		}{{&a1, "a1", 2048}, {&a2, "a2", 2048}, {&clusterB, "b", 2048}, {&small, "small", 1024}} {
			if fixtureErr = newTestKey(k.key, k.name, k.bits); fixtureErr != nil {
				return
			}
		}
	})
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
}

func newTestKey(k *testKey, name string, bits int) error {
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return err
	}
	// crypto.SignKey is how the controller makes its certificate.
	cert, err := crypto.SignKey(rand.Reader, priv, 10*365*24*time.Hour, "sealed-secret")
	if err != nil {
		return err
	}
	k.priv = priv
	k.cert = filepath.Join(fixtureDir, name+".crt")
	registerKeyMaterial(priv)
	return os.WriteFile(k.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600)
}

// registerKeyMaterial registers every line of the key's PEM forms, and the
// start of their base64 (as a Secret's data holds them), as secrets.
func registerKeyMaterial(priv *rsa.PrivateKey) {
	for _, p := range [][]byte{pkcs1PEM(priv), pkcs8PEM(priv)} {
		for _, line := range strings.Split(string(p), "\n") {
			if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
				registerSecret(line)
			}
		}
		registerSecret(base64.StdEncoding.EncodeToString(p)[40:80])
	}
}

func pkcs1PEM(k *rsa.PrivateKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

func pkcs8PEM(k *rsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// --- the real kubeseal ---

// kubesealBin finds kubeseal: $KUBESEAL, or bin/kubeseal of the repository
// (make bin/kubeseal). Without it the test fails, saying how to build it: a
// test that needs kubeseal must not pass by skipping. Only go test -short
// skips it, saying so.
func kubesealBin(t testing.TB) string {
	t.Helper()
	path := os.Getenv("KUBESEAL")
	if path == "" {
		path, _ = filepath.Abs(filepath.Join("..", "bin", "kubeseal"))
	}
	if _, err := os.Stat(path); err != nil { //nolint:gosec // G703: the test's own binary, from $KUBESEAL or bin/
		if testing.Short() {
			t.Skipf("-short: kubeseal is not at %s (make bin/kubeseal builds it)", path)
		}
		t.Fatalf("kubeseal is not at %s: run make bin/kubeseal (or set KUBESEAL), or go test -short to leave these tests out", path)
	}
	return path
}

// kubeseal runs kubeseal offline (no kubeconfig, no cluster) and returns its
// standard output.
func kubeseal(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	keysFixture(t)
	cmd := exec.Command(kubesealBin(t), args...) //nolint:gosec // G204: kubeseal from $KUBESEAL or bin/, arguments from the tests
	cmd.Env = []string{"HOME=" + fixtureDir, "PATH=" + os.Getenv("PATH"), "KUBECONFIG=" + filepath.Join(fixtureDir, "no-kubeconfig")}
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubeseal %s: %v: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// sealSecret seals a Secret (prod/db) with kubeseal --cert --scope and
// returns the SealedSecret, as JSON would decode it.
func sealSecret(t testing.TB, k testKey, scope string, data map[string]string) map[string]any {
	t.Helper()
	sec := map[string]any{
		"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
		"metadata":   map[string]any{"name": "db", "namespace": "prod", "labels": map[string]any{"app": "shop"}},
		"stringData": data,
	}
	in, err := yaml.Marshal(sec)
	if err != nil {
		t.Fatal(err)
	}
	out := kubeseal(t, string(in), "--cert", k.cert, "--scope", scope, "-o", "yaml")
	var ss map[string]any
	if err := yaml.Unmarshal([]byte(out), &ss); err != nil {
		t.Fatalf("kubeseal output: %v", err)
	}
	if ss["kind"] != "SealedSecret" {
		t.Fatalf("kubeseal made a %v", ss["kind"])
	}
	return ss
}

// sealRaw seals one value with kubeseal --raw, for a Secret's data.
func sealRaw(t testing.TB, k testKey, scope, ns, name, value string) string {
	t.Helper()
	keysFixture(t)
	f := filepath.Join(t.TempDir(), "value")
	if err := os.WriteFile(f, []byte(value), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--cert", k.cert, "--raw", "--scope", scope, "--from-file", f}
	if ns != "" {
		args = append(args, "--namespace", ns)
	}
	if name != "" {
		args = append(args, "--name", name)
	}
	return strings.TrimSpace(kubeseal(t, "", args...))
}

func yamlUnmarshal(s string, v any) error { return yaml.Unmarshal([]byte(s), v) }
