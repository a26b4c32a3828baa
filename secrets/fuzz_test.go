package secrets

import (
	"encoding/base64"
	"encoding/pem"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Fuzzing: the key parser and the parsers of sealed values and
// SealedSecrets take what anyone may commit. They must not panic, and no
// error or message may hold secret material of the input. Seeds are in
// testdata/fuzz/<target>; crashes found become cases of the tests below.

// secretTokens are the pieces of key material in a key file: the base64
// lines of its PEM blocks and the values of tls.key, of at least min
// characters (shorter ones are words of any message).
func secretTokens(data []byte, min int) []string {
	var out []string
	add := func(s string) {
		for _, f := range strings.Fields(s) {
			if len(f) >= min && !strings.HasPrefix(f, "-----") {
				out = append(out, f)
			}
		}
	}
	rest := data
	for {
		b, r := pem.Decode(rest)
		if b == nil {
			break
		}
		rest = r
		add(base64.StdEncoding.EncodeToString(b.Bytes))
		for _, v := range b.Headers {
			add(v)
		}
	}
	// PEM bodies as written (lines of 64), and tls.key values.
	for _, m := range pemBody.FindAllSubmatch(data, -1) {
		add(string(m[1]))
	}
	for _, m := range tlsKey.FindAllSubmatch(data, -1) {
		add(strings.Trim(string(m[1]), `"' ,`))
	}
	return out
}

var (
	pemBody = regexp.MustCompile(`(?s)-----BEGIN [^-]*-----(.*?)-----END`)
	// tls.key as a mapping key (a line's first, or after { or ,), not
	// inside a value such as a Secret's name, which errors may quote.
	tlsKey = regexp.MustCompile(`(?m)(?:^|[{,])\s*"?tls\.key"?\s*:\s*([^\n]*)`)
)

func FuzzParseKeys(f *testing.F) {
	keysFixture(f)
	// Seeds with real key material are made here, not committed.
	f.Add([]byte(pkcs1PEM(small.priv)))
	f.Add([]byte(pkcs8PEM(small.priv)))
	f.Add([]byte(keySecretYAML(small.priv, "sealed-secrets-keyabcde", "2024-01-01T10:00:00Z", "")))
	f.Add([]byte("apiVersion: v1\nitems:\n" + keySecretYAML(small.priv, "k", "2024-01-01T10:00:00Z", "- ") + "kind: List\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseKeys("keys.pem", data)
		if err == nil {
			if len(keys) == 0 {
				t.Fatal("no error and no key")
			}
			return
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "keys.pem: ") {
			t.Fatalf("error does not name the file: %q", msg)
		}
		for _, tok := range secretTokens(data, 16) {
			if strings.Contains(msg, tok) {
				t.Fatalf("error holds key material %q: %q", tok, msg)
			}
		}
	})
}

// FuzzSealedValue: one value as a Secret annotated gatekeep.dev/sealed and
// a SealedSecret hold it, judged for its form and decrypted with a key.
func FuzzSealedValue(f *testing.F) {
	keysFixture(f)
	keys := NewKeys(small.priv)
	f.Fuzz(func(t *testing.T, value string) {
		for _, field := range []string{"data", "stringData"} {
			InlineSealed(field, value)
		}
		secret := map[string]any{"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "db", "namespace": "prod", "annotations": map[string]any{SealedAnnotation: "true"}},
			"data":     map[string]any{"password": value}, "stringData": map[string]any{"token": value}}
		u, err := UnsealInline(secret, keys)
		if err != nil {
			noValue(t, err.Error(), value)
		} else if u == nil {
			t.Fatal("an annotated Secret was not unsealed, and no error")
		}
		ss := map[string]any{"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret",
			"metadata": map[string]any{"name": "db", "namespace": "prod"},
			"spec":     map[string]any{"encryptedData": map[string]any{"password": value}}}
		for _, p := range CheckSealedSecret(ss, keys) {
			noValue(t, p.Path+" "+p.Message, value)
		}
	})
}

// FuzzSealedSecret: whole objects, YAML or JSON, as SealedSecrets and as
// Secrets annotated gatekeep.dev/sealed.
func FuzzSealedSecret(f *testing.F) {
	keysFixture(f)
	keys := NewKeys(small.priv)
	f.Fuzz(func(t *testing.T, doc []byte) {
		var obj map[string]any
		if yaml.Unmarshal(doc, &obj) != nil || obj == nil {
			return
		}
		values := secretValues(obj)
		for _, p := range CheckSealedSecret(obj, keys) {
			for _, v := range values {
				noValue(t, p.Path+" "+p.Message, v)
			}
		}
		if _, err := UnsealInline(obj, keys); err != nil {
			for _, v := range values {
				noValue(t, err.Error(), v)
			}
		}
	})
}

// secretValues are the strings under data, stringData, spec.encryptedData,
// spec.data and spec.template.data.
func secretValues(obj map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	spec := mapAt(obj, "spec")
	for _, v := range []any{obj["data"], obj["stringData"], spec["encryptedData"], spec["data"], mapAt(spec, "template")["data"]} {
		walk(v)
	}
	return out
}

// noValue fails when msg holds value. Values shorter than 16 bytes are
// left out: they may be words of any message.
func noValue(t *testing.T, msg, value string) {
	t.Helper()
	if len(value) >= 16 && strings.Contains(msg, value) {
		t.Fatalf("message holds the value %q: %q", value, msg)
	}
}
