package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// jsonFormat is for scripts. Its shape is a public contract: add fields,
// never rename or remove them. The document is
//
//	{"bundle": {"name", "digest"}, "kubernetesVersion", "summary",
//	 "findings": [{"check", "action", "message", "object", "path", "file", "line"}],
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
}

func (jsonFormat) Write(w io.Writer, r *engine.Result) error {
	// A big repo has megabytes of findings: they are written one by one
	// instead of building the whole document in memory first, indented by
	// two as json.Encoder would.
	bw := bufio.NewWriterSize(w, 64<<10)
	el := &elementWriter{w: bw}
	el.enc = json.NewEncoder(&el.buf)
	el.enc.SetEscapeHTML(false)
	bw.WriteString("{\n")
	el.field("bundle", jsonBundle{Name: r.BundleName, Digest: r.BundleDigest}, ",")
	el.field("kubernetesVersion", r.KubernetesVersion, ",")
	el.field("summary", r.Summary(), ",")
	findings := r.Findings()
	el.list("findings", len(findings), func(i int) any {
		f := findings[i]
		return jsonFinding{Check: f.Check, Action: f.Action, Message: f.Message, Object: f.Object, Path: f.Path, File: f.File, Line: f.Line}
	}, ",")
	el.list("errors", len(r.Errors), func(i int) any { return r.Errors[i] }, "")
	bw.WriteString("}\n")
	if el.err != nil {
		return el.err
	}
	return bw.Flush()
}

// elementWriter writes the members of the report's top-level object.
type elementWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
	err error
}

// value writes v indented as a value nested depth levels deep.
func (e *elementWriter) value(v any, depth int) {
	if e.err != nil {
		return
	}
	prefix := strings.Repeat("  ", depth)
	e.buf.Reset()
	e.enc.SetIndent(prefix, "  ")
	if e.err = e.enc.Encode(v); e.err != nil {
		return
	}
	_, e.err = e.w.Write(bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")))
}

func (e *elementWriter) field(name string, v any, sep string) {
	fmt.Fprintf(e.w, "  %q: ", name)
	e.value(v, 1)
	e.w.WriteString(sep + "\n")
}

func (e *elementWriter) list(name string, n int, item func(int) any, sep string) {
	fmt.Fprintf(e.w, "  %q: ", name)
	if n == 0 {
		e.w.WriteString("[]" + sep + "\n")
		return
	}
	e.w.WriteString("[\n")
	for i := 0; i < n; i++ {
		e.w.WriteString("    ")
		e.value(item(i), 2)
		if i < n-1 {
			e.w.WriteString(",")
		}
		e.w.WriteString("\n")
	}
	e.w.WriteString("  ]" + sep + "\n")
}
