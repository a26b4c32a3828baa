package regoeval

import (
	"context"
	"errors"
	"testing"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

func TestOptionsCancelWithContext(t *testing.T) {
	// An evaluation that would run for ever stops when ctx ends.
	q, err := rego.New(rego.Query("numbers.range(1, 1e9)[_] < 0")).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts, stop := Options(ctx)
	defer stop()
	cancel()
	_, err = q.Eval(ctx, opts...)
	var te *topdown.Error
	if !errors.As(err, &te) || te.Code != topdown.CancelErr {
		t.Fatalf("evaluation after cancel: %v, want a cancel error", err)
	}

	opts, stop = Options(context.Background())
	defer stop()
	q, err = rego.New(rego.Query("x := 1 + 1")).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rs, err := q.Eval(context.Background(), opts...)
	if err != nil || len(rs) != 1 {
		t.Fatalf("evaluation: %v %v", rs, err)
	}
}
