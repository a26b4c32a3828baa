package gen

import (
	"encoding/json"
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

func TestPodReview(t *testing.T) {
	var ar struct {
		Request struct {
			UID    string
			Object struct {
				Metadata struct{ Name string }
				Spec     struct{ Containers []struct{ Image string } }
			}
		}
	}
	if err := json.Unmarshal(PodReview(12, 3), &ar); err != nil {
		t.Fatal(err)
	}
	r := ar.Request
	if r.UID != "0b7c5f2e-12" || r.Object.Metadata.Name != "web-7d4b9c-12" || len(r.Object.Spec.Containers) != 2 || r.Object.Spec.Containers[1].Image != "registry.example.com/platform/envoy:1.30.3" {
		t.Errorf("PodReview(12, 3) = %s", PodReview(12, 3))
	}
}
