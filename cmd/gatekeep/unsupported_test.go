package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
)

// unsupportedRepo is a working directory holding policy/, a copy of the
// bundle of bundle/testdata/unsupported (Gatekeeper mutators, a
// ValidatingAdmissionPolicy and its binding, a Kyverno ClusterPolicy, and a
// ConstraintTemplate that wants ConfigMaps to have an owner label) with
// config as its gatekeep.yaml, and owned.yaml and ownerless.yaml.
func unsupportedRepo(t *testing.T, config string) string {
	t.Helper()
	src := filepath.Join("..", "..", "bundle", "testdata", "unsupported")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"owned.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: owned\n  namespace: team-1\n  labels: {owner: team-1}\n",
		"ownerless.yaml": cleanCM,
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name())) //nolint:gosec // G304: the test's own fixture
		if err != nil {
			t.Fatal(err)
		}
		files["policy/"+e.Name()] = string(data)
	}
	files["policy/"+bundle.ConfigFile] = config
	return tree(t, files)
}

// unsupportedWarnings are the bundle's policy-unsupported findings, as
// "action file:line message".
func unsupportedWarnings(action string) []string {
	return []string{
		action + " policy/assign.yaml:1 Assign: " + bundle.GatekeeperMutation.Why,
		action + " policy/kyverno.yaml:1 ClusterPolicy: " + bundle.Kyverno.Why,
		action + " policy/metadata-and-modifyset.yaml:2 AssignMetadata, ModifySet (2): " + bundle.GatekeeperMutation.Why,
		action + " policy/vap.yaml:1 ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding: " + bundle.ValidatingAdmissionPolicy.Why,
	}
}

func TestCheckUnsupportedPolicies(t *testing.T) {
	for _, tc := range []struct {
		name   string
		config string
		args   []string
		code   int
		want   []string
		// denied names the other findings: the ConstraintTemplate's.
		denied []string
	}{
		{"warnings do not fail", "", []string{"owned.yaml"}, exitPass, unsupportedWarnings("warn"), nil},
		{"the template beside them runs", "", []string{"ownerless.yaml"}, exitDenied, unsupportedWarnings("warn"), []string{"K8sRequiredOwner/configmaps-have-owners"}},
		{"--fail-on-warn", "", []string{"--fail-on-warn", "owned.yaml"}, exitDenied, unsupportedWarnings("warn"), nil},
		{"raised to deny", "checks: {policy-unsupported: deny}\n", []string{"owned.yaml"}, exitDenied, unsupportedWarnings("deny"), nil},
		{"turned off", "checks: {policy-unsupported: off}\n", []string{"owned.yaml"}, exitPass, nil, nil},
		{"--skip", "", []string{"--skip", "policy-unsupported", "owned.yaml"}, exitPass, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := unsupportedRepo(t, tc.config)
			out, code, msg := run(t, dir, "", append([]string{"check", "-o", "json", "--bundle", "policy"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d %s, want %d\n%s", code, msg, tc.code, out)
			}
			r := decode(t, out)
			var got, others []string
			for _, f := range r.Findings {
				if f.Check != "policy-unsupported" {
					others = append(others, f.Check)
					continue
				}
				got = append(got, f.Action+" "+f.File+":"+itoa(f.Line)+" "+f.Message)
				if f.Object["kind"] != "" || f.Object["name"] != "" || f.Path != "" || len(f.Renders) != 0 {
					t.Errorf("finding about a bundle file names an object, path or render: %+v", f)
				}
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("policy-unsupported findings\n got %q\nwant %q", got, tc.want)
			}
			if !reflect.DeepEqual(others, tc.denied) {
				t.Errorf("other findings %q, want %q", others, tc.denied)
			}
		})
	}
}

// TestCheckUnsupportedPoliciesFormats: every output format carries the
// warnings, at the bundle file and line, without failing the run.
func TestCheckUnsupportedPoliciesFormats(t *testing.T) {
	msg := "AssignMetadata, ModifySet (2): Gatekeeper mutators are not run by gatekeep"
	for format, want := range map[string][]string{
		"text": {"policy/metadata-and-modifyset.yaml\n  2  warn  policy-unsupported  " + msg, "1 object in 1 file: 0 denied, 4 warnings, 1 passed"},
		"json": {`"check": "policy-unsupported"`, `"file": "policy/metadata-and-modifyset.yaml"`, msg},
		"junit": {`<testcase name="policy/metadata-and-modifyset.yaml" classname="policy/metadata-and-modifyset.yaml">`,
			"<system-out>warn policy-unsupported policy/metadata-and-modifyset.yaml:2: " + msg},
		"sarif":  {`"ruleId": "policy-unsupported"`, `"level": "warning"`, `"uri": "policy/metadata-and-modifyset.yaml"`, `"text": "` + msg},
		"github": {"::warning file=policy/metadata-and-modifyset.yaml,line=2,title=policy-unsupported::" + msg},
	} {
		t.Run(format, func(t *testing.T) {
			t.Setenv("NO_COLOR", "1")
			dir := unsupportedRepo(t, "")
			out, code, m := run(t, dir, "", "check", "-o", format, "--bundle", "policy", "owned.yaml")
			if code != exitPass {
				t.Errorf("exit %d %s, want 0\n%s", code, m, out)
			}
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if n := strings.Count(out, msg); n != 1 {
				t.Errorf("the file's warning is there %d times, want once:\n%s", n, out)
			}
		})
	}
}

func TestVerifyUnsupportedPolicies(t *testing.T) {
	for _, tc := range []struct {
		name, config, action string
	}{
		{"warn", "", "warn"},
		// Raised to deny for check, it still does not fail verify.
		{"deny", "checks: {policy-unsupported: deny}\n", "deny"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := unsupportedRepo(t, tc.config)
			out, code, msg := run(t, dir, "", "verify", "policy")
			if code != exitPass {
				t.Errorf("text: exit %d %s, want 0\n%s", code, msg, out)
			}
			var want []string
			for _, w := range unsupportedWarnings(tc.action) {
				action, rest, _ := strings.Cut(w, " ")
				where, message, _ := strings.Cut(rest, " ")
				want = append(want, action+" policy-unsupported "+where+": "+message)
			}
			if got := strings.Split(strings.TrimSpace(out), "\n"); !reflect.DeepEqual(got[:len(got)-1], want) {
				t.Errorf("text output\n got %q\nwant %q (then the summary)", got, want)
			}

			out, code, msg = run(t, dir, "", "verify", "-o", "json", "policy")
			if code != exitPass {
				t.Errorf("json: exit %d %s, want 0\n%s", code, msg, out)
			}
			var r struct {
				Summary  map[string]int `json:"summary"`
				Results  []any          `json:"results"`
				Warnings []struct {
					Check   string `json:"check"`
					Action  string `json:"action"`
					Message string `json:"message"`
					File    string `json:"file"`
					Line    int    `json:"line"`
				} `json:"warnings"`
			}
			dec := json.NewDecoder(strings.NewReader(out))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got []string
			for _, w := range r.Warnings {
				if w.Check != "policy-unsupported" {
					t.Errorf("warning of check %q", w.Check)
				}
				got = append(got, w.Action+" "+w.File+":"+itoa(w.Line)+" "+w.Message)
			}
			if !reflect.DeepEqual(got, unsupportedWarnings(tc.action)) {
				t.Errorf("json warnings\n got %q\nwant %q", got, unsupportedWarnings(tc.action))
			}
		})
	}
	// Without such files, the list is there and empty.
	out, code, _ := run(t, "", "", "verify", "-o", "json")
	if code != exitPass || !strings.Contains(out, `"warnings": []`) {
		t.Errorf("built-in bundle: exit %d, want 0 and no warnings:\n%s", code, out)
	}
}
