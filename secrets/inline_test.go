package secrets

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/bitnami-labs/sealed-secrets/pkg/crypto"
)

// inlineSecret is a Secret annotated gatekeep.dev/sealed, as JSON decodes it.
func inlineSecret(ns, name string, ann map[string]any, data, stringData map[string]string) map[string]any {
	meta := map[string]any{"name": name, "namespace": ns, "annotations": map[string]any{SealedAnnotation: "true"}}
	if ns == "" {
		delete(meta, "namespace")
	}
	for k, v := range ann {
		if v == nil {
			delete(meta["annotations"].(map[string]any), k)
		} else {
			meta["annotations"].(map[string]any)[k] = v
		}
	}
	obj := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": meta}
	if data != nil {
		obj["data"] = data
	}
	if stringData != nil {
		obj["stringData"] = stringData
	}
	b, _ := json.Marshal(obj)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err) // JSON that json.Marshal just wrote
	}
	return out
}

// Values sealed by the real `kubeseal --raw` decrypt, in each scope and
// wherever the raw output is put; the annotation gets the key's fingerprint.
func TestUnsealInline(t *testing.T) {
	keysFixture(t)
	keys := NewKeys(a1.priv, a2.priv)
	fpA1, fpA2 := Fingerprint(&a1.priv.PublicKey), Fingerprint(&a2.priv.PublicKey)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	pw, user := plaintext("inline-pw"), plaintext("inline-user")
	strict := sealRaw(t, a2, "strict", "prod", "db", pw)
	strictUser := sealRaw(t, a2, "strict", "prod", "db", user)
	strictOld := sealRaw(t, a1, "strict", "prod", "db", user)
	nsWide := sealRaw(t, a2, "namespace-wide", "prod", "", pw)
	clusterWideV := sealRaw(t, a2, "cluster-wide", "", "", pw)
	for _, tc := range []struct {
		name        string
		obj         map[string]any
		want        map[string]string // plaintexts by key
		fp          string
		err         []string // words of the error
		notErr      []string
		nothingToDo bool
	}{
		{name: "strict", obj: inlineSecret("prod", "db", nil, map[string]string{"password": strict, "username": strictUser}, nil),
			want: map[string]string{"password": pw, "username": user}, fp: fpA2},
		{name: "strict, scope spelled out", obj: inlineSecret("prod", "db", map[string]any{ScopeAnnotation: "strict"}, map[string]string{"password": strict}, nil),
			want: map[string]string{"password": pw}, fp: fpA2},
		{name: "namespace-wide, any name", obj: inlineSecret("prod", "other", map[string]any{ScopeAnnotation: "namespace-wide"}, map[string]string{"password": nsWide}, nil),
			want: map[string]string{"password": pw}, fp: fpA2},
		{name: "cluster-wide, anywhere", obj: inlineSecret("dev", "x", map[string]any{ScopeAnnotation: "cluster-wide"}, map[string]string{"password": clusterWideV}, nil),
			want: map[string]string{"password": pw}, fp: fpA2},
		{name: "stringData, as in a file", obj: inlineSecret("prod", "db", nil, map[string]string{"password": strict}, map[string]string{"username": strictUser}),
			want: map[string]string{"password": pw, "username": user}, fp: fpA2},
		{name: "stringData, as admission sees it (merged into data)", obj: inlineSecret("prod", "db", nil, map[string]string{"password": b64(strict)}, nil),
			want: map[string]string{"password": pw}, fp: fpA2},
		{name: "values sealed with two keys (rotation)", obj: inlineSecret("prod", "db", nil, map[string]string{"password": strict, "username": strictOld}, nil),
			want: map[string]string{"password": pw, "username": user}, fp: strings.Join(sortedStrings(fpA1, fpA2), ",")},

		{name: "not annotated", obj: inlineSecret("prod", "db", map[string]any{SealedAnnotation: nil}, map[string]string{"password": strict}, nil), nothingToDo: true},
		{name: "annotated false", obj: inlineSecret("prod", "db", map[string]any{SealedAnnotation: "false"}, map[string]string{"password": strict}, nil), nothingToDo: true},
		{name: "not a Secret", obj: map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"annotations": map[string]any{SealedAnnotation: "true"}}}, nothingToDo: true},

		{name: "one value of another cluster: nothing unsealed",
			obj: inlineSecret("prod", "db", nil, map[string]string{"password": strict, "token": sealRaw(t, clusterB, "strict", "prod", "db", plaintext("inline-b"))}, nil),
			err: []string{"Secret prod/db", `data "token"`, "another cluster", "1 of its 2 sealed values", "none is unsealed"}, notErr: []string{`data "password"`}},
		{name: "sealed for another name",
			obj: inlineSecret("prod", "web", nil, map[string]string{"password": strict}, nil),
			err: []string{"Secret prod/web", `data "password"`, "strict scope (prod/web)", "another name or namespace"}},
		{name: "sealed namespace-wide, annotation missing",
			obj: inlineSecret("prod", "db", nil, map[string]string{"password": nsWide}, nil),
			err: []string{`data "password"`, `sealed with namespace-wide scope (namespace "prod"), not strict scope (prod/db)`, ScopeAnnotation}},
		{name: "sealed strict, annotated cluster-wide",
			obj: inlineSecret("prod", "db", map[string]any{ScopeAnnotation: "cluster-wide"}, map[string]string{"password": strict}, nil),
			err: []string{"sealed with strict scope (prod/db), not cluster-wide scope"}},
		{name: "edited value",
			obj: inlineSecret("prod", "db", nil, map[string]string{"password": flipLastByte(t, strict)}, nil),
			err: []string{"truncated or edited"}},
		{name: "a plaintext value",
			obj: inlineSecret("prod", "db", nil, map[string]string{"password": b64(plaintext("inline-plain")), "ok": strict}, nil),
			err: []string{`data "password" is not a ` + "`kubeseal --raw`" + ` output`}, notErr: []string{`"ok"`}},
		{name: "stringData not base64",
			obj: inlineSecret("prod", "db", nil, nil, map[string]string{"password": plaintext("inline-sd")}),
			err: []string{`stringData "password" is not a`, "not base64"}},
		{name: "no data", obj: inlineSecret("prod", "db", nil, nil, nil), err: []string{"has no data to unseal"}},
		{name: "annotation not true", obj: inlineSecret("prod", "db", map[string]any{SealedAnnotation: "yes"}, map[string]string{"password": strict}, nil),
			err: []string{SealedAnnotation, `must be "true"`}},
		{name: "unknown scope", obj: inlineSecret("prod", "db", map[string]any{ScopeAnnotation: "global"}, map[string]string{"password": strict}, nil),
			err: []string{`is "global"`, "strict, namespace-wide or cluster-wide"}},
		{name: "strict without namespace", obj: inlineSecret("", "db", nil, map[string]string{"password": strict}, nil),
			err: []string{"need the Secret's namespace"}},
		{name: "strict without name", obj: inlineSecret("prod", "", nil, map[string]string{"password": strict}, nil),
			err: []string{"need the Secret's name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := UnsealInline(tc.obj, keys)
			msg := errText(err)
			switch {
			case tc.nothingToDo:
				if u != nil || err != nil {
					t.Fatalf("want nothing done, got %v, %v", u, msg)
				}
				return
			case tc.err != nil:
				if err == nil || u != nil {
					t.Fatalf("want an error and nothing unsealed, got %v, %v", u, err)
				}
				for _, w := range tc.err {
					if !strings.Contains(msg, w) {
						t.Errorf("error lacks %q: %s", w, msg)
					}
				}
				for _, n := range tc.notErr {
					if strings.Contains(msg, n) {
						t.Errorf("error has %q: %s", n, msg)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(msg)
			}
			if len(u.Data) != len(tc.want) {
				t.Fatalf("unsealed %d values, want %d", len(u.Data), len(tc.want))
			}
			for k, want := range tc.want {
				if u.Data[k] != b64(want) {
					t.Errorf("%s: not the sealed plaintext", k)
				}
			}
			if u.Fingerprint != tc.fp {
				t.Errorf("fingerprint %q, want %q", u.Fingerprint, tc.fp)
			}
		})
	}
	// No key, no unsealing.
	_, err := UnsealInline(inlineSecret("prod", "db", nil, map[string]string{"password": strict}, nil), NewKeys())
	if msg := errText(err); !strings.Contains(msg, "no sealing key") {
		t.Fatalf("without keys: %v", msg)
	}
}

func sortedStrings(s ...string) []string {
	if s[0] > s[1] {
		s[0], s[1] = s[1], s[0]
	}
	return s
}

func flipLastByte(t *testing.T, raw string) string {
	ct, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	ct[len(ct)-1] ^= 1
	return base64.StdEncoding.EncodeToString(ct)
}

// BenchmarkUnsealOneValue decrypts one value sealed for a 4096-bit key, the
// controller's size, with that key alone and with it after 4 2048-bit keys.
func BenchmarkUnsealOneValue(b *testing.B) {
	keys4096 := make([]*rsa.PrivateKey, 5)
	for i := range keys4096 {
		bits := 2048
		if i == 0 {
			bits = 4096
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			b.Fatal(err)
		}
		keys4096[i] = k
	}
	pt := plaintext("bench")
	ct, err := crypto.HybridEncrypt(rand.Reader, &keys4096[0].PublicKey, []byte(pt), []byte("prod/db"))
	if err != nil {
		b.Fatal(err)
	}
	obj := inlineSecret("prod", "db", nil, map[string]string{"password": base64.StdEncoding.EncodeToString(ct)}, nil)
	for _, bc := range []struct {
		name string
		keys *Keys
	}{
		{"rsa4096", NewKeys(keys4096[0])},
		// Keys of another size are skipped without an RSA operation.
		{"rsa4096-among-5", NewKeys(keys4096[1], keys4096[2], keys4096[3], keys4096[4], keys4096[0])},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := UnsealInline(obj, bc.keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Issue 17: without keys, an inline sealed value must still have the form
// of a `kubeseal --raw` output; a plaintext, base64 of a few random bytes
// or a sealed value cut short do not.
func TestInlineSealed(t *testing.T) {
	keysFixture(t)
	raw := sealRaw(t, a2, "strict", "prod", "db", plaintext("shape"))
	ct, _ := base64.StdEncoding.DecodeString(raw)
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	random := func(n int) []byte { b := make([]byte, n); rand.Read(b); return b }
	pt := plaintext("shape-pt")
	for _, tc := range []struct {
		name  string
		field string
		v     any
		want  bool
	}{
		{"raw output in stringData", "stringData", raw, true},
		{"raw output in data (ciphertext in base64)", "data", raw, true},
		{"raw output in data, as admission merges stringData", "data", b64([]byte(raw)), true},
		{"plaintext in stringData", "stringData", "hunter2", false},
		{"plaintext in stringData, registered", "stringData", pt, false},
		{"base64 of plaintext in data", "data", b64([]byte(pt)), false},
		{"base64 of random bytes, too short", "data", b64(random(40)), false},
		{"base64 of random bytes, too short, in stringData", "stringData", b64(random(40)), false},
		{"truncated in its RSA part", "stringData", b64(ct[:200]), false},
		{"truncated in its RSA part, in data", "data", b64(ct[:200]), false},
		{"truncated before the GCM tag", "stringData", b64(ct[:2+256+10]), false},
		{"truncated raw output, as admission merges it", "data", b64([]byte(b64(ct[:100]))), false},
		{"RSA length out of range", "stringData", b64(append([]byte{0x7f, 0xff}, random(300)...)), false},
		{"empty", "stringData", "", false},
		{"a number", "stringData", 12345, false},
		{"another field", "other", raw, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := InlineSealed(tc.field, tc.v); got != tc.want {
				t.Errorf("InlineSealed = %v, want %v", got, tc.want)
			}
		})
	}
}
