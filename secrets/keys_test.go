package secrets

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
	"golang.org/x/crypto/ssh"
)

// keySecretYAML is one key Secret as `kubectl get secret -o yaml` prints it
// (indented by indent), as the controller writes it.
func keySecretYAML(k *rsa.PrivateKey, name, created, indent string) string {
	cert, err := crypto.SignKey(rand.Reader, k, 24*3600*1e9, "sealed-secret")
	if err != nil {
		panic(err)
	}
	crt := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	key := base64.StdEncoding.EncodeToString(pkcs1PEM(k))
	s := fmt.Sprintf(`apiVersion: v1
data:
  tls.crt: %s
  tls.key: %s
kind: Secret
metadata:
  creationTimestamp: "%s"
  generateName: sealed-secrets-key
  labels:
    sealedsecrets.bitnami.com/sealed-secrets-key: active
  name: %s
  namespace: kube-system
  resourceVersion: "4711"
  uid: 9b1e8f0c-2f37-4f3e-9a55-1c1c0e4b8d11
type: kubernetes.io/tls
`, crt, key, created, name)
	lines := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i := range lines {
		if i == 0 && strings.HasPrefix(indent, "- ") {
			lines[i] = indent + lines[i]
		} else {
			lines[i] = strings.Repeat(" ", len(indent)) + lines[i]
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

func TestParseKeys(t *testing.T) {
	keysFixture(t)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	ec8, _ := x509.MarshalPKCS8PrivateKey(ec)
	certPEM, _ := os.ReadFile(a1.cert)
	backup := "apiVersion: v1\nitems:\n" +
		keySecretYAML(a1.priv, "sealed-secrets-keyabcde", "2024-01-01T10:00:00Z", "- ") +
		keySecretYAML(a2.priv, "sealed-secrets-keyfghij", "2025-01-01T10:00:00Z", "- ") +
		"kind: List\nmetadata:\n  resourceVersion: \"\"\n"
	single := keySecretYAML(a2.priv, "sealed-secrets-keyfghij", "2025-01-01T10:00:00Z", "")
	var asJSON map[string]any
	if err := yamlUnmarshal(backup, &asJSON); err != nil {
		t.Fatal(err)
	}
	jsonBackup, _ := json.MarshalIndent(asJSON, "", "    ")
	encrypted := "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n-----END RSA PRIVATE KEY-----\n" //nolint:gosec // G101: a stub PEM header with no key in it, to test the refusal of encrypted keys
	noKey := strings.Replace(single, "  tls.key:", "  other.key:", 1)
	badKey := strings.Replace(single, "  tls.key: ", "  tls.key: x_", 1)
	for _, tc := range []struct {
		name string
		data string
		want []*rsa.PrivateKey
		err  []string
	}{
		{"PKCS#1 PEM", string(pkcs1PEM(a1.priv)), []*rsa.PrivateKey{a1.priv}, nil},
		{"PKCS#8 PEM", string(pkcs8PEM(a1.priv)), []*rsa.PrivateKey{a1.priv}, nil},
		{"certificate and keys of both forms", string(certPEM) + string(pkcs1PEM(a1.priv)) + "\n" + string(pkcs8PEM(a2.priv)), []*rsa.PrivateKey{a1.priv, a2.priv}, nil},
		{"key backup (List)", backup, []*rsa.PrivateKey{a1.priv, a2.priv}, nil},
		{"key backup (one Secret)", single, []*rsa.PrivateKey{a2.priv}, nil},
		{"key backup (YAML documents)", "---\n" + single + "---\n" + keySecretYAML(a1.priv, "k2", "2024-01-01T10:00:00Z", ""), []*rsa.PrivateKey{a2.priv, a1.priv}, nil},
		{"key backup (JSON)", string(jsonBackup), []*rsa.PrivateKey{a1.priv, a2.priv}, nil},
		{"EC key", string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER})), nil, []string{"keys.pem: PEM block 1 (EC PRIVATE KEY) is not an RSA key"}},
		{"EC key, PKCS#8", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ec8})), nil, []string{"keys.pem:", "not an RSA key"}},
		{"encrypted PEM", encrypted, nil, []string{"keys.pem:", "is encrypted"}},
		{"corrupt PKCS#1", strings.Replace(string(pkcs1PEM(a1.priv)), "\nMII", "\nAAA", 1), nil, []string{"keys.pem:", "not a valid PKCS#1 RSA private key"}},
		{"a certificate only", string(certPEM), nil, []string{"keys.pem: holds neither a PEM private key nor key Secrets"}},
		{"garbage", "hello: [", nil, []string{"keys.pem: holds neither"}},
		{"empty", "", nil, []string{"keys.pem: holds neither"}},
		{"Secret without tls.key", noKey, nil, []string{"keys.pem: Secret kube-system/sealed-secrets-keyfghij has no tls.key"}},
		{"Secret with a broken tls.key", badKey, nil, []string{"keys.pem: Secret kube-system/sealed-secrets-keyfghij: data tls.key is not base64"}},
		{"another kind", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", nil, []string{"keys.pem: a ConfigMap is not a key Secret"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys, err := ParseKeys("keys.pem", []byte(tc.data))
			msg := errText(err)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("want an error, got %d keys", len(keys))
				}
				for _, w := range tc.err {
					if !strings.Contains(msg, w) {
						t.Errorf("error lacks %q: %s", w, msg)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(msg)
			}
			if len(keys) != len(tc.want) {
				t.Fatalf("%d keys, want %d", len(keys), len(tc.want))
			}
			for i := range keys {
				if !keys[i].Equal(tc.want[i]) {
					t.Errorf("key %d is not the one written", i)
				}
			}
		})
	}
}

// The keys read from a backup decrypt what kubeseal sealed.
func TestParsedKeysDecrypt(t *testing.T) {
	keysFixture(t)
	backup := "apiVersion: v1\nitems:\n" + keySecretYAML(a2.priv, "k", "2025-01-01T10:00:00Z", "- ") + "kind: List\nmetadata:\n  resourceVersion: \"\"\n"
	for name, data := range map[string]string{"backup": backup, "pkcs1": string(pkcs1PEM(a2.priv)), "pkcs8": string(pkcs8PEM(a2.priv))} {
		parsed, err := ParseKeys(name, []byte(data))
		if err != nil {
			t.Fatal(errText(err))
		}
		ss := sealSecret(t, a2, "strict", map[string]string{"password": plaintext("parsed")})
		if ps := problems(CheckSealedSecret(ss, NewKeys(parsed...))); len(ps) != 0 {
			t.Errorf("%s: %v", name, ps)
		}
	}
}

func TestKeysFromSecrets(t *testing.T) {
	keysFixture(t)
	secret := func(k *rsa.PrivateKey, name, created, label string) map[string]any {
		var o map[string]any
		if err := yamlUnmarshal(keySecretYAML(k, name, created, ""), &o); err != nil {
			t.Fatal(err)
		}
		labels := o["metadata"].(map[string]any)["labels"].(map[string]any)
		if label == "" {
			delete(labels, KeyLabel)
		} else {
			labels[KeyLabel] = label
		}
		return o
	}
	broken := secret(a1.priv, "broken", "2023-01-01T00:00:00Z", "active")
	broken["data"].(map[string]any)["tls.key"] = base64.StdEncoding.EncodeToString([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n"))
	objs := []map[string]any{
		secret(a1.priv, "old", "2024-01-01T00:00:00Z", "active"),
		secret(a2.priv, "new", "2025-01-01T00:00:00Z", "active"),
		secret(clusterB.priv, "unlabelled", "2025-02-01T00:00:00Z", ""),
		secret(clusterB.priv, "compromised", "2025-02-01T00:00:00Z", "compromised"),
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"labels": map[string]any{KeyLabel: "active"}}},
		broken,
	}
	keys, err := KeysFromSecrets(objs)
	msg := errText(err)
	if !strings.Contains(msg, "Secret kube-system/broken: tls.key: PEM block 1 (RSA PRIVATE KEY) is not a valid PKCS#1 RSA private key") {
		t.Errorf("error does not name the broken key Secret: %q", msg)
	}
	if len(keys) != 2 || !keys[0].Equal(a2.priv) || !keys[1].Equal(a1.priv) {
		t.Fatalf("want the new and the old key, newest first; got %d keys", len(keys))
	}
	if keys, err := KeysFromSecrets(objs[:2]); err != nil || len(keys) != 2 {
		t.Fatalf("%d keys, %v", len(keys), err)
	}
}

// Fingerprint is the controller's (crypto.PublicKeyFingerprint): the
// OpenSSH SHA256 fingerprint of the public key.
func TestFingerprint(t *testing.T) {
	keysFixture(t)
	pub, err := ssh.NewPublicKey(&a1.priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	fp := Fingerprint(&a1.priv.PublicKey)
	if fp != ssh.FingerprintSHA256(pub) || !strings.HasPrefix(fp, "SHA256:") || len(fp) != 7+43 {
		t.Fatalf("fingerprint %q", fp)
	}
	if fp == Fingerprint(&a2.priv.PublicKey) {
		t.Fatal("two keys, one fingerprint")
	}
}
