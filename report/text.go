package report

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/scanner"
)

// text is for people: findings grouped under their file, then the input
// errors, then the summary line.
//
//	apps/team-1/app-1/resources.yaml
//	  27  deny    privileged-container  Deployment team-1/app-1: container "main" is privileged
//
//	error: broken.yaml:3: did not find expected key
//
//	1,566 objects in 300 files: 21 denied, 4 warnings, 1,541 passed, 1 error
type text struct {
	color bool
	quiet bool
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

func (t *text) paint(code, s string) string {
	if !t.color || s == "" {
		return s
	}
	return code + s + ansiReset
}

func actionColor(a engine.Action) string {
	switch a {
	case engine.Deny:
		return ansiRed
	case engine.Warn:
		return ansiYellow
	}
	return ansiCyan
}

func (t *text) Write(w io.Writer, r *engine.Result) error {
	var shown []engine.Finding
	for _, f := range r.Findings() {
		if !t.quiet || f.Action == engine.Deny {
			shown = append(shown, f)
		}
	}

	// Columns are aligned over the whole output, not file by file.
	lineW, actionW, checkW := 0, 0, 0
	for _, f := range shown {
		lineW = max(lineW, len(lineText(f.Line)))
		actionW = max(actionW, len(f.Action))
		checkW = max(checkW, len(f.Check))
	}

	var b bytes.Buffer
	for i, f := range shown {
		if i == 0 || f.File != shown[i-1].File {
			if i > 0 {
				b.WriteByte('\n')
			}
			file := f.File
			switch {
			case file == "" && r.Audited > 0:
				file = "(cluster)" // an audit's objects have no file
			case file == "":
				file = "(all documents)"
			}
			b.WriteString(t.paint(ansiBold, file) + "\n")
		}
		fmt.Fprintf(&b, "  %*s  %s%s  %s%s  %s%s\n",
			lineW, lineText(f.Line),
			t.paint(actionColor(f.Action), string(f.Action)), pad(string(f.Action), actionW),
			f.Check, pad(f.Check, checkW),
			subject(f.Object), indent(f.Message))
	}
	if len(r.Errors) > 0 {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		for _, e := range r.Errors {
			fmt.Fprintf(&b, "%s: %s\n", t.paint(ansiRed, "error"), indent(e.Error()))
		}
	}
	if !t.quiet {
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(bundleLine(r) + "\n" + summaryLine(r) + "\n")
		if l := skippedLine(r); l != "" {
			b.WriteString(l + "\n")
		}
	}
	return writeAll(w, b.Bytes())
}

// lineText is a finding's line, or "-" when it is not known.
func lineText(n int) string {
	if n <= 0 {
		return "-"
	}
	return strconv.Itoa(n)
}

func pad(s string, width int) string {
	if n := width - len(s); n > 0 {
		return strings.Repeat(" ", n)
	}
	return ""
}

// indent keeps the continuation lines of a multi-line message under the
// finding they belong to.
func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	return strings.ReplaceAll(s, "\n", "\n      ")
}

// subject names a finding's object before its message; findings that are
// about no object (every document at once with --combine, a source that
// could not be rendered, a bundle file) name none.
func subject(r manifest.Ref) string {
	if r.Kind == "" {
		return ""
	}
	return r.String() + ": "
}

// WriteScan writes an image scan report as a table: the database, then per
// image its head line, verdict, warnings and vulnerabilities, worst first.
func (t *text) WriteScan(w io.Writer, r *scanner.Report) error {
	if !r.DB.UpdatedAt.IsZero() {
		fmt.Fprintf(w, "vulnerability database %s, updated %s\n", r.DB.Path, r.DB.UpdatedAt.UTC().Format(time.RFC3339))
	}
	for _, img := range r.Images {
		fmt.Fprintln(w)
		head := img.Image
		if img.Digest != "" {
			head += " (" + img.Digest + ")"
		}
		var about []string
		if img.OS != nil {
			about = append(about, img.OS.Family+" "+img.OS.Version)
		}
		if img.Error == "" && img.Verdict != scanner.VerdictSkipped {
			about = append(about, fmt.Sprintf("%d packages", img.Packages), fmt.Sprintf("%d vulnerabilities", len(img.Vulnerabilities)))
		}
		if len(about) > 0 {
			head += ": " + strings.Join(about, ", ")
		}
		fmt.Fprintln(w, head)
		verdict := strings.ToUpper(img.Verdict)
		if len(img.Reasons) > 0 {
			verdict += ": " + strings.Join(img.Reasons, "; ")
		}
		if img.Error != "" {
			verdict += ": " + img.Error
		}
		fmt.Fprintln(w, verdict)
		for _, warn := range img.Warnings {
			fmt.Fprintln(w, "warning: "+warn)
		}
		if len(img.Vulnerabilities) == 0 {
			continue
		}
		vs := append([]scanner.Vulnerability(nil), img.Vulnerabilities...)
		scanner.SortWorst(vs)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tPACKAGE\tINSTALLED\tFIXED\tSTATUS\t")
		for _, v := range vs {
			pkg := v.Package
			if v.Target != "" {
				pkg += " (" + v.Target + ")"
			}
			status := v.Status
			if v.Allowed {
				status += ", allowed"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", v.ID, v.Severity, pkg, v.InstalledVersion, v.FixedVersion, status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
