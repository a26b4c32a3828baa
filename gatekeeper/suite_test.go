package gatekeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSuitesPass(t *testing.T) {
	rep, err := RunSuites(context.Background(), []string{"testdata/suites/pass"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	want := Summary{Suites: 5, SuitesPassed: 5, Cases: 21, CasesPassed: 21}
	if rep.Summary != want || !rep.Passed() {
		t.Fatalf("summary %+v, want %+v\n%s", rep.Summary, want, buf.String())
	}
	for _, line := range []string{
		"ok\ttestdata/suites/pass/admission/suite.yaml\n",
		"ok\ttestdata/suites/pass/labels/suite.yaml\n",
		"5 of 5 suites passed, 21 of 21 cases\nPASS\n",
	} {
		if !strings.Contains(buf.String(), line) {
			t.Errorf("text output lacks %q:\n%s", line, buf.String())
		}
	}
	// Skipped tests and cases are reported as such.
	var labels *SuiteResult
	for i := range rep.Results {
		if strings.HasSuffix(rep.Results[i].Path, "labels/suite.yaml") {
			labels = &rep.Results[i]
		}
	}
	if labels == nil || len(labels.Tests) != 3 || !labels.Tests[2].Skipped || !labels.Tests[0].Cases[4].Skipped {
		t.Errorf("skips not reported: %+v", labels)
	}
}

func TestSuitesFail(t *testing.T) {
	rep, err := RunSuites(context.Background(), []string{"testdata/suites/fail/..."})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = rep.WriteText(&buf)
	text := buf.String()
	t.Log("\n" + text)
	if rep.Passed() {
		t.Fatal("suites with wrong assertions passed")
	}
	want := Summary{Suites: 1, SuitesPassed: 0, Cases: 7, CasesPassed: 1}
	if rep.Summary != want {
		t.Errorf("summary %+v, want %+v", rep.Summary, want)
	}
	for _, w := range []string{
		"FAIL\ttestdata/suites/fail/suite.yaml\n",
		"--- FAIL: wrong-assertions/count-is-off\n        got 1 violations but want exactly 2; messages: [\"service shop is of type NodePort\"]\n",
		"--- FAIL: wrong-assertions/message-does-not-match\n        got 0 violations matching \"LoadBalancer\" but want at least 1",
		"--- FAIL: wrong-assertions/says-no-but-there-is-one\n        got 1 violations but want none",
		"--- FAIL: wrong-assertions/two-objects\n        testdata/suites/fail/two.yaml defines 2 objects, want exactly 1\n",
		"--- FAIL: wrong-assertions/no-assertions\n        invalid case: assertions must be non-empty\n",
		"--- FAIL: valid-constraint-said-invalid\n        the constraint is valid, but the test says invalid: true",
		"--- FAIL: template-file-missing\n        testdata/suites/fail/suite.yaml:39: open testdata/suites/fail/missing-template.yaml: no such file or directory\n",
		"0 of 1 suites passed, 1 of 7 cases\nFAIL\n",
	} {
		if !strings.Contains(text, w) {
			t.Errorf("text output lacks %q", w)
		}
	}
	if strings.Contains(text, "wrong-assertions/passes") {
		t.Error("a passing case is listed as failing")
	}

	// -o json
	buf.Reset()
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Summary map[string]int `json:"summary"`
		Results []struct {
			Path   string `json:"path"`
			Passed bool   `json:"passed"`
			Tests  []struct {
				Name  string `json:"name"`
				Error string `json:"error"`
				Cases []struct {
					Name   string `json:"name"`
					Passed bool   `json:"passed"`
					Error  string `json:"error"`
				} `json:"cases"`
			} `json:"tests"`
		} `json:"results"`
	}
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	wantSummary := map[string]int{"suites": 1, "suitesPassed": 0, "cases": 7, "casesPassed": 1}
	for k, v := range wantSummary {
		if out.Summary[k] != v {
			t.Errorf("json summary %s = %d, want %d", k, out.Summary[k], v)
		}
	}
	if len(out.Results) != 1 || out.Results[0].Passed || len(out.Results[0].Tests) != 3 ||
		out.Results[0].Tests[0].Cases[0].Name != "count-is-off" || out.Results[0].Tests[0].Cases[0].Error == "" ||
		!out.Results[0].Tests[0].Cases[3].Passed {
		t.Errorf("json results: %s", buf.String())
	}
}

func TestSuitesPaths(t *testing.T) {
	ctx := context.Background()
	// A single suite file; a directory and its "/..." form find the same.
	one, err := RunSuites(ctx, []string{"testdata/suites/pass/ingress/suite.yaml"})
	if err != nil || one.Summary.Suites != 1 {
		t.Fatalf("one file: %+v %v", one, err)
	}
	all, err := RunSuites(ctx, []string{"testdata/suites/pass", "testdata/suites/pass/..."})
	if err != nil || all.Summary.Suites != 5 {
		t.Fatalf("directory twice: %+v %v", all, err)
	}
	if _, err := RunSuites(ctx, []string{"testdata/does-not-exist"}); err == nil {
		t.Error("a missing path must be an error")
	}
	// A YAML file that names the suite group but does not parse.
	dir := t.TempDir()
	bad := filepath.Join(dir, "suite.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: test.gatekeeper.sh/v1alpha1\nkind: Suite\ntests: [\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := RunSuites(ctx, []string{dir}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("unparsable suite: %v", err)
	}
}
