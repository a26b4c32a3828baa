package gatekeeper

import (
	"context"
	"fmt"

	apiconstraints "github.com/open-policy-agent/frameworks/constraint/pkg/apis/constraints"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
	clienterrors "github.com/open-policy-agent/frameworks/constraint/pkg/client/errors"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/constraints"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	"github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// reviewer does what the frameworks client's Review does for a Policy:
// templates skipped at the webhook for their operations, constraints with
// no action at the enforcement point skipped, matchers run, the matched
// constraints queried per driver, results given their constraint's
// actions, matchers' errors turned into autorejections, drivers' errors
// reported as the client reports them. It does so without the client's
// per-review bookkeeping (maps of matches per template and per constraint,
// action keys formatted per constraint and per result), which costs more
// than matching itself. The client stays the keeper of templates and
// constraints, and Policy reviews through it with the optimizations off.
type reviewer struct {
	webhook   bool // at the webhook enforcement point: templates match operations
	templates []reviewTemplate
	drivers   []drivers.Driver
	// actions are the actions of each constraint given to the drivers.
	actions map[*unstructured.Unstructured]*reviewConstraint
}

type reviewTemplate struct {
	operations  []string // the target's operations; empty for all
	driver      int      // index in reviewer.drivers
	constraints []*reviewConstraint
}

type reviewConstraint struct {
	u       *unstructured.Unstructured
	matcher constraints.Matcher
	action  string
	scoped  []string // the scoped actions at the enforcement point
}

func newReviewer(ep string) *reviewer {
	return &reviewer{webhook: ep == apiconstraints.WebhookEnforcementPoint, actions: map[*unstructured.Unstructured]*reviewConstraint{}}
}

// addTemplate registers a template the client holds, and the driver that
// runs it; it returns the template's index.
func (r *reviewer) addTemplate(ct *templates.ConstraintTemplate, d drivers.Driver) int {
	di := -1
	for i, x := range r.drivers {
		if x == d {
			di = i
		}
	}
	if di < 0 {
		di = len(r.drivers)
		r.drivers = append(r.drivers, d)
	}
	var ops []string
	if len(ct.Spec.Targets) == 1 {
		for _, op := range ct.Spec.Targets[0].Operations {
			ops = append(ops, string(op))
		}
	}
	r.templates = append(r.templates, reviewTemplate{operations: ops, driver: di})
	return len(r.templates) - 1
}

// addConstraint registers a constraint the client holds (with the defaults
// the client gave it), as the client's template client does.
func (r *reviewer) addConstraint(t int, u *unstructured.Unstructured, target *k8sTarget, ep string) error {
	m, err := target.ToMatcher(u)
	if err != nil {
		return err
	}
	action, err := apiconstraints.GetEnforcementAction(u)
	if err != nil {
		return err
	}
	c := &reviewConstraint{u: u, matcher: m, action: action}
	if apiconstraints.IsEnforcementActionScoped(action) {
		byEP, err := apiconstraints.GetEnforcementActionsForEP(u, []string{ep})
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, a := range byEP[ep] {
			if !seen[a] {
				seen[a] = true
				c.scoped = append(c.scoped, a)
			}
		}
		if len(c.scoped) == 0 {
			return nil // nothing to do at this enforcement point
		}
	}
	r.templates[t].constraints = append(r.templates[t].constraints, c)
	r.actions[u] = c
	return nil
}

func operationMatches(ops []string, op string) bool {
	if len(ops) == 0 {
		return true
	}
	for _, o := range ops {
		if o == op || o == "*" {
			return true
		}
	}
	return false
}

// review judges a review with every constraint that matches it.
func (r *reviewer) review(ctx context.Context, rv *review) ([]*types.Result, error) {
	byDriver := make([][]*unstructured.Unstructured, len(r.drivers))
	var autorejections []*types.Result
	op := string(rv.ar.Operation)
	for i := range r.templates {
		t := &r.templates[i]
		if r.webhook && !operationMatches(t.operations, op) {
			continue
		}
		for _, c := range t.constraints {
			if m, isOurs := c.matcher.(*matcher); isOurs && !m.mayMatch(rv) {
				continue
			}
			ok, err := c.matcher.Match(rv)
			switch {
			case err != nil:
				autorejections = append(autorejections, &types.Result{
					Msg:                      fmt.Errorf("%w: %v", clienterrors.ErrAutoreject, err).Error(),
					Constraint:               c.u,
					EnforcementAction:        c.action,
					ScopedEnforcementActions: c.scoped,
				})
			case ok:
				byDriver[t.driver] = append(byDriver[t.driver], c.u)
			}
		}
	}
	var results []*types.Result
	var errs clienterrors.ErrorMap
	for i, d := range r.drivers {
		cs := byDriver[i]
		if len(cs) == 0 {
			continue
		}
		qr, err := d.Query(ctx, TargetName, cs, rv)
		if err != nil {
			if errs == nil {
				errs = clienterrors.ErrorMap{}
			}
			errs.Add(d.Name(), err)
			continue
		}
		if qr != nil {
			results = append(results, qr.Results...)
		}
	}
	if errs != nil {
		all := clienterrors.ErrorMap{TargetName: &errs}
		return nil, &all
	}
	for _, res := range results {
		if c := r.actions[res.Constraint]; c != nil {
			res.EnforcementAction = c.action
			res.ScopedEnforcementActions = c.scoped
		}
	}
	return append(results, autorejections...), nil
}
