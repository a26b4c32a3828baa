package secrets

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
)

// Each scope, sealed by the real kubeseal, passes the check with the keys
// and without, and every value decrypts to what was sealed.
func TestSealedSecretScopes(t *testing.T) {
	keysFixture(t)
	for _, scope := range []string{"strict", "namespace-wide", "cluster-wide"} {
		t.Run(scope, func(t *testing.T) {
			pw, user := plaintext(scope+"-pw"), plaintext(scope+"-user")
			ss := sealSecret(t, a2, scope, map[string]string{"password": pw, "username": user})
			if p := problems(CheckSealedSecret(ss, nil)); len(p) != 0 {
				t.Fatalf("structure: %v", p)
			}
			keys := NewKeys(a1.priv, a2.priv)
			if p := problems(CheckSealedSecret(ss, keys)); len(p) != 0 {
				t.Fatalf("with keys: %v", p)
			}
			// The values are what was sealed, decrypted under the scope's label.
			sc := scopeOfObject(t, ss)
			lbl := label("prod", "db", sc)
			for key, want := range map[string]string{"password": pw, "username": user} {
				v := ss["spec"].(map[string]any)["encryptedData"].(map[string]any)[key].(string)
				ct, bad := decodeSealed(v)
				if bad != "" {
					t.Fatal(bad)
				}
				got, fp, ok := keys.load().decrypt(ct, lbl)
				if !ok || string(got) != want || fp != Fingerprint(&a2.priv.PublicKey) {
					t.Fatalf("%s: decrypted %v with %s, want the plaintext with a2", key, ok, fp)
				}
			}
		})
	}
}

func scopeOfObject(t *testing.T, obj map[string]any) scope {
	t.Helper()
	sc, _, p := scopeOf(obj["metadata"].(map[string]any)["annotations"], "")
	if len(p) > 0 {
		t.Fatal(p)
	}
	return sc
}

// SealedSecrets that do not decrypt are denied, naming the SealedSecret, the
// key of the value and the likely cause; the cases that do decrypt pass.
func TestSealedSecretDenied(t *testing.T) {
	keysFixture(t)
	keys := NewKeys(a1.priv, a2.priv)
	type edit func(ss map[string]any)
	meta := func(ss map[string]any) map[string]any { return ss["metadata"].(map[string]any) }
	tmeta := func(ss map[string]any) map[string]any {
		return ss["spec"].(map[string]any)["template"].(map[string]any)["metadata"].(map[string]any)
	}
	dropScope := func(ss map[string]any) {
		delete(meta(ss), "annotations")
		delete(tmeta(ss), "annotations")
	}
	for _, tc := range []struct {
		name   string
		key    testKey
		scope  string
		edit   edit
		object string   // how the message names the SealedSecret; "" when it must pass
		want   []string // in the message of /spec/encryptedData/password
		not    []string // not in it
	}{
		{name: "strict, as sealed", key: a2, scope: "strict", edit: func(map[string]any) {}},
		{name: "sealed with the old key", key: a1, scope: "strict", edit: func(map[string]any) {}},
		{name: "cluster-wide, moved", key: a2, scope: "cluster-wide", edit: func(ss map[string]any) {
			meta(ss)["namespace"], tmeta(ss)["namespace"] = "staging", "staging"
		}},
		{name: "namespace-wide, renamed", key: a2, scope: "namespace-wide", edit: func(ss map[string]any) {
			meta(ss)["name"], tmeta(ss)["name"] = "db2", "db2"
		}},
		{
			name: "renamed", key: a2, scope: "strict",
			edit:   func(ss map[string]any) { meta(ss)["name"] = "db2" },
			object: "prod/db2",
			want:   []string{`encryptedData "password"`, "strict scope (prod/db2)", `renamed from "db"`, "sealed for prod/db", "reseal it for prod/db2"},
			not:    []string{"another cluster"},
		},
		{
			name: "moved", key: a2, scope: "strict",
			edit:   func(ss map[string]any) { meta(ss)["namespace"] = "staging" },
			object: "staging/db",
			want:   []string{`encryptedData "password"`, `moved from namespace "prod"`, "reseal it for staging/db"},
			not:    []string{"another cluster"},
		},
		{
			name: "namespace-wide, moved", key: a2, scope: "namespace-wide",
			edit:   func(ss map[string]any) { meta(ss)["namespace"] = "staging" },
			object: "staging/db",
			want:   []string{`sealed namespace-wide for namespace "prod"`, "moved after sealing"},
			not:    []string{"another cluster"},
		},
		{
			name: "renamed and moved, template too", key: a2, scope: "strict",
			edit: func(ss map[string]any) {
				meta(ss)["name"], tmeta(ss)["name"] = "db2", "db2"
				meta(ss)["namespace"], tmeta(ss)["namespace"] = "staging", "staging"
			},
			object: "staging/db2",
			// Nothing says for which name it was sealed: both causes are given.
			want: []string{"another cluster", "another name or namespace"},
		},
		{
			name: "another cluster", key: clusterB, scope: "strict", edit: func(map[string]any) {},
			object: "prod/db",
			want:   []string{`encryptedData "password"`, "another cluster", "any of the 2 sealing keys"},
			not:    []string{"renamed from", "truncated"},
		},
		{
			name: "another cluster, another key size", key: small, scope: "strict", edit: func(map[string]any) {},
			object: "prod/db",
			want:   []string{"a key of another size than the sealing keys (2048-bit)", "another cluster"},
			not:    []string{"another name"},
		},
		{
			name: "scope annotations dropped after sealing", key: a2, scope: "namespace-wide", edit: dropScope,
			object: "prod/db",
			want:   []string{"sealed with namespace-wide scope", "not strict scope", "scope annotations were changed"},
			not:    []string{"another cluster"},
		},
		{
			name: "strict made cluster-wide", key: a2, scope: "strict",
			edit: func(ss map[string]any) {
				meta(ss)["annotations"] = map[string]any{clusterWide: "true"}
				tmeta(ss)["annotations"] = map[string]any{clusterWide: "true"}
			},
			object: "prod/db",
			want:   []string{"sealed with strict scope (prod/db), not cluster-wide scope"},
		},
		{
			name: "edited ciphertext", key: a2, scope: "strict",
			edit: func(ss map[string]any) {
				ed := ss["spec"].(map[string]any)["encryptedData"].(map[string]any)
				ct, _ := base64.StdEncoding.DecodeString(ed["password"].(string))
				ct[len(ct)-1] ^= 1
				ed["password"] = base64.StdEncoding.EncodeToString(ct)
			},
			object: "prod/db",
			want:   []string{"truncated or edited"},
			not:    []string{"another cluster"},
		},
		{
			name: "truncated after the RSA part", key: a2, scope: "strict",
			edit: func(ss map[string]any) {
				ed := ss["spec"].(map[string]any)["encryptedData"].(map[string]any)
				s := ed["password"].(string)
				ed["password"] = s[:len(s)-8]
			},
			object: "prod/db",
			want:   []string{"truncated or edited"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pw := plaintext("denied")
			ss := sealSecret(t, tc.key, tc.scope, map[string]string{"password": pw})
			tc.edit(ss)
			ps := problems(CheckSealedSecret(ss, keys))
			var msg string
			for _, p := range ps {
				if p.Path == "/spec/encryptedData/password" {
					msg = p.Message
				} else if !strings.HasPrefix(p.Path, "/spec/template/metadata/") {
					t.Errorf("unexpected problem %v", p)
				}
			}
			if tc.object == "" {
				if len(ps) > 0 {
					t.Fatalf("want no problem, got %v", ps)
				}
				return
			}
			if msg == "" {
				t.Fatalf("no problem at /spec/encryptedData/password: %v", ps)
			}
			if !strings.Contains(msg, "SealedSecret "+tc.object) {
				t.Errorf("message does not name SealedSecret %s: %s", tc.object, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q: %s", w, msg)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(msg, n) {
					t.Errorf("message has %q: %s", n, msg)
				}
			}
			// Without keys only the structure is checked, and it is fine.
			for _, p := range problems(CheckSealedSecret(ss, nil)) {
				if !strings.HasPrefix(p.Path, "/spec/template/metadata/") {
					t.Errorf("structure: %v", p)
				}
			}
		})
	}
}

// The structure, with no key: the value of every problem is checked by path
// and by words of its message.
func TestSealedSecretStructure(t *testing.T) {
	// A well-formed ciphertext made by sealed-secrets' own HybridEncrypt; a
	// structure check does not need kubeseal.
	keysFixture(t)
	key := small.priv
	ct, err := crypto.HybridEncrypt(rand.Reader, &key.PublicKey, []byte(plaintext("structure")), []byte("prod/db"))
	if err != nil {
		t.Fatal(err)
	}
	good := base64.StdEncoding.EncodeToString(ct)
	base := func() map[string]any {
		return map[string]any{
			"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
			"metadata": map[string]any{"name": "db", "namespace": "prod"},
			"spec": map[string]any{
				"encryptedData": map[string]any{"password": good},
				"template":      map[string]any{"metadata": map[string]any{"name": "db", "namespace": "prod"}},
			},
		}
	}
	m := func(o map[string]any, path ...string) map[string]any {
		for _, p := range path {
			next, ok := o[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				o[p] = next
			}
			o = next
		}
		return o
	}
	const nsAnn, cwAnn = "/metadata/annotations/sealedsecrets.bitnami.com~1namespace-wide", "/metadata/annotations/sealedsecrets.bitnami.com~1cluster-wide"
	for _, tc := range []struct {
		name string
		edit func(o map[string]any)
		want map[string]string // path: words of the message
	}{
		{"well-formed", func(map[string]any) {}, nil},
		{"another kind is not looked at", func(o map[string]any) { o["kind"] = "Secret"; o["apiVersion"] = "v1" }, nil},
		{"bad base64", func(o map[string]any) { m(o, "spec", "encryptedData")["password"] = "AgB*not-base64" },
			map[string]string{"/spec/encryptedData/password": "not base64"}},
		{"unpadded base64", func(o map[string]any) { m(o, "spec", "encryptedData")["password"] = good[:len(good)-1] },
			map[string]string{"/spec/encryptedData/password": "not base64"}},
		{"truncated in the RSA part", func(o map[string]any) { m(o, "spec", "encryptedData")["password"] = good[:100] },
			map[string]string{"/spec/encryptedData/password": "is truncated: it ends inside its RSA part"}}, //nolint:gosec // G101: an expected error message, no credential
		{"truncated before the tag", func(o map[string]any) {
			m(o, "spec", "encryptedData")["password"] = base64.StdEncoding.EncodeToString(ct[:2+128+10])
		}, map[string]string{"/spec/encryptedData/password": "it ends before the AES-GCM tag"}},
		{"not a ciphertext", func(o map[string]any) {
			m(o, "spec", "encryptedData")["password"] = base64.StdEncoding.EncodeToString([]byte("hello, this is not sealed at all"))
		}, map[string]string{"/spec/encryptedData/password": "not a sealed-secrets ciphertext"}},
		{"empty value", func(o map[string]any) { m(o, "spec", "encryptedData")["password"] = "" },
			map[string]string{"/spec/encryptedData/password": "is empty"}},
		{"value not a string", func(o map[string]any) { m(o, "spec", "encryptedData")["password"] = int64(3) },
			map[string]string{"/spec/encryptedData/password": "must be a string"}},
		{"key with a slash", func(o map[string]any) { m(o, "spec", "encryptedData")["a/b"] = "!!" },
			map[string]string{"/spec/encryptedData/a~1b": "not base64"}},
		{"no encryptedData", func(o map[string]any) { delete(m(o, "spec"), "encryptedData") },
			map[string]string{"/spec/encryptedData": "no spec.encryptedData"}},
		{"both scope annotations", func(o map[string]any) {
			m(o, "metadata")["annotations"] = map[string]any{clusterWide: "true", namespaceWide: "true"}
		}, map[string]string{cwAnn: "both \"true\""}},
		{"annotation neither true nor false", func(o map[string]any) {
			m(o, "metadata")["annotations"] = map[string]any{namespaceWide: "yes"}
		}, map[string]string{nsAnn: "takes it as unset"}},
		{"annotation not a string", func(o map[string]any) {
			m(o, "metadata")["annotations"] = map[string]any{namespaceWide: true}
		}, map[string]string{nsAnn: "must be a string"}},
		{"template scope contradicts", func(o map[string]any) {
			m(o, "metadata")["annotations"] = map[string]any{namespaceWide: "true"}
			m(o, "spec", "template", "metadata")["annotations"] = map[string]any{clusterWide: "true"}
		}, map[string]string{"/spec/template/metadata/annotations": "give cluster-wide scope and metadata.annotations namespace-wide scope"}},
		{"template scope missing on the object", func(o map[string]any) {
			m(o, "spec", "template", "metadata")["annotations"] = map[string]any{namespaceWide: "true"}
		}, map[string]string{"/spec/template/metadata/annotations": "namespace-wide scope and metadata.annotations strict scope"}},
		{"template scope agrees", func(o map[string]any) {
			m(o, "metadata")["annotations"] = map[string]any{namespaceWide: "true"}
			m(o, "spec", "template", "metadata")["annotations"] = map[string]any{namespaceWide: "true", "team": "x"}
		}, nil},
		{"template name contradicts", func(o map[string]any) { m(o, "spec", "template", "metadata")["name"] = "other" },
			map[string]string{"/spec/template/metadata/name": `"other" contradicts metadata.name "db"`}},
		{"template namespace contradicts", func(o map[string]any) { m(o, "spec", "template", "metadata")["namespace"] = "dev" },
			map[string]string{"/spec/template/metadata/namespace": `"dev" contradicts metadata.namespace "prod"`}},
		{"strict without namespace", func(o map[string]any) {
			delete(m(o, "metadata"), "namespace")
			delete(m(o, "spec", "template", "metadata"), "namespace")
		}, map[string]string{"/metadata/namespace": "strict scope needs metadata.namespace"}},
		{"strict without name", func(o map[string]any) {
			delete(m(o, "metadata"), "name")
			delete(m(o, "spec", "template", "metadata"), "name")
		}, map[string]string{"/metadata/name": "strict scope needs metadata.name"}},
		{"namespace-wide without namespace", func(o map[string]any) {
			m(o, "metadata")["annotations"] = map[string]any{namespaceWide: "true"}
			delete(m(o, "metadata"), "namespace")
			delete(m(o, "spec", "template", "metadata"), "namespace")
		}, map[string]string{"/metadata/namespace": "namespace-wide scope needs metadata.namespace"}},
		{"cluster-wide needs neither", func(o map[string]any) {
			m(o, "metadata")["annotations"] = map[string]any{clusterWide: "true"}
			delete(m(o, "metadata"), "namespace")
			delete(m(o, "spec"), "template")
		}, nil},
		{"deprecated data beside encryptedData", func(o map[string]any) { m(o, "spec")["data"] = good },
			map[string]string{"/spec/data": "both spec.encryptedData and the deprecated spec.data"}},
		{"deprecated data alone", func(o map[string]any) {
			delete(m(o, "spec"), "encryptedData")
			m(o, "spec")["data"] = good
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base()
			tc.edit(o)
			// as JSON decodes it
			b, err := json.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			var obj map[string]any
			if err := json.Unmarshal(b, &obj); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, p := range problems(CheckSealedSecret(obj, nil)) {
				if _, dup := got[p.Path]; dup {
					t.Errorf("two problems at %s", p.Path)
				}
				got[p.Path] = p.Message
			}
			for path, words := range tc.want {
				if !strings.Contains(got[path], words) {
					t.Errorf("at %s want %q, got %q", path, words, got[path])
				}
			}
			for path, msg := range got {
				if _, ok := tc.want[path]; !ok {
					t.Errorf("unexpected problem at %s: %s", path, msg)
				}
			}
		})
	}
}

// A key is rotated: a Keys that lacks the key a value was sealed with denies
// it; Replace adds the new key atomically; old values still decrypt with the
// old key while it is kept.
func TestKeyRotation(t *testing.T) {
	keysFixture(t)
	old := sealSecret(t, a1, "strict", map[string]string{"password": plaintext("old")})
	fresh := sealSecret(t, a2, "strict", map[string]string{"password": plaintext("new")})
	keys := NewKeys(a1.priv)
	steps := []struct {
		name     string
		replace  []*testKey
		old, new bool // whether each decrypts
	}{
		{"before the rotation is seen", nil, true, false},
		{"both keys", []*testKey{&a1, &a2}, true, true},
		{"old key dropped", []*testKey{&a2}, false, true},
		{"no key: structure only", []*testKey{}, true, true},
	}
	for _, s := range steps {
		if s.replace != nil {
			var ks []*rsa.PrivateKey
			for _, k := range s.replace {
				ks = append(ks, k.priv)
			}
			keys.Replace(ks...)
		}
		for _, c := range []struct {
			what string
			ss   map[string]any
			ok   bool
		}{{"old", old, s.old}, {"new", fresh, s.new}} {
			ps := problems(CheckSealedSecret(c.ss, keys))
			if (len(ps) == 0) != c.ok {
				t.Errorf("%s: %s value: want decrypts=%v, got %v", s.name, c.what, c.ok, ps)
			}
		}
	}
	if keys.Len() != 0 || len(keys.Fingerprints()) != 0 {
		t.Fatalf("Len %d after Replace()", keys.Len())
	}

	// Replace under concurrent checks: every set holds a1, so the old value
	// always decrypts (run with -race to check for races).
	keys.Replace(a1.priv)
	done := make(chan struct{})
	errs := make(chan string, 64)
	for g := 0; g < 3; g++ {
		go func() {
			for i := 0; i < 10; i++ {
				if ps := CheckSealedSecret(old, keys); len(ps) != 0 {
					errs <- problems(ps)[0].Message
				}
			}
			done <- struct{}{}
		}()
	}
	for i := 0; i < 50; i++ {
		if i%2 == 0 {
			keys.Replace(a2.priv, a1.priv)
		} else {
			keys.Replace(a1.priv)
		}
	}
	for g := 0; g < 3; g++ {
		<-done
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestNilKeys(t *testing.T) {
	var k *Keys
	var z Keys
	if k.Len() != 0 || z.Len() != 0 || k.Fingerprints() != nil {
		t.Fatal("a nil or zero Keys must hold no key")
	}
	if NewKeys(nil, nil).Len() != 0 {
		t.Fatal("nil keys kept")
	}
	keysFixture(t)
	if n := NewKeys(a1.priv, a1.priv, a2.priv).Len(); n != 2 {
		t.Fatalf("duplicates kept: %d", n)
	}
	fps := NewKeys(a1.priv, a2.priv).Fingerprints()
	if !slices.Equal(fps, []string{Fingerprint(&a1.priv.PublicKey), Fingerprint(&a2.priv.PublicKey)}) {
		t.Fatal(fps)
	}
}
