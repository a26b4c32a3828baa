package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/conftest"
	"github.com/gatekeep-dev/gatekeep/gatekeeper"
	"github.com/gatekeep-dev/gatekeep/internal/parallel"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Result is the outcome of checking a set of manifests: what reports print.
type Result struct {
	BundleName        string
	BundleDigest      string
	KubernetesVersion string
	Files             int
	Objects           []ObjectResult
	Errors            []manifest.Error
	// Exceptions counts findings a policy's exception rules suppressed.
	Exceptions int
	// Combined are findings that name no single object: about the
	// documents taken together (conftest's --combine), about sources
	// that could not be rendered (RenderCheck), and about bundle files
	// holding policy kinds gatekeep does not run (UnsupportedCheck).
	Combined []Finding
	// Skipped counts the documents and files left out, by reason.
	Skipped map[string]int
	// Rendered counts the applications, charts and kustomizations
	// rendered.
	Rendered manifest.Rendered
	// Audited counts the objects an audit judged: its Objects are only
	// those with findings (0 for a check, whose Objects are all).
	Audited int
}

// ObjectResult is one object and its findings.
type ObjectResult struct {
	Object   manifest.Ref
	File     string
	Line     int
	Findings []Finding
	// Renders produced the object; an object several renders produce
	// alike, findings and all, is one result naming them all.
	Renders []manifest.Render
}

// Verdict is the object's strongest action: deny, then warn; "" when it
// passed (dryrun findings do not fail an object).
func (o ObjectResult) Verdict() Action {
	var v Action
	for _, f := range o.Findings {
		switch f.Action {
		case Deny:
			return Deny
		case Warn:
			v = Warn
		}
	}
	return v
}

// Summary counts objects by verdict.
type Summary struct {
	Files      int `json:"files"`
	Objects    int `json:"objects"`
	Denied     int `json:"denied"`
	Warned     int `json:"warned"`
	Passed     int `json:"passed"`
	Exceptions int `json:"exceptions"`
	// Skipped counts what was left out (not Kubernetes objects, patches,
	// value files), SkippedReasons by reason.
	Skipped        int               `json:"skipped"`
	SkippedReasons map[string]int    `json:"skippedReasons"`
	Rendered       manifest.Rendered `json:"rendered"`
	// Audited counts the cluster's objects an audit judged (absent for
	// check).
	Audited int `json:"audited,omitempty"`
}

// Counts are the summary's numbers, comparable with ==.
type Counts struct{ Files, Objects, Denied, Warned, Passed, Exceptions, Skipped int }

// Counts returns the summary's numbers.
func (s Summary) Counts() Counts {
	return Counts{s.Files, s.Objects, s.Denied, s.Warned, s.Passed, s.Exceptions, s.Skipped}
}

// Summary counts the result's objects by verdict; a combined finding
// counts as one more denial or warning.
func (r *Result) Summary() Summary {
	s := Summary{Files: r.Files, Objects: len(r.Objects), Exceptions: r.Exceptions,
		SkippedReasons: map[string]int{}, Rendered: r.Rendered, Audited: r.Audited}
	if r.Audited > 0 {
		// The objects without findings were judged, and may not be kept.
		s.Objects = r.Audited
		s.Passed = r.Audited - len(r.Objects)
	}
	for reason, n := range r.Skipped {
		s.Skipped += n
		s.SkippedReasons[reason] = n
	}
	for _, f := range r.Combined {
		switch f.Action {
		case Deny:
			s.Denied++
		case Warn:
			s.Warned++
		}
	}
	for _, o := range r.Objects {
		switch o.Verdict() {
		case Deny:
			s.Denied++
		case Warn:
			s.Warned++
		default:
			s.Passed++
		}
	}
	return s
}

// Findings returns every finding, ordered by file, line and check.
func (r *Result) Findings() []Finding {
	out := append([]Finding(nil), r.Combined...)
	for _, o := range r.Objects {
		out = append(out, o.Findings...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Check < b.Check
	})
	return out
}

// Check reviews everything Load read, with the whole set as the inventory,
// as CI does. Objects are reviewed on every core; the result keeps their
// order.
func (e *Engine) Check(ctx context.Context, set *manifest.Set) (*Result, error) {
	r := &Result{
		BundleName:        e.bundle.Name,
		BundleDigest:      e.bundle.Digest,
		KubernetesVersion: e.version.String(),
		Files:             set.Files,
		Errors:            set.Errors,
		Objects:           make([]ObjectResult, len(set.Objects)),
		Skipped:           set.Skipped,
		Rendered:          set.Rendered,
	}
	inv := checks.InventoryOf(set.Objects)
	var run map[objectKey]bool
	if e.cluster != nil {
		run = runKeys(set.Objects)
		e.cluster.addHosts(inv.Hosts, run)
	}
	if slices.ContainsFunc(set.Objects, func(o *manifest.Object) bool { return gatekeeper.IsConstraint(o.Data) }) {
		// Constraints among the inputs are validated against their
		// templates, the inputs' own before the bundle's.
		e.constraintCRDsOnce.Do(func() { e.constraintCRDs = constraintCRDs(e.bundle.Objects) })
		inv.CRDs = append(append(inv.CRDs, constraintCRDs(set.Objects)...), e.constraintCRDs...)
	}
	if e.gatekeeper != nil {
		e.inventoryMu.Lock()
		defer e.inventoryMu.Unlock()
		if err := e.setRunInventory(ctx, set.Objects, run); err != nil {
			return r, err
		}
	}
	var mu sync.Mutex
	var firstErr error
	var failed atomic.Bool
	parallel.For(len(set.Objects), func(i int) {
		if failed.Load() {
			return
		}
		o := set.Objects[i]
		fs, exceptions, err := e.review(ctx, Request{Operation: "CREATE", Object: o}, inv)
		r.Objects[i] = ObjectResult{Object: o.Ref(), File: o.Source.File, Line: o.Source.Line, Findings: fs, Renders: o.Renders}
		mu.Lock()
		r.Exceptions += exceptions
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("%s:%d: %s: %w", o.Source.File, o.Source.Line, o.Ref(), err)
			failed.Store(true)
		}
		mu.Unlock()
	})
	if firstErr != nil {
		return r, firstErr
	}
	r.Objects = mergeAlike(r.Objects)
	r.Combined = append(r.Combined, e.renderFindings(set.Problems)...)
	r.Combined = append(r.Combined, e.BundleFindings()...)
	return r, e.checkCombined(ctx, set, r)
}

// renderFindings reports the sources that could not be rendered under the
// render check, with the bundle's action (a warning problem stays a
// warning).
func (e *Engine) renderFindings(problems []manifest.Problem) []Finding {
	action, ok := e.action(RenderCheck, Deny)
	if !ok || !e.selected(RenderCheck) {
		return nil
	}
	out := make([]Finding, 0, len(problems))
	for _, p := range problems {
		a := action
		if p.Warning && a == Deny {
			a = Warn
		}
		out = append(out, Finding{Check: RenderCheck, Action: a, Message: p.Message, File: p.File, Line: p.Line, Renders: p.Renders})
	}
	return out
}

// BundleFindings are the findings about the bundle itself, under the
// policy-unsupported check: one per bundle file holding policy kinds
// gatekeep does not run, at the file and the line of the first such
// document, warn unless gatekeep.yaml sets another action (none when it
// turns the check off or the run leaves it out). Check reports them; the
// webhook logs them when it loads the bundle.
func (e *Engine) BundleFindings() []Finding {
	action, ok := e.action(UnsupportedCheck, Warn)
	if !ok || !e.selected(UnsupportedCheck) {
		return nil
	}
	var out []Finding
	for _, u := range e.bundle.Unsupported() {
		out = append(out, Finding{Check: UnsupportedCheck, Action: action, Message: u.Message(), File: u.File, Line: u.Line})
	}
	return out
}

// mergeAlike keeps one result of objects that several renders produce
// alike (same object, place and findings: a base shared by overlays),
// naming every render; the first keeps its place.
func mergeAlike(objs []ObjectResult) []ObjectResult {
	seen := make(map[string]int, len(objs))
	out := objs[:0]
	for _, o := range objs {
		if len(o.Renders) == 0 {
			out = append(out, o)
			continue
		}
		key := alikeKey(o)
		if i, ok := seen[key]; ok {
			out[i].Renders = appendRenders(out[i].Renders, o.Renders)
			for j := range out[i].Findings {
				out[i].Findings[j].Renders = out[i].Renders
			}
			continue
		}
		seen[key] = len(out)
		out = append(out, o)
	}
	return out
}

func alikeKey(o ObjectResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\x00%s\x00%d", o.Object, o.File, o.Line)
	for _, f := range o.Findings {
		fmt.Fprintf(&b, "\x00%s\x00%s\x00%s\x00%s\x00%s\x00%d", f.Check, f.Action, f.Path, f.Message, f.File, f.Line)
	}
	return b.String()
}

func appendRenders(a, b []manifest.Render) []manifest.Render {
	out := append([]manifest.Render(nil), a...)
	for _, r := range b {
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out
}

// checkCombined runs the conftest-style policies over every document at
// once (--combine). Their findings name no single object: they are the
// result's Combined findings.
func (e *Engine) checkCombined(ctx context.Context, set *manifest.Set, r *Result) error {
	if e.rego == nil || !e.rego.combine || e.rego.user == nil {
		return nil
	}
	docs := make([]conftest.Document, len(set.Objects))
	for i, o := range set.Objects {
		docs[i] = conftest.Document{Path: o.Source.File, Contents: o.Data}
	}
	evalCtx, cancel := e.evalContext(ctx)
	defer cancel()
	res, err := e.rego.user.ReviewCombined(evalCtx, docs)
	if err != nil {
		var timedOut bool
		r.Combined, timedOut, err = e.timedOut(ctx, evalCtx, r.Combined, nil, e.rego.userRules, err)
		if !timedOut {
			return err
		}
		return nil
	}
	r.Exceptions += res.Exceptions
	r.Combined = e.regoFindings(r.Combined, nil, e.rego.findings(res))
	return nil
}
