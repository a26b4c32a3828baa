package gatekeeper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	fwtypes "github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/drivers/k8scel"
	celschema "github.com/open-policy-agent/gatekeeper/v3/pkg/drivers/k8scel/schema"
	"github.com/open-policy-agent/gatekeeper/v3/pkg/drivers/k8scel/transform"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	admissioncel "k8s.io/apiserver/pkg/admission/plugin/cel"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"

	"github.com/gatekeep-dev/gatekeep/internal/gencache"
)

// CELEngine is the engine name of Kubernetes-native (CEL) code in
// ConstraintTemplates.
const CELEngine = celschema.Name

// RegoEngine is the engine name of Rego code in ConstraintTemplates.
const RegoEngine = "Rego"

// celDriver runs K8sNativeValidation code with Gatekeeper's own driver
// (github.com/open-policy-agent/gatekeeper/v3/pkg/drivers/k8scel, the one
// gator and Gatekeeper run), so that CEL templates mean here exactly what
// they mean there: Kubernetes' ValidatingAdmissionPolicy evaluator, its
// CEL environment and libraries, Gatekeeper's variables.anyObject and
// variables.params. Two things are added around it:
//   - compile errors. The driver cannot report them (a template with a
//     broken expression loads, and denies everything it matches with the
//     compiler's message); AddTemplate compiles the code first, the same
//     way, and refuses the template with each error's field and line.
//   - the review's Namespace, which the driver reads as namespaceObject.
//
// A lazy driver gives a template to Gatekeeper's driver only when a
// constraint of it is first queried: building its evaluator costs more
// than a CI run's reviews with it, and most of a library's templates
// match no object of a given repository.
type celDriver struct {
	*k8scel.Driver
	lazy bool
	// verdicts, if set, answers reviews that repeat what a template
	// reads (see celVerdicts).
	verdicts *celVerdicts

	mu      sync.Mutex
	pending map[string]*pendingTemplate // by template name
}

type pendingTemplate struct {
	once sync.Once
	ct   *templates.ConstraintTemplate
	err  error
}

var _ drivers.Driver = (*celDriver)(nil)

// newCELDriver returns a driver; a lazy one compiles templates when
// first queried, and with verdicts > 0 one keeps up to about 2*verdicts
// verdicts.
func newCELDriver(lazy bool, verdicts int) (*celDriver, error) {
	d, err := k8scel.New()
	if err != nil {
		return nil, fmt.Errorf("K8sNativeValidation driver: %w", err)
	}
	cd := &celDriver{Driver: d, lazy: lazy, pending: map[string]*pendingTemplate{}}
	if verdicts > 0 {
		cd.verdicts = &celVerdicts{reads: map[string]celTemplateReads{}, verdicts: gencache.New[celKey, *celVerdict](verdicts, verdictsWeight)}
	}
	return cd, nil
}

// AddTemplate checks the template's CEL code, then gives it to the driver
// (a lazy one, when first queried).
func (d *celDriver) AddTemplate(ctx context.Context, ct *templates.ConstraintTemplate) error {
	if err := checkCEL(ct); err != nil {
		return err
	}
	if d.verdicts != nil {
		decide, messages, ok := celReads(ct)
		d.verdicts.mu.Lock()
		if ok {
			d.verdicts.reads[ct.GetName()] = celTemplateReads{decide: celPaths(decide), messages: celPaths(messages)}
		} else {
			delete(d.verdicts.reads, ct.GetName())
		}
		d.verdicts.mu.Unlock()
	}
	if d.lazy {
		d.mu.Lock()
		d.pending[ct.GetName()] = &pendingTemplate{ct: ct}
		d.mu.Unlock()
		return nil
	}
	return d.Driver.AddTemplate(ctx, ct)
}

// RemoveTemplate forgets a template, added or pending.
func (d *celDriver) RemoveTemplate(ctx context.Context, ct *templates.ConstraintTemplate) error {
	d.mu.Lock()
	delete(d.pending, ct.GetName())
	d.mu.Unlock()
	if d.verdicts != nil {
		d.verdicts.mu.Lock()
		delete(d.verdicts.reads, ct.GetName())
		d.verdicts.mu.Unlock()
	}
	return d.Driver.RemoveTemplate(ctx, ct)
}

// templateOf is the name of a constraint's template: its kind, lowercased,
// as Gatekeeper's driver finds it.
func templateOf(c *unstructured.Unstructured) string { return strings.ToLower(c.GetKind()) }

// ready gives the driver the pending templates of constraints.
func (d *celDriver) ready(ctx context.Context, constraints []*unstructured.Unstructured) error {
	for _, c := range constraints {
		name := templateOf(c)
		d.mu.Lock()
		p := d.pending[name]
		d.mu.Unlock()
		if p == nil {
			continue
		}
		p.once.Do(func() { p.err = d.Driver.AddTemplate(ctx, p.ct) })
		if p.err != nil {
			return fmt.Errorf("ConstraintTemplate %s: %w", name, p.err)
		}
	}
	return nil
}

// Query evaluates the matched constraints' CEL code against a review.
func (d *celDriver) Query(ctx context.Context, target string, constraints []*unstructured.Unstructured, rev any, opts ...reviews.ReviewOpt) (*drivers.QueryResponse, error) {
	if d.lazy {
		if err := d.ready(ctx, constraints); err != nil {
			return nil, err
		}
	}
	rv, ok := rev.(*review)
	if !ok {
		return d.Driver.Query(ctx, target, constraints, rev, opts...)
	}
	if rv.nsObject != nil {
		opts = append(opts, reviews.Namespace(rv.nsObject))
	}
	if d.verdicts == nil {
		return d.query(ctx, target, constraints, rv, opts)
	}
	return d.queryCached(ctx, target, constraints, rv, opts)
}

// query asks Gatekeeper's driver, with the review as an AdmissionRequest
// (made only now: the verdicts may answer without it).
func (d *celDriver) query(ctx context.Context, target string, constraints []*unstructured.Unstructured, rv *review, opts []reviews.ReviewOpt) (*drivers.QueryResponse, error) {
	if err := rv.admissionRequestErr(); err != nil {
		return nil, err
	}
	return d.Driver.Query(ctx, target, constraints, rv, opts...)
}

// queryCached answers from the verdicts what it can, and queries the
// driver for the rest.
func (d *celDriver) queryCached(ctx context.Context, target string, constraints []*unstructured.Unstructured, rv *review, opts []reviews.ReviewOpt) (*drivers.QueryResponse, error) {
	term, err := rv.term()
	if err != nil {
		return nil, err
	}
	resp := &drivers.QueryResponse{}
	var queried []*unstructured.Unstructured
	var misses []celLookup
	seen := map[string]celValue{}
	for _, c := range constraints {
		l := d.verdicts.lookup(c, templateOf(c), term, seen)
		if l.ok {
			if msgs, hit := d.verdicts.get(l); hit {
				for _, m := range msgs {
					resp.Results = append(resp.Results, &fwtypes.Result{Target: target, Msg: m, Constraint: c})
				}
				continue
			}
		}
		queried = append(queried, c)
		misses = append(misses, l)
	}
	if len(queried) == 0 {
		return resp, nil
	}
	qr, err := d.query(ctx, target, queried, rv, opts)
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		// An evaluation cut short says so in its messages: never a
		// verdict to keep.
		resp.Results = append(resp.Results, qr.Results...)
		return resp, nil
	}
	byConstraint := map[*unstructured.Unstructured][]string{}
	for _, r := range qr.Results {
		byConstraint[r.Constraint] = append(byConstraint[r.Constraint], r.Msg)
	}
	for i, c := range queried {
		if misses[i].ok {
			d.verdicts.put(misses[i], byConstraint[c])
		}
	}
	resp.Results = append(resp.Results, qr.Results...)
	resp.StatsEntries = qr.StatsEntries
	return resp, nil
}

// checkCEL compiles a template's K8sNativeValidation code as the driver
// will (the same compiler, environment, variables and declarations), and
// returns every compile error with the field it is in.
func checkCEL(ct *templates.ConstraintTemplate) error {
	if len(ct.Spec.Targets) != 1 {
		return errors.New("a ConstraintTemplate must declare exactly one target")
	}
	idx := -1
	for i, c := range ct.Spec.Targets[0].Code {
		if c.Engine == CELEngine {
			idx = i
			break
		}
	}
	if idx < 0 {
		return errors.New("no K8sNativeValidation code")
	}
	base := fmt.Sprintf("/spec/targets/0/code/%d/source", idx)
	src, err := celschema.GetSource(ct.Spec.Targets[0].Code[idx])
	if err != nil {
		return codeErrors{{Engine: "cel", Field: base, Message: err.Error()}}
	}
	if _, err := src.GetFailurePolicy(); err != nil {
		return codeErrors{{Engine: "cel", Field: base + "/failurePolicy", Message: err.Error()}}
	}
	compiler, err := admissioncel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
	if err != nil {
		return err
	}
	var errs codeErrors
	check := func(res admissioncel.CompilationResult, expr, field string) {
		if res.Error != nil {
			errs = append(errs, celErrors(res.Error, expr, field)...)
		}
	}
	// As the driver: variables see params, conditions only variables.
	withParams := admissioncel.OptionalVariableDeclarations{HasParams: true}
	for _, v := range transform.AllVariablesCEL() {
		check(compiler.CompileAndStoreVariable(v, withParams, environment.StoredExpressions), v.GetExpression(), base)
	}
	vars, err := src.GetVariables()
	if err != nil {
		return codeErrors{{Engine: "cel", Field: base + "/variables", Message: err.Error()}}
	}
	for i, v := range vars {
		check(compiler.CompileAndStoreVariable(v, withParams, environment.StoredExpressions), v.GetExpression(), fmt.Sprintf("%s/variables/%d/expression", base, i))
	}
	none := admissioncel.OptionalVariableDeclarations{}
	conds, err := src.GetMatchConditions()
	if err != nil {
		return codeErrors{{Engine: "cel", Field: base + "/matchCondition", Message: err.Error()}}
	}
	for i, c := range conds {
		check(compiler.CompileCELExpression(c, none, environment.StoredExpressions), c.GetExpression(), fmt.Sprintf("%s/matchCondition/%d/expression", base, i))
	}
	validations, _ := src.GetValidations()
	messages, _ := src.GetMessageExpressions()
	for i, v := range validations {
		field := fmt.Sprintf("%s/validations/%d", base, i)
		check(compiler.CompileCELExpression(v, none, environment.StoredExpressions), v.GetExpression(), field+"/expression")
		if i < len(messages) && messages[i] != nil {
			check(compiler.CompileCELExpression(messages[i], none, environment.StoredExpressions), messages[i].GetExpression(), field+"/messageExpression")
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// celErrors turns a compile error into one codeError per CEL issue, with
// its row when the expression has several lines.
func celErrors(e *apiservercel.Error, expr, field string) codeErrors {
	var ce *apiservercel.CompilationError
	if !errors.As(e.Cause, &ce) || ce.Issues == nil {
		return codeErrors{{Engine: "cel", Field: field, Message: e.Detail}}
	}
	var errs codeErrors
	for _, x := range ce.Issues.Errors() {
		row := x.Location.Line()
		if !strings.Contains(expr, "\n") {
			row = 0
		}
		errs = append(errs, &codeError{Engine: "cel", Field: field, Row: row, Message: x.Message})
	}
	return errs
}
