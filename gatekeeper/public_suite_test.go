package gatekeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

const gatekeeperModule = "github.com/open-policy-agent/gatekeeper/v3@v3.23.1"

var (
	gkDirOnce sync.Once
	gkDir     string
	gkDirErr  error
)

// gatekeeperDir is the module directory of Gatekeeper v3.23.1 (downloaded
// through the Go module proxy if need be); the test is skipped only when the
// go command is not there.
func gatekeeperDir(t *testing.T) string {
	t.Helper()
	gkDirOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			gkDirErr = err
			return
		}
		var out, stderr bytes.Buffer
		cmd := exec.Command(goBin, "mod", "download", "-json", gatekeeperModule) //nolint:gosec // G204: the go tool from PATH and a constant module
		cmd.Stdout, cmd.Stderr = &out, &stderr
		if err := cmd.Run(); err != nil {
			gkDirErr = &exec.Error{Name: "go mod download: " + stderr.String(), Err: err}
			return
		}
		var m struct{ Dir, Error string }
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			gkDirErr = err
			return
		}
		if m.Error != "" || m.Dir == "" {
			gkDirErr = &exec.Error{Name: "go mod download", Err: errString(m.Error)}
			return
		}
		gkDir = m.Dir
	})
	if gkDirErr != nil {
		if _, ok := gkDirErr.(*exec.Error); ok && gkDir == "" {
			if _, err := exec.LookPath("go"); err != nil {
				t.Skipf("the go command is not available to download %s: %v", gatekeeperModule, err)
			}
		}
		t.Fatalf("locating %s: %v", gatekeeperModule, gkDirErr)
	}
	return gkDir
}

type errString string

func (e errString) Error() string { return string(e) }

func TestGatekeeperOwnSuites(t *testing.T) {
	dir := gatekeeperDir(t)
	rep, err := RunSuites(context.Background(), []string{filepath.Join(dir, "test", "gator", "verify")})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = rep.WriteText(&buf)
	t.Log("\n" + buf.String())
	if rep.Summary.Suites == 0 {
		t.Fatal("no suites found")
	}
	if !rep.Passed() {
		t.Fatalf("Gatekeeper's own suites must pass:\n%s", buf.String())
	}
}

// TestGatekeeperSuiteWithAWrongAssertion runs Gatekeeper's suite with one
// assertion turned around: it must fail, on that case.
func TestGatekeeperSuiteWithAWrongAssertion(t *testing.T) {
	src := filepath.Join(gatekeeperDir(t), "test", "gator", "verify")
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "suite.yaml" {
			// The first test's second case expects a violation; say none.
			old := "  - name: foo-not-bar\n    object: deny_foo.yaml\n    assertions:\n    - violations: yes\n"
			if !bytes.Contains(data, []byte(old)) {
				t.Fatalf("suite.yaml changed upstream; update the test")
			}
			data = bytes.Replace(data, []byte(old), []byte(strings.Replace(old, "yes", "no", 1)), 1)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil { //nolint:gosec // G703: copying the test's own fixture into its TempDir
			t.Fatal(err)
		}
	}
	rep, err := RunSuites(context.Background(), []string{dst})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_ = rep.WriteText(&buf)
	if rep.Passed() || rep.Summary.CasesPassed != rep.Summary.Cases-1 {
		t.Fatalf("want exactly one failing case:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "--- FAIL: foo-is-bar/foo-not-bar\n        got 1 violations but want none") {
		t.Errorf("the failure is not reported with its case and reason:\n%s", buf.String())
	}
}
