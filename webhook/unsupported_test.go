package webhook

import (
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/go-logr/logr/funcr"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/bundletest"
)

// TestLogsUnsupportedPolicies: a bundle file holding policy kinds gatekeep
// does not run is logged once each time the bundle loads (at start and on
// every reload), naming the file, its line and the kinds; the bundle's
// ConstraintTemplate beside them is in force all the same.
func TestLogsUnsupportedPolicies(t *testing.T) {
	warning := regexp.MustCompile(`"msg"="policy bundle warning" "check"="policy-unsupported" "action"="(\w+)" "file"="[^"]*/policy/([^"]+)" "line"=(\d+) "message"=("(?:[^"\\]|\\.)*")`)
	warnings := func(action string) []string {
		return []string{
			action + " assign.yaml:1 Assign: " + bundle.GatekeeperMutation.Why,
			action + " kyverno.yaml:1 ClusterPolicy: " + bundle.Kyverno.Why,
			action + " metadata-and-modifyset.yaml:2 AssignMetadata, ModifySet (2): " + bundle.GatekeeperMutation.Why,
			action + " vap.yaml:1 ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding: " + bundle.ValidatingAdmissionPolicy.Why,
		}
	}
	for _, tc := range []struct {
		name, config string
		want         []string // each load's: "action file:line message"
	}{
		{"warn", "", warnings("warn")},
		{"deny", "checks: {policy-unsupported: deny}\n", warnings("deny")},
		{"off", "checks: {policy-unsupported: off}\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := bundletest.Copy(t, "../bundle/testdata/unsupported", tc.config)
			logs := &syncBuffer{}
			s := New(Options{Load: func() (*engine.Engine, error) { return loadEngine(dir) }, Log: funcr.New(logs.write, funcr.Options{})})
			var want []string
			for load := 1; load <= 2; load++ { // at start, then a reload
				if err := s.reload(); err != nil {
					t.Fatal(err)
				}
				want = append(want, tc.want...)
				var got []string
				for _, m := range warning.FindAllStringSubmatch(logs.String(), -1) {
					msg, err := strconv.Unquote(m[4])
					if err != nil {
						t.Fatalf("message %s: %v", m[4], err)
					}
					got = append(got, m[1]+" "+m[2]+":"+m[3]+" "+msg)
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("after load %d, logged warnings\n got %q\nwant %q\nlog:\n%s", load, got, want, logs.String())
				}
			}
			if !slices.ContainsFunc(s.engines.Get().Checks(), func(c engine.CheckInfo) bool { return c.ID == "K8sRequiredOwner/configmaps-have-owners" }) {
				t.Errorf("the bundle's constraint is not in force: %+v", s.engines.Get().Checks())
			}
		})
	}
}
