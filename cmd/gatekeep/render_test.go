package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the rendering tests")

// TestRenderRepos checks each small repository of testdata/repos as a user
// would (gatekeep check . at its root, -o json) and compares every finding,
// with its place and renders, what was skipped and rendered, and the exit
// code with testdata/repos/NAME.golden.
func TestRenderRepos(t *testing.T) {
	cases := []struct {
		name string
		args []string
	}{
		{name: "app-of-apps"},
		{name: "appset-dirs"},
		{name: "hook-job", args: []string{"--bundle", "BUNDLE/hook-job-bundle"}},
		{name: "chart-dependency"},
		{name: "kustomize-helm"},
		{name: "components"},
		{name: "remote-base"},
		{name: "cycle"},
		{name: "failing-kustomization"},
		{name: "skipped"},
		{name: "shared-base"},
		{name: "kustomize-warnings"},
		{name: "argo-options"},
	}
	repos, err := filepath.Abs("../../testdata/repos")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyRepo(t, filepath.Join(repos, tc.name))
			args := []string{"check", "-o", "json", "--kubernetes-version", "1.34"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "BUNDLE", repos))
			}
			out, code, msg := run(t, dir, "", append(args, ".")...)
			got := digest(t, out, code, msg)
			golden := filepath.Join(repos, tc.name+".golden")
			if *updateGolden {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil { //nolint:gosec // G306: a golden file committed to the repository, readable like its neighbours
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestRenderRepos -update writes it)", err)
			}
			if got != string(want) {
				t.Errorf("gatekeep check of %s differs from %s:\n--- got\n%s--- want\n%s", tc.name, golden, got, want)
			}
		})
	}
}

// TestRenderArgoOptions shows, through gatekeep mutate, the objects an
// Application's kustomize options (namePrefix, namespace, images,
// commonLabels, components, patches) and a multi-source Helm application
// ($values value file, parameters over it, releaseName, destination
// namespace) render, compared with testdata/repos/argo-options.mutate.
func TestRenderArgoOptions(t *testing.T) {
	repos, err := filepath.Abs("../../testdata/repos")
	if err != nil {
		t.Fatal(err)
	}
	dir := copyRepo(t, filepath.Join(repos, "argo-options"))
	out, code, msg := run(t, dir, "", "mutate", ".")
	got := fmt.Sprintf("%s\nexit %d %s\n", out, code, msg)
	golden := filepath.Join(repos, "argo-options.mutate")
	if *updateGolden {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil { //nolint:gosec // G306: a golden file committed to the repository, readable like its neighbours
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("gatekeep mutate differs from %s:\n--- got\n%s--- want\n%s", golden, got, want)
	}
}

// copyRepo copies a test repository into a temporary directory that is a
// git checkout of https://github.com/example/infra (a .git/config with
// that remote), as a clone of the infra repo would be.
func copyRepo(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		data, err := os.ReadFile(path) //nolint:gosec // G122: copies the repository's own testdata into a temp dir
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o600) //nolint:gosec // G703: a path under the test's temp dir, from the repository's testdata
	})
	if err != nil {
		t.Fatal(err)
	}
	config := "[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\turl = https://github.com/example/infra.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"
	if err := os.MkdirAll(filepath.Join(dst, ".git"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dst, ".git", "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return dst
}

// digest is the part of a JSON report a golden file holds: one line per
// finding (action, check, object, file:line, renders, message), then the
// summary's counts and the exit code.
func digest(t *testing.T, out string, code int, msg string) string {
	t.Helper()
	var rep jsonReport
	var summary struct {
		Summary struct {
			Objects        int            `json:"objects"`
			Denied         int            `json:"denied"`
			Warned         int            `json:"warned"`
			Skipped        int            `json:"skipped"`
			SkippedReasons map[string]int `json:"skippedReasons"`
			Rendered       map[string]int `json:"rendered"`
		} `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &summary); err != nil {
		return fmt.Sprintf("exit %d %s\n%s", code, msg, out)
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		return fmt.Sprintf("exit %d %s\n%s", code, msg, out)
	}
	var b strings.Builder
	for _, f := range rep.Findings {
		obj := "-"
		if f.Object["kind"] != "" {
			obj = f.Object["kind"] + " "
			if f.Object["namespace"] != "" {
				obj += f.Object["namespace"] + "/"
			}
			obj += f.Object["name"]
		}
		var renders []string
		for _, r := range f.Renders {
			renders = append(renders, r["kind"]+" "+r["name"]+" ("+r["file"]+")")
		}
		fmt.Fprintf(&b, "%s %s %s at %s:%d [%s]\n    %s\n", f.Action, f.Check, obj, f.File, f.Line, strings.Join(renders, ", "), f.Message)
	}
	for _, e := range rep.Errors {
		fmt.Fprintf(&b, "error %s:%d %s\n", e.File, e.Line, e.Message)
	}
	s := summary.Summary
	var reasons []string
	for r, n := range s.SkippedReasons {
		reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
	}
	sort.Strings(reasons)
	fmt.Fprintf(&b, "objects %d, denied %d, warned %d, skipped %d [%s], rendered applications=%d helmCharts=%d kustomizations=%d\nexit %d\n",
		s.Objects, s.Denied, s.Warned, s.Skipped, strings.Join(reasons, " "),
		s.Rendered["applications"], s.Rendered["helmCharts"], s.Rendered["kustomizations"], code)
	return b.String()
}
