package gatekeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	fwtypes "github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"github.com/open-policy-agent/opa/v1/storage"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apiserver/pkg/cel/environment"
)

// CELEngine is the engine name of Kubernetes-native (CEL) code in
// ConstraintTemplates.
const CELEngine = "K8sNativeValidation"

// RegoEngine is the engine name of Rego code in ConstraintTemplates.
const RegoEngine = "Rego"

// celDriver is a drivers.Driver for K8sNativeValidation code, with the
// semantics Gatekeeper gives it (those of a ValidatingAdmissionPolicy whose
// params are the constraint): variables (with Gatekeeper's
// variables.anyObject and variables.params first), matchConditions and
// validations with message or messageExpression, failurePolicy. The CEL
// environment is Kubernetes' own (k8s.io/apiserver/pkg/cel/environment):
// the same libraries (quantity, url, regex, lists, ...) and cost limit.
// Authorizer checks are not available.
type celDriver struct {
	env       *cel.Env
	mu        sync.RWMutex
	templates map[string]*celTemplate // by constraint kind
}

var _ drivers.Driver = (*celDriver)(nil)

type celTemplate struct {
	vars        []celVar
	matches     []celCheck
	validations []celCheck
	// ignore: failurePolicy Ignore (errors do not violate).
	ignore bool
}

type celVar struct {
	name string
	prg  cel.Program
}

type celCheck struct {
	name       string
	expression string
	prg        cel.Program
	message    string
	messagePrg cel.Program // nil without messageExpression
}

// celSource is the source of K8sNativeValidation code.
type celSource struct {
	Validations []struct {
		Expression        string `json:"expression"`
		Message           string `json:"message"`
		MessageExpression string `json:"messageExpression"`
	} `json:"validations"`
	Variables []struct {
		Name       string `json:"name"`
		Expression string `json:"expression"`
	} `json:"variables"`
	MatchCondition  []celNamed `json:"matchCondition"`
	MatchConditions []celNamed `json:"matchConditions"`
	FailurePolicy   *string    `json:"failurePolicy"`
}

type celNamed struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

func newCELDriver() (*celDriver, error) {
	base := environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()).StoredExpressionsEnv()
	env, err := base.Extend(
		cel.Variable("object", cel.DynType),
		cel.Variable("oldObject", cel.DynType),
		cel.Variable("request", cel.DynType),
		cel.Variable("params", cel.DynType),
		cel.Variable("namespaceObject", cel.DynType),
	)
	if err != nil {
		return nil, err
	}
	return &celDriver{env: env, templates: map[string]*celTemplate{}}, nil
}

func (d *celDriver) Name() string { return CELEngine }

// Gatekeeper's own variables, bound before the template's.
var celBuiltinVars = []celNamed{
	{"anyObject", `has(request.operation) && request.operation == "DELETE" && object == null ? oldObject : object`},
	{"params", `!has(params.spec) ? null : !has(params.spec.parameters) ? null: params.spec.parameters`},
}

// AddTemplate compiles a template's CEL code.
func (d *celDriver) AddTemplate(_ context.Context, ct *templates.ConstraintTemplate) error {
	if len(ct.Spec.Targets) != 1 {
		return errors.New("a ConstraintTemplate must declare exactly one target")
	}
	idx, src, err := celCode(&ct.Spec.Targets[0])
	if err != nil {
		return err
	}
	base := fmt.Sprintf("/spec/targets/0/code/%d/source", idx)
	t := &celTemplate{}
	if p := src.FailurePolicy; p != nil {
		switch *p {
		case "Ignore":
			t.ignore = true
		case "Fail":
		default:
			return codeErrors{{Engine: "cel", Field: base + "/failurePolicy", Message: fmt.Sprintf("failurePolicy %q is neither Fail nor Ignore", *p)}}
		}
	}
	var errs codeErrors
	env := d.env
	addVar := func(v celNamed, field string) {
		prg, err := compileCEL(env, v.Expression, field)
		if err != nil {
			errs = append(errs, err...)
		}
		t.vars = append(t.vars, celVar{name: v.Name, prg: prg})
		if e, xerr := env.Extend(cel.Variable("variables."+v.Name, cel.DynType)); xerr == nil {
			env = e
		} else {
			errs = append(errs, &codeError{Engine: "cel", Field: field, Message: xerr.Error()})
		}
	}
	for _, v := range celBuiltinVars {
		addVar(v, base)
	}
	for i, v := range src.Variables {
		field := fmt.Sprintf("%s/variables/%d", base, i)
		if v.Name == "anyObject" || v.Name == "params" {
			errs = append(errs, &codeError{Engine: "cel", Field: field + "/name", Message: fmt.Sprintf("variable name %q is reserved", v.Name)})
			continue
		}
		addVar(celNamed{v.Name, v.Expression}, field+"/expression")
	}
	conds, condKey := src.MatchConditions, "matchConditions"
	if len(src.MatchCondition) > 0 {
		conds, condKey = src.MatchCondition, "matchCondition"
	}
	for i, m := range conds {
		field := fmt.Sprintf("%s/%s/%d/expression", base, condKey, i)
		prg, err := compileCEL(env, m.Expression, field)
		errs = append(errs, err...)
		t.matches = append(t.matches, celCheck{name: m.Name, expression: m.Expression, prg: prg})
	}
	for i, v := range src.Validations {
		field := fmt.Sprintf("%s/validations/%d", base, i)
		prg, err := compileCEL(env, v.Expression, field+"/expression")
		errs = append(errs, err...)
		c := celCheck{expression: v.Expression, prg: prg, message: v.Message}
		if v.MessageExpression != "" {
			c.messagePrg, err = compileCEL(env, v.MessageExpression, field+"/messageExpression")
			errs = append(errs, err...)
		}
		t.validations = append(t.validations, c)
	}
	if len(errs) > 0 {
		return errs
	}
	d.mu.Lock()
	d.templates[ct.Spec.CRD.Spec.Names.Kind] = t
	d.mu.Unlock()
	return nil
}

func celCode(t *templates.Target) (int, *celSource, error) {
	for i, c := range t.Code {
		if c.Engine != CELEngine {
			continue
		}
		var src celSource
		b, err := json.Marshal(c.Source.GetValue())
		if err == nil {
			err = json.Unmarshal(b, &src)
		}
		if err != nil {
			return i, nil, codeErrors{{Engine: "cel", Field: fmt.Sprintf("/spec/targets/0/code/%d/source", i), Message: err.Error()}}
		}
		return i, &src, nil
	}
	return 0, nil, errors.New("no K8sNativeValidation code")
}

func compileCEL(env *cel.Env, expr, field string) (cel.Program, codeErrors) {
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		var errs codeErrors
		for _, e := range iss.Errors() {
			row := e.Location.Line()
			if !strings.Contains(expr, "\n") {
				row = 0
			}
			errs = append(errs, &codeError{Engine: "cel", Field: field, Row: row, Message: e.Message})
		}
		return nil, errs
	}
	prg, err := env.Program(ast)
	if err != nil {
		return nil, codeErrors{{Engine: "cel", Field: field, Message: err.Error()}}
	}
	return prg, nil
}

func (d *celDriver) RemoveTemplate(_ context.Context, ct *templates.ConstraintTemplate) error {
	d.mu.Lock()
	delete(d.templates, ct.Spec.CRD.Spec.Names.Kind)
	d.mu.Unlock()
	return nil
}

// Constraints need no preparation: params is the constraint itself.
func (d *celDriver) AddConstraint(context.Context, *unstructured.Unstructured) error    { return nil }
func (d *celDriver) RemoveConstraint(context.Context, *unstructured.Unstructured) error { return nil }

// CEL code has no inventory.
func (d *celDriver) AddData(context.Context, string, storage.Path, any) error { return nil }
func (d *celDriver) RemoveData(context.Context, string, storage.Path) error   { return nil }

// Query evaluates the matched constraints' CEL code against a review.
func (d *celDriver) Query(ctx context.Context, target string, constraints []*unstructured.Unstructured, rev any, _ ...reviews.ReviewOpt) (*drivers.QueryResponse, error) {
	rv, ok := rev.(*review)
	if !ok {
		return nil, fmt.Errorf("unexpected review type %T", rev)
	}
	// As in Gatekeeper: object is null on DELETE (variables.anyObject has
	// the old object).
	object := any(types.NullValue)
	if rv.object != nil && rv.operation != "DELETE" {
		object = rv.object
	}
	oldObject := any(types.NullValue)
	if rv.oldObject != nil {
		oldObject = rv.oldObject
	}
	nsObject := any(types.NullValue)
	if rv.nsObject != nil {
		nsObject = rv.nsObject
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	var results []*fwtypes.Result
	for _, c := range constraints {
		t := d.templates[c.GetKind()]
		if t == nil {
			return nil, fmt.Errorf("missing template for constraint kind %q", c.GetKind())
		}
		bindings := map[string]any{
			"object":          object,
			"oldObject":       oldObject,
			"request":         rv.doc,
			"params":          c.Object,
			"namespaceObject": nsObject,
		}
		act, err := interpreter.NewActivation(bindings)
		if err != nil {
			return nil, err
		}
		for _, v := range t.vars {
			prg := v.prg
			bindings["variables."+v.name] = func() ref.Val {
				out, _, err := prg.Eval(act)
				if err != nil {
					return types.WrapErr(err)
				}
				return out
			}
		}
		for _, msg := range t.evaluate(ctx, act) {
			results = append(results, &fwtypes.Result{Target: target, Msg: msg, Constraint: c})
		}
	}
	return &drivers.QueryResponse{Results: results}, nil
}

// evaluate returns the messages of the failed validations.
func (t *celTemplate) evaluate(ctx context.Context, act interpreter.Activation) []string {
	for _, m := range t.matches {
		out, _, err := m.prg.ContextEval(ctx, act)
		if err != nil {
			if t.ignore {
				return nil
			}
			return []string{fmt.Sprintf("failed to evaluate match condition %q: %v", m.name, err)}
		}
		if b, ok := out.Value().(bool); !ok {
			if t.ignore {
				return nil
			}
			return []string{fmt.Sprintf("match condition %q must evaluate to bool", m.name)}
		} else if !b {
			return nil
		}
	}
	var msgs []string
	for _, v := range t.validations {
		out, _, err := v.prg.ContextEval(ctx, act)
		if err == nil {
			b, ok := out.Value().(bool)
			if ok && b {
				continue
			}
			if !ok {
				err = fmt.Errorf("validation expression must evaluate to bool")
			}
		}
		if err != nil {
			if !t.ignore {
				msgs = append(msgs, fmt.Sprintf("expression '%v' resulted in error: %v", v.expression, err))
			}
			continue
		}
		msgs = append(msgs, v.failureMessage(ctx, act))
	}
	return msgs
}

func (v *celCheck) failureMessage(ctx context.Context, act interpreter.Activation) string {
	if v.messagePrg != nil {
		out, _, err := v.messagePrg.ContextEval(ctx, act)
		if err == nil {
			if s, ok := out.Value().(string); ok && strings.TrimSpace(s) != "" && !strings.Contains(s, "\n") {
				return s
			}
		}
	}
	if v.message != "" {
		return v.message
	}
	return "failed expression: " + strings.TrimSpace(v.expression)
}

func (d *celDriver) Dump(context.Context) (string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	kinds := make([]string, 0, len(d.templates))
	for k := range d.templates {
		kinds = append(kinds, k)
	}
	b, err := json.Marshal(kinds)
	return string(b), err
}

func (d *celDriver) GetDescriptionForStat(name string) (string, error) {
	return "", fmt.Errorf("unknown stat %q", name)
}
