package schema

import (
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// Issue 17: under the secret fields of a kind, messages name a value's
// type only; the same values elsewhere, or in another kind, are quoted.
func TestSecretValuesNotInMessages(t *testing.T) {
	v, err := New(kubeversion.Latest)
	if err != nil {
		t.Fatal(err)
	}
	secret := func(field string, value any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"}, field: map[string]any{"k": value}}
	}
	for _, tc := range []struct {
		name   string
		obj    map[string]any
		want   string
		secret string
	}{
		{"data not base64", secret("data", "SECRETVALUE!!notbase64"), "/data/k: got string (value not shown), want base64-encoded data", "SECRETVALUE"},
		{"stringData number", secret("stringData", int64(1234567890123)), "/stringData/k: got number (value not shown), want string", "1234567890123"},
		{"stringData float", secret("stringData", 3.14159), "/stringData/k: got number (value not shown), want string", "3.14159"},
		{"stringData array", secret("stringData", []any{"SECRETITEM"}), "/stringData/k: got array (value not shown), want string", "SECRETITEM"},
		{"SecretList", map[string]any{"apiVersion": "v1", "kind": "SecretList", "items": []any{secret("data", "SECRETINLIST!!")}},
			"/items/0/data/k: got string (value not shown), want base64-encoded data", "SECRETINLIST"},
		{"ConfigMap is not secret", map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c"}, "data": map[string]any{"k": int64(8080)}},
			"/data/k: got number 8080, want string", ""},
		{"another field of a Secret", map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "db"}, "immutable": "yes"},
			`/immutable: got string "yes", want boolean`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := v.Validate(tc.obj)
			var got []string
			for _, p := range res.Problems {
				got = append(got, p.String())
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Fatalf("problems %q, want %q", got, tc.want)
			}
			if tc.secret != "" && strings.Contains(got[0], tc.secret) {
				t.Errorf("value in the message: %s", got[0])
			}
		})
	}
}
