package charts

import (
	"context"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// expected says why a finding is unavoidable ("" when it is not): the
// schema check has no offline schema for cert-manager's kinds, and says so
// (a warning) unless their CRDs are among the inputs.
func expected(f engine.Finding) string {
	if f.Check == "schema" && f.Action == engine.Warn && strings.HasPrefix(f.Object.APIVersion, "cert-manager.io/") {
		return "no offline schema for cert-manager's kinds"
	}
	return ""
}

// TestChartPassesItsOwnPolicies checks every rendering of the chart with
// gatekeep's built-in bundle: in CI mode (as gatekeep check over helm
// template's output), strict, for the newest Kubernetes and the oldest the
// chart supports; and in admission mode, as the webhook would judge the
// install. Nothing is found at all (built-in certificates included: the
// chart renders no key, gatekeep makes it), but for expected warnings.
func TestChartPassesItsOwnPolicies(t *testing.T) {
	builtin, err := bundle.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	oldest, err := kubeversion.Parse("1.29")
	if err != nil {
		t.Fatal(err)
	}
	engines := []struct {
		name string
		opts []engine.Option
	}{
		{"CI, newest Kubernetes, strict", []engine.Option{engine.Strict(true)}},
		{"CI, Kubernetes 1.29, strict", []engine.Option{engine.Strict(true), engine.WithKubernetesVersion(oldest)}},
		{"admission", []engine.Option{engine.WithMode(engine.Admission)}},
	}
	for _, s := range scenarios(t) {
		r := mustRender(t, values(t, s.values))
		objs, errs := manifest.Parse("helm-template.yaml", []byte(r.manifest))
		if len(errs) > 0 {
			t.Fatalf("%s: gatekeep cannot read the rendered chart: %v", s.name, errs)
		}
		if len(objs) != len(r.objects) {
			t.Errorf("%s: gatekeep read %d objects of %d", s.name, len(objs), len(r.objects))
		}
		for _, e := range engines {
			t.Run(s.name+"/"+e.name, func(t *testing.T) {
				eng, err := engine.New(builtin, e.opts...)
				if err != nil {
					t.Fatal(err)
				}
				res, err := eng.Check(context.Background(), &manifest.Set{Objects: objs, Files: 1})
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range res.Findings() {
					if why := expected(f); why != "" {
						t.Logf("expected (%s): %s %s %s: %s", why, f.Action, f.Check, f.Object, f.Message)
						continue
					}
					t.Errorf("%s: %s %s %s (line %d): %s", f.Action, f.Check, f.Object, f.Path, f.Line, f.Message)
				}
			})
		}
	}
}
