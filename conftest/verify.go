package conftest

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestStatus is the outcome of one Rego test.
type TestStatus string

// The outcomes of a test.
const (
	TestPass  TestStatus = "pass"
	TestFail  TestStatus = "fail"
	TestError TestStatus = "error"
	TestSkip  TestStatus = "skip"
)

// TestReport is the outcome of a bundle's Rego tests.
type TestReport struct {
	// Tests in file and line order.
	Tests                            []TestResult
	Passed, Failed, Errored, Skipped int
}

// OK reports whether no test failed or errored.
func (r *TestReport) OK() bool { return r.Failed == 0 && r.Errored == 0 }

// TestResult is one test rule's outcome.
type TestResult struct {
	Package  string // "main"
	Name     string // "test_deny_latest_tag"
	Status   TestStatus
	Duration time.Duration
	File     string
	Line     int
	// Message says why the test failed (the expression that was false) or
	// errored.
	Message string
	// Output is what the test print()ed.
	Output string
}

// TestTimeout bounds each test, as opa test's default --timeout.
const TestTimeout = 5 * time.Second

// RunTests runs the test rules (test_*, todo_test_* skipped) of modules as
// `opa test` does: every file is compiled, tests included, with data as the
// data document; tests may replace input, data and functions with `with`.
// Options are Load's (RegoVersion, AllowNetwork; namespaces do not limit
// tests). Compile errors are returned as Errors.
func RunTests(ctx context.Context, modules []File, data map[string]any, opts ...Option) (*TestReport, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	parsed, err := parseFiles(modules, cfg.version)
	if err != nil {
		return nil, err
	}
	store, err := newStore(data)
	if err != nil {
		return nil, err
	}
	compiler := newCompiler(capabilities(cfg.network), true)
	runner := tester.NewRunner().
		SetCompiler(compiler).
		SetStore(store).
		SetModules(parsed).
		CapturePrintOutput(true).
		EnableTracing(true).
		SetTimeout(TestTimeout).
		SetParallel(runtime.GOMAXPROCS(0))
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return nil, asErrors(err)
	}
	report := &TestReport{}
	for r := range ch {
		t := TestResult{
			Package:  strings.TrimPrefix(r.Package, "data."),
			Name:     r.Name,
			Duration: r.Duration,
			Output:   string(r.Output),
		}
		if r.Location != nil {
			t.File, t.Line = r.Location.File, r.Location.Row
		}
		switch {
		case r.Error != nil:
			t.Status = TestError
			t.Message = asErrors(r.Error).Error()
			report.Errored++
		case r.Skip:
			t.Status = TestSkip
			report.Skipped++
		case r.Fail:
			t.Status = TestFail
			t.Message = "test failed"
			if e := failedAt(r); e != nil {
				t.Message = fmt.Sprintf("failed at %s:%d: %s", e.Location.File, e.Location.Row, e.Location.Text)
			}
			report.Failed++
		default:
			t.Status = TestPass
			report.Passed++
		}
		report.Tests = append(report.Tests, t)
	}
	if err := ctx.Err(); err != nil {
		return report, err
	}
	sort.Slice(report.Tests, func(i, j int) bool {
		a, b := report.Tests[i], report.Tests[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Name < b.Name
	})
	return report, nil
}

// failedAt finds the expression of a failed test's body that was false:
// the last one of the test rule to fail in the trace.
func failedAt(r *tester.Result) *ast.Expr {
	if r.Location == nil {
		return nil
	}
	first := r.Location.Row
	last := first + bytes.Count(r.Location.Text, []byte("\n"))
	var found *ast.Expr
	for _, ev := range r.Trace {
		if ev.Op != topdown.FailOp {
			continue
		}
		e, ok := ev.Node.(*ast.Expr)
		if !ok || e.Location == nil || e.Location.File != r.Location.File || e.Location.Row < first || e.Location.Row > last {
			continue
		}
		found = e
	}
	return found
}
