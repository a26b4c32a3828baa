package gatekeeper

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestLoadErrors(t *testing.T) {
	b := loadBundle(t, "testdata/errors")
	p, err := New(context.Background(), b.templates, b.constraints)
	if p == nil {
		t.Fatalf("New returned no Policy: %v", err)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %T %v", err, err)
	}
	for _, e := range errs {
		t.Logf("%v", e)
	}
	const tf, cf = "testdata/errors/templates.yaml", "testdata/errors/constraints.yaml"
	want := []struct {
		file string
		line int
		text string // contained in the message
	}{
		{tf, 19, "acmesyntaxerror: rego:"},
		{tf, 37, "undefined function is_forbidden"},
		{tf, 56, "data.kubernetes.namespaces"},
		{tf, 76, "package must be under data.lib"},
		{tf, 91, "must define a violation rule"},
		{tf, 99, "lowercase of the constraint kind AcmeWrongName"},
		{tf, 122, "SomethingElse"},
		{tf, 155, "acmegood is defined twice"},
		{tf, 182, "acmecelerror: cel: Syntax error"},
		{tf, 184, "undeclared reference to 'undefinedThing'"},
		{cf, 2, "no ConstraintTemplate defines kind AcmeMissingTemplate"},
		{cf, 10, "AcmeCompileError has errors"},
		{cf, 22, "names[1]"},
		{cf, 29, `unknown enforcementAction "enforce"`},
		{cf, 40, "unknown fields: [spec.match.namespace]"},
		{cf, 51, "Within"},
		{cf, 65, "AcmeGood/fine is defined twice"},
	}
	found := make([]bool, len(errs))
	for _, w := range want {
		ok := false
		for i, e := range errs {
			if e.File == w.file && e.Line == w.line && strings.Contains(e.Message, w.text) {
				ok, found[i] = true, true
			}
		}
		if !ok {
			t.Errorf("no error at %s:%d containing %q", w.file, w.line, w.text)
		}
	}
	for i, e := range errs {
		if !found[i] {
			t.Errorf("unexpected error: %v", e)
		}
	}
	// What did load still works.
	if got := len(p.Checks()); got != 1 {
		t.Errorf("%d checks loaded, want 1 (AcmeGood/fine)", got)
	}
	vs, rerr := p.Review(context.Background(), Request{Object: obj(t, "{apiVersion: v1, kind: Pod, metadata: {name: forbidden, namespace: x}}")})
	if rerr != nil || len(vs) != 1 || vs[0].Check != "AcmeGood/fine" {
		t.Errorf("review with the partial policy: %v %v", vs, rerr)
	}
}
