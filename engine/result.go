package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/conftest"
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
	// Combined are findings about the documents taken together (conftest's
	// --combine), which name no single object.
	Combined []Finding
}

// ObjectResult is one object and its findings.
type ObjectResult struct {
	Object   manifest.Ref
	File     string
	Line     int
	Findings []Finding
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
}

// Summary counts the result's objects by verdict; a combined finding
// counts as one more denial or warning.
func (r *Result) Summary() Summary {
	s := Summary{Files: r.Files, Objects: len(r.Objects), Exceptions: r.Exceptions}
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
	}
	inv := checks.InventoryOf(set.Objects)
	if e.gatekeeper != nil {
		e.inventoryMu.Lock()
		defer e.inventoryMu.Unlock()
		if err := e.setRunInventory(ctx, set.Objects); err != nil {
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
		r.Objects[i] = ObjectResult{Object: o.Ref(), File: o.Source.File, Line: o.Source.Line, Findings: fs}
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
	return r, e.checkCombined(ctx, set, r)
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
	res, err := e.rego.user.ReviewCombined(ctx, docs)
	if err != nil {
		return err
	}
	r.Exceptions += res.Exceptions
	r.Combined = e.regoFindings(nil, nil, e.rego.findings(res))
	return nil
}
