package progress

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/creack/pty"
)

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Auto, Always, Never} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseMode("sometimes"); err == nil || !strings.Contains(err.Error(), "auto, always or never") {
		t.Errorf("ParseMode(sometimes): %v", err)
	}
	var m Mode
	if m != Auto || m.Set("never") != nil || m != Never || m.Set("") == nil || m != Never {
		t.Errorf("Set: %v", m)
	}
}

// A transfer is drawn with its bytes done and total, and ends on a full
// bar and a line of its own, however few bytes it moves.
func TestBytes(t *testing.T) {
	var out bytes.Buffer
	bar := New(&out, Always).Bytes("trivy-db", 3000)
	data, err := io.ReadAll(bar.Reader(strings.NewReader(strings.Repeat("x", 3000))))
	if err != nil || len(data) != 3000 {
		t.Fatalf("read %d bytes: %v", len(data), err)
	}
	bar.Done()
	bar.Done()
	got := out.String()
	for _, want := range []string{"trivy-db   0% |", "( 0 B/3.0 kB)", "trivy-db 100% |", "(3.0/3.0 kB, ", "B/s)"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in %q", want, got)
		}
	}
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") {
		t.Errorf("want one line ended once: %q", got)
	}
}

// A transfer cut short keeps its last state; Done ends its line.
func TestBytesCutShort(t *testing.T) {
	var out bytes.Buffer
	bar := New(&out, Always).Bytes("bundle", 3000)
	bar.Add(100)
	bar.Done()
	if got := out.String(); strings.Contains(got, "100%") || !strings.HasSuffix(got, "\n") {
		t.Errorf("%q", got)
	}
}

func TestItems(t *testing.T) {
	var out bytes.Buffer
	images := New(&out, Always).Items("images", 10)
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { images.Add(1) })
	}
	wg.Wait()
	images.Done()
	if got := out.String(); !strings.Contains(got, "images   0% |") || !strings.Contains(got, "images 100% |") || !strings.Contains(got, "(10/10)") {
		t.Errorf("%q", got)
	}

	// No known total: a count, with a description that changes.
	out.Reset()
	listed := New(&out, Always).Items("kinds listed 0, objects", 0)
	listed.Add(500)
	listed.Describe("kinds listed 2, objects")
	listed.Set(1200)
	listed.Done()
	if got := out.String(); !strings.Contains(got, "kinds listed 2, objects (1200)") || !strings.HasSuffix(got, "\n") {
		t.Errorf("%q", got)
	}
}

// Off, nothing is written and nothing is allocated: a nil Progress makes
// nil bars, and a nil bar's reader is the reader it was given.
func TestOff(t *testing.T) {
	var out bytes.Buffer
	for _, p := range []*Progress{New(&out, Never), New(&out, Auto), New(nil, Always)} {
		if p != nil {
			t.Fatalf("progress on %T", out)
		}
		bar := p.Bytes("x", 10)
		r := strings.NewReader("0123456789")
		if bar != nil || bar.Reader(r) != io.Reader(r) {
			t.Errorf("bar %v", bar)
		}
		allocs := testing.AllocsPerRun(100, func() {
			b := p.Items("images", 3)
			b.Add(1)
			b.Set(2)
			b.Describe("more")
			b.Done()
		})
		if allocs != 0 {
			t.Errorf("%v allocations with progress off", allocs)
		}
	}
	if out.Len() != 0 {
		t.Errorf("wrote %q", out.String())
	}
}

// Auto draws on a terminal, not on a file that is none, nor on a terminal
// whose TERM is dumb.
func TestAutoNeedsTerminal(t *testing.T) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	defer tty.Close()
	t.Setenv("TERM", "xterm")
	if New(tty, Auto) == nil {
		t.Error("auto: no progress on a terminal")
	}
	if New(tty, Never) != nil {
		t.Error("never: progress on a terminal")
	}
	f, err := os.Create(t.TempDir() + "/log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if New(f, Auto) != nil {
		t.Error("auto: progress on a plain file")
	}
	if New(f, Always) == nil {
		t.Error("always: no progress on a plain file")
	}
	t.Setenv("TERM", "dumb")
	if New(tty, Auto) != nil {
		t.Error("auto: progress on a dumb terminal")
	}
}
