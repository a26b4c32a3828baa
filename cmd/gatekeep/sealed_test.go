package main

import (
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
