package main

import (
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

func TestMutateReviewApp(t *testing.T) {
	out, code, msg := run(t, "../../testdata/infra-repo", "", "mutate", "--bundle", "policy", "app/overlays/development/dk-1234", "app/overlays/staging")
	if code != exitPass {
		t.Fatalf("exit %d: %s", code, msg)
	}
	objs, errs := manifest.Parse("out.yaml", []byte(out))
	if len(errs) > 0 {
		t.Fatalf("output is not YAML: %v\n%s", errs, out)
	}
	seen := 0
	for _, o := range objs {
		pr := o.Labels()["gatekeep.dev/pr"]
		switch o.Namespace() {
		case "dk-1234":
			seen++
			if pr != "1234" || o.Labels()["gatekeep.dev/review-app"] != "true" || o.Annotations()["gatekeep.dev/expires-at"] == nil {
				t.Errorf("%s not labelled: %v %v", o.Ref(), o.Labels(), o.Annotations())
			}
			if o.Kind() == "Deployment" {
				if v, _ := manifest.Get(o.Data, "/spec/template/metadata/labels/gatekeep.dev~1pr"); v != "1234" {
					t.Errorf("pod template not labelled: %v", v)
				}
			}
		case "staging":
			if pr != nil {
				t.Errorf("%s labelled outside a review app", o.Ref())
			}
		}
	}
	if seen != 4 {
		t.Errorf("saw %d review-app objects, want 4", seen)
	}
	if !strings.HasPrefix(out, "# Source: app/base/deployment.yaml:1\n") {
		t.Errorf("output does not name its sources:\n%s", out[:min(len(out), 200)])
	}
}
