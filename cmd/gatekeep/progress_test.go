package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
)

// runWithStderr runs gatekeep in-process with its stderr on stderr and
// its stdout in a buffer of its own, so that what each carries can be told
// apart.
func runWithStderr(t *testing.T, stderr io.Writer, args ...string) (stdout string, code int, msg string) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(stderr)
	cmd.SetArgs(args)
	code = exitPass
	if err := cmd.Execute(); err != nil {
		var ex *exitError
		if !errors.As(err, &ex) {
			t.Fatalf("gatekeep %v: %v", args, err)
		}
		code, msg = ex.code, ex.msg
	}
	return out.String(), code, msg
}

// runOnTerminal runs gatekeep with its stderr on a pseudo-terminal and
// returns what the terminal was sent.
func runOnTerminal(t *testing.T, args ...string) (stdout, terminal string, code int, msg string) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	var screen bytes.Buffer
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(&screen, ptmx)
		read <- err
	}()
	stdout, code, msg = runWithStderr(t, tty, args...)
	// The terminal's side closed, the master reads what is left, then EIO.
	_ = tty.Close()
	if err := <-read; err != nil && !errors.Is(err, syscall.EIO) && !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read the terminal: %v", err)
	}
	return stdout, screen.String(), code, msg
}

// TestDBUpdateProgress: gatekeep db update draws the download on a
// terminal (bytes, total, rate), and on nothing else unless asked to.
func TestDBUpdateProgress(t *testing.T) {
	t.Setenv("TERM", "xterm")
	src := t.TempDir()
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(src, time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC), advs, details); err != nil {
		t.Fatal(err)
	}
	reg := fixture.NewRegistry("", "")
	t.Cleanup(reg.Close)
	if err := fixture.PushDB(reg, "aquasecurity/trivy-db:2", src); err != nil {
		t.Fatalf("publish the database: %v", err)
	}
	update := func(extra ...string) []string {
		return append([]string{"db", "update", "--db-repository", reg.Host + "/aquasecurity/trivy-db:2", "--db-path", t.TempDir()}, extra...)
	}
	assertUpdated := func(how, stdout string, code int, msg string) {
		t.Helper()
		if code != exitPass || !strings.Contains(stdout, "trivy-db version 2") {
			t.Fatalf("%s: exit %d %s\n%s", how, code, msg, stdout)
		}
		if strings.Contains(stdout, "trivy-db ") && strings.Contains(stdout, "%") {
			t.Errorf("%s: progress on stdout: %q", how, stdout)
		}
	}

	// On a terminal, by default: the bar from 0 to the whole layer, with
	// its size and rate, on a line of its own.
	stdout, screen, code, msg := runOnTerminal(t, update()...)
	assertUpdated("auto on a terminal", stdout, code, msg)
	for _, want := range []string{"trivy-db   0% |", "trivy-db 100% |", " kB, ", "B/s)\r\n"} {
		if !strings.Contains(screen, want) {
			t.Errorf("auto on a terminal: no %q in %q", want, screen)
		}
	}

	// On a terminal, but not wanted.
	stdout, screen, code, msg = runOnTerminal(t, update("--progress=never")...)
	assertUpdated("--progress=never", stdout, code, msg)
	if screen != "" {
		t.Errorf("--progress=never: the terminal got %q", screen)
	}

	// A terminal that cannot redraw a line.
	t.Setenv("TERM", "dumb")
	stdout, screen, code, msg = runOnTerminal(t, update()...)
	assertUpdated("TERM=dumb", stdout, code, msg)
	if screen != "" {
		t.Errorf("TERM=dumb: the terminal got %q", screen)
	}
	t.Setenv("TERM", "xterm")

	// stderr a pipe or a log (CI): nothing, unless asked for.
	var stderr bytes.Buffer
	stdout, code, msg = runWithStderr(t, &stderr, update()...)
	assertUpdated("auto on a pipe", stdout, code, msg)
	if stderr.Len() != 0 {
		t.Errorf("auto on a pipe: stderr got %q", stderr.String())
	}
	stdout, code, msg = runWithStderr(t, &stderr, update("--progress=always")...)
	assertUpdated("--progress=always", stdout, code, msg)
	if !strings.Contains(stderr.String(), "trivy-db 100% |") {
		t.Errorf("--progress=always on a pipe: stderr got %q", stderr.String())
	}

	if _, code, msg := runWithStderr(t, &stderr, update("--progress=sometimes")...); code != exitUnusable || !strings.Contains(msg, "auto, always or never") {
		t.Errorf("--progress=sometimes: exit %d %s", code, msg)
	}
}

// TestScanProgress: scan counts the images done on stderr; its JSON report
// on stdout stays clean.
func TestScanProgress(t *testing.T) {
	e := newScanEnv(t)
	var stderr bytes.Buffer
	stdout, code, msg := runWithStderr(t, &stderr, "scan", "-o", "json", "--progress=always", "--db-path", e.db, e.refs[fixture.ImgDebian], e.refs[fixture.ImgClean])
	var report struct {
		Images []json.RawMessage `json:"images"`
	}
	if err := json.Unmarshal([]byte(stdout), &report); err != nil || len(report.Images) != 2 {
		t.Fatalf("exit %d %s: stdout is not the report alone (%v):\n%s", code, msg, err, stdout)
	}
	if got := stderr.String(); !strings.Contains(got, "images   0% |") || !strings.Contains(got, "images 100% |") || !strings.Contains(got, "(2/2)") {
		t.Errorf("stderr %q", got)
	}
	stderr.Reset()
	if _, _, _ = runWithStderr(t, &stderr, "scan", "-o", "json", "--db-path", e.db, e.refs[fixture.ImgClean]); stderr.Len() != 0 {
		t.Errorf("auto on a pipe: stderr got %q", stderr.String())
	}
}

// TestBundleProgress: bundle push and pull draw their transfers on stderr
// when asked, and nothing otherwise; stdout says what was done.
func TestBundleProgress(t *testing.T) {
	policy := tree(t, map[string]string{"gatekeep.yaml": "checks: {privileged-container: warn}\n"})
	ref := loopbackRegistry(t) + "/policy/team:v1"
	for _, mode := range []string{"always", "never", "auto"} {
		var stderr bytes.Buffer
		stdout, code, msg := runWithStderr(t, &stderr, "bundle", "push", "--progress="+mode, policy, ref)
		if code != exitPass || !strings.HasPrefix(stdout, "pushed ") || strings.Contains(stdout, "%") {
			t.Fatalf("push --progress=%s: exit %d %s\n%s", mode, code, msg, stdout)
		}
		pushed := stderr.String()
		stderr.Reset()
		stdout, code, msg = runWithStderr(t, &stderr, "bundle", "pull", "--progress="+mode, "oci://"+ref, t.TempDir()+"/policy")
		if code != exitPass || !strings.HasPrefix(stdout, "pulled ") || strings.Contains(stdout, "%") {
			t.Fatalf("pull --progress=%s: exit %d %s\n%s", mode, code, msg, stdout)
		}
		pulled := stderr.String()
		if mode == "always" {
			if !strings.Contains(pushed, "push "+ref+" 100% |") || !strings.Contains(pulled, "pull "+ref+" 100% |") {
				t.Errorf("--progress=always: push drew %q, pull %q", pushed, pulled)
			}
		} else if pushed != "" || pulled != "" {
			t.Errorf("--progress=%s on a buffer: push drew %q, pull %q", mode, pushed, pulled)
		}
	}
}
