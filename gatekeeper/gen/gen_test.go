package gen

import (
	"os"
	"strings"
	"testing"
)

func TestPolicies(t *testing.T) {
	ps := Policies(50)
	if len(ps) != 50 {
		t.Fatalf("%d policies", len(ps))
	}
	kinds := map[string]bool{}
	shapes := map[string]int{}
	for _, p := range ps {
		if kinds[p.Kind] {
			t.Errorf("kind %s twice", p.Kind)
		}
		kinds[p.Kind] = true
		shapes[p.Shape]++
		if !strings.Contains(p.Template, "kind: "+p.Kind+"\n") || !strings.Contains(p.Constraint, "kind: "+p.Kind+"\n") {
			t.Errorf("%s: template and constraint disagree", p.Kind)
		}
	}
	if len(shapes) < 10 || shapes["uniqueingresshost"] != 1 {
		t.Errorf("shapes: %v", shapes)
	}
	files, err := Write(t.TempDir(), 12)
	if err != nil || len(files) != 12 {
		t.Fatalf("%d files, %v", len(files), err)
	}
	data, _ := os.ReadFile(files[0])
	if !strings.Contains(string(data), "\n---\napiVersion: constraints.gatekeeper.sh/v1beta1\n") {
		t.Errorf("file layout:\n%s", data)
	}
}
