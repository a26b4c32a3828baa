// Package secrets checks and decrypts what the sealed-secrets controller
// (bitnami-labs/sealed-secrets) and kubeseal produce: SealedSecrets, and
// Secrets whose values are `kubeseal --raw` outputs (gatekeep.dev/sealed).
// The crypto, the scopes and their labels are sealed-secrets' own.
//
// Secrecy: nothing here logs, and no message or error this package makes
// holds a plaintext value, a ciphertext or key material; errors name files,
// objects and the keys of values only. Private keys are kept in memory only.
package secrets

import (
	"bytes"
	"cmp"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
	"gopkg.in/yaml.v3"
)

// KeyLabel marks the Secrets that hold the controller's sealing keys (in the
// controller's namespace, kube-system by default). The controller uses those
// whose value is "active".
const KeyLabel = "sealedsecrets.bitnami.com/sealed-secrets-key"

// Keys are the sealing keys: the private keys of a sealed-secrets controller,
// every one it has made (old keys still decrypt what was sealed with them).
// A Keys is safe for concurrent use; Replace swaps the whole set at once, so
// a key rotation never leaves a decryption half on the old set. The zero
// value holds no key.
type Keys struct {
	set atomic.Pointer[keySet]
}

type keySet struct {
	keys []sealingKey
	// hint is the index of the key that decrypted last: tried first, since
	// the values of one object, and most new ones, were sealed with one key.
	hint atomic.Int32
}

type sealingKey struct {
	priv *rsa.PrivateKey
	fp   string
	// one is {fp: priv}, the form crypto.HybridDecrypt takes, so that it is
	// known which key decrypted a value.
	one map[string]*rsa.PrivateKey
}

// NewKeys returns the sealing keys (duplicates and nils dropped).
func NewKeys(keys ...*rsa.PrivateKey) *Keys {
	k := &Keys{}
	k.Replace(keys...)
	return k
}

// Replace makes keys the sealing keys, atomically: a decryption already
// under way finishes with the set it started with.
func (k *Keys) Replace(keys ...*rsa.PrivateKey) {
	s := &keySet{}
	seen := map[string]bool{}
	for _, p := range keys {
		if p == nil {
			continue
		}
		fp := Fingerprint(&p.PublicKey)
		if seen[fp] {
			continue
		}
		seen[fp] = true
		s.keys = append(s.keys, sealingKey{priv: p, fp: fp, one: map[string]*rsa.PrivateKey{fp: p}})
	}
	k.set.Store(s)
}

// Len returns the number of sealing keys (0 for a nil Keys).
func (k *Keys) Len() int {
	if s := k.load(); s != nil {
		return len(s.keys)
	}
	return 0
}

// Fingerprints returns the fingerprints of the sealing keys (safe to log).
func (k *Keys) Fingerprints() []string {
	s := k.load()
	if s == nil {
		return nil
	}
	out := make([]string, len(s.keys))
	for i, key := range s.keys {
		out[i] = key.fp
	}
	return out
}

func (k *Keys) load() *keySet {
	if k == nil {
		return nil
	}
	return k.set.Load()
}

// Fingerprint returns the fingerprint the sealed-secrets controller and
// kubeseal key their private keys by (crypto.PublicKeyFingerprint): the
// SHA-256 of the SSH wire form of the public key, "SHA256:" and unpadded
// base64, as `ssh-keygen -l` prints it.
func Fingerprint(pub *rsa.PublicKey) string {
	fp, err := crypto.PublicKeyFingerprint(pub)
	if err != nil { // only for key types other than RSA
		return ""
	}
	return fp
}

// ParseKeys reads the private keys of a --sealed-secrets-key file: PEM (one
// or more PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY" blocks;
// certificates beside them are skipped), or the key Secrets as `kubectl get
// secret -l sealedsecrets.bitnami.com/sealed-secrets-key -o yaml` prints them
// (a List, a single Secret, several YAML documents, or JSON). Errors name the
// file (name) and, for Secrets, the Secret; never key material.
func ParseKeys(name string, data []byte) ([]*rsa.PrivateKey, error) {
	if docs, ok := yamlObjects(data); ok {
		keys, err := keysFromDocs(docs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if len(keys) == 0 {
			return nil, fmt.Errorf("%s: no key Secret in it", name)
		}
		return keys, nil
	}
	keys, err := parsePEMKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s: holds neither a PEM private key nor key Secrets in YAML or JSON", name)
	}
	return keys, nil
}

// yamlObjects returns the YAML (or JSON) documents of data when it is a
// stream of Kubernetes objects (mappings with a kind), and false otherwise
// (PEM, say).
func yamlObjects(data []byte) ([]map[string]any, bool) {
	if bytes.Contains(data, []byte("-----BEGIN ")) && !bytes.Contains(data, []byte("kind:")) && !bytes.Contains(data, []byte(`"kind"`)) {
		return nil, false
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []map[string]any
	for {
		var doc any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, false
		}
		if doc == nil {
			continue
		}
		m, ok := doc.(map[string]any)
		if !ok || str(m["kind"]) == "" {
			return nil, false
		}
		docs = append(docs, m)
	}
	return docs, len(docs) > 0
}

func keysFromDocs(docs []map[string]any) ([]*rsa.PrivateKey, error) {
	var keys []*rsa.PrivateKey
	for _, d := range docs {
		switch kind := str(d["kind"]); kind {
		case "List", "SecretList":
			items, _ := d["items"].([]any)
			for i, it := range items {
				s, _ := it.(map[string]any)
				if str(s["kind"]) != "Secret" {
					return nil, fmt.Errorf("item %d of the %s is not a Secret", i, kind)
				}
				k, err := keyOfSecret(s)
				if err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
		case "Secret":
			k, err := keyOfSecret(d)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k)
		default:
			return nil, fmt.Errorf("a %s is not a key Secret", kind)
		}
	}
	return keys, nil
}

// keyOfSecret reads the private key in tls.key of a Secret (data, base64, as
// the API gives it; or stringData).
func keyOfSecret(s map[string]any) (*rsa.PrivateKey, error) {
	ref := "Secret " + objName(s)
	var pemData []byte
	if v, ok := mapAt(s, "stringData")["tls.key"].(string); ok {
		pemData = []byte(v)
	} else if v, ok := mapAt(s, "data")["tls.key"].(string); ok {
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("%s: data tls.key is not base64", ref)
		}
		pemData = b
	} else {
		return nil, fmt.Errorf("%s has no tls.key", ref)
	}
	keys, err := parsePEMKeys(pemData)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s: tls.key: %w", ref, err)
	case len(keys) == 0:
		return nil, fmt.Errorf("%s: tls.key holds no PEM private key", ref)
	case len(keys) > 1:
		return nil, fmt.Errorf("%s: tls.key holds %d private keys, not one", ref, len(keys))
	}
	return keys[0], nil
}

// parsePEMKeys returns the RSA private keys of every PEM block. Parse errors
// are described here, not passed on: they are about key material.
func parsePEMKeys(data []byte) ([]*rsa.PrivateKey, error) {
	var keys []*rsa.PrivateKey
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return keys, nil
		}
		if _, encrypted := b.Headers["Proc-Type"]; encrypted {
			return nil, fmt.Errorf("PEM block %d (%s) is encrypted: give the key unencrypted", n, b.Type)
		}
		switch b.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (%s) is not a valid PKCS#1 RSA private key", n, b.Type)
			}
			keys = append(keys, k)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("PEM block %d (%s) is not a valid PKCS#8 private key", n, b.Type)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("PEM block %d (%s) is not an RSA key: sealed-secrets keys are RSA", n, b.Type)
			}
			keys = append(keys, rk)
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d (%s) is encrypted: give the key unencrypted", n, b.Type)
		case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
			return nil, fmt.Errorf("PEM block %d (%s) is not an RSA key: sealed-secrets keys are RSA", n, b.Type)
		default:
			// certificates (tls.crt beside tls.key), public keys: no secret in them.
		}
	}
}

// KeysFromSecrets returns the sealing keys among Secrets of the controller's
// namespace (as the webhook's watcher holds them, JSON-decoded): those
// labelled sealedsecrets.bitnami.com/sealed-secrets-key=active, which are the
// ones the controller itself loads, newest first. Other objects are skipped.
// A labelled Secret whose key cannot be read is named in err, and the keys of
// the others are still returned.
func KeysFromSecrets(objs []map[string]any) ([]*rsa.PrivateKey, error) {
	type dated struct {
		created string
		key     *rsa.PrivateKey
	}
	var found []dated
	var errs []error
	for _, o := range objs {
		if k := str(o["kind"]); k != "" && k != "Secret" {
			continue
		}
		meta := mapAt(o, "metadata")
		if str(mapAt(meta, "labels")[KeyLabel]) != "active" {
			continue
		}
		k, err := keyOfSecret(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		found = append(found, dated{str(meta["creationTimestamp"]), k})
	}
	// RFC 3339 timestamps in UTC sort as text.
	slices.SortStableFunc(found, func(a, b dated) int { return cmp.Compare(b.created, a.created) })
	keys := make([]*rsa.PrivateKey, len(found))
	for i, f := range found {
		keys[i] = f.key
	}
	return keys, errors.Join(errs...)
}

// decrypt decrypts one value with the first key that takes it under label,
// by sealed-secrets' own HybridDecrypt, and says which key that was.
func (s *keySet) decrypt(ciphertext []byte, label string) (plaintext []byte, fp string, ok bool) {
	if s == nil || len(s.keys) == 0 {
		return nil, "", false
	}
	n := len(s.keys)
	first := int(s.hint.Load())
	if first < 0 || first >= n {
		first = 0
	}
	for j := 0; j < n; j++ {
		i := (first + j) % n
		key := s.keys[i]
		if key.priv.Size() != rsaLen(ciphertext) {
			continue
		}
		pt, err := crypto.HybridDecrypt(nil, key.one, ciphertext, []byte(label))
		if err == nil {
			s.hint.Store(int32(i)) //nolint:gosec // G115: i indexes s.keys, a handful of sealing keys
			return pt, key.fp, true
		}
	}
	return nil, "", false
}

// opens reports whether the RSA part of the ciphertext (the sealed session
// key) opens under label with one of the keys: the key and the label are
// right, whatever became of the rest.
func (s *keySet) opens(ciphertext []byte, label string) bool {
	rsaPart, _ := split(ciphertext)
	for _, key := range s.keys {
		if key.priv.Size() != len(rsaPart) {
			continue
		}
		if sk, err := rsa.DecryptOAEP(sha256New(), nil, key.priv, rsaPart, []byte(label)); err == nil {
			clear(sk)
			return true
		}
	}
	return false
}

// sizes returns the modulus sizes, in bytes, of the keys.
func (s *keySet) sizes() map[int]bool {
	out := map[int]bool{}
	for _, k := range s.keys {
		out[k.priv.Size()] = true
	}
	return out
}

func str(v any) string { s, _ := v.(string); return s }

func mapAt(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

func objName(o map[string]any) string {
	meta := mapAt(o, "metadata")
	name, ns := str(meta["name"]), str(meta["namespace"])
	if name == "" {
		name = "(no name)"
	}
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// pointer escapes one JSON pointer token.
func pointer(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}
