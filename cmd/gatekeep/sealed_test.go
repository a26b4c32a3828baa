package main

import (
	"crypto/rand"
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/internal/sealtest"
)

const plaintext = "correct-horse-battery-staple"

func TestSealedSecretsInCI(t *testing.T) {
	dir := t.TempDir()
	k := sealtest.NewKey(t, dir)
	keyFile := k.KeyFile
	secret := "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: shop}\nstringData: {password: " + plaintext + "}\n"
	sealed := sealtest.Run(t, secret, "--cert", k.CertFile, "--format", "yaml")
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
	otherKey := sealtest.NewKey(t, t.TempDir()).KeyFile
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
	dir := t.TempDir()
	k := sealtest.NewKey(t, dir)
	keyFile := k.KeyFile
	raw := sealtest.Raw(t, k, "shop", "db", plaintext)
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

// Issue 17: without --sealed-secrets-key, a Secret annotated
// gatekeep.dev/sealed passes only when each value has the form of a
// `kubeseal --raw` output; any other value is a plaintext-secret finding
// that names its key, never the value.
func TestInlineSealedWithoutKeys(t *testing.T) {
	dir := t.TempDir()
	k := sealtest.NewKey(t, dir)
	raw := sealtest.Raw(t, k, "shop", "db", plaintext)
	ct, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	random := make([]byte, 24)
	rand.Read(random)
	inline := func(field, key, value string) string {
		return "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n  annotations:\n    gatekeep.dev/sealed: \"true\"\n" + field + ":\n  " + key + ": \"" + value + "\"\n"
	}
	for _, tc := range []struct {
		name, field, value string
		pass               bool
	}{
		{"kubeseal --raw output in data", "data", raw, true},
		{"kubeseal --raw output in stringData", "stringData", raw, true},
		{"plaintext", "stringData", "hunter2", false},
		{"plaintext in data", "data", b64([]byte("hunter2")), false},
		{"base64 of random bytes, too short", "data", b64(random), false},
		{"base64 of a truncated sealed value", "stringData", b64(ct[:len(ct)/3]), false},
		{"base64 of a truncated sealed value, in data", "data", b64(ct[:len(ct)/3]), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			writeFile(t, d, "secret.yaml", inline(tc.field, "password", tc.value))
			out, code, msg := run(t, d, "", "check", "-o", "json", "secret.yaml")
			if tc.pass {
				if code != exitPass {
					t.Fatalf("exit %d, want 0: %s %s", code, msg, out)
				}
				return
			}
			got, code := findings(t, d, "secret.yaml")
			want := "plaintext-secret deny secret.yaml:8 /" + tc.field + `: Secret "db" is annotated gatekeep.dev/sealed but holds plaintext values in ` + tc.field + " (keys: password):"
			if code != exitDenied || len(got) != 1 || !strings.HasPrefix(got[0], want) {
				t.Fatalf("exit %d, findings %q, want one: %s...", code, got, want)
			}
			if strings.Contains(out, tc.value) || strings.Contains(out, "hunter2") || strings.Contains(msg, tc.value) {
				t.Errorf("the value is in the report: %s", out)
			}
		})
	}
}
