package sarif

import "testing"

func TestRelativeURI(t *testing.T) {
	for p, want := range map[string]string{
		"apps/app.yaml":                "apps/app.yaml",
		"apps/my app#1.yaml":           "apps/my%20app%231.yaml",
		"registry.example.com/app:1.2": "registry.example.com/app:1.2",
		"localhost:5000/app:1.2":       "./localhost:5000/app:1.2",
	} {
		if got := RelativeURI(p); got != want {
			t.Errorf("RelativeURI(%q) = %q, want %q", p, got, want)
		}
	}
}
