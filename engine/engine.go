// Package engine runs a policy bundle's checks over objects. It is the one
// place verdicts are made: gatekeep check calls it for a repository, the
// webhook for one admission request.
package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/gatekeeper"
	"github.com/gatekeep-dev/gatekeep/internal/regovalue"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/reviewapp"
	"github.com/gatekeep-dev/gatekeep/scanner"
	"github.com/gatekeep-dev/gatekeep/secrets"
)

// Action is what a finding does: deny, warn or dryrun.
type Action = bundle.Action

// The actions a finding can carry.
const (
	Deny   = bundle.Deny
	Warn   = bundle.Warn
	DryRun = bundle.DryRun
)

// Finding is one problem with one object.
type Finding struct {
	Check   string
	Action  Action
	Message string
	Object  manifest.Ref
	// Path is the JSON pointer of the offending field ("" for the object).
	Path string
	// File and Line locate the field (or the object) in CI; empty in the
	// cluster.
	File string
	Line int
	// Renders are the renders that produced the object (CI): an Argo CD
	// application, a kustomization, a Helm chart. A finding several
	// renders produce alike is reported once, naming them all.
	Renders []manifest.Render
}

// RenderCheck is the ID of the findings about sources that could not be
// rendered (a Helm error, a missing dependency, an offline remote base, a
// kustomize error or cycle): deny unless gatekeep.yaml lowers it.
const RenderCheck = "render"

// UnsupportedCheck is the ID of the findings about policy kinds in the
// bundle that gatekeep does not run (Gatekeeper mutators, admission
// policies the API server runs, Kyverno policies): one per bundle file, at
// its file and line, warn unless gatekeep.yaml says otherwise.
const UnsupportedCheck = "policy-unsupported"

// Mode says where the engine runs, which decides the checks that apply.
type Mode int

const (
	// CI judges manifests committed to a repository.
	CI Mode = iota
	// Admission judges objects sent to the API server.
	Admission
	// Audit judges objects the cluster already holds, as admission
	// would, except that Gatekeeper's constraints act at their audit
	// enforcement point and review objects, not requests (as gator and
	// Gatekeeper's audit do); a CI-only check runs when the bundle's
	// checks: names it.
	Audit
)

// runs says whether a check runs in the engine's mode: a CI-only check
// always in CI, never at admission, and in an audit only when gatekeep.yaml
// asks for it by name (the cluster must hold Secrets; a bundle may still
// want them listed).
func (e *Engine) runs(id string, ciOnly bool) bool {
	return runsIn(e.mode, e.bundle, id, ciOnly)
}

func runsIn(mode Mode, b *bundle.Bundle, id string, ciOnly bool) bool {
	if !ciOnly || mode == CI {
		return true
	}
	return mode == Audit && b.NamesCheck(id)
}

// Engine is a bundle's checks, ready to review objects. It is safe for
// concurrent use.
type Engine struct {
	bundle  *bundle.Bundle
	version kubeversion.Version
	checks  []rule
	mode    Mode
	only    []string
	skip    []string

	strict     bool
	schemaDirs []string
	notes      []string
	regoOpts   regoOptions
	rego       *regoPolicies
	gatekeeper *gatekeeper.Policy
	// constraintCRDs are the CRDs of the bundle's ConstraintTemplates, for
	// the schema check of constraints among a CI run's inputs; made for
	// the first run that has any.
	constraintCRDs     []map[string]any
	constraintCRDsOnce sync.Once
	// values makes the Rego value of each reviewed object once, for the
	// Rego checks and Gatekeeper both; in admission mode it remembers
	// the fields that come again (a ReplicaSet's Pods share a spec).
	values *regovalue.Cache
	// inventoryMu keeps CI runs of one engine from mixing inventories.
	inventoryMu sync.Mutex

	// cluster is what a CI run knows of the cluster besides its own
	// objects (an inventory file); nil without.
	cluster *clusterInventory

	sealingKeys *secrets.Keys
	images      *scanner.Cache
	imageOpts   []scanner.GateOption

	now             func() time.Time
	evalTimeout     time.Duration
	labeller        *reviewapp.Labeller
	reviewAppAction Action
}

type rule struct {
	check  checks.Check
	action Action
}

// Option configures New.
type Option func(*Engine)

// WithMode sets where the engine runs (CI by default).
func WithMode(m Mode) Option { return func(e *Engine) { e.mode = m } }

// Only runs just the named checks.
func Only(ids ...string) Option { return func(e *Engine) { e.only = append(e.only, ids...) } }

// Skip leaves out the named checks.
func Skip(ids ...string) Option { return func(e *Engine) { e.skip = append(e.skip, ids...) } }

// Strict makes the schema check reject unknown fields and duplicate keys
// (as does strict: true in gatekeep.yaml).
func Strict(on bool) Option { return func(e *Engine) { e.strict = e.strict || on } }

// SchemaDirs adds folders of CRDs and JSON Schemas for custom kinds.
func SchemaDirs(dirs ...string) Option {
	return func(e *Engine) { e.schemaDirs = append(e.schemaDirs, dirs...) }
}

// Namespaces selects the packages of conftest-style policies (main by
// default), as conftest's --namespace.
func Namespaces(ns ...string) Option {
	return func(e *Engine) { e.regoOpts.namespaces = append(e.regoOpts.namespaces, ns...) }
}

// AllNamespaces runs every package's conftest-style rules.
func AllNamespaces(on bool) Option { return func(e *Engine) { e.regoOpts.all = on } }

// Combine gives conftest-style policies every document at once, as a list
// of {"path", "contents"}, as conftest's --combine.
func Combine(on bool) Option { return func(e *Engine) { e.regoOpts.combine = on } }

// SealingKeys gives the sealed-secrets controller's keys: SealedSecrets are
// then checked to decrypt, and inline sealed Secrets are unsealed.
func SealingKeys(k *secrets.Keys) Option { return func(e *Engine) { e.sealingKeys = k } }

// ImageScans turns the image-vulnerability check on, with the bundle's
// images: policy (the default one when it has none) and a verdict cache
// that outlives the engine (a bundle reload keeps the scans).
func ImageScans(c *scanner.Cache, opts ...scanner.GateOption) Option {
	return func(e *Engine) { e.images, e.imageOpts = c, opts }
}

// WithClock sets the clock of time-dependent rules (review-app expiry).
func WithClock(now func() time.Time) Option { return func(e *Engine) { e.now = now } }

// EvalTimeout bounds the evaluation of each object's policies (Rego and
// Gatekeeper; in Check, also the --combine evaluation): an evaluation that
// does not finish in time is cancelled and becomes a deny finding of the
// policies it was running, and the rest of the run goes on. 0: no bound.
func EvalTimeout(d time.Duration) Option { return func(e *Engine) { e.evalTimeout = d } }

// ClusterInventory gives a CI run the cluster's objects (gatekeep
// inventory export): Ingresses, for ingress-host-collision, and objects of
// the synced kinds, for Gatekeeper's data.inventory. An object of the run
// replaces its cluster copy (same API group, kind, namespace and name), so
// a change is judged as the cluster will hold it after the sync. origin
// says where they are, in findings that name one ("in the cluster
// (inventory file inventory.json)").
func ClusterInventory(origin string, ingresses, objects []map[string]any) Option {
	return func(e *Engine) {
		e.cluster = &clusterInventory{origin: origin, ingresses: ingresses, objects: objects}
	}
}

// WithKubernetesVersion sets the target cluster version, over the bundle's.
func WithKubernetesVersion(v kubeversion.Version) Option {
	return func(e *Engine) { e.version = v }
}

// New prepares the checks of a bundle. Unknown check IDs, in the bundle or
// in Only and Skip, are errors: a typo must not switch a check off silently.
func New(b *bundle.Bundle, opts ...Option) (*Engine, error) {
	e := &Engine{bundle: b}
	for _, o := range opts {
		o(e)
	}
	if e.version.IsZero() {
		e.version = kubeversion.Latest
		if s := b.Config.KubernetesVersion; s != "" {
			v, err := kubeversion.Parse(s)
			if err != nil {
				return nil, fmt.Errorf("bundle %s: %w", b.Name, err)
			}
			e.version = v
		}
	}
	if e.mode != CI {
		e.values = regovalue.New(admissionValues)
	}
	// The Gatekeeper templates take the longest to compile, and nothing
	// else needs them: the built-in checks and the conftest-style Rego
	// are prepared beside them, on the other core. Errors are reported in
	// the same order either way.
	var gkErr error
	gkDone := make(chan struct{})
	go func() {
		defer close(gkDone)
		e.gatekeeper, gkErr = loadGatekeeper(context.Background(), b, e.mode)
	}()
	builtin, err := e.builtinChecks()
	if err == nil {
		e.rego, err = loadRego(context.Background(), b, e.regoOpts, e.mode, e.selected)
	}
	<-gkDone
	if err != nil {
		return nil, err
	}
	if gkErr != nil {
		return nil, gkErr
	}
	known := map[string]bool{ReviewAppCheck: true, scanner.CheckID: true, RenderCheck: true, UnsupportedCheck: true}
	for _, c := range builtin {
		known[c.ID] = true
	}
	if e.rego != nil {
		for _, id := range e.rego.ids() {
			known[id] = true
		}
	}
	if e.gatekeeper != nil {
		for _, c := range e.gatekeeper.Checks() {
			known[c.ID] = true
		}
	}
	for _, id := range sortedKeys(b.Config.Checks) {
		if !known[id] {
			return nil, b.CheckError(id, "checks: unknown check %q (known: %s)", id, strings.Join(sortedKeys(known), ", "))
		}
	}
	for _, ids := range [][]string{e.only, e.skip} {
		for _, id := range ids {
			if !known[id] {
				return nil, fmt.Errorf("unknown check %q (known: %s)", id, strings.Join(sortedKeys(known), ", "))
			}
		}
	}
	for _, c := range builtin {
		if !e.runs(c.ID, c.CIOnly) || !e.selected(c.ID) {
			continue
		}
		action, on := e.action(c.ID, Deny)
		if !on {
			continue
		}
		e.checks = append(e.checks, rule{check: c, action: action})
		if c.Note != "" {
			e.notes = append(e.notes, c.ID+": "+c.Note)
		}
	}
	if err := e.newLabeller(); err != nil {
		return nil, fmt.Errorf("bundle %s: %w", b.Name, err)
	}
	return e, nil
}

// builtinChecks prepares the built-in checks, the image check among them
// when the engine scans images.
func (e *Engine) builtinChecks() ([]checks.Check, error) {
	b := e.bundle
	table, err := b.Deprecations()
	if err != nil {
		return nil, err
	}
	deprecatedAction, deprecatedOn := e.action(checks.DeprecatedAPICheck, Deny)
	builtin, err := checks.Builtin(checks.Config{
		Version:           e.version,
		Strict:            e.strict || b.Config.Strict,
		SchemaDirs:        e.schemaDirs,
		Deprecations:      table,
		RemovedAPIsDenied: e.selected(checks.DeprecatedAPICheck) && deprecatedOn && deprecatedAction == Deny,
		Admission:         e.mode != CI,
		SealingKeys:       e.sealingKeys,
	})
	if err != nil {
		return nil, err
	}
	if e.images != nil {
		policy := scanner.Policy{}
		if b.Config.Images != nil {
			policy = *b.Config.Images
		}
		gate, err := scanner.NewGate(e.images, policy, e.imageOpts...)
		if err != nil {
			return nil, fmt.Errorf("bundle %s: images: %w", b.Name, err)
		}
		builtin = append(builtin, scanner.ImageCheck(gate))
	}
	return builtin, nil
}

func (e *Engine) selected(id string) bool {
	if len(e.only) > 0 && !contains(e.only, id) {
		return false
	}
	return !contains(e.skip, id)
}

// Notes are what the run should say once: the checks' notes.
func (e *Engine) Notes() []string { return e.notes }

// Bundle returns the engine's bundle.
func (e *Engine) Bundle() *bundle.Bundle { return e.bundle }

// KubernetesVersion returns the target version.
func (e *Engine) KubernetesVersion() kubeversion.Version { return e.version }

// CheckInfo describes a check that runs.
type CheckInfo struct {
	ID      string
	Summary string
	Action  Action
}

// Checks lists the checks that run, in order.
func (e *Engine) Checks() []CheckInfo {
	out := make([]CheckInfo, 0, len(e.checks))
	for _, r := range e.checks {
		out = append(out, CheckInfo{ID: r.check.ID, Summary: r.check.Summary, Action: r.action})
	}
	if e.gatekeeper != nil {
		for _, c := range e.gatekeeper.Checks() {
			if a, ok := e.action(c.ID, Action(c.Action)); ok && e.selected(c.ID) && c.Action != gatekeeper.Off {
				out = append(out, CheckInfo{ID: c.ID, Summary: c.Summary, Action: a})
			}
		}
	}
	if e.rego != nil {
		for _, pkg := range sortedKeys(e.rego.byPkg) {
			c := e.rego.byPkg[pkg]
			if a, ok := e.action(c.ID, Deny); ok && e.selected(c.ID) && e.runs(c.ID, c.CIOnly) {
				out = append(out, CheckInfo{ID: c.ID, Summary: c.Summary, Action: a})
			}
		}
	}
	return out
}

// Request is one object under review: from a manifest in CI (a CREATE), or
// from an admission request in the cluster.
type Request struct {
	Operation string // CREATE or UPDATE
	Object    *manifest.Object
	OldObject *manifest.Object // on UPDATE
	UserInfo  map[string]any
	DryRun    bool
	// Namespace is the object's Namespace, when known (namespace
	// selectors and review-app labels read its labels).
	Namespace *manifest.Object
	// Admission is the whole AdmissionRequest as JSON decodes it, when
	// there is one: Gatekeeper's input.review.
	Admission map[string]any
}

// Review returns the findings for one object. inv is what the checks may
// know beyond it (nil: nothing).
func (e *Engine) Review(ctx context.Context, req Request, inv *checks.Inventory) ([]Finding, error) {
	fs, _, err := e.review(ctx, req, inv)
	return fs, err
}

// review also counts the findings exception rules suppressed.
func (e *Engine) review(ctx context.Context, req Request, inv *checks.Inventory) ([]Finding, int, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	var out []Finding
	o := req.Object
	ref := o.Ref()
	for _, r := range e.checks {
		if _, exempt := e.bundle.Config.Exempt(ref, r.check.ID); exempt {
			continue
		}
		for _, v := range r.check.Review(o, inv) {
			action := r.action
			if v.Warning && action == Deny {
				action = Warn
			}
			out = append(out, Finding{
				Check:   r.check.ID,
				Action:  action,
				Message: v.Message,
				Object:  ref,
				Path:    v.Path,
				File:    o.Source.File,
				Line:    o.Source.Line, // see locate
			})
		}
	}
	exceptions := 0
	// One Rego value of the object for both, when both judge it or it is
	// worth remembering; else conftest converts what its checks read.
	var value ast.Value
	if e.gatekeeper != nil || e.values != nil {
		v, err := e.values.Object(o.Data)
		if err != nil {
			return out, 0, fmt.Errorf("%s: as a Rego value: %w", ref, err)
		}
		value = v
	}
	var err error
	evalCtx, cancel := e.evalContext(ctx)
	defer cancel()
	timedOut := false
	if e.rego != nil {
		var rfs []regoFinding
		var running []string
		rfs, exceptions, running, err = e.rego.review(evalCtx, o.Data, value)
		out = e.regoFindings(out, o, rfs)
		if err != nil {
			out, timedOut, err = e.timedOut(ctx, evalCtx, out, o, running, err)
		}
	}
	if e.gatekeeper != nil && err == nil && !timedOut {
		out, err = e.gatekeeperFindings(evalCtx, out, req, value)
		if err != nil {
			var ids []string
			for _, c := range e.gatekeeper.Checks() {
				if c.Action != gatekeeper.Off {
					ids = append(ids, c.ID)
				}
			}
			out, _, err = e.timedOut(ctx, evalCtx, out, o, ids, err)
		}
	}
	locate(o, out)
	if len(o.Renders) > 0 {
		for i := range out {
			out[i].Renders = o.Renders
		}
	}
	return out, exceptions, err
}

// evalContext is ctx bounded by the evaluation deadline, if there is one.
func (e *Engine) evalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if e.evalTimeout <= 0 {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, e.evalTimeout)
}

// timedOut turns an evaluation the deadline cut short into a deny finding
// for each check it was running (their own actions aside: the object was
// not judged) about o (nil: the documents combined). Other errors, and a
// cancelled run, are returned as they are.
func (e *Engine) timedOut(parent, evalCtx context.Context, out []Finding, o *manifest.Object, running []string, err error) ([]Finding, bool, error) {
	if e.evalTimeout <= 0 || parent.Err() != nil || !errors.Is(evalCtx.Err(), context.DeadlineExceeded) {
		return out, false, err
	}
	msg := fmt.Sprintf("evaluation did not finish within %s (--eval-timeout)", e.evalTimeout)
	seen := map[string]bool{}
	for _, id := range running {
		if seen[id] || !e.selected(id) {
			continue
		}
		if _, on := e.action(id, Deny); !on {
			continue
		}
		seen[id] = true
		f := Finding{Check: id, Action: Deny, Message: msg}
		if o != nil {
			f.Object = o.Ref()
			f.File, f.Line = o.Source.File, o.Source.Line // see locate
		}
		out = append(out, f)
	}
	return out, true, nil
}

// locate gives each finding the line of its field, reading the object's
// source once however many findings it has.
func locate(o *manifest.Object, fs []Finding) {
	if len(fs) == 0 {
		return
	}
	paths := make([]string, len(fs))
	for i, f := range fs {
		paths[i] = f.Path
	}
	for i, l := range o.Lines(paths...) {
		fs[i].Line = l
	}
}

// regoFindings applies the bundle's actions, selection and exemptions to
// what Rego found, appending the findings to out.
func (e *Engine) regoFindings(out []Finding, o *manifest.Object, rfs []regoFinding) []Finding {
	out = slices.Grow(out, len(rfs))
	ref := manifest.Ref{}
	if o != nil {
		ref = o.Ref()
	}
	for _, f := range rfs {
		action, ok := e.action(f.check, f.action)
		if !ok || !e.selected(f.check) {
			continue
		}
		if _, exempt := e.bundle.Config.Exempt(ref, f.check); exempt && o != nil {
			continue
		}
		fd := Finding{Check: f.check, Action: action, Message: f.message, Object: ref, Path: f.path}
		if o != nil {
			fd.File, fd.Line = o.Source.File, o.Source.Line // see locate
		}
		out = append(out, fd)
	}
	return out
}

// action is the action of a finding of check id: the bundle's, else the
// policy's own; false when the bundle turned the check off.
func (e *Engine) action(id string, own Action) (Action, bool) {
	a, set := e.bundle.Config.Checks[id]
	switch {
	case !set:
		return own, true
	case a == bundle.Off:
		return "", false
	}
	return a, true
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
