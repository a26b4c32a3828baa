// Package progress draws the progress of long work on a terminal: byte
// transfers (done, total, rate and time left) and item counts ("images
// 3/10", or a count with no known end). It draws on the writer it is given,
// stderr in gatekeep's commands, so reports on stdout never carry it, and
// by default only when that writer is a terminal, so CI logs and pipes do
// not either.
//
// Use:
//
//	p := progress.New(cmd.ErrOrStderr(), mode) // mode from --progress
//	bar := p.Bytes("trivy-db", size)
//	defer bar.Done()
//	io.Copy(dst, bar.Reader(src))
//
//	images := p.Items("images", int64(len(refs)))
//	defer images.Done()
//	images.Add(1) // after each image, from any goroutine
//
// When progress is off, New returns a Progress whose bars are nil: every
// method of a nil *Progress and a nil *Bar does nothing and writes nothing,
// so callers need no checks of their own.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Mode says when progress is drawn; the zero value is Auto.
type Mode int

// The modes of --progress.
const (
	Auto   Mode = iota // only when the writer is a terminal (and TERM is not dumb)
	Always             // on any writer, a log file included
	Never              // not at all
)

var modeNames = [...]string{Auto: "auto", Always: "always", Never: "never"}

// ParseMode reads a --progress value: auto, always or never.
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if s == name {
			return Mode(m), nil
		}
	}
	return Auto, fmt.Errorf("progress %q: want auto, always or never", s)
}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// Set parses s into m; with String and Type, a *Mode is a flag value
// (cmd.Flags().Var(&mode, "progress", ...)).
func (m *Mode) Set(s string) error {
	parsed, err := ParseMode(s)
	if err != nil {
		return err
	}
	*m = parsed
	return nil
}

// Type names the flag's values in help text.
func (m *Mode) Type() string { return "auto|always|never" }

// drawsOn says whether mode draws on w. Auto needs a terminal: an *os.File
// (anything with a file descriptor) that is one, and a TERM other than
// dumb, which cannot move back over a line.
func (m Mode) drawsOn(w io.Writer) bool {
	switch m {
	case Always:
		return w != nil
	case Never:
		return false
	}
	f, ok := w.(interface{ Fd() uintptr })
	if !ok || os.Getenv("TERM") == "dumb" {
		return false
	}
	return term.IsTerminal(int(f.Fd())) //nolint:gosec // G115: a file descriptor fits an int
}

// Progress is where bars are drawn. A nil *Progress draws nothing.
type Progress struct {
	w io.Writer
}

// New returns where progress is drawn under mode: on w, or, when mode
// says not to draw on w, nowhere.
func New(w io.Writer, mode Mode) *Progress {
	if !mode.drawsOn(w) {
		return nil
	}
	return &Progress{w: w}
}

// redrawEvery bounds how often a bar is drawn again: often enough to look
// alive, seldom enough not to flood a slow terminal. The first state and
// the last (the total reached) are always drawn, however short the work.
const redrawEvery = 100 * time.Millisecond

// Bytes starts a bar for a transfer of total bytes (unknown when total is
// 0 or less): bytes done of the total, rate, elapsed time and time left.
func (p *Progress) Bytes(desc string, total int64) *Bar {
	return p.bar(desc, total, progressbar.OptionShowBytes(true))
}

// Items starts a counter of items, "desc 3/10" (just "desc 3" when total
// is unknown, 0 or less). Describe changes desc while it runs, for counts
// with more to say ("kinds listed 4, objects").
func (p *Progress) Items(desc string, total int64) *Bar {
	return p.bar(desc, total)
}

func (p *Progress) bar(desc string, total int64, extra ...progressbar.Option) *Bar {
	if p == nil {
		return nil
	}
	unknown := total <= 0
	if unknown {
		total = -1
	}
	w := p.w
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowCount(),
		progressbar.OptionShowTotalBytes(!unknown),
		progressbar.OptionThrottle(redrawEvery),
		progressbar.OptionSpinnerType(14),
		// No spinner goroutine: a bar is drawn only when its caller
		// moves it, and nothing is left running after Done.
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionSetRenderBlankState(true),
		// The finished bar stays on its line; what follows starts on the next.
		progressbar.OptionOnCompletion(func() { _, _ = fmt.Fprintln(w) }),
	}
	return &Bar{bar: progressbar.NewOptions64(total, append(opts, extra...)...), unknown: unknown}
}

// Bar is one transfer or count being drawn. Its methods are safe for
// concurrent use; on a nil *Bar they do nothing.
type Bar struct {
	bar     *progressbar.ProgressBar
	unknown bool
	done    sync.Once
}

// Add moves the bar n bytes or items on.
func (b *Bar) Add(n int64) {
	if b == nil {
		return
	}
	_ = b.bar.Add64(n) // only errors past the total: the bar shows it full
}

// Set moves the bar to n bytes or items done.
func (b *Bar) Set(n int64) {
	if b == nil {
		return
	}
	_ = b.bar.Set64(n) // only errors past the total: the bar shows it full
}

// Describe replaces the text before the bar.
func (b *Bar) Describe(desc string) {
	if b == nil {
		return
	}
	b.bar.Describe(desc)
}

// Reader returns r, counting on the bar the bytes read through it.
func (b *Bar) Reader(r io.Reader) io.Reader {
	if b == nil {
		return r
	}
	return &countingReader{r: r, bar: b}
}

// Done ends the bar; call it once the work ends, however it ends. A bar
// that reached its total was drawn full then; a count with no known total
// is drawn with its last count; a bar cut short (an error) keeps the state
// last drawn. Its line is ended, so whatever is written next starts on a
// line of its own. Done more than once does nothing more.
func (b *Bar) Done() {
	if b == nil {
		return
	}
	b.done.Do(func() {
		switch {
		case b.bar.IsFinished():
		case b.unknown:
			_ = b.bar.Finish() // draws the last count; never errors on an unknown total
		default:
			_ = b.bar.Exit() // ends the line without drawing the bar full
		}
	})
}

type countingReader struct {
	r   io.Reader
	bar *Bar
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.bar.Add(int64(n))
	return n, err
}
