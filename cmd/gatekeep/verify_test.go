package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
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

// schemaTemplate is a ConstraintTemplate matching objects against a
// schema that is only a $ref, given by the constraint.
const schemaTemplate = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: k8sschemaref
spec:
  crd:
    spec:
      names:
        kind: K8sSchemaRef
      validation:
        openAPIV3Schema:
          type: object
          properties:
            ref:
              type: string
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package k8sschemaref
        violation[{"msg": msg}] {
          [ok, errs] := json.match_schema(input.review.object, {"$ref": input.parameters.ref})
          not ok
          msg := sprintf("does not match the schema: %%v", [errs[0].desc])
        }
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sSchemaRef
metadata:
  name: schema-ref
spec:
  match:
    kinds:
      - apiGroups: [""]
        kinds: ["ConfigMap"]
  parameters:
    ref: %q
`

// schemaPolicy is a conftest policy doing the same.
const schemaPolicy = `package main

import rego.v1

deny contains msg if {
	[ok, errs] := json.match_schema(input, {"$ref": %q})
	not ok
	msg := sprintf("does not match the schema: %%v", [errs[0].desc])
}
`

// checkBundle runs gatekeep check on a ConfigMap with a bundle and returns
// the output (and error) and exit code, as main gives it.
func checkBundle(t *testing.T, files map[string]string) (string, int) {
	t.Helper()
	files["cm.yaml"] = cleanCM
	t.Chdir(tree(t, files))
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"check", "-o", "json", "--bundle", "b", "cm.yaml"})
	err := cmd.Execute()
	var ex *exitError
	switch {
	case err == nil:
		return out.String(), exitPass
	case errors.As(err, &ex):
		return out.String() + ex.msg, ex.code
	}
	return out.String() + err.Error(), exitUnusable
}

// Issue 17, 4: templates reach no host unless the bundle allows the
// network; a $ref refused is a violation, not a silent pass.
func TestTemplateSchemaRefNetwork(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		_, _ = io.WriteString(w, `{"type": "object", "required": ["missing"]}`) // a failed write shows up as the client's error
	}))
	defer srv.Close()
	ref := srv.URL + "/x.json"
	tmpl := fmt.Sprintf(schemaTemplate, ref)

	out, code := checkBundle(t, map[string]string{"b/template.yaml": tmpl})
	if n := requests.Load(); n != 0 {
		t.Errorf("allowNetwork off: %d requests to the $ref's host", n)
	}
	if code != exitDenied || !strings.Contains(out, "refused") || !strings.Contains(out, "allowNetwork") {
		t.Errorf("allowNetwork off: exit %d, want a violation saying the $ref is refused:\n%s", code, out)
	}

	out, code = checkBundle(t, map[string]string{"b/template.yaml": tmpl, "b/gatekeep.yaml": "allowNetwork: true\n"})
	if requests.Load() == 0 {
		t.Errorf("allowNetwork: true: the $ref was not fetched")
	}
	if code != exitDenied || !strings.Contains(out, "does not match the schema") {
		t.Errorf("allowNetwork: true: exit %d, want the schema's violation:\n%s", code, out)
	}

	// The conftest path: the same, the refusal an error.
	requests.Store(0)
	pol := fmt.Sprintf(schemaPolicy, ref)
	out, code = checkBundle(t, map[string]string{"b/policy.rego": pol})
	if n := requests.Load(); n != 0 || code != exitUnusable || !strings.Contains(out, "refused") {
		t.Errorf("conftest, allowNetwork off: %d requests, exit %d:\n%s", n, code, out)
	}
	out, code = checkBundle(t, map[string]string{"b/policy.rego": pol, "b/gatekeep.yaml": "allowNetwork: true\n"})
	if requests.Load() == 0 || code != exitDenied || !strings.Contains(out, "does not match the schema") {
		t.Errorf("conftest, allowNetwork: true: %d requests, exit %d:\n%s", requests.Load(), code, out)
	}
}

// Issue 17, 5: file: $refs are refused, network or not, in templates and
// in conftest policies.
func TestSchemaRefFilesRefused(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"type": "object", "required": ["missing"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"file://" + filepath.ToSlash(secret), "file:///etc/hostname", "file:///dev/zero"} {
		for _, gk := range []string{"", "allowNetwork: true\n"} {
			out, code := checkBundle(t, map[string]string{"b/template.yaml": fmt.Sprintf(schemaTemplate, ref), "b/gatekeep.yaml": gk})
			if code != exitDenied || !strings.Contains(out, "refused") || strings.Contains(out, "does not match the schema") {
				t.Errorf("template, %s, %q: exit %d, want a violation saying the $ref is refused:\n%s", ref, gk, code, out)
			}
			out, code = checkBundle(t, map[string]string{"b/policy.rego": fmt.Sprintf(schemaPolicy, ref), "b/gatekeep.yaml": gk})
			if code != exitUnusable || !strings.Contains(out, "refused") {
				t.Errorf("conftest, %s, %q: exit %d, want an error saying the $ref is refused:\n%s", ref, gk, code, out)
			}
		}
	}
}

// Issue 17, 18: a bundle that does not compile fails verify as it fails
// check, tests or none.
func TestVerifyUncompilableBundle(t *testing.T) {
	brokenTemplate := strings.Replace(fmt.Sprintf(schemaTemplate, "#"), "not ok\n", "not ok {\n", 1)
	for name, files := range map[string]map[string]string{
		"rego":     {"b/policy.rego": "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tmsg := \n}\n"},
		"template": {"b/template.yaml": brokenTemplate},
		"rego with tests": {
			"b/policy.rego":      "package main\n\nimport rego.v1\n\ndeny contains msg if input.kind == \"Pod\"; msg := undefined_thing\n",
			"b/policy_test.rego": "package main_test\n\nimport rego.v1\n\ntest_ok if true\n",
		},
	} {
		t.Run(name, func(t *testing.T) {
			files["cm.yaml"] = cleanCM
			dir := tree(t, files)
			_, checkCode, checkMsg := run(t, dir, "", "check", "--bundle", "b", "cm.yaml")
			if checkCode != exitUnusable || checkMsg == "" {
				t.Fatalf("check: exit %d %q, want 2 and why", checkCode, checkMsg)
			}
			out, code, msg := run(t, dir, "", "verify", "b")
			if code != exitUnusable || msg != checkMsg {
				t.Errorf("verify: exit %d %q, want 2 and check's message %q\n%s", code, msg, checkMsg, out)
			}
		})
	}
}
