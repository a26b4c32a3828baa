package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/parallel"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/scanner"
)

// jsonFormat is for scripts. Its shape is a public contract: add fields,
// never rename or remove them. The document is
//
//	{"bundle": {"name", "digest"}, "kubernetesVersion", "summary",
//	 "findings": [{"check", "action", "message", "object", "path", "file", "line",
//	               "renders": [{"kind", "name", "file"}]}],
//	 "errors": [{"file", "line", "message"}]}
type jsonFormat struct{}

type jsonBundle struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

type jsonFinding struct {
	Check   string        `json:"check"`
	Action  engine.Action `json:"action"`
	Message string        `json:"message"`
	Object  manifest.Ref  `json:"object"`
	Path    string        `json:"path"`
	File    string        `json:"file"`
	Line    int           `json:"line"`
	// Renders name the renders that produced the object (Argo CD
	// applications, kustomizations, Helm charts); [] for a file as written.
	Renders []manifest.Render `json:"renders"`
}

func (jsonFormat) Write(w io.Writer, r *engine.Result) error {
	// A big repo has megabytes of findings: they are written a window at a
	// time instead of building the whole document in memory first,
	// indented by two as json.Encoder would. The findings of a window are
	// encoded on every core.
	bw := bufio.NewWriterSize(w, 64<<10)
	el := &elementWriter{w: bw}
	_, _ = bw.WriteString("{\n") // bufio.Writer keeps the first error; Flush returns it
	el.field("bundle", jsonBundle{Name: r.BundleName, Digest: r.BundleDigest}, ",")
	el.field("kubernetesVersion", r.KubernetesVersion, ",")
	el.field("summary", r.Summary(), ",")
	findings := r.Findings()
	el.list("findings", len(findings), func(i int) any {
		return findingJSON(findings[i])
	}, ",")
	el.list("errors", len(r.Errors), func(i int) any { return r.Errors[i] }, "")
	_, _ = bw.WriteString("}\n") // as above: Flush reports it
	if el.err != nil {
		return el.err
	}
	return bw.Flush()
}

// findingJSON is one finding as the JSON report gives it.
func findingJSON(f engine.Finding) jsonFinding {
	renders := f.Renders
	if renders == nil {
		renders = []manifest.Render{}
	}
	return jsonFinding{Check: f.Check, Action: f.Action, Message: f.Message, Object: f.Object, Path: f.Path, File: f.File, Line: f.Line, Renders: renders}
}

// elementWriter writes the members of the report's top-level object.
type elementWriter struct {
	w   *bufio.Writer
	err error
}

// encoded is a run of values encoded at one depth, comma-separated, each
// on its own line.
type encoded struct {
	buf bytes.Buffer
	enc *json.Encoder
	err error
}

func newEncoded(depth int) *encoded {
	e := &encoded{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	e.enc.SetIndent(strings.Repeat("  ", depth), "  ")
	return e
}

// add encodes v; last says whether a comma follows.
func (e *encoded) add(v any, indent string, last bool) {
	if e.err != nil {
		return
	}
	e.buf.WriteString(indent)
	if e.err = e.enc.Encode(v); e.err != nil {
		return
	}
	e.buf.Truncate(e.buf.Len() - 1) // Encode's newline
	if !last {
		e.buf.WriteByte(',')
	}
	e.buf.WriteByte('\n')
}

func (e *elementWriter) field(name string, v any, sep string) {
	if e.err != nil {
		return
	}
	fmt.Fprintf(e.w, "  %q: ", name)
	enc := newEncoded(1)
	enc.add(v, "", true)
	if e.err = enc.err; e.err != nil {
		return
	}
	out := enc.buf.Bytes()
	// bufio.Writer errors are sticky and reported by the final Flush.
	_, _ = e.w.Write(out[:len(out)-1])
	_, _ = e.w.WriteString(sep + "\n")
}

// listWindow is how many items are held encoded at once.
const listWindow = 4096

func (e *elementWriter) list(name string, n int, item func(int) any, sep string) {
	if e.err != nil {
		return
	}
	fmt.Fprintf(e.w, "  %q: ", name)
	if n == 0 {
		_, _ = e.w.WriteString("[]" + sep + "\n") // sticky bufio error: Flush reports it
		return
	}
	_, _ = e.w.WriteString("[\n") // sticky bufio error: Flush reports it
	workers := runtime.GOMAXPROCS(0)
	chunks := make([]*encoded, workers)
	for i := range chunks {
		chunks[i] = newEncoded(2)
	}
	for start := 0; start < n; start += listWindow {
		end := min(start+listWindow, n)
		per := (end - start + workers - 1) / workers
		parallel.For(workers, func(c int) {
			chunks[c].buf.Reset()
			for i := start + c*per; i < min(start+(c+1)*per, end); i++ {
				chunks[c].add(item(i), "    ", i == n-1)
			}
		})
		for _, c := range chunks {
			if e.err = c.err; e.err != nil {
				return
			}
			_, _ = e.w.Write(c.buf.Bytes()) // sticky bufio error: Flush reports it
		}
	}
	_, _ = e.w.WriteString("  ]" + sep + "\n") // sticky bufio error: Flush reports it
}

// WriteScan writes an image scan report as its json contract: the
// scanner.Report's own shape, indented by two.
func (jsonFormat) WriteScan(w io.Writer, r *scanner.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}
