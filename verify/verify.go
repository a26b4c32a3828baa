// Package verify runs a policy bundle's own tests: its *_test.rego files as
// opa test runs them, and its Gatekeeper Suites as gator verify does. A
// suite is a Rego test package or a Suite file; a case is one test (for a
// Suite, one case of one of its tests).
package verify

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/conftest"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/gatekeeper"
)

// Report is every suite's outcome; -o json prints it as it is.
type Report struct {
	Summary Summary       `json:"summary"`
	Results []SuiteResult `json:"results"`
	// Warnings are what gatekeep check reports about the bundles
	// themselves (policy-unsupported: a file holding policy kinds
	// gatekeep does not run). They never fail verify.
	Warnings []Warning `json:"warnings"`
}

// Warning is a finding about a bundle, as gatekeep check's JSON report
// gives it, less the object it is not about.
type Warning struct {
	Check   string        `json:"check"`
	Action  engine.Action `json:"action"`
	Message string        `json:"message"`
	File    string        `json:"file"`
	Line    int           `json:"line"`
}

// Warn appends findings about a bundle (engine.Engine's BundleFindings) as
// warnings.
func (r *Report) Warn(fs ...engine.Finding) {
	for _, f := range fs {
		r.Warnings = append(r.Warnings, Warning{Check: f.Check, Action: f.Action, Message: f.Message, File: f.File, Line: f.Line})
	}
}

// Summary counts suites and cases, as gator verify's report does.
type Summary = gatekeeper.Summary

// SuiteResult is one suite: a Rego test package or a Gatekeeper Suite.
type SuiteResult struct {
	Suite  string       `json:"suite"`
	Kind   string       `json:"kind"` // rego or gatekeeper
	File   string       `json:"file"`
	Passed bool         `json:"passed"`
	Cases  []CaseResult `json:"cases"`
}

// CaseResult is one test.
type CaseResult struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Skipped bool   `json:"skipped,omitempty"`
	// Message says why it failed.
	Message string `json:"message,omitempty"`
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
}

// OK reports whether everything passed.
func (r *Report) OK() bool {
	return r.Summary.Suites == r.Summary.SuitesPassed && r.Summary.Cases == r.Summary.CasesPassed
}

// Add appends suites and counts them.
func (r *Report) Add(suites ...SuiteResult) {
	for _, s := range suites {
		r.Results = append(r.Results, s)
		r.Summary.AddSuite(s.Passed)
		for _, c := range s.Cases {
			r.Summary.AddCase(c.Passed, c.Skipped)
		}
	}
}

// Rego runs the bundle's *_test.rego files against its policies, with the
// data gatekeep gives them.
func Rego(ctx context.Context, b *bundle.Bundle) ([]SuiteResult, error) {
	if len(b.RegoTests) == 0 {
		return nil, nil
	}
	var files []conftest.File
	for _, f := range append(append([]bundle.File{}, b.Rego...), b.RegoTests...) {
		files = append(files, conftest.File{Name: f.Name, Content: f.Content})
	}
	data, err := engine.RegoData(b.Data)
	if err != nil {
		return nil, err
	}
	rep, err := conftest.RunTests(ctx, files, data, conftest.RegoVersion(b.Config.RegoVersion), conftest.AllowNetwork(b.Config.AllowNetwork))
	if err != nil {
		return nil, err
	}
	byPkg := map[string]*SuiteResult{}
	var order []string
	for _, t := range rep.Tests {
		s := byPkg[t.Package]
		if s == nil {
			s = &SuiteResult{Suite: t.Package, Kind: "rego", File: t.File, Passed: true}
			byPkg[t.Package] = s
			order = append(order, t.Package)
		}
		c := CaseResult{Name: t.Name, Passed: t.Status == conftest.TestPass, Skipped: t.Status == conftest.TestSkip, File: t.File, Line: t.Line}
		if !c.Passed && !c.Skipped {
			c.Message = strings.TrimSpace(t.Message + "\n" + t.Output)
			s.Passed = false
		}
		s.Cases = append(s.Cases, c)
	}
	sort.Strings(order)
	out := make([]SuiteResult, 0, len(order))
	for _, p := range order {
		out = append(out, *byPkg[p])
	}
	return out, nil
}

// WriteText lists the warnings about the bundles, then each suite as ok or
// FAIL, with each failing case and why:
//
//	warn policy-unsupported policy/assign.yaml:1: Assign: Gatekeeper mutators are not run by gatekeep (…)
//	ok   main (rego, policy/main_test.rego): 2/2 cases passed
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, wn := range r.Warnings {
		where := wn.File
		if wn.Line > 0 {
			where = fmt.Sprintf("%s:%d", wn.File, wn.Line)
		}
		fmt.Fprintf(&b, "%s %s %s: %s\n", wn.Action, wn.Check, where, wn.Message)
	}
	for _, s := range r.Results {
		status := "ok  "
		if !s.Passed {
			status = "FAIL"
		}
		passed := 0
		for _, c := range s.Cases {
			if c.Passed {
				passed++
			}
		}
		where := s.Kind
		if s.File != s.Suite {
			where += ", " + s.File
		}
		fmt.Fprintf(&b, "%s %s (%s): %d/%d cases passed\n", status, s.Suite, where, passed, len(s.Cases))
		for _, c := range s.Cases {
			if c.Passed || c.Skipped {
				continue
			}
			where := ""
			if c.File != "" && c.Line > 0 {
				where = fmt.Sprintf(" (%s:%d)", c.File, c.Line)
			}
			fmt.Fprintf(&b, "     FAIL %s%s: %s\n", c.Name, where, strings.ReplaceAll(c.Message, "\n", "\n          "))
		}
	}
	sm := r.Summary
	fmt.Fprintf(&b, "%d/%d suites passed, %d/%d cases passed\n", sm.SuitesPassed, sm.Suites, sm.CasesPassed, sm.Cases)
	_, err := io.WriteString(w, b.String())
	return err
}

// Bundle runs every test a bundle holds: its Rego tests, then its
// Gatekeeper Suites (from a bundle directory: a Suite names its templates,
// constraints and objects by path).
func Bundle(ctx context.Context, b *bundle.Bundle) ([]SuiteResult, error) {
	out, err := Rego(ctx, b)
	if err != nil {
		return nil, err
	}
	var suites []string
	seen := map[string]bool{}
	for _, o := range b.Objects {
		if o.Kind() == "Suite" && strings.HasPrefix(o.APIVersion(), "test.gatekeeper.sh/") && !seen[o.Source.File] {
			seen[o.Source.File] = true
			suites = append(suites, o.Source.File)
		}
	}
	gk, err := Gatekeeper(ctx, suites)
	return append(out, gk...), err
}

// Gatekeeper runs Gatekeeper Suite files with gator verify's semantics. A
// test of a suite (a template and a constraint) and its case make a case:
// "test/case".
func Gatekeeper(ctx context.Context, files []string) ([]SuiteResult, error) {
	if len(files) == 0 {
		return nil, nil
	}
	rep, err := gatekeeper.RunSuites(ctx, files)
	if err != nil {
		return nil, err
	}
	var out []SuiteResult
	for _, s := range rep.Results {
		if s.Skipped {
			continue
		}
		sr := SuiteResult{Suite: s.Path, Kind: "gatekeeper", File: s.Path, Passed: s.Passed}
		if s.Error != "" {
			sr.Cases = append(sr.Cases, CaseResult{Name: "(suite)", Message: s.Error})
		}
		for _, t := range s.Tests {
			if t.Error != "" || len(t.Cases) == 0 {
				sr.Cases = append(sr.Cases, CaseResult{Name: t.Name, Passed: t.Passed, Skipped: t.Skipped, Message: t.Error})
			}
			for _, c := range t.Cases {
				sr.Cases = append(sr.Cases, CaseResult{Name: t.Name + "/" + c.Name, Passed: c.Passed, Skipped: c.Skipped || t.Skipped, Message: c.Error})
			}
		}
		out = append(out, sr)
	}
	return out, nil
}
