package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// run executes gatekeep with args in dir and returns stdout and the exit code.
func run(t *testing.T, dir, stdin string, args ...string) (string, int, string) {
	t.Helper()
	if dir != "" {
		t.Chdir(dir)
	}
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.Execute()
	code, msg := exitPass, ""
	if err != nil {
		var ex *exitError
		if !errors.As(err, &ex) {
			t.Fatalf("gatekeep %v: unexpected error %v", args, err)
		}
		code, msg = ex.code, ex.msg
	}
	return out.String(), code, msg
}

func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const privilegedPod = `apiVersion: v1
kind: Pod
metadata:
  name: debug
  namespace: team-1
spec:
  containers:
    - name: main
      image: busybox
      securityContext:
        privileged: true
`

const cleanCM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n  namespace: team-1\ndata:\n  a: b\n"

// summaryCounts are the summary's numbers (its nested objects left out).
type summaryCounts map[string]int

func (s *summaryCounts) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*s = summaryCounts{}
	for k, v := range raw {
		var n int
		if json.Unmarshal(v, &n) == nil {
			(*s)[k] = n
		}
	}
	return nil
}

type jsonReport struct {
	Bundle struct {
		Name   string `json:"name"`
		Digest string `json:"digest"`
	} `json:"bundle"`
	KubernetesVersion string        `json:"kubernetesVersion"`
	Summary           summaryCounts `json:"summary"`
	Findings          []struct {
		Check   string              `json:"check"`
		Action  string              `json:"action"`
		Message string              `json:"message"`
		Object  map[string]string   `json:"object"`
		Path    string              `json:"path"`
		File    string              `json:"file"`
		Line    int                 `json:"line"`
		Renders []map[string]string `json:"renders"`
	} `json:"findings"`
	Errors []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Message string `json:"message"`
	} `json:"errors"`
}

func decode(t *testing.T, out string) jsonReport {
	t.Helper()
	var r jsonReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		t.Fatalf("decode json report: %v\n%s", err, out)
	}
	return r
}

func TestCheckInfraRepo(t *testing.T) {
	out, code, _ := run(t, "../../testdata/infra-repo", "", "check", "-o", "json",
		"--repo-root", ".", "--repo-url", "https://git.example.com/platform/infra.git", ".")
	if code != exitDenied {
		t.Errorf("exit %d, want 1", code)
	}
	r := decode(t, out)
	got := map[string]string{}
	for _, f := range r.Findings {
		got[f.Check+" "+f.Object["namespace"]+"/"+f.Object["name"]] = f.File + ":" + itoa(f.Line)
	}
	want := map[string]string{ //nolint:gosec // G101: check names and file paths ("plaintext-secret", secret.yaml), not credentials
		"privileged-container monitoring/node-exporter": "platform/node-exporter/daemonset.yaml:25",
		"ingress-host-collision staging/shop":           "app/base/ingress.yaml:8",
		"ingress-host-collision production/shop":        "app/base/ingress.yaml:8",
		"plaintext-secret production/shop-db":           "app/overlays/production/secret.yaml:7",
		"deprecated-api staging/shop":                   "app/overlays/staging/pdb.yaml:1",
		"render /":                                      "platform/ingress-nginx/Chart.yaml:6",
	}
	if len(got) != len(want) {
		t.Errorf("findings %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s at %q, want %q", k, got[k], v)
		}
	}
	if r.Bundle.Name != "builtin" || !strings.HasPrefix(r.Bundle.Digest, "sha256:") || r.KubernetesVersion != "1.37" {
		t.Errorf("bundle %+v version %s", r.Bundle, r.KubernetesVersion)
	}
	// The Applications of argocd-apps/ are followed: what they render
	// names them.
	for _, f := range r.Findings {
		if f.Check == "privileged-container" && (len(f.Renders) != 1 || f.Renders[0]["kind"] != "application" || f.Renders[0]["name"] != "node-exporter") {
			t.Errorf("privileged-container renders %v, want the node-exporter application", f.Renders)
		}
	}
	if r.Summary["objects"] != 22 || r.Summary["denied"] != 6 || r.Summary["passed"] != 17 {
		t.Errorf("summary %v", r.Summary)
	}
	if strings.Contains(out, "not-a-real-password") {
		t.Errorf("a secret value reached the report")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestCheckExitCodes(t *testing.T) {
	dir := tree(t, map[string]string{
		"clean/cm.yaml":           cleanCM,
		"bad/pod.yaml":            privilegedPod,
		"broken/broken.yaml":      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n",
		"warn/gatekeep.yaml":      "checks:\n  privileged-container: warn\n",
		"dryrun/gatekeep.yaml":    "checks:\n  privileged-container: dryrun\n",
		"off/gatekeep.yaml":       "checks:\n  privileged-container: off\n",
		"badbundle/gatekeep.yaml": "checks:\n  privileged-containers: warn\n",
		"old/gatekeep.yaml":       "kubernetesVersion: \"1.29\"\n",
	})
	for _, tc := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"clean", []string{"check", "clean"}, exitPass, ""},
		{"denied", []string{"check", "bad", "clean"}, exitDenied, ""},
		{"broken input, others still checked", []string{"check", "broken", "bad"}, exitUnusable, ""},
		{"missing path", []string{"check", "nope"}, exitUnusable, ""},
		{"no path", []string{"check"}, exitUnusable, "no input"},
		{"warn passes", []string{"check", "--bundle", "warn", "bad"}, exitPass, ""},
		{"warn fails with --fail-on-warn", []string{"check", "--bundle", "warn", "--fail-on-warn", "bad"}, exitDenied, ""},
		{"dryrun never fails", []string{"check", "--bundle", "dryrun", "--fail-on-warn", "bad"}, exitPass, ""},
		{"off", []string{"check", "--bundle", "off", "bad"}, exitPass, ""},
		{"skip", []string{"check", "--skip", "privileged-container", "bad"}, exitPass, ""},
		{"only another check", []string{"check", "--only", "plaintext-secret,ingress-host-collision", "bad"}, exitPass, ""},
		{"only this check", []string{"check", "--only", "privileged-container", "bad"}, exitDenied, ""},
		{"unknown check", []string{"check", "--skip", "privileged", "bad"}, exitUnusable, `unknown check "privileged"`},
		{"unknown check in a bundle", []string{"check", "--bundle", "badbundle", "bad"}, exitUnusable, `badbundle/gatekeep.yaml:2: checks: unknown check "privileged-containers"`},
		{"missing bundle", []string{"check", "--bundle", "nobundle", "bad"}, exitUnusable, "nobundle"},
		{"bad version", []string{"check", "--kubernetes-version", "one.thirty", "clean"}, exitUnusable, "kubernetes version"},
		{"bad output", []string{"check", "-o", "xml", "clean"}, exitUnusable, "unknown output format"},
		{"bad flag", []string{"check", "--no-such-flag", "clean"}, exitUnusable, "unknown flag"},
		{"stdin", []string{"check", "-"}, exitDenied, ""},
		{"exclude", []string{"check", "--exclude", "bad", "bad", "clean"}, exitPass, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdin := ""
			if tc.name == "stdin" {
				stdin = privilegedPod
			}
			out, code, msg := run(t, dir, stdin, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\n%s%s", code, tc.code, out, msg)
			}
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q, want it to contain %q", msg, tc.msg)
			}
		})
	}
}

func TestCheckBrokenInputStillChecksTheRest(t *testing.T) {
	dir := tree(t, map[string]string{
		"a/broken.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: indent\n",
		"b/pod.yaml":    privilegedPod,
	})
	out, code, _ := run(t, dir, "", "check", "-o", "json", ".")
	r := decode(t, out)
	if code != exitUnusable {
		t.Errorf("exit %d, want 2", code)
	}
	if len(r.Errors) != 1 || r.Errors[0].File != "a/broken.yaml" || r.Errors[0].Line != 5 {
		t.Errorf("errors %+v, want a/broken.yaml:5", r.Errors)
	}
	if len(r.Findings) != 1 || r.Findings[0].File != "b/pod.yaml" || r.Findings[0].Line != 11 {
		t.Errorf("findings %+v, want the privileged pod at b/pod.yaml:11", r.Findings)
	}
}

func TestCheckKubernetesVersion(t *testing.T) {
	dir := tree(t, map[string]string{"cm.yaml": cleanCM, "old/gatekeep.yaml": "kubernetesVersion: \"1.29\"\n"})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"check", "-o", "json", "cm.yaml"}, "1.37"},
		{[]string{"check", "-o", "json", "--kubernetes-version", "v1.34.3", "cm.yaml"}, "1.34.3"},
		{[]string{"check", "-o", "json", "--bundle", "old", "cm.yaml"}, "1.29"},
		{[]string{"check", "-o", "json", "--bundle", "old", "--kubernetes-version", "1.33", "cm.yaml"}, "1.33"},
	} {
		out, _, _ := run(t, dir, "", tc.args...)
		if got := decode(t, out).KubernetesVersion; got != tc.want {
			t.Errorf("%v: kubernetesVersion %s, want %s", tc.args, got, tc.want)
		}
	}
}

func TestCheckTextOutput(t *testing.T) {
	dir := tree(t, map[string]string{"pod.yaml": privilegedPod, "cm.yaml": cleanCM})
	out, _, _ := run(t, dir, "", "check", ".")
	for _, want := range []string{"pod.yaml\n", "  11  deny  privileged-container  Pod team-1/debug: container \"main\" is privileged", "2 objects in 2 files: 1 denied, 0 warnings, 1 passed"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b[") {
		t.Errorf("colour codes in output that is not a terminal")
	}
	out, _, _ = run(t, dir, "", "check", "-q", "cm.yaml")
	if out != "" {
		t.Errorf("-q on a clean input printed %q", out)
	}
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
