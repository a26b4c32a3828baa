package engine

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/gatekeeper"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// networkBuiltins are the Rego built-ins that reach out of the machine;
// templates may not use them unless the bundle allows the network.
var networkBuiltins = []string{"http.send", "net.lookup_ip_addr", "opa.runtime"}

// loadGatekeeper compiles the bundle's ConstraintTemplates and Constraints
// (nil when it has none).
func loadGatekeeper(ctx context.Context, b *bundle.Bundle, mode Mode) (*gatekeeper.Policy, error) {
	var templates, constraints, expansions []gatekeeper.Document
	for _, o := range b.Objects {
		switch {
		case gatekeeper.IsTemplate(o.Data):
			templates = append(templates, gatekeeper.DocumentOf(o))
		case gatekeeper.IsConstraint(o.Data):
			constraints = append(constraints, gatekeeper.DocumentOf(o))
		case gatekeeper.IsExpansionTemplate(o.Data):
			expansions = append(expansions, gatekeeper.DocumentOf(o))
		}
	}
	if len(templates) == 0 && len(constraints) == 0 {
		return nil, nil
	}
	opts := []gatekeeper.Option{gatekeeper.WithExpansionTemplates(expansions...)}
	switch mode {
	case Admission:
		// Admission reviews repeat (a ReplicaSet's Pods); a CI run's
		// objects mostly do not.
		opts = append(opts, gatekeeper.WithEnforcementPoint(gatekeeper.WebhookEnforcementPoint), gatekeeper.WithVerdictCache(admissionVerdicts))
	case Audit:
		// So do a cluster's (every replica of every ReplicaSet).
		opts = append(opts, gatekeeper.WithEnforcementPoint(gatekeeper.AuditEnforcementPoint), gatekeeper.WithVerdictCache(admissionVerdicts))
	default:
		opts = append(opts, gatekeeper.WithEnforcementPoint(gatekeeper.GatorEnforcementPoint))
	}
	if !b.Config.AllowNetwork {
		opts = append(opts, gatekeeper.WithDisabledBuiltins(networkBuiltins...))
	}
	return gatekeeper.New(ctx, templates, constraints, opts...)
}

// constraintCRDs makes the CRD of each ConstraintTemplate among objs, as
// Gatekeeper would, so that the schema check validates their constraints'
// parameters against the templates' schemas. A template that does not
// load has none (the Gatekeeper check reports it, when it is policy).
func constraintCRDs(objs []*manifest.Object) []map[string]any {
	var out []map[string]any
	for _, o := range objs {
		if !gatekeeper.IsTemplate(o.Data) {
			continue
		}
		if crd, err := gatekeeper.ConstraintCRD(o.Data); err == nil {
			out = append(out, crd)
		}
	}
	return out
}

// admissionVerdicts is the size of the webhook's verdict cache
// generations: a thousand or two (constraint, object shape) verdicts.
// admissionValues is that of its Rego values: the specs of a few hundred
// ReplicaSets rolling at once.
const (
	admissionVerdicts = 1024
	admissionValues   = 256
)

// gatekeeperFindings reviews one request with the bundle's constraints,
// appending the findings to out; value is the object as a Rego value.
func (e *Engine) gatekeeperFindings(ctx context.Context, out []Finding, req Request, value ast.Value) ([]Finding, error) {
	o := req.Object
	r := gatekeeper.Request{Object: o.Data, Operation: req.Operation, DryRun: req.DryRun, Admission: req.Admission, ObjectValue: value}
	if req.OldObject != nil {
		r.OldObject = req.OldObject.Data
	}
	if req.Namespace != nil {
		r.Namespace = req.Namespace.Data
	}
	if req.UserInfo != nil && req.Admission == nil { // else the request's own is read
		if b, err := json.Marshal(req.UserInfo); err == nil {
			_ = json.Unmarshal(b, &r.UserInfo)
		}
	}
	if e.mode != Admission {
		r.Operation = "" // as gator and Gatekeeper's audit: objects, not requests
	}
	vs, err := e.gatekeeper.Review(ctx, r)
	if err != nil {
		return out, err
	}
	rfs := make([]regoFinding, 0, len(vs))
	for _, v := range vs {
		if v.Action == gatekeeper.Off {
			continue
		}
		rfs = append(rfs, regoFinding{check: v.Check, action: Action(v.Action), message: v.Message, path: v.Path})
	}
	return e.regoFindings(out, o, rfs), nil
}

// AddInventory puts objects into data.inventory, as Gatekeeper's sync does
// (the webhook calls it for the kinds gatekeep.yaml syncs).
func (e *Engine) AddInventory(ctx context.Context, objs ...map[string]any) error {
	if e.gatekeeper == nil || len(objs) == 0 {
		return nil
	}
	return e.gatekeeper.AddInventory(ctx, objs...)
}

// RemoveInventory takes objects out of data.inventory.
func (e *Engine) RemoveInventory(ctx context.Context, objs ...map[string]any) error {
	if e.gatekeeper == nil || len(objs) == 0 {
		return nil
	}
	return e.gatekeeper.RemoveInventory(ctx, objs...)
}

// setRunInventory makes every object of a CI run the inventory, with the
// cluster's objects (ClusterInventory) the run does not replace; run are
// the run's keys (nil without a cluster inventory).
func (e *Engine) setRunInventory(ctx context.Context, objs []*manifest.Object, run map[objectKey]bool) error {
	if e.gatekeeper == nil {
		return nil
	}
	if err := e.gatekeeper.ClearInventory(ctx); err != nil {
		return err
	}
	var data []map[string]any
	if e.cluster != nil {
		data = e.cluster.objectsBesides(run)
	}
	data = slices.Grow(data, len(objs))
	for _, o := range objs {
		data = append(data, o.Data)
	}
	return e.gatekeeper.AddInventory(ctx, data...)
}

// UsesAdmissionRequest reports whether the engine reads the whole admission
// request (Gatekeeper's input.review), so the webhook passes it.
func (e *Engine) UsesAdmissionRequest() bool { return e.gatekeeper != nil }
