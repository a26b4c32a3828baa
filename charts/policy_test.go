package charts

import (
	"context"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// knownDeny is a denial the chart cannot avoid yet, with why.
type knownDeny struct {
	check, kind, name, why string
}

// knownDenies: in the built-in certificate mode the chart itself renders
// the serving key into a Secret, which plaintext-secret (CI only) rightly
// flags: rendered manifests holding it must not be committed. It goes once
// gatekeep serve makes its own certificate (cert-controller).
var knownDenies = []knownDeny{
	{"plaintext-secret", "Secret", "gatekeep-tls", "built-in certificates: the chart renders the serving key"},
}

// TestChartPassesItsOwnPolicies checks every rendering of the chart with
// gatekeep's built-in bundle: in CI mode (as gatekeep check over helm
// template's output), strict, for the newest Kubernetes and the oldest the
// chart supports; and in admission mode, as the webhook would judge the
// install. Nothing is denied (but for knownDenies); warnings are logged.
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
					switch f.Action {
					case engine.Deny:
						if why := known(f); why != "" {
							t.Logf("known denial (%s): %s %s: %s", why, f.Check, f.Object, f.Message)
							continue
						}
						t.Errorf("denied: %s %s %s (line %d): %s", f.Check, f.Object, f.Path, f.Line, f.Message)
					default:
						t.Logf("%s: %s %s: %s", f.Action, f.Check, f.Object, f.Message)
					}
				}
			})
		}
	}
}

func known(f engine.Finding) string {
	for _, k := range knownDenies {
		if k.check == f.Check && k.kind == f.Object.Kind && k.name == f.Object.Name {
			return k.why
		}
	}
	return ""
}
