// Package report writes the result of gatekeep check in one of its output
// formats: text for people, json for scripts, junit and sarif for CI systems
// and github for GitHub Actions annotations; and the image scan report of
// gatekeep scan as a table (text), json or sarif.
package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/scanner"
)

// Format writes a check result in one output format.
type Format interface {
	Write(w io.Writer, r *engine.Result) error
}

// Option configures New. Options a format has no use for are ignored.
type Option func(*options)

type options struct {
	color   bool
	quiet   bool
	checks  []engine.CheckInfo
	version string
	// sarifDirs stand in for the working directory and its checkout (tests).
	sarifDirs *sarifPaths
}

// WithColor colours text output with ANSI escapes. The caller decides
// (terminal, NO_COLOR); this package never looks.
func WithColor(on bool) Option { return func(o *options) { o.color = on } }

// Quiet makes text output print only denials and input errors: no
// warnings, no dry-run findings, no summary line.
func Quiet(on bool) Option { return func(o *options) { o.quiet = on } }

// WithChecks gives the checks that ran, which SARIF lists as rules.
func WithChecks(checks []engine.CheckInfo) Option {
	return func(o *options) { o.checks = checks }
}

// WithVersion gives gatekeep's version, which SARIF records.
func WithVersion(v string) Option { return func(o *options) { o.version = v } }

var names = []string{"text", "json", "junit", "sarif", "github"}

// Names lists the formats New knows, in the order help should show them.
func Names() []string { return append([]string(nil), names...) }

// New returns the named format: text, json, junit, sarif or github.
func New(name string, opts ...Option) (Format, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	switch name {
	case "text":
		return &text{color: o.color, quiet: o.quiet}, nil
	case "json":
		return jsonFormat{}, nil
	case "junit":
		return junit{}, nil
	case "sarif":
		return &sarifFormat{checks: o.checks, version: o.version, dirs: o.sarifDirs}, nil
	case "github":
		return github{}, nil
	}
	return nil, fmt.Errorf("unknown output format %q (valid: %s)", name, strings.Join(names, ", "))
}

// ScanFormat writes an image scan report (gatekeep scan) in one output
// format.
type ScanFormat interface {
	WriteScan(w io.Writer, r *scanner.Report) error
}

var scanNames = []string{"table", "json", "sarif"}

// ScanNames lists the formats NewScan knows, in the order help should
// show them.
func ScanNames() []string { return append([]string(nil), scanNames...) }

// NewScan returns the named scan report format: table (or text), json (the
// contract) or sarif (SARIF 2.1.0).
func NewScan(name string) (ScanFormat, error) {
	switch name {
	case "", "table", "text":
		return &text{}, nil
	case "json":
		return jsonFormat{}, nil
	case "sarif":
		return &sarifFormat{}, nil
	}
	return nil, fmt.Errorf("unknown format %q: want table, json or sarif", name)
}

// summaryLine is the closing line of text and github output, e.g.
// "1,566 objects in 300 files: 21 denied, 4 warnings, 1,541 passed".
func summaryLine(r *engine.Result) string {
	s := r.Summary()
	var b strings.Builder
	where := "in " + count(s.Files, "file")
	if s.Audited > 0 {
		where = "audited in the cluster"
	}
	fmt.Fprintf(&b, "%s %s: %s denied, %s, %s passed",
		count(s.Objects, "object"), where,
		thousands(s.Denied), count(s.Warned, "warning"), thousands(s.Passed))
	if s.Exceptions > 0 {
		b.WriteString(", " + count(s.Exceptions, "exception"))
	}
	if n := len(r.Errors); n > 0 {
		b.WriteString(", " + count(n, "error"))
	}
	return b.String()
}

// skippedLine says what was left out and what was rendered, for text
// output; "" when nothing was.
func skippedLine(r *engine.Result) string {
	s := r.Summary()
	var parts []string
	if s.Skipped > 0 {
		reasons := make([]string, 0, len(s.SkippedReasons))
		for _, reason := range manifest.SkipReasons(s.SkippedReasons) {
			reasons = append(reasons, thousands(s.SkippedReasons[reason])+" "+reason)
		}
		parts = append(parts, "skipped "+thousands(s.Skipped)+" ("+strings.Join(reasons, ", ")+")")
	}
	if rd := s.Rendered; rd != (manifest.Rendered{}) {
		parts = append(parts, fmt.Sprintf("rendered %s, %s, %s", count(rd.Applications, "application"), count(rd.HelmCharts, "Helm chart"), count(rd.Kustomizations, "kustomization")))
	}
	return strings.Join(parts, "; ")
}

// count gives "1 file", "0 files", "1,566 files".
func count(n int, noun string) string {
	if n != 1 {
		noun += "s"
	}
	return thousands(n) + " " + noun
}

// thousands formats n with commas between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// writeAll writes b to w in one call, as Write must report a short write.
func writeAll(w io.Writer, b []byte) error {
	_, err := w.Write(b)
	return err
}

// bundleLine names the bundle and target version that made the verdict, so
// CI and cluster can be shown to agree.
func bundleLine(r *engine.Result) string {
	return fmt.Sprintf("bundle %s %s, Kubernetes %s", r.BundleName, r.BundleDigest, r.KubernetesVersion)
}
