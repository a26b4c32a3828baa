package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/gatekeep-dev/gatekeep/engine"
)

// github writes GitHub Actions workflow commands, which the runner turns
// into annotations on the files of a pull request:
//
//	::error file=apps/app.yaml,line=27,title=privileged-container::Deployment team-1/app-1: container "main" is privileged
//
// deny is an error, warn a warning and dryrun a notice; input errors are
// errors titled "input error". The summary line closes the output.
type github struct{}

func (github) Write(w io.Writer, r *engine.Result) error {
	var b bytes.Buffer
	for _, f := range r.Findings() {
		cmd := "notice"
		switch f.Action {
		case engine.Deny:
			cmd = "error"
		case engine.Warn:
			cmd = "warning"
		}
		writeCommand(&b, cmd, f.File, f.Line, f.Check, subject(f.Object)+f.Message)
	}
	for _, e := range r.Errors {
		writeCommand(&b, "error", e.File, e.Line, "input error", e.Message)
	}
	b.WriteString(summaryLine(r) + "\n")
	return writeAll(w, b.Bytes())
}

func writeCommand(b *bytes.Buffer, cmd, file string, line int, title, msg string) {
	var props []string
	if file != "" {
		props = append(props, "file="+escapeProperty(file))
		if line > 0 {
			props = append(props, fmt.Sprintf("line=%d", line))
		}
	}
	props = append(props, "title="+escapeProperty(title))
	fmt.Fprintf(b, "::%s %s::%s\n", cmd, strings.Join(props, ","), escapeData(msg))
}

var (
	dataEscaper     = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A")
	propertyEscaper = strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C")
)

// escapeData escapes the message of a workflow command.
func escapeData(s string) string { return dataEscaper.Replace(s) }

// escapeProperty escapes a property value of a workflow command.
func escapeProperty(s string) string { return propertyEscaper.Replace(s) }
