package conftest

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRunTestsPass(t *testing.T) {
	ctx := context.Background()
	rep, err := RunTests(ctx, readFiles(t, "policy"), readData(t))
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Passed != 7 || rep.Skipped != 1 || rep.Failed != 0 || rep.Errored != 0 || len(rep.Tests) != 8 {
		t.Errorf("report: %+v", rep)
	}
	var names []string
	for _, r := range rep.Tests {
		names = append(names, r.Package+"."+r.Name+":"+string(r.Status))
	}
	want := []string{
		"main_test.test_good_deployment_has_no_failures:pass",
		"main_test.test_latest_tag_is_denied:pass",
		"main_test.test_untagged_image_is_latest:pass",
		"main_test.test_exception_names_the_rule:pass",
		"main_test.test_trusted_registries_come_from_data:pass",
		"main_test.todo_test_statefulsets:skip",
		"labels.test_missing_labels:pass",
		"labels.test_owner_format:pass",
	}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("tests:\n%s", strings.Join(names, "\n"))
	}
	if r := rep.Tests[1]; r.File != "policy/deployment_test.rego" || r.Line != 31 || r.Duration <= 0 {
		t.Errorf("test_latest_tag_is_denied: %+v", r)
	}
}

func TestRunTestsFailures(t *testing.T) {
	ctx := context.Background()
	files := []File{
		{Name: "pods.rego", Content: []byte(`package main

deny contains "no pods" if input.kind == "Pod"

conflict := 1 if true

conflict := 2 if true
`)},
		{Name: "pods_test.rego", Content: []byte(`package main_test

import data.main

test_pods_allowed if {
	count(main.deny) == 0 with input as {"kind": "Pod"}
}

test_pods_denied if {
	print("checking", "pods")
	main.deny == {"no pods"} with input as {"kind": "Pod"}
}

test_conflict if {
	main.conflict == 1
}
`)},
	}
	rep, err := RunTests(ctx, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || rep.Passed != 1 || rep.Failed != 1 || rep.Errored != 1 {
		t.Errorf("report: %+v", rep)
	}
	got := map[string]TestResult{}
	for _, r := range rep.Tests {
		got[r.Name] = r
	}
	if r := got["test_pods_allowed"]; r.Status != TestFail || r.Message != `failed at pods_test.rego:6: count(main.deny) == 0 with input as {"kind": "Pod"}` {
		t.Errorf("failing test: %+v", r)
	}
	if r := got["test_pods_denied"]; r.Status != TestPass || r.Output != "checking pods\n" {
		t.Errorf("passing test: %+v", r)
	}
	if r := got["test_conflict"]; r.Status != TestError || !strings.Contains(r.Message, "pods.rego:7: eval_conflict_error") {
		t.Errorf("erroring test: %+v", r)
	}
}

func TestRunTestsErrors(t *testing.T) {
	ctx := context.Background()
	policy := File{Name: "p.rego", Content: []byte("package main\ndeny contains \"x\" if input.kind == \"Pod\"\n")}
	tests := []struct {
		name string
		file File
		want string
	}{
		{"syntax error", File{Name: "p_test.rego", Content: []byte("package main\n\ntest_x if {\n\tcount(deny) == == 1 with input as {\"kind\": \"Pod\"}\n}\n")}, "p_test.rego:4: rego_parse_error: unexpected equal token"},
		{"unsafe var", File{Name: "p_test.rego", Content: []byte("package main\n\ntest_x if {\n\tcount(deny) == n\n}\n")}, "p_test.rego:4: rego_unsafe_var_error: var n is unsafe"},
		{"network mock", File{Name: "p_test.rego", Content: []byte("package main\n\nmock(_) := {\"status_code\": 200}\n\ntest_x if {\n\tcount(deny) == 1 with input as {\"kind\": \"Pod\"} with http.send as mock\n}\n")}, "p_test.rego:6: rego_type_error: with keyword target must reference existing input, data, or a function (http.send is disabled"},
		{"network", File{Name: "p_test.rego", Content: []byte("package main\n\ntest_x if {\n\thttp.send({\"method\": \"GET\", \"url\": \"https://example.com\"}).status_code == 200\n}\n")}, "p_test.rego:4: http.send is disabled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := RunTests(ctx, []File{policy, tt.file}, nil)
			var errs Errors
			if !errors.As(err, &errs) || !strings.HasPrefix(errs[0].Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
