// Package regoeval holds the evaluation options every prepared Rego query
// of gatekeep uses.
package regoeval

import (
	"context"

	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

var noMetrics = metrics.NoOp()

// Options returns the options of one evaluation under ctx, and stop, to
// call once it is over. Left to itself, rego starts a goroutine per
// evaluation to watch ctx and records metrics of each: an admission
// review runs thousands of evaluations a second, so ctx is watched by a
// callback instead and no metrics are kept.
func Options(ctx context.Context) (opts []rego.EvalOption, stop func()) {
	cancel := topdown.NewCancel()
	unwatch := context.AfterFunc(ctx, cancel.Cancel)
	return []rego.EvalOption{rego.EvalExternalCancel(cancel), rego.EvalMetrics(noMetrics)}, func() { unwatch() }
}
