package manifest

import "testing"

func TestRefNames(t *testing.T) {
	for _, tc := range []struct {
		name, object string
		wantName     string
		wantString   string
	}{
		{"name", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate, namespace: default}\n",
			"migrate", "Job default/migrate"},
		{"generateName only", "apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: migrate-, namespace: default}\n",
			"migrate-*", "Job default/migrate-*"},
		{"name wins over generateName", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate-x7k2p, generateName: migrate-, namespace: default}\n",
			"migrate-x7k2p", "Job default/migrate-x7k2p"},
		{"cluster-scoped generateName", "apiVersion: v1\nkind: Namespace\nmetadata: {generateName: preview-}\n",
			"preview-*", "Namespace preview-*"},
		{"neither", "apiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: default}\n",
			"", "ConfigMap default/(unnamed)"},
		{"no metadata", "apiVersion: v1\nkind: Namespace\n",
			"", "Namespace (unnamed)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, errs := Parse("x.yaml", []byte(tc.object))
			if len(errs) > 0 || len(objs) != 1 {
				t.Fatalf("Parse: %v, %d objects", errs, len(objs))
			}
			ref := objs[0].Ref()
			if ref.Name != tc.wantName || ref.String() != tc.wantString {
				t.Errorf("Ref() named %q, String() %q; want %q, %q", ref.Name, ref.String(), tc.wantName, tc.wantString)
			}
		})
	}
}
