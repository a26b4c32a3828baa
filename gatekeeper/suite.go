package gatekeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	apiconstraints "github.com/open-policy-agent/frameworks/constraint/pkg/apis/constraints"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// SuiteReport is the outcome of RunSuites.
type SuiteReport struct {
	Summary Summary       `json:"summary"`
	Results []SuiteResult `json:"results"`
}

// Summary counts suites and cases; skipped ones are not counted.
type Summary struct {
	Suites       int `json:"suites"`
	SuitesPassed int `json:"suitesPassed"`
	Cases        int `json:"cases"`
	CasesPassed  int `json:"casesPassed"`
}

// AddSuite counts a suite that ran.
func (s *Summary) AddSuite(passed bool) {
	s.Suites++
	if passed {
		s.SuitesPassed++
	}
}

// AddCase counts a case, unless it was skipped.
func (s *Summary) AddCase(passed, skipped bool) {
	if skipped {
		return
	}
	s.Cases++
	if passed {
		s.CasesPassed++
	}
}

// SuiteResult is one Suite file.
type SuiteResult struct {
	Path    string       `json:"path"`
	Passed  bool         `json:"passed"`
	Skipped bool         `json:"skipped,omitempty"`
	Error   string       `json:"error,omitempty"`
	Tests   []TestResult `json:"tests"`
}

// TestResult is one test (a template and a constraint) of a suite.
type TestResult struct {
	Name    string       `json:"name"`
	Passed  bool         `json:"passed"`
	Skipped bool         `json:"skipped,omitempty"`
	Error   string       `json:"error,omitempty"`
	Cases   []CaseResult `json:"cases,omitempty"`
}

// CaseResult is one case (an object and assertions) of a test.
type CaseResult struct {
	Name    string `json:"name"`
	Passed  bool   `json:"passed"`
	Skipped bool   `json:"skipped,omitempty"`
	Error   string `json:"error,omitempty"`
}

// Passed tells whether every suite passed.
func (r *SuiteReport) Passed() bool { return r.Summary.Suites == r.Summary.SuitesPassed }

// WriteText prints one line per suite, ok or FAIL, with each failing test
// and case and why, then the counts and PASS or FAIL.
func (r *SuiteReport) WriteText(w io.Writer) error {
	var b strings.Builder
	for _, s := range r.Results {
		switch {
		case s.Skipped:
			fmt.Fprintf(&b, "skip\t%s\n", s.Path)
			continue
		case s.Passed:
			fmt.Fprintf(&b, "ok\t%s\n", s.Path)
			continue
		}
		fmt.Fprintf(&b, "FAIL\t%s\n", s.Path)
		if s.Error != "" {
			fmt.Fprintf(&b, "    %s\n", indent(s.Error))
		}
		for _, t := range s.Tests {
			if t.Passed || t.Skipped {
				continue
			}
			if t.Error != "" {
				fmt.Fprintf(&b, "    --- FAIL: %s\n        %s\n", t.Name, indent(t.Error))
				continue
			}
			for _, c := range t.Cases {
				if !c.Passed && !c.Skipped {
					fmt.Fprintf(&b, "    --- FAIL: %s/%s\n        %s\n", t.Name, c.Name, indent(c.Error))
				}
			}
		}
	}
	sm := r.Summary
	fmt.Fprintf(&b, "%d of %d suites passed, %d of %d cases\n", sm.SuitesPassed, sm.Suites, sm.CasesPassed, sm.Cases)
	if r.Passed() {
		b.WriteString("PASS\n")
	} else {
		b.WriteString("FAIL\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n        ") }

// WriteJSON prints the report as JSON.
func (r *SuiteReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// The suite format, test.gatekeeper.sh/v1alpha1 Suite.
type suiteSpec struct {
	Tests []testSpec `json:"tests"`
	Skip  bool       `json:"skip"`
}

type testSpec struct {
	Name       string     `json:"name"`
	Template   string     `json:"template"`
	Constraint string     `json:"constraint"`
	Expansion  string     `json:"expansion"`
	Cases      []caseSpec `json:"cases"`
	Invalid    bool       `json:"invalid"`
	Skip       bool       `json:"skip"`
}

type caseSpec struct {
	Name       string          `json:"name"`
	Object     string          `json:"object"`
	Inventory  []string        `json:"inventory"`
	Assertions []assertionSpec `json:"assertions"`
	Skip       bool            `json:"skip"`
}

type assertionSpec struct {
	// Violations is a count, "yes" or "no" (default "yes").
	Violations any     `json:"violations"`
	Message    *string `json:"message"`
}

// RunSuites runs the Gatekeeper test suites (kind Suite of
// test.gatekeeper.sh/v1alpha1) found at paths, with the semantics of gator
// verify: each test compiles its template and constraint; each case reviews
// one object (a plain object, or an AdmissionReview for UPDATE, DELETE and
// the like), with its inventory files in data.inventory and the test's
// ExpansionTemplates applied, and checks its assertions against all the
// violations, whatever their enforcement action. A directory is searched
// recursively for YAML files holding suites ("dir/..." too). The error is
// for paths that cannot be read or YAML that does not parse; failing suites
// are in the report.
func RunSuites(ctx context.Context, paths []string) (*SuiteReport, error) {
	files, err := suiteFiles(paths)
	if err != nil {
		return nil, err
	}
	rn := &runner{cache: map[string]*parsedFile{}}
	report := &SuiteReport{Results: []SuiteResult{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if !strings.Contains(string(data), "test.gatekeeper.sh") {
			continue // cannot hold a Suite: not even parsed
		}
		pf, err := rn.read(f)
		if err != nil {
			return nil, err
		}
		for _, o := range pf.objs {
			if !isSuite(o.Data) {
				continue
			}
			res := rn.runSuite(ctx, f, o)
			report.Results = append(report.Results, res)
		}
	}
	for _, s := range report.Results {
		if s.Skipped {
			continue
		}
		report.Summary.AddSuite(s.Passed)
		for _, t := range s.Tests {
			for _, c := range t.Cases {
				report.Summary.AddCase(c.Passed, c.Skipped)
			}
		}
	}
	return report, nil
}

func isSuite(obj map[string]any) bool {
	group, _ := splitAPIVersion(str(obj["apiVersion"]))
	return group == "test.gatekeeper.sh" && str(obj["kind"]) == "Suite"
}

func isYAMLFile(name string) bool {
	ext := filepath.Ext(name)
	return ext == ".yaml" || ext == ".yml"
}

// suiteFiles lists the YAML files at paths, sorted, without duplicates.
func suiteFiles(paths []string) ([]string, error) {
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		p = strings.TrimSuffix(strings.TrimSuffix(p, "..."), string(filepath.Separator))
		if p == "" {
			p = "."
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			if !isYAMLFile(p) {
				return nil, fmt.Errorf("%s: not a YAML file (.yaml or .yml)", p)
			}
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			if !d.IsDir() && isYAMLFile(path) && !seen[path] {
				seen[path] = true
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

type runner struct {
	cache map[string]*parsedFile
}

type parsedFile struct {
	objs []*manifest.Object
	err  error
}

// read parses a file once for all the suites that name it.
func (rn *runner) read(path string) (*parsedFile, error) {
	if pf, ok := rn.cache[path]; ok {
		return pf, pf.err
	}
	pf := &parsedFile{}
	data, err := os.ReadFile(path)
	if err != nil {
		pf.err = err
	} else {
		objs, errs := manifest.Parse(path, data)
		pf.objs = objs
		if len(errs) > 0 {
			pf.err = errs[0]
		}
	}
	rn.cache[path] = pf
	return pf, pf.err
}

func (rn *runner) runSuite(ctx context.Context, path string, o *manifest.Object) SuiteResult {
	res := SuiteResult{Path: path, Tests: []TestResult{}}
	var spec suiteSpec
	if err := remarshal(o.Data, &spec); err != nil {
		res.Error = fmt.Sprintf("%s:%d: invalid Suite: %v", path, o.Source.Line, err)
		return res
	}
	if spec.Skip {
		res.Skipped = true
		res.Passed = true
		return res
	}
	dir := filepath.Dir(path)
	res.Passed = true
	for i, t := range spec.Tests {
		tr := rn.runTest(ctx, dir, &t, func(field string) string {
			return fmt.Sprintf("%s:%d", path, o.Line(fmt.Sprintf("/tests/%d/%s", i, field)))
		})
		if !tr.Passed {
			res.Passed = false
		}
		res.Tests = append(res.Tests, tr)
	}
	return res
}

func remarshal(in any, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// firstObject reads the first object of a file (gator reads one document
// for templates and constraints).
func (rn *runner) firstObject(dir, rel, what string) (*manifest.Object, error) {
	if rel == "" {
		return nil, fmt.Errorf("missing %s", what)
	}
	p := filepath.Join(dir, rel)
	pf, err := rn.read(p)
	if err != nil {
		return nil, err
	}
	if len(pf.objs) == 0 {
		return nil, fmt.Errorf("%s: %s defines no object", p, what)
	}
	return pf.objs[0], nil
}

func (rn *runner) runTest(ctx context.Context, dir string, t *testSpec, where func(field string) string) TestResult {
	tr := TestResult{Name: t.Name}
	if t.Skip {
		tr.Skipped, tr.Passed = true, true
		for _, c := range t.Cases {
			tr.Cases = append(tr.Cases, CaseResult{Name: c.Name, Skipped: true, Passed: true})
		}
		return tr
	}
	fail := func(err error) TestResult {
		tr.Error = err.Error()
		for _, c := range t.Cases {
			cr := CaseResult{Name: c.Name, Skipped: c.Skip, Passed: c.Skip}
			if !c.Skip {
				cr.Error = "not run: the test failed"
			}
			tr.Cases = append(tr.Cases, cr)
		}
		return tr
	}
	tmpl, err := rn.firstObject(dir, t.Template, "template")
	if err != nil {
		return fail(fmt.Errorf("%s: %w", where("template"), err))
	}
	if !IsTemplate(tmpl.Data) {
		return fail(fmt.Errorf("%s:%d: not a ConstraintTemplate", tmpl.Source.File, tmpl.Source.Line))
	}
	cons, err := rn.firstObject(dir, t.Constraint, "constraint")
	if err != nil {
		return fail(fmt.Errorf("%s: %w", where("constraint"), err))
	}
	if !IsConstraint(cons.Data) {
		return fail(fmt.Errorf("%s:%d: not a Constraint (its group must be constraints.gatekeeper.sh)", cons.Source.File, cons.Source.Line))
	}
	var opts []Option
	if t.Expansion != "" {
		p := filepath.Join(dir, t.Expansion)
		pf, err := rn.read(p)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", where("expansion"), err))
		}
		if len(pf.objs) == 0 {
			return fail(fmt.Errorf("%s: no ExpansionTemplate", p))
		}
		var docs []Document
		for _, o := range pf.objs {
			if !IsExpansionTemplate(o.Data) {
				return fail(fmt.Errorf("%s:%d: not an ExpansionTemplate", o.Source.File, o.Source.Line))
			}
			docs = append(docs, DocumentOf(o))
		}
		opts = append(opts, WithExpansionTemplates(docs...))
	}
	opts = append(opts, WithEnforcementPoint(GatorEnforcementPoint))
	p, errs := build(ctx, []Document{DocumentOf(tmpl)}, []Document{DocumentOf(cons)}, opts...)
	if p == nil {
		return fail(errs[0].err)
	}
	if t.Invalid {
		for _, e := range errs {
			if errors.Is(e.err, apiconstraints.ErrSchema) {
				tr.Passed = true
				return tr
			}
		}
		if len(errs) == 0 {
			return fail(errors.New("the constraint is valid, but the test says invalid: true (want a schema validation error)"))
		}
		return fail(fmt.Errorf("got error %s, want a schema validation error", docErrors(errs)))
	}
	if len(errs) > 0 {
		return fail(docErrors(errs))
	}
	tr.Passed = true
	for i := range t.Cases {
		c := &t.Cases[i]
		cr := CaseResult{Name: c.Name}
		switch {
		case c.Skip:
			cr.Skipped, cr.Passed = true, true
		default:
			if err := rn.runCase(ctx, p, dir, c); err != nil {
				cr.Error = err.Error()
			} else {
				cr.Passed = true
			}
		}
		if !cr.Passed {
			tr.Passed = false
		}
		tr.Cases = append(tr.Cases, cr)
	}
	return tr
}

func docErrors(errs []docError) error {
	out := make(Errors, len(errs))
	for i, e := range errs {
		out[i] = e.Error
	}
	return out.sorted()
}

func (rn *runner) runCase(ctx context.Context, p *Policy, dir string, c *caseSpec) error {
	if c.Object == "" {
		return errors.New("invalid case: it must define object")
	}
	if len(c.Assertions) == 0 {
		return errors.New("invalid case: assertions must be non-empty")
	}
	objPath := filepath.Join(dir, c.Object)
	pf, err := rn.read(objPath)
	if err != nil {
		return err
	}
	if len(pf.objs) != 1 {
		return fmt.Errorf("%s defines %d objects, want exactly 1", objPath, len(pf.objs))
	}
	obj := pf.objs[0].Data

	if err := p.ClearInventory(ctx); err != nil {
		return err
	}
	for _, inv := range c.Inventory {
		ip := filepath.Join(dir, inv)
		ipf, err := rn.read(ip)
		if err != nil {
			return err
		}
		if len(ipf.objs) == 0 {
			return fmt.Errorf("%s defines no objects", ip)
		}
		for _, o := range ipf.objs {
			if err := p.AddInventory(ctx, o.Data); err != nil {
				return fmt.Errorf("%s:%d: adding to the inventory: %w", o.Source.File, o.Source.Line, err)
			}
		}
	}

	var vs []Violation
	group, _ := splitAPIVersion(str(obj["apiVersion"]))
	if str(obj["kind"]) == "AdmissionReview" && group == "admission.k8s.io" {
		req, _ := obj["request"].(map[string]any)
		if req == nil {
			return fmt.Errorf("%s: the AdmissionReview has no request", objPath)
		}
		vs, err = p.review(ctx, &Request{Admission: req}, false)
	} else {
		vs, err = p.review(ctx, &Request{Object: obj}, true)
	}
	if err != nil {
		return fmt.Errorf("reviewing %s: %w", objPath, err)
	}
	for i := range c.Assertions {
		if err := c.Assertions[i].check(vs); err != nil {
			return err
		}
	}
	return nil
}

// check is gator's assertion: count the violations whose message matches
// (all, without message), and compare with violations.
func (a *assertionSpec) check(vs []Violation) error {
	var re *regexp.Regexp
	if a.Message != nil {
		var err error
		if re, err = regexp.Compile(*a.Message); err != nil {
			return fmt.Errorf("invalid assertion: message %q: %w", *a.Message, err)
		}
	}
	matching := 0
	msgs := make([]string, 0, len(vs))
	for _, v := range vs {
		msgs = append(msgs, v.Message)
		if re == nil || re.MatchString(v.Message) {
			matching++
		}
	}
	containing := ""
	if a.Message != nil {
		containing = fmt.Sprintf(" matching %q", *a.Message)
	}
	got := func(want string) error {
		return fmt.Errorf("got %d violations%s but want %s; messages: %q", matching, containing, want, msgs)
	}
	switch w := a.Violations.(type) {
	case nil:
		if matching == 0 {
			return got("at least 1")
		}
	case string:
		switch w {
		case "yes":
			if matching == 0 {
				return got("at least 1")
			}
		case "no":
			if matching > 0 {
				return got("none")
			}
		default:
			return fmt.Errorf(`invalid assertion: violations must be a nonnegative integer, "yes" or "no", not %q`, w)
		}
	case bool: // YAML 1.1 readers turn yes/no into booleans
		if w && matching == 0 {
			return got("at least 1")
		}
		if !w && matching > 0 {
			return got("none")
		}
	case float64:
		if w < 0 || w != float64(int(w)) {
			return fmt.Errorf(`invalid assertion: violations must be a nonnegative integer, "yes" or "no", not %v`, w)
		}
		if matching != int(w) {
			return got(fmt.Sprintf("exactly %d", int(w)))
		}
	default:
		return fmt.Errorf(`invalid assertion: violations must be a nonnegative integer, "yes" or "no", not %v`, w)
	}
	return nil
}
