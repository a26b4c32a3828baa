// Package gatekeeper runs Gatekeeper policy: ConstraintTemplates
// (templates.gatekeeper.sh v1, v1beta1, v1alpha1) with Rego (v0 and v1) or
// K8sNativeValidation (CEL) code, and their Constraints, through
// github.com/open-policy-agent/frameworks/constraint, with Gatekeeper's
// semantics for match, enforcement actions (scoped ones too),
// input.review, data.inventory and ExpansionTemplates. The same Policy
// serves the CI checker and the admission webhook. RunSuites runs
// Gatekeeper test suites (test.gatekeeper.sh/v1alpha1) the way gator
// verify does.
//
// The frameworks client does the template and constraint bookkeeping
// (CRD schemas, parameter validation and defaults, matchers, enforcement
// points); K8sNativeValidation (CEL) code runs in Gatekeeper's own driver
// (pkg/drivers/k8scel of Gatekeeper v3, see celDriver). The target handler
// (admission.k8s.gatekeeper.sh), the Rego engine and, with the
// optimizations on, the review fan-out (see reviewer) are ours. The Rego
// engine compiles each template once and
// prepares its query, judges all the constraints a review matches in one
// evaluation (see combinedProgram), passes the inventory to referential
// templates as a value, and turns inventory scans that look for a matching
// field into index lookups (see joinPlan), which keeps a CI run linear in
// the number of objects.
package gatekeeper

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strings"

	fwapis "github.com/open-policy-agent/frameworks/constraint/pkg/apis"
	apiconstraints "github.com/open-policy-agent/frameworks/constraint/pkg/apis/constraints"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	"github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"github.com/open-policy-agent/opa/v1/ast"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"

	"github.com/gatekeep-dev/gatekeep/internal/parallel"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Source is where a document came from.
type Source = manifest.Source

// Document is one ConstraintTemplate, Constraint or ExpansionTemplate as
// read from a file.
type Document struct {
	// Object is the document as JSON would decode it (int64 and float64
	// numbers are both fine).
	Object map[string]any
	Source Source
	// Line, if set, gives the file line of the field at a JSON pointer of
	// Object; errors use it to point at the field (and into Rego code).
	Line func(pointer string) int
}

// DocumentOf wraps an object read by the manifest package.
func DocumentOf(o *manifest.Object) Document {
	return Document{Object: o.Data, Source: o.Source, Line: o.Line}
}

// IsTemplate tells a ConstraintTemplate.
func IsTemplate(obj map[string]any) bool {
	group, _ := splitAPIVersion(str(obj["apiVersion"]))
	return group == "templates.gatekeeper.sh" && str(obj["kind"]) == "ConstraintTemplate"
}

// IsConstraint tells a Constraint (any kind of group constraints.gatekeeper.sh).
func IsConstraint(obj map[string]any) bool {
	group, _ := splitAPIVersion(str(obj["apiVersion"]))
	return group == apiconstraints.Group && str(obj["kind"]) != ""
}

// IsExpansionTemplate tells an ExpansionTemplate.
func IsExpansionTemplate(obj map[string]any) bool {
	group, _ := splitAPIVersion(str(obj["apiVersion"]))
	return group == "expansion.gatekeeper.sh" && str(obj["kind"]) == "ExpansionTemplate"
}

// Actions of a check or violation.
const (
	Deny   = "deny"
	Warn   = "warn"
	DryRun = "dryrun"
	// Off is the action of a scoped constraint with no action at the
	// policy's enforcement point: it never reports.
	Off = "off"
)

// Check is one Constraint, ready to judge objects.
type Check struct {
	// ID is <Constraint kind>/<constraint name>.
	ID     string `json:"id"`
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Action string `json:"action"`
	// Summary is the template's title or description.
	Summary string `json:"summary,omitempty"`
	Source  Source `json:"-"`
	// Template is where the constraint's template came from.
	Template Source `json:"-"`
}

// Violation is one problem a constraint found with an object.
type Violation struct {
	Check   string `json:"check"`
	Action  string `json:"action"`
	Message string `json:"message"`
	// Path is a JSON pointer to the offending field, when the template's
	// details carry one as "path" (e.g. details: {"path": "/spec/replicas"}).
	Path    string `json:"path,omitempty"`
	Details any    `json:"details,omitempty"`
}

// UserInfo is who makes an admission request.
type UserInfo struct {
	Username string              `json:"username,omitempty"`
	UID      string              `json:"uid,omitempty"`
	Groups   []string            `json:"groups,omitempty"`
	Extra    map[string][]string `json:"extra,omitempty"`
}

func (u UserInfo) toMap() map[string]any {
	m := map[string]any{}
	if u.Username != "" {
		m["username"] = u.Username
	}
	if u.UID != "" {
		m["uid"] = u.UID
	}
	if len(u.Groups) > 0 {
		g := make([]any, len(u.Groups))
		for i, x := range u.Groups {
			g[i] = x
		}
		m["groups"] = g
	}
	if len(u.Extra) > 0 {
		e := map[string]any{}
		for k, vs := range u.Extra {
			l := make([]any, len(vs))
			for i, x := range vs {
				l[i] = x
			}
			e[k] = l
		}
		m["extra"] = e
	}
	return m
}

// Request is what to review: an object (in CI), or an admission request.
type Request struct {
	// Object is the object under review (nil on DELETE).
	Object map[string]any
	// OldObject is the object before an UPDATE or DELETE.
	OldObject map[string]any
	// Operation is CREATE, UPDATE, DELETE or CONNECT; empty in CI, as with
	// gator.
	Operation string
	UserInfo  UserInfo
	DryRun    bool
	// Namespace is the object's Namespace, if known. It serves
	// match.namespaceSelector and is input.review.namespaceObject. When nil,
	// a Namespace of the inventory serves the selector.
	Namespace map[string]any
	// Admission, if set, is the whole AdmissionRequest (admission.k8s.io/v1
	// "request") as JSON decodes it; input.review is then that request, and
	// Object, OldObject, Operation, UserInfo and DryRun are not used.
	Admission map[string]any
	// ObjectValue, if set, is the Rego value of the object under review
	// (Admission's "object", or Object), made by the caller for other
	// Rego of its own too: input.review.object is then not converted
	// again. It is not used on DELETE.
	ObjectValue ast.Value
}

// Option configures New.
type Option func(*config)

type config struct {
	ep               string
	expansions       []Document
	disabledBuiltins []string
	noOptimize       bool
	engines          []string
	verdictCache     int
}

// WithEngines sets the engines that run template code, in order of
// preference for templates that carry code for several. The default,
// K8sNativeValidation then Rego, is gator's. Templates with code for none
// of them do not load.
func WithEngines(engines ...string) Option {
	return func(c *config) { c.engines = append([]string(nil), engines...) }
}

// WithEnforcementPoint sets the enforcement point whose scoped actions
// apply: GatorEnforcementPoint (the default, for CI) or
// WebhookEnforcementPoint (for the admission webhook).
func WithEnforcementPoint(ep string) Option { return func(c *config) { c.ep = ep } }

// WithExpansionTemplates adds ExpansionTemplates: objects they apply to (a
// Deployment, say) are also reviewed as the objects they generate (its
// Pods), as gator and Gatekeeper's webhook do.
func WithExpansionTemplates(docs ...Document) Option {
	return func(c *config) { c.expansions = append(c.expansions, docs...) }
}

// WithDisabledBuiltins removes Rego built-ins (such as "http.send"), as
// Gatekeeper's --disable-opa-builtin does; templates using them do not
// compile. Disabling any of the network built-ins (regoeval.NetworkBuiltins:
// http.send, net.lookup_ip_addr, opa.runtime) also allows no host, so
// json.match_schema and json.verify_schema fetch no remote $ref: a template
// whose schema has one fails on every object, which is a violation.
func WithDisabledBuiltins(names ...string) Option {
	return func(c *config) { c.disabledBuiltins = append(c.disabledBuiltins, names...) }
}

// WithOptimizations turns the optimizations on (the default) or off:
// references to data.inventory read the inventory from the input;
// inventory scans that compare a field with a value of the object under
// review use an index built once per inventory version; the constraints a
// review matches are found without the frameworks client's bookkeeping
// and judged in one Rego evaluation. They give the same verdicts; off is
// for telling them apart from a bug.
func WithOptimizations(on bool) Option { return func(c *config) { c.noOptimize = !on } }

// WithVerdictCache keeps the violations of up to about 2*entries
// evaluations of a constraint, keyed by the values of input.review its
// template can read, and answers a review that repeats them from there.
// At the webhook most reviews do (a ReplicaSet's Pods differ in name and
// uid, which few templates read). Templates that read the inventory, or
// input.review as a whole, are always evaluated. It needs the
// optimizations on.
func WithVerdictCache(entries int) Option { return func(c *config) { c.verdictCache = entries } }

// Policy is a set of templates and constraints compiled into a frameworks
// client. It is safe for concurrent Review calls, also while the inventory
// changes.
type Policy struct {
	client   *client.Client
	driver   *regoDriver
	target   *k8sTarget
	ep       string
	checks   []Check
	byID     map[string]*Check
	expander *expander
	// reviewer reviews without the client's bookkeeping; nil with the
	// optimizations off.
	reviewer *reviewer
}

var scheme = func() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	if err := fwapis.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// docError is a problem with a document, keeping the underlying error for
// callers (the suite runner) that care about its kind.
type docError struct {
	manifest.Error
	err error
}

// New compiles templates and constraints. It returns a Policy of everything
// that loaded and, if anything did not, Errors saying what and where (file
// and line, into the Rego code for Rego errors). Callers that must not run
// a partial policy treat any error as fatal.
func New(ctx context.Context, templateDocs, constraintDocs []Document, opts ...Option) (*Policy, error) {
	p, errs := build(ctx, templateDocs, constraintDocs, opts...)
	if p == nil {
		return nil, errs[0].err
	}
	if len(errs) > 0 {
		out := make(Errors, len(errs))
		for i, e := range errs {
			out[i] = e.Error
		}
		return p, out.sorted()
	}
	return p, nil
}

func build(ctx context.Context, templateDocs, constraintDocs []Document, opts ...Option) (*Policy, []docError) {
	cfg := config{ep: GatorEnforcementPoint, engines: []string{CELEngine, RegoEngine}}
	for _, o := range opts {
		o(&cfg)
	}
	fail := func(err error) (*Policy, []docError) {
		return nil, []docError{{Error: manifest.Error{Message: err.Error()}, err: err}}
	}
	driver, err := newRegoDriver(ctx, cfg.disabledBuiltins, !cfg.noOptimize)
	if err != nil {
		return fail(err)
	}
	driver.verdictCacheSize = cfg.verdictCache
	target := newTarget()
	copts := []client.Opt{client.Targets(target), client.EnforcementPoints(cfg.ep), client.IgnoreNoReferentialDriverWarning(true)}
	if len(cfg.engines) == 0 {
		return fail(errors.New("no engine to run templates"))
	}
	engineDrivers := map[string]drivers.Driver{}
	for _, e := range cfg.engines {
		switch e {
		case RegoEngine:
			copts = append(copts, client.Driver(driver))
			engineDrivers[e] = driver
		case CELEngine:
			// A CI run compiles CEL templates as they are needed; the
			// webhook, before its first request.
			cd, err := newCELDriver(cfg.ep == GatorEnforcementPoint, cfg.verdictCache)
			if err != nil {
				return fail(err)
			}
			copts = append(copts, client.Driver(cd))
			engineDrivers[e] = cd
		default:
			return fail(fmt.Errorf("unknown engine %q (want %s or %s)", e, RegoEngine, CELEngine))
		}
	}
	// The client validates each template and constraint (their CRD and
	// its schema) under one lock. With the reviewer judging the reviews,
	// no client needs them all: they are spread over a client per core and
	// added in parallel. Without it, one client holds everything.
	shards := 1
	if !cfg.noOptimize {
		shards = max(1, min(runtime.GOMAXPROCS(0), len(templateDocs)))
	}
	clients := make([]*client.Client, shards)
	for i := range clients {
		if clients[i], err = client.NewClient(copts...); err != nil {
			return fail(err)
		}
	}
	p := &Policy{client: clients[0], driver: driver, target: target, ep: cfg.ep, byID: map[string]*Check{}}
	var rvw *reviewer
	if !cfg.noOptimize {
		rvw = newReviewer(cfg.ep)
	}
	var errs []docError
	add := func(d *Document, line int, err error, format string, args ...any) {
		errs = append(errs, docError{Error: d.errorf(line, fmt.Sprintf(format, args...)), err: err})
	}

	// Templates: convert, then compile in parallel, then add in order.
	type tmpl struct {
		doc   *Document
		ct    *templates.ConstraintTemplate
		kind  string
		idx   int // in the reviewer
		shard int // its client
		err   error
	}
	var tmpls []*tmpl
	byName := map[string]*Document{}
	failed := map[string]bool{} // kinds whose template did not load
	for i := range templateDocs {
		d := &templateDocs[i]
		ct, line, err := toTemplate(d, cfg.engines)
		if err != nil {
			add(d, line, err, "ConstraintTemplate %s: %v", str(metaOf(d.Object)["name"]), err)
			if kind, ok := nestedString(d.Object, "spec", "crd", "spec", "names", "kind"); ok {
				failed[kind] = true
			}
			continue
		}
		if prev, dup := byName[ct.Name]; dup {
			add(d, d.line("/metadata/name"), nil, "ConstraintTemplate %s is defined twice (also at %s:%d)", ct.Name, prev.Source.File, prev.Source.Line)
			continue
		}
		byName[ct.Name] = d
		tmpls = append(tmpls, &tmpl{doc: d, ct: ct, kind: ct.Spec.CRD.Spec.Names.Kind, shard: len(tmpls) % shards})
	}
	precompile(ctx, driver, func(yield func(*templates.ConstraintTemplate)) {
		for _, t := range tmpls {
			if preferredEngine(t.ct, cfg.engines) == RegoEngine {
				yield(t.ct)
			}
		}
	})
	parallel.For(shards, func(shard int) {
		for _, t := range tmpls {
			if t.shard == shard {
				_, t.err = clients[shard].AddTemplate(ctx, t.ct)
			}
		}
	})
	kinds := map[string]*tmpl{} // loaded
	for _, t := range tmpls {
		if t.err != nil {
			failed[t.kind] = true
			errs = append(errs, templateErrors(t.doc, t.ct, t.err)...)
			continue
		}
		kinds[t.kind] = t
		if rvw != nil {
			t.idx = rvw.addTemplate(t.ct, engineDrivers[preferredEngine(t.ct, cfg.engines)])
		}
	}
	driver.dropPrecompiled()

	// Constraints: checked here, added to their template's client in
	// parallel, then taken in order.
	type constraint struct {
		d      *Document
		u      *unstructured.Unstructured
		t      *tmpl
		id     string
		action string
		err    error
	}
	var cons []*constraint
	seen := map[string]*Document{}
	for i := range constraintDocs {
		d := &constraintDocs[i]
		// A copy: the client writes defaults (enforcementAction,
		// parameters) into the constraint it is given.
		u := &unstructured.Unstructured{Object: deepCopyMap(d.Object)}
		kind, name := u.GetKind(), u.GetName()
		id := kind + "/" + name
		if prev, dup := seen[id]; dup {
			add(d, d.line("/metadata/name"), nil, "constraint %s is defined twice (also at %s:%d)", id, prev.Source.File, prev.Source.Line)
			continue
		}
		seen[id] = d
		t := kinds[kind]
		if t == nil {
			if failed[kind] {
				add(d, d.line("/kind"), client.ErrMissingConstraintTemplate, "constraint %s not loaded: the ConstraintTemplate for kind %s has errors", id, kind)
			} else {
				var known []string
				for k := range kinds {
					known = append(known, k)
				}
				add(d, d.line("/kind"), client.ErrMissingConstraintTemplate, "constraint %s: no ConstraintTemplate defines kind %s%s", id, kind, knownKinds(known))
			}
			continue
		}
		action, err := actionAt(u, cfg.ep)
		if err != nil {
			add(d, d.fieldLine("/spec/enforcementAction"), err, "constraint %s: %v", id, err)
			continue
		}
		cons = append(cons, &constraint{d: d, u: u, t: t, id: id, action: action})
	}
	parallel.For(shards, func(shard int) {
		for _, k := range cons {
			if k.t.shard == shard {
				_, k.err = clients[shard].AddConstraint(ctx, k.u)
			}
		}
	})
	for _, k := range cons {
		if k.err == nil && rvw != nil {
			// The client read it with the same matcher and actions, so
			// this fails only if the two disagree.
			k.err = rvw.addConstraint(k.t.idx, k.u, target, cfg.ep)
		}
		if k.err != nil {
			add(k.d, k.d.fieldLine(pointerInMessage(k.err.Error())), k.err, "constraint %s: %v", k.id, k.err)
			continue
		}
		p.checks = append(p.checks, Check{
			ID: k.id, Kind: k.u.GetKind(), Name: k.u.GetName(), Action: k.action,
			Summary: summary(k.t.doc.Object), Source: k.d.Source, Template: k.t.doc.Source,
		})
	}
	if rvw != nil {
		// The reviewer judges alone: the clients' copies of templates
		// and constraints (a CRD each) would only hold memory.
		p.reviewer, p.client = rvw, nil
	}
	// Compiled now rather than by the first review.
	driver.warm(ctx)
	sort.Slice(p.checks, func(i, j int) bool { return p.checks[i].ID < p.checks[j].ID })
	for i := range p.checks {
		p.byID[p.checks[i].ID] = &p.checks[i]
	}

	if len(cfg.expansions) > 0 {
		exp, eerrs := newExpander(cfg.expansions)
		errs = append(errs, eerrs...)
		p.expander = exp
	}
	return p, errs
}

// knownKinds lists the kinds that loaded, for "no template" errors.
func knownKinds(kinds []string) string {
	if len(kinds) == 0 {
		return ""
	}
	sort.Strings(kinds)
	if len(kinds) > 12 {
		kinds = append(kinds[:12:12], "...")
	}
	return " (known kinds: " + strings.Join(kinds, ", ") + ")"
}

// precompile compiles templates on all cores before the client adds them
// one at a time.
func precompile(ctx context.Context, d *regoDriver, each func(func(*templates.ConstraintTemplate))) {
	var cts []*templates.ConstraintTemplate
	each(func(ct *templates.ConstraintTemplate) { cts = append(cts, ct) })
	parallel.For(len(cts), func(i int) { d.precompile(ctx, cts[i]) })
}

func nestedString(obj map[string]any, path ...string) (string, bool) {
	var cur any = obj
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return "", false
		}
		cur = m[p]
	}
	s, ok := cur.(string)
	return s, ok && s != ""
}

func metaOf(obj map[string]any) map[string]any {
	m, _ := obj["metadata"].(map[string]any)
	return m
}

// toTemplate converts a document to the frameworks' versionless template.
// preferredEngine is the first of engines that a template has code for.
func preferredEngine(ct *templates.ConstraintTemplate, engines []string) string {
	for _, e := range engines {
		for _, code := range ct.Spec.Targets[0].Code {
			if code.Engine == e {
				return e
			}
		}
	}
	return ""
}

func toTemplate(d *Document, engines []string) (*templates.ConstraintTemplate, int, error) {
	u := &unstructured.Unstructured{Object: d.Object}
	gvk := u.GroupVersionKind()
	obj, err := scheme.New(gvk)
	if err != nil {
		return nil, d.line("/apiVersion"), fmt.Errorf("unsupported apiVersion %q (want templates.gatekeeper.sh/v1, v1beta1 or v1alpha1)", u.GetAPIVersion())
	}
	if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(d.Object, obj); err != nil {
		return nil, d.fieldLine(pointerInMessage(err.Error())), err
	}
	v, ok := obj.(interface {
		ToVersionless() (*templates.ConstraintTemplate, error)
	})
	if !ok {
		return nil, d.Source.Line, fmt.Errorf("cannot convert %T", obj)
	}
	ct, err := v.ToVersionless()
	if err != nil {
		return nil, d.Source.Line, err
	}
	if len(ct.Spec.Targets) != 1 {
		return nil, d.fieldLine("/spec/targets"), fmt.Errorf("must declare exactly one target, not %d", len(ct.Spec.Targets))
	}
	t := ct.Spec.Targets[0]
	if t.Target != TargetName {
		return nil, d.fieldLine("/spec/targets/0/target"), fmt.Errorf("target %q is not %s", t.Target, TargetName)
	}
	if kind := ct.Spec.CRD.Spec.Names.Kind; kind == "" {
		return nil, d.fieldLine("/spec/crd/spec/names"), errors.New("spec.crd.spec.names.kind is empty")
	} else if !strings.EqualFold(ct.Name, kind) {
		return nil, d.fieldLine("/metadata/name"), fmt.Errorf("metadata.name must be the lowercase of the constraint kind %s (%q)", kind, strings.ToLower(kind))
	}
	if preferredEngine(ct, engines) == "" {
		var have []string
		for _, code := range t.Code {
			have = append(have, code.Engine)
		}
		if len(have) == 0 {
			return nil, d.fieldLine("/spec/targets/0"), errors.New("the target has no rego and no code")
		}
		return nil, d.fieldLine("/spec/targets/0/code"), fmt.Errorf("the template has code for %s, and the engines are %s", strings.Join(have, ", "), strings.Join(engines, ", "))
	}
	return ct, 0, nil
}

// templateErrors places the errors of adding a template.
func templateErrors(d *Document, ct *templates.ConstraintTemplate, err error) []docError {
	var rerrs codeErrors
	if errors.As(err, &rerrs) {
		out := make([]docError, len(rerrs))
		for i, re := range rerrs {
			out[i] = docError{
				Error: d.errorf(d.regoLine(re.Field, re.Row), fmt.Sprintf("ConstraintTemplate %s: %s: %s", ct.Name, engineName(re.Engine), re.Message)),
				err:   err,
			}
		}
		return out
	}
	line := d.Source.Line
	if strings.Contains(err.Error(), "openAPIV3Schema") || strings.Contains(err.Error(), "validation") {
		line = d.fieldLine("/spec/crd/spec/validation/openAPIV3Schema")
	}
	return []docError{{Error: d.errorf(line, fmt.Sprintf("ConstraintTemplate %s: %v", ct.Name, err)), err: err}}
}

func engineName(e string) string {
	if e == "" {
		return "rego"
	}
	return e
}

// actionAt is a constraint's action at an enforcement point.
func actionAt(u *unstructured.Unstructured, ep string) (string, error) {
	action, err := apiconstraints.GetEnforcementAction(u)
	if err != nil {
		return "", err
	}
	switch action {
	case "", Deny:
		return Deny, nil
	case Warn, DryRun:
		return action, nil
	case string(apiconstraints.Scoped):
		byEP, err := apiconstraints.GetEnforcementActionsForEP(u, []string{ep})
		if err != nil {
			return "", err
		}
		for _, a := range byEP[ep] {
			if a != Deny && a != Warn && a != DryRun {
				return "", fmt.Errorf("unknown scoped enforcement action %q (want deny, warn or dryrun)", a)
			}
		}
		return strongest(byEP[ep]), nil
	default:
		return "", fmt.Errorf("unknown enforcementAction %q (want deny, warn, dryrun or scoped)", action)
	}
}

// strongest picks deny over warn over dryrun; Off for none.
func strongest(actions []string) string {
	best := Off
	rank := map[string]int{Off: 0, DryRun: 1, Warn: 2, Deny: 3}
	for _, a := range actions {
		if rank[a] > rank[best] {
			best = a
		}
	}
	return best
}

func summary(tmpl map[string]any) string {
	ann, _ := metaOf(tmpl)["annotations"].(map[string]any)
	if s := strings.TrimSpace(str(ann["metadata.gatekeeper.sh/title"])); s != "" {
		return s
	}
	s := strings.TrimSpace(str(ann["description"]))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// Checks lists the constraints that loaded, by ID.
func (p *Policy) Checks() []Check { return append([]Check(nil), p.checks...) }

// Check returns one check by ID.
func (p *Policy) Check(id string) (Check, bool) {
	c, ok := p.byID[id]
	if !ok {
		return Check{}, false
	}
	return *c, true
}

// AddInventory puts objects into data.inventory (the objects of the run in
// CI, the synced objects in the cluster); an object already there is
// replaced. Objects without apiVersion, kind or name are reported and
// skipped.
func (p *Policy) AddInventory(ctx context.Context, objs ...map[string]any) error {
	var errs []error
	items := make([]inventoryItem, 0, len(objs))
	for _, o := range objs {
		key, err := inventoryPath(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		items = append(items, inventoryItem{key: key, obj: o})
	}
	for i, err := range p.driver.putInventoryBatch(ctx, items) {
		if err != nil {
			errs = append(errs, err)
			continue
		}
		_ = p.target.Add(items[i].key, items[i].obj)
	}
	return errors.Join(errs...)
}

// RemoveInventory takes objects out of data.inventory.
func (p *Policy) RemoveInventory(ctx context.Context, objs ...map[string]any) error {
	var errs []error
	for _, o := range objs {
		key, err := inventoryPath(o)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := p.driver.removeInventory(ctx, key); err != nil {
			errs = append(errs, err)
			continue
		}
		p.target.Remove(key)
	}
	return errors.Join(errs...)
}

// ClearInventory empties data.inventory.
func (p *Policy) ClearInventory(ctx context.Context) error {
	p.target.clear()
	return p.driver.resetInventory(ctx)
}

// Review judges one request against every constraint that matches it, and,
// with ExpansionTemplates, the objects it generates (their messages start
// with "[Implied by <template>]"). Violations come sorted by check and
// message.
func (p *Policy) Review(ctx context.Context, r Request) ([]Violation, error) {
	return p.review(ctx, &r, true)
}

func (p *Policy) review(ctx context.Context, r *Request, expand bool) ([]Violation, error) {
	rv, err := newReview(r, sourceOriginal)
	if err != nil {
		return nil, err
	}
	out, err := p.reviewOne(ctx, rv, "", "", "")
	if err != nil {
		return nil, err
	}
	if expand && p.expander != nil && rv.operation != "DELETE" && rv.object != nil {
		resultants, err := p.expander.expand(rv.object)
		if err != nil {
			return nil, err
		}
		for _, res := range resultants {
			// As Gatekeeper's webhook: the generated object keeps the
			// operation and the Namespace of the request.
			child, err := newReview(&Request{Object: res.obj, Operation: rv.operation, Namespace: r.Namespace}, sourceGenerated)
			if err != nil {
				return nil, err
			}
			vs, err := p.reviewOne(ctx, child, "[Implied by "+res.template+"] ", res.action, res.pointer)
			if err != nil {
				return nil, err
			}
			out = append(out, vs...)
		}
	}
	slices.SortStableFunc(out, func(a, b Violation) int {
		return cmp.Or(strings.Compare(a.Check, b.Check), strings.Compare(a.Message, b.Message))
	})
	return out, nil
}

// reviewOne reviews one object; for objects generated by expansion, prefix
// marks the messages, override is the ExpansionTemplate's action and
// pointer is where in the reviewed object the generated one comes from.
func (p *Policy) reviewOne(ctx context.Context, rv *review, prefix, override, pointer string) ([]Violation, error) {
	var results []*types.Result
	if p.reviewer != nil {
		var err error
		if results, err = p.reviewer.review(ctx, rv); err != nil {
			return nil, err
		}
	} else {
		resp, err := p.client.Review(ctx, rv, reviews.EnforcementPoint(p.ep))
		if err != nil {
			return nil, err
		}
		for _, tr := range resp.ByTarget {
			results = append(results, tr.Results...)
		}
	}
	out := make([]Violation, 0, len(results))
	for _, res := range results {
		v := toViolation(res, prefix, override)
		if v.Path != "" && pointer != "" {
			if v.Path == "/metadata/name" || v.Path == "/metadata/namespace" || v.Path == "/apiVersion" || v.Path == "/kind" {
				v.Path = "" // made up by the expansion
			} else {
				v.Path = pointer + v.Path
			}
		}
		out = append(out, v)
	}
	return out, nil
}

func toViolation(res *types.Result, prefix, override string) Violation {
	action := res.EnforcementAction
	if override != "" {
		action = override
	}
	if action == string(apiconstraints.Scoped) {
		action = strongest(res.ScopedEnforcementActions)
	}
	if action == "" {
		action = Deny
	}
	v := Violation{
		Check:   res.Constraint.GetKind() + "/" + res.Constraint.GetName(),
		Action:  action,
		Message: prefix + res.Msg,
	}
	if d, ok := res.Metadata["details"]; ok {
		if m, ok := d.(map[string]any); !ok || len(m) > 0 {
			v.Details = d
		}
		if m, ok := d.(map[string]any); ok {
			if path, ok := m["path"].(string); ok && strings.HasPrefix(path, "/") {
				v.Path = path
			}
		}
	}
	return v
}
