package engine

import (
	"context"
	"sort"

	"github.com/gatekeep-dev/gatekeep/checks"
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

// Summary counts the result's objects by verdict.
func (r *Result) Summary() Summary {
	s := Summary{Files: r.Files, Objects: len(r.Objects), Exceptions: r.Exceptions}
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
	var out []Finding
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
// as CI does.
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
	for i, o := range set.Objects {
		if i%256 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
		fs, err := e.Review(ctx, Request{Operation: "CREATE", Object: o}, inv)
		if err != nil {
			return r, err
		}
		r.Objects[i] = ObjectResult{Object: o.Ref(), File: o.Source.File, Line: o.Source.Line, Findings: fs}
	}
	return r, nil
}
