package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// The built-in bundle's own Rego tests run in make test through this.
func TestVerifyBuiltin(t *testing.T) {
	out, code, msg := run(t, "", "", "verify", "-o", "json")
	if code != exitPass {
		t.Fatalf("built-in bundle tests: exit %d %s\n%s", code, msg, out)
	}
	var r struct {
		Summary map[string]int `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Summary["suites"] < 2 || r.Summary["cases"] < 9 || r.Summary["casesPassed"] != r.Summary["cases"] {
		t.Errorf("summary %v", r.Summary)
	}
}

func TestVerifyFailingRegoTest(t *testing.T) {
	dir := tree(t, map[string]string{
		"b/policy.rego": "package main\n\nimport rego.v1\n\ndeny contains \"no\" if input.kind == \"Pod\"\n",
		"b/policy_test.rego": `package main_test

import rego.v1

import data.main

test_pod_denied if {
	count(main.deny) == 1 with input as {"kind": "Pod"}
}

test_wrong_expectation if {
	count(main.deny) == 0 with input as {"kind": "Pod"}
}
`,
	})
	out, code, _ := run(t, dir, "", "verify", "b")
	if code != exitDenied {
		t.Errorf("exit %d, want 1", code)
	}
	for _, want := range []string{"FAIL main_test (rego, b/policy_test.rego): 1/2 cases passed", "FAIL test_wrong_expectation (b/policy_test.rego:11)", "1/2 cases passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if _, code, _ := run(t, dir, "", "verify", "nope"); code != exitUnusable {
		t.Errorf("missing bundle: exit %d", code)
	}
}

func TestVerifyGatekeeperSuites(t *testing.T) {
	out, code, msg := run(t, "../..", "", "verify", "gatekeeper/testdata/suites/pass")
	if code != exitPass || !strings.Contains(out, "ok   gatekeeper/testdata/suites/pass/labels/suite.yaml (gatekeeper)") {
		t.Errorf("passing suites: exit %d %s\n%s", code, msg, out)
	}
	out, code, _ = run(t, "", "", "verify", "-o", "json", "gatekeeper/testdata/suites/fail")
	if code != exitDenied {
		t.Errorf("failing suite: exit %d", code)
	}
	var r struct {
		Summary map[string]int `json:"summary"`
		Results []struct {
			Passed bool `json:"passed"`
			Cases  []struct {
				Name    string `json:"name"`
				Passed  bool   `json:"passed"`
				Message string `json:"message"`
			} `json:"cases"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Summary["suites"] != 1 || r.Summary["suitesPassed"] != 0 || r.Summary["casesPassed"] >= r.Summary["cases"] {
		t.Errorf("summary %v", r.Summary)
	}
	found := false
	for _, c := range r.Results[0].Cases {
		if c.Name == "wrong-assertions/says-no-but-there-is-one" && !c.Passed && strings.Contains(c.Message, "got 1 violations but want none") {
			found = true
		}
	}
	if !found {
		t.Errorf("the failing case and why are not reported: %+v", r.Results)
	}
}
