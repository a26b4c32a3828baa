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
