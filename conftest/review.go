package conftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/gatekeep-dev/gatekeep/internal/regoeval"
)

// Review runs the policies over one object (input in Rego); input is read,
// neither changed nor kept. A message that is neither a string nor an
// object with a string msg, or a rule whose value is not a set or array of
// messages, is an error, and the Result still holds the other messages. An
// evaluation error (a conflict, a cancelled ctx) is an error, with the
// policy's file and line when it has them.
func (p *Policies) Review(ctx context.Context, input map[string]any) (Result, error) {
	v, err := toValue(input)
	if err != nil {
		return Result{}, fmt.Errorf("input: %w", err)
	}
	return p.eval(ctx, v)
}

// ReviewValue is Review for an input that is a Rego value already.
func (p *Policies) ReviewValue(ctx context.Context, input ast.Value) (Result, error) {
	return p.eval(ctx, input)
}

// ReviewCombined runs the policies over every document at once, as
// conftest's --combine: input is the list of {"path": ..., "contents": ...}
// in path order (documents of one file keep their order).
func (p *Policies) ReviewCombined(ctx context.Context, docs []Document) (Result, error) {
	sorted := make([]Document, len(docs))
	copy(sorted, docs)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	terms := make([]*ast.Term, len(sorted))
	for i, d := range sorted {
		c, err := toValue(d.Contents)
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", d.Path, err)
		}
		terms[i] = ast.ObjectTerm(
			ast.Item(ast.InternedTerm("path"), ast.StringTerm(d.Path)),
			ast.Item(ast.InternedTerm("contents"), ast.NewTerm(c)),
		)
	}
	return p.eval(ctx, ast.NewArray(terms...))
}

func (p *Policies) eval(ctx context.Context, input ast.Value) (Result, error) {
	var res Result
	if !p.hasQuery {
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("evaluating policies: %w", err)
	}
	opts, stop := regoeval.Options(ctx)
	rs, err := p.query.Eval(ctx, append(opts, rego.EvalParsedInput(input))...)
	stop()
	if err != nil {
		if ctx.Err() != nil {
			return res, fmt.Errorf("evaluating policies: %w", ctx.Err())
		}
		return res, asErrors(err)
	}
	if len(rs) != 1 {
		return res, fmt.Errorf("conftest: the query gave %d results, want 1", len(rs))
	}
	out, ok := rs[0].Bindings[outVar].([]any)
	if !ok {
		return res, fmt.Errorf("conftest: the query gave %T", rs[0].Bindings[outVar])
	}
	var errs []error
	for _, ns := range p.namespaces {
		if len(ns.rules) == 0 {
			continue
		}
		var exceptions map[string]int
		if ns.exception >= 0 {
			names, _ := out[ns.exception].([]any)
			for _, n := range names {
				if s, ok := n.(string); ok {
					if exceptions == nil {
						exceptions = map[string]int{}
					}
					exceptions[s]++
				}
			}
		}
		for _, r := range ns.rules {
			// As conftest: an exception naming the rule is counted whether
			// or not the rule fired, and silences it.
			if n := exceptions[r.exception]; n > 0 {
				res.Exceptions += n
				continue
			}
			v := out[r.index]
			if r.wrapped {
				vals, _ := v.([]any)
				if len(vals) == 0 {
					continue // undefined
				}
				v = vals[0]
			}
			msgs, ok := v.([]any)
			if !ok {
				errs = append(errs, fmt.Errorf("%s is %s, not a set of messages", r.check, describe(v)))
				continue
			}
			for _, m := range msgs {
				f, err := finding(r.check, m)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if r.failure {
					res.Failures = append(res.Failures, f)
				} else {
					res.Warnings = append(res.Warnings, f)
				}
			}
		}
	}
	sortFindings(res.Failures)
	sortFindings(res.Warnings)
	if len(errs) > 0 {
		return res, errors.Join(errs...)
	}
	return res, nil
}

// finding reads a message as conftest does: a string, or an object with a
// string msg whose other fields are metadata.
func finding(check string, m any) (Finding, error) {
	switch m := m.(type) {
	case string:
		return Finding{Check: check, Message: m}, nil
	case map[string]any:
		msg, ok := m["msg"].(string)
		if !ok {
			return Finding{}, fmt.Errorf("%s: message %s has no string msg field", check, describe(m))
		}
		f := Finding{Check: check, Message: msg}
		for k, v := range m {
			if k == "msg" {
				continue
			}
			if f.Metadata == nil {
				f.Metadata = make(map[string]any, len(m)-1)
			}
			f.Metadata[k] = v
		}
		return f, nil
	}
	return Finding{}, fmt.Errorf("%s: message %s is neither a string nor an object with msg", check, describe(m))
}

func describe(v any) string {
	t, err := ast.InterfaceToValue(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	s := t.String()
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return ast.ValueName(t) + " " + s
}

func sortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Check != fs[j].Check {
			return fs[i].Check < fs[j].Check
		}
		return fs[i].Message < fs[j].Message
	})
}

// toValue gives OPA an object: one that converts the fields a policy reads
// as it reads them, when every value is of a type JSON decodes to (the
// lazy object cannot report conversion errors), else a converted copy.
func toValue(m map[string]any) (ast.Value, error) {
	if m == nil {
		return ast.NewObject(), nil
	}
	if jsonTyped(m) {
		return ast.LazyObject(m), nil
	}
	return ast.InterfaceToValue(m)
}

func jsonTyped(v any) bool {
	switch v := v.(type) {
	case nil, string, bool, float64, int, int64, json.Number:
		return true
	case map[string]any:
		for _, x := range v {
			if !jsonTyped(x) {
				return false
			}
		}
		return true
	case []any:
		for _, x := range v {
			if !jsonTyped(x) {
				return false
			}
		}
		return true
	}
	return false
}
