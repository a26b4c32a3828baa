package report

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"

	"github.com/gatekeep-dev/gatekeep/engine"
)

// junit writes JUnit XML: one testsuite named gatekeep, one testcase per
// object (name "Kind namespace/name", classname its file), a failure per
// deny finding (type is the check), warn and dryrun findings in the
// testcase's system-out, one testcase per file for the findings about a
// file rather than an object (render, policy-unsupported; named after the
// file), one testcase for the findings of --combine policies, and one
// testcase with an error per input error.
type junit struct{}

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Properties []junitProperty `xml:"properties>property,omitempty"`
	Cases      []junitCase     `xml:"testcase"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string         `xml:"name,attr"`
	Classname string         `xml:"classname,attr"`
	Errors    []junitProblem `xml:"error"`
	Failures  []junitProblem `xml:"failure"`
	SystemOut string         `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

func (junit) Write(w io.Writer, r *engine.Result) error {
	suite := junitSuite{Name: "gatekeep"}
	for _, p := range [][2]string{
		{"bundle", r.BundleName},
		{"bundleDigest", r.BundleDigest},
		{"kubernetesVersion", r.KubernetesVersion},
	} {
		if p[1] != "" {
			suite.Properties = append(suite.Properties, junitProperty{Name: p[0], Value: p[1]})
		}
	}
	add := func(c junitCase) {
		if len(c.Failures) > 0 {
			suite.Failures++
		}
		suite.Cases = append(suite.Cases, c)
	}
	for _, o := range r.Objects {
		add(junitCaseOf(o.Object.String(), o.File, o.Findings))
	}
	// Findings about no object: those about a file (a source that could
	// not be rendered, a bundle file holding policies gatekeep does not
	// run) are a testcase per file; those of conftest --combine, about
	// every document at once, one more.
	var combined []engine.Finding
	byFile := map[string]int{}
	var files [][]engine.Finding
	for _, f := range r.Combined {
		if f.File == "" {
			combined = append(combined, f)
			continue
		}
		i, ok := byFile[f.File]
		if !ok {
			i = len(files)
			byFile[f.File] = i
			files = append(files, nil)
		}
		files[i] = append(files[i], f)
	}
	for _, fs := range files {
		add(junitCaseOf(fs[0].File, fs[0].File, fs))
	}
	if len(combined) > 0 {
		add(junitCaseOf(combinedCase, "", combined))
	}
	for _, e := range r.Errors {
		name := e.File
		if e.Line > 0 {
			name = fmt.Sprintf("%s:%d", e.File, e.Line)
		}
		suite.Cases = append(suite.Cases, junitCase{
			Name:      name,
			Classname: e.File,
			Errors:    []junitProblem{{Message: e.Message, Type: "input-error", Text: e.Error()}},
		})
		suite.Errors++
	}
	suite.Tests = len(suite.Cases)
	doc := junitSuites{Name: "gatekeep", Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors, Suites: []junitSuite{suite}}

	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	b.WriteByte('\n')
	return writeAll(w, b.Bytes())
}

// combinedCase names the testcase of the --combine policies' findings.
const combinedCase = "all documents (--combine)"

// junitCaseOf is the testcase of one object's (or the combined policies')
// findings: a failure per deny, the others in system-out.
func junitCaseOf(name, classname string, findings []engine.Finding) junitCase {
	c := junitCase{Name: name, Classname: classname}
	var out strings.Builder
	for _, f := range findings {
		detail := f.Message
		if loc := location(f); loc != "" {
			detail = loc + ": " + f.Message
		}
		if f.Action == engine.Deny {
			c.Failures = append(c.Failures, junitProblem{Message: f.Message, Type: f.Check, Text: detail})
			continue
		}
		if out.Len() > 0 {
			out.WriteByte('\n')
		}
		fmt.Fprintf(&out, "%s %s %s", f.Action, f.Check, detail)
	}
	c.SystemOut = out.String()
	return c
}

// location is "file:line" of a finding, and the field's JSON pointer when
// it points at a field (see objectWide).
func location(f engine.Finding) string {
	s := f.File
	if f.Line > 0 {
		s = fmt.Sprintf("%s:%d", s, f.Line)
	}
	if f.Path != "" && !objectWide[f.Path] {
		s += " " + f.Path
	}
	return s
}

// objectWide are the field paths of findings about the object as a whole
// (a removed or deprecated API, a kind no schema knows): the testcase
// already names the object, and "/apiVersion: policy/v1beta1 ..." in every
// such body reads like YAML rather than a place to look.
var objectWide = map[string]bool{"/apiVersion": true, "/kind": true}
