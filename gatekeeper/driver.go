package gatekeeper

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
	regoschema "github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers/rego/schema"
	"github.com/open-policy-agent/frameworks/constraint/pkg/client/reviews"
	"github.com/open-policy-agent/frameworks/constraint/pkg/core/templates"
	"github.com/open-policy-agent/frameworks/constraint/pkg/regorewriter"
	"github.com/open-policy-agent/frameworks/constraint/pkg/types"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/open-policy-agent/opa/v1/topdown"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/gatekeep-dev/gatekeep/internal/parallel"
	"github.com/gatekeep-dev/gatekeep/internal/regoeval"
)

// regoDriver is a drivers.Driver for the "Rego" engine of ConstraintTemplates,
// with the semantics of the frameworks' own Rego driver (same module rewriting,
// same input: {"review": ..., "parameters": ...}, same results), built for
// throughput: each template is compiled and its query prepared once; the
// constraints a review matches are judged in one evaluation of a program
// that combines them all (see combinedProgram), each template's own query
// serving those that cannot be combined; a review is turned into a Rego
// value once for all templates; the inventory is kept as Rego values, so
// referential templates read it without conversion.
type regoDriver struct {
	caps  *ast.Capabilities
	store storage.Store
	// optimize enables the rewrites that make referential templates fast
	// (inventoryViaInput, planJoins).
	optimize bool

	// invMu orders inventory writes and reviews: a review sees one
	// version of the inventory, and the indexes of joins know which.
	invMu      sync.RWMutex
	invVersion uint64

	mu        sync.RWMutex
	templates map[string]*regoTemplate            // by constraint kind
	params    map[drivers.ConstraintKey]*ast.Term // constraint parameters
	// gen counts the changes of templates and constraints.
	gen uint64

	// verdictCacheSize is the entries of each combined program's
	// verdictCache; 0 keeps none.
	verdictCacheSize int

	// comb is the combined program of a generation (see combinedProgram).
	comb   atomic.Pointer[combinedProgram]
	combMu sync.Mutex

	// pre holds templates compiled ahead of AddTemplate, in parallel.
	pmu sync.Mutex
	pre map[*templates.ConstraintTemplate]precompiled
}

type precompiled struct {
	t   *regoTemplate
	err error
}

// precompile compiles a template ahead of the client's AddTemplate, which
// adds templates one at a time.
func (d *regoDriver) precompile(ctx context.Context, ct *templates.ConstraintTemplate) {
	t, err := d.compile(ctx, ct)
	d.pmu.Lock()
	if d.pre == nil {
		d.pre = map[*templates.ConstraintTemplate]precompiled{}
	}
	d.pre[ct] = precompiled{t, err}
	d.pmu.Unlock()
}

func (d *regoDriver) dropPrecompiled() {
	d.pmu.Lock()
	d.pre = nil
	d.pmu.Unlock()
}

var _ drivers.Driver = (*regoDriver)(nil)

type regoTemplate struct {
	kind string
	// prepared is the template's own query. The combined program judges
	// most constraints, so once it is built the query is let go (it holds a
	// compiler of its own, much of the driver's memory) and prepared again
	// only if a constraint needs it.
	prepared atomic.Pointer[rego.PreparedEvalQuery]
	prepare  func(context.Context) (*rego.PreparedEvalQuery, error)
	mu       sync.Mutex // serialises prepare
	// target is the template's code, for the combined program.
	target *templates.Target
	// source is the target's Rego as parseRego gives it, kept unrewritten:
	// the combined program and a query prepared again copy it rather than
	// parse the code again.
	source []*ast.Module
	// inventoryInInput: the template's references to data.inventory were
	// rewritten to input[inventoryKey], and the inventory is passed there.
	inventoryInInput bool
	// joins are the template's inventory scans turned into index lookups.
	joins []*joinPlan
	// reads is what of data.inventory the template can read.
	reads inventoryReads
}

// codeError is a Rego problem in a template, with the template field it is
// in (a JSON pointer such as /spec/targets/0/rego) and its row there.
type codeError struct {
	// Engine is "rego" or "cel"; empty means rego.
	Engine  string
	Field   string
	Row     int
	Message string
}

func (e *codeError) Error() string {
	if e.Row > 0 {
		return fmt.Sprintf("%s:%d: %s", e.Field, e.Row, e.Message)
	}
	return e.Field + ": " + e.Message
}

// codeErrors are all the problems compiling one template.
type codeErrors []*codeError

func (e codeErrors) Error() string {
	s := make([]string, len(e))
	for i, x := range e {
		s[i] = x.Error()
	}
	return strings.Join(s, "; ")
}

func newRegoDriver(ctx context.Context, disabledBuiltins []string, optimize bool) (*regoDriver, error) {
	// Disabling the network built-ins (as the engine does unless the
	// bundle allows the network) also takes away every host, as for
	// conftest policies: json.match_schema fetches no $ref.
	caps := regoeval.Capabilities(disabledBuiltins...)
	d := &regoDriver{
		caps:      caps,
		optimize:  optimize,
		store:     inmem.NewWithOpts(inmem.OptRoundTripOnWrite(false), inmem.OptReturnASTValuesOnRead(true)),
		templates: map[string]*regoTemplate{},
		params:    map[drivers.ConstraintKey]*ast.Term{},
	}
	if err := d.resetInventory(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *regoDriver) Name() string { return regoschema.Name }

// AddTemplate compiles a template's Rego and prepares its query.
func (d *regoDriver) AddTemplate(ctx context.Context, ct *templates.ConstraintTemplate) error {
	d.pmu.Lock()
	pc, ok := d.pre[ct]
	d.pmu.Unlock()
	t, err := pc.t, pc.err
	if !ok {
		t, err = d.compile(ctx, ct)
	}
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.templates[t.kind] = t
	d.gen++
	d.mu.Unlock()
	return nil
}

func (d *regoDriver) compile(ctx context.Context, ct *templates.ConstraintTemplate) (*regoTemplate, error) {
	if len(ct.Spec.Targets) != 1 {
		return nil, errors.New("a ConstraintTemplate must declare exactly one target")
	}
	target := ct.Spec.Targets[0].DeepCopy()
	mods, err := parseRego(target)
	if err != nil {
		return nil, err
	}
	source := copyModules(mods)
	reads := readsOf(mods)
	var specs []*joinPlanSpec
	viaInput := false
	if d.optimize {
		specs, viaInput = optimizeModules(mods, 0)
	}
	compiler, err := d.compileModules(mods)
	if err != nil {
		return nil, err
	}
	q, err := d.prepareCompiled(ctx, compiler)
	if err != nil {
		return nil, err
	}
	joins, err := d.prepareJoins(ctx, specs, compiler)
	if err != nil {
		return nil, fmt.Errorf("preparing an inventory index: %w", err)
	}
	t := &regoTemplate{kind: ct.Spec.CRD.Spec.Names.Kind, target: target, source: source, inventoryInInput: viaInput, joins: joins, reads: reads}
	// Prepared again (see query): the same modules, the same rewrites.
	t.prepare = func(ctx context.Context) (*rego.PreparedEvalQuery, error) {
		mods := t.parsed()
		if d.optimize {
			optimizeModules(mods, 0)
		}
		return d.prepareQuery(ctx, mods)
	}
	t.prepared.Store(q)
	return t, nil
}

// parsed returns a copy of the template's parsed Rego, for rewriting and
// compiling (both change modules in place).
func (t *regoTemplate) parsed() []*ast.Module { return copyModules(t.source) }

func copyModules(mods []*ast.Module) []*ast.Module {
	out := make([]*ast.Module, len(mods))
	for i, m := range mods {
		out[i] = m.Copy()
	}
	return out
}

// prepareQuery compiles a template's modules and prepares its query.
func (d *regoDriver) prepareQuery(ctx context.Context, mods []*ast.Module) (*rego.PreparedEvalQuery, error) {
	compiler, err := d.compileModules(mods)
	if err != nil {
		return nil, err
	}
	return d.prepareCompiled(ctx, compiler)
}

// compileModules compiles a template's modules.
func (d *regoDriver) compileModules(mods []*ast.Module) (*ast.Compiler, error) {
	compiler := ast.NewCompiler().WithCapabilities(d.caps).WithEnablePrintStatements(false)
	modules := make(map[string]*ast.Module, len(mods))
	for i, m := range mods {
		modules[fmt.Sprintf("template%d", i)] = m
	}
	compiler.Compile(modules)
	if compiler.Failed() {
		return nil, astErrors(compiler.Errors, "")
	}
	return compiler, nil
}

// prepareCompiled prepares a compiled template's query.
func (d *regoDriver) prepareCompiled(ctx context.Context, compiler *ast.Compiler) (*rego.PreparedEvalQuery, error) {
	q, err := rego.New(
		rego.Compiler(compiler),
		rego.Store(d.store),
		rego.Query("data.template.violation[r]"),
		rego.SetRegoVersion(ast.RegoV0),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("preparing the query: %w", err)
	}
	return &q, nil
}

// inventoryReads is what the templates can read of data.inventory. The
// engine adds every template before any inventory; a template added after
// would not see the objects left out before it.
func (d *regoDriver) inventoryReads() inventoryReads {
	if !d.optimize {
		return inventoryReads{all: true}
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	var r inventoryReads
	for _, t := range d.templates {
		r.merge(t.reads)
	}
	return r
}

// query returns the template's own query, preparing it again if it was let
// go.
func (t *regoTemplate) query(ctx context.Context) (*rego.PreparedEvalQuery, error) {
	if q := t.prepared.Load(); q != nil {
		return q, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if q := t.prepared.Load(); q != nil {
		return q, nil
	}
	q, err := t.prepare(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.kind, err)
	}
	t.prepared.Store(q)
	return q, nil
}

// optimizeModules rewrites a template's modules in place, as the
// optimizations do (inputGets, planJoins numbering its joins from
// firstJoin, inventoryViaInput), and returns the joins planned and
// whether the inventory is read from the input.
func optimizeModules(mods []*ast.Module, firstJoin int) ([]*joinPlanSpec, bool) {
	inputGets(mods)
	specs := planJoins(mods, firstJoin)
	return specs, inventoryViaInput(mods)
}

// inputGets rewrites object.get(input, "parameters", default) and
// object.get(input, "review", default) into input.parameters and
// input.review: the driver's input always holds both keys, so the default
// is never taken, and a template whose modules never replace the input
// ("with input") reads the same. It is the library's way of reading
// optional parameters (data.lib.exempt_container), and a bare input would
// keep a template out of the combined program and the verdict cache.
func inputGets(mods []*ast.Module) {
	replaced := false
	for _, m := range mods {
		ast.WalkExprs(m, func(e *ast.Expr) bool {
			for _, w := range e.With {
				if ref, ok := w.Target.Value.(ast.Ref); ok && ref[0].Equal(ast.InputRootDocument) {
					replaced = true
				}
			}
			return replaced
		})
	}
	if replaced {
		return
	}
	objectGet := ast.Ref{ast.VarTerm("object"), ast.StringTerm("get")}
	key := func(args []*ast.Term) (*ast.Term, bool) {
		if len(args) != 3 {
			return nil, false
		}
		if ref, ok := args[0].Value.(ast.Ref); !ok || len(ref) != 1 || !ref[0].Equal(ast.InputRootDocument) {
			if v, isVar := args[0].Value.(ast.Var); !isVar || v != ast.InputRootDocument.Value.(ast.Var) {
				return nil, false
			}
		}
		if k, ok := args[1].Value.(ast.String); ok && (k == "parameters" || k == "review") {
			return ast.RefTerm(ast.InputRootDocument, ast.StringTerm(string(k))), true
		}
		return nil, false
	}
	for _, m := range mods {
		ast.WalkTerms(m, func(t *ast.Term) bool {
			if c, ok := t.Value.(ast.Call); ok {
				if op, ok := c[0].Value.(ast.Ref); ok && op.Equal(objectGet) {
					if r, ok := key(c[1:]); ok {
						t.Value = r.Value
					}
				}
			}
			return false
		})
	}
}

// inventoryKey is where, in the input of rewritten templates, the inventory
// is. Templates cannot name it: their input has only review and parameters.
const inventoryKey = "__gatekeep_inventory"

// inventoryViaInput rewrites references to data.inventory into references to
// input[inventoryKey], where Query puts the very same inventory value. OPA
// walks a value in the input several times faster than a document in its
// store, which matters for referential templates that scan the inventory for
// each object. The verdicts are the same; templates that replace input with
// "with" keep reading the store.
func inventoryViaInput(mods []*ast.Module) bool {
	for _, m := range mods {
		unsafe := false
		ast.WalkWiths(m, func(w *ast.With) bool {
			if ref, ok := w.Target.Value.(ast.Ref); ok {
				if ref.HasPrefix(ast.InputRootRef) || ref.HasPrefix(inventoryRef) {
					unsafe = true
				}
			}
			return unsafe
		})
		if unsafe {
			return false
		}
	}
	prefix := ast.Ref{ast.InputRootDocument, ast.StringTerm(inventoryKey)}
	rewrote := false
	for _, m := range mods {
		for _, imp := range m.Imports {
			if ref, ok := imp.Path.Value.(ast.Ref); ok && ref.HasPrefix(inventoryRef) {
				imp.Path = ast.NewTerm(prefix.Concat(ref[len(inventoryRef):])).SetLocation(imp.Path.Location)
				rewrote = true
			}
		}
		// Only the reference terms are replaced: other terms may be
		// interned, shared with other templates compiled at the same time.
		for _, r := range m.Rules {
			ast.WalkTerms(r, func(t *ast.Term) bool {
				if ref, ok := t.Value.(ast.Ref); ok && ref.HasPrefix(inventoryRef) {
					t.Value = prefix.Concat(ref[len(inventoryRef):])
					rewrote = true
				}
				return false
			})
		}
	}
	return rewrote
}

// regoSource finds a target's Rego code and the template fields holding it.
func regoSource(t *templates.Target) (src *regoschema.Source, field string, libField func(int) string, err error) {
	for i, code := range t.Code {
		if code.Engine != regoschema.Name {
			continue
		}
		src, err := regoschema.GetSource(code)
		if err != nil {
			return nil, "", nil, err
		}
		if t.Rego != "" {
			// The legacy field wins, as in the frameworks' conversion.
			return src, "/spec/targets/0/rego", func(j int) string { return fmt.Sprintf("/spec/targets/0/libs/%d", j) }, nil
		}
		base := fmt.Sprintf("/spec/targets/0/code/%d/source", i)
		return src, base + "/rego", func(j int) string { return fmt.Sprintf("%s/libs/%d", base, j) }, nil
	}
	return nil, "", nil, errNoRego
}

var errNoRego = errors.New("no Rego code")

// parseRego parses, checks and rewrites a target's Rego the way the
// frameworks' Rego driver does: the entry module becomes package
// data.template and must define violation; libs must live under data.lib
// and are moved under data.libs; only data.inventory and data.lib may be
// referenced.
func parseRego(t *templates.Target) ([]*ast.Module, error) {
	src, field, libField, err := regoSource(t)
	if err != nil {
		return nil, err
	}
	version := ast.RegoV0
	if src.Version == "v1" {
		version = ast.RegoV1
	}
	var errs codeErrors
	entry, err := parseModule(field, src.Rego, version)
	if err != nil {
		errs = append(errs, asCodeErrors(err, field)...)
	}
	libs := make([]*ast.Module, len(src.Libs))
	for i, l := range src.Libs {
		m, err := parseModule(libField(i), l, version)
		if err != nil {
			errs = append(errs, asCodeErrors(err, libField(i))...)
		}
		libs[i] = m
	}
	if len(errs) > 0 {
		return nil, errs
	}
	hasViolation := false
	for _, r := range entry.Rules {
		if r.Head.Name == "violation" || (len(r.Head.Reference) > 0 && r.Head.Reference[0].Value.Compare(ast.Var("violation")) == 0) {
			hasViolation = true
		}
	}
	if !hasViolation {
		return nil, codeErrors{{Field: field, Message: "the template's Rego must define a violation rule"}}
	}
	errs = append(errs, checkRefs(field, entry)...)
	for i, m := range libs {
		errs = append(errs, checkRefs(libField(i), m)...)
		if !m.Package.Path.HasPrefix(libRef) || m.Package.Path.Equal(libRef) {
			errs = append(errs, &codeError{Field: libField(i), Row: m.Package.Location.Row,
				Message: fmt.Sprintf("a lib's package must be under data.lib, not %s", m.Package.Path)})
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	entry.Package.Path = ast.Ref{ast.VarTerm("data"), ast.StringTerm("template")}
	rr, err := regorewriter.New(regorewriter.NewPackagePrefixer("libs"), []string{"data.lib"}, []string{"data.inventory"})
	if err != nil {
		return nil, err
	}
	rr.AddEntryPointModule("template", entry)
	for i, m := range libs {
		if err := rr.AddLib(fmt.Sprintf(`libs["lib_%d"]`, i), m); err != nil {
			return nil, codeErrors{{Field: libField(i), Message: err.Error()}}
		}
	}
	sources, err := rr.Rewrite()
	if err != nil {
		return nil, codeErrors{{Field: field, Message: err.Error()}}
	}
	var mods []*ast.Module
	for _, m := range sources.EntryPoints {
		mods = append(mods, m.Module)
	}
	for _, m := range sources.Libs {
		mods = append(mods, m.Module)
	}
	return mods, nil
}

var (
	libRef       = ast.MustParseRef("data.lib")
	inventoryRef = ast.MustParseRef("data.inventory")
)

// checkRefs reports, with their rows, references to data outside
// data.inventory and data.lib (the frameworks' rewriter rejects them too,
// without saying where).
func checkRefs(field string, m *ast.Module) codeErrors {
	var errs codeErrors
	for _, r := range m.Rules {
		ast.WalkRefs(r, func(ref ast.Ref) bool {
			if len(ref) == 0 || !ref[0].Equal(ast.DefaultRootDocument) {
				return false
			}
			if len(ref) < 2 || !isStringTerm(ref[1]) {
				return false // data or data[x]: the frameworks' rewriter decides
			}
			if ref.HasPrefix(inventoryRef) || ref.HasPrefix(libRef) {
				return false
			}
			row := 0
			if ref[0].Location != nil {
				row = ref[0].Location.Row
			}
			errs = append(errs, &codeError{Field: field, Row: row,
				Message: fmt.Sprintf("%s: templates may only read data.inventory and data.lib", ref)})
			return false
		})
	}
	return errs
}

func isStringTerm(t *ast.Term) bool { _, ok := t.Value.(ast.String); return ok }

func parseModule(field, src string, version ast.RegoVersion) (*ast.Module, error) {
	m, err := ast.ParseModuleWithOpts(field, src, ast.ParserOptions{RegoVersion: version})
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("empty module")
	}
	return m, nil
}

func asCodeErrors(err error, field string) codeErrors {
	var aerrs ast.Errors
	if errors.As(err, &aerrs) {
		return astErrors(aerrs, field)
	}
	return codeErrors{{Field: field, Message: err.Error()}}
}

// astErrors turns OPA's errors into codeErrors; modules are parsed with their
// template field as file name, so locations say where they are.
func astErrors(errs ast.Errors, field string) codeErrors {
	out := make(codeErrors, 0, len(errs))
	for _, e := range errs {
		re := &codeError{Field: field, Message: e.Message}
		if e.Location != nil {
			if e.Location.File != "" {
				re.Field = e.Location.File
			}
			re.Row = e.Location.Row
		}
		if re.Field == "" {
			re.Field = "/spec/targets/0"
		}
		out = append(out, re)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Field != out[j].Field {
			return out[i].Field < out[j].Field
		}
		return out[i].Row < out[j].Row
	})
	return out
}

// RemoveTemplate forgets a template.
func (d *regoDriver) RemoveTemplate(_ context.Context, ct *templates.ConstraintTemplate) error {
	kind := ct.Spec.CRD.Spec.Names.Kind
	d.mu.Lock()
	defer d.mu.Unlock()
	d.gen++
	delete(d.templates, kind)
	for k := range d.params {
		if k.Kind == kind {
			delete(d.params, k)
		}
	}
	return nil
}

// AddConstraint keeps a constraint's parameters (already defaulted by the
// client) as a Rego value.
func (d *regoDriver) AddConstraint(_ context.Context, c *unstructured.Unstructured) error {
	params, _, err := unstructured.NestedFieldNoCopy(c.Object, "spec", "parameters")
	if err != nil {
		return err
	}
	if params == nil {
		params = map[string]any{}
	}
	v, err := ast.InterfaceToValue(params)
	if err != nil {
		return fmt.Errorf("spec.parameters: %w", err)
	}
	d.mu.Lock()
	d.params[drivers.ConstraintKeyFrom(c)] = ast.NewTerm(v)
	d.gen++
	d.mu.Unlock()
	return nil
}

// RemoveConstraint forgets a constraint.
func (d *regoDriver) RemoveConstraint(_ context.Context, c *unstructured.Unstructured) error {
	d.mu.Lock()
	delete(d.params, drivers.ConstraintKeyFrom(c))
	d.gen++
	d.mu.Unlock()
	return nil
}

// AddData puts an object at data.inventory.<path>.
func (d *regoDriver) AddData(ctx context.Context, _ string, path storage.Path, data any) error {
	return d.putInventory(ctx, path, data)
}

// RemoveData removes what is at data.inventory.<path> (everything for an
// empty path).
func (d *regoDriver) RemoveData(ctx context.Context, _ string, path storage.Path) error {
	if len(path) == 0 {
		return d.resetInventory(ctx)
	}
	return d.removeInventory(ctx, path)
}

func (d *regoDriver) putInventory(ctx context.Context, key []string, obj any) error {
	return d.putInventoryBatch(ctx, []inventoryItem{{key: key, obj: obj}})[0]
}

type inventoryItem struct {
	key []string
	obj any
}

// putInventoryBatch writes many objects to data.inventory in one
// transaction, converted to Rego values on every core first (a CI run
// puts its whole repo there). It returns one error per item.
//
// Objects that no template can read (see inventoryReads) are not stored;
// with the optimizing rewrites off, every object is.
func (d *regoDriver) putInventoryBatch(ctx context.Context, items []inventoryItem) []error {
	errs := make([]error, len(items))
	values := make([]ast.Value, len(items))
	reads := d.inventoryReads()
	parallel.For(len(items), func(i int) {
		if reads.reads(items[i].key) {
			values[i], errs[i] = ast.InterfaceToValue(items[i].obj)
		}
	})
	d.invMu.Lock()
	defer d.invMu.Unlock()
	d.invVersion++
	err := storage.Txn(ctx, d.store, storage.WriteParams, func(txn storage.Transaction) error {
		for i, it := range items {
			if errs[i] != nil || values[i] == nil {
				continue
			}
			path := append(storage.Path{"inventory"}, it.key...)
			err := d.store.Write(ctx, txn, storage.AddOp, path, values[i])
			if storage.IsNotFound(err) {
				if err = storage.MakeDir(ctx, d.store, txn, path[:len(path)-1]); err == nil {
					err = d.store.Write(ctx, txn, storage.AddOp, path, values[i])
				}
			}
			errs[i] = err
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

func (d *regoDriver) removeInventory(ctx context.Context, key []string) error {
	path := append(storage.Path{"inventory"}, key...)
	d.invMu.Lock()
	defer d.invMu.Unlock()
	d.invVersion++
	return storage.Txn(ctx, d.store, storage.WriteParams, func(txn storage.Transaction) error {
		err := d.store.Write(ctx, txn, storage.RemoveOp, path, nil)
		if storage.IsNotFound(err) {
			return nil
		}
		return err
	})
}

func (d *regoDriver) resetInventory(ctx context.Context) error {
	d.invMu.Lock()
	defer d.invMu.Unlock()
	d.invVersion++
	return storage.Txn(ctx, d.store, storage.WriteParams, func(txn storage.Transaction) error {
		return d.store.Write(ctx, txn, storage.AddOp, storage.Path{"inventory"}, ast.NewObject())
	})
}

var (
	reviewKey        = ast.StringTerm("review")
	paramsKey        = ast.StringTerm("parameters")
	inventoryKeyTerm = ast.StringTerm(inventoryKey)
)

// Query runs the matched constraints' templates against a review.
func (d *regoDriver) Query(ctx context.Context, _ string, constraints []*unstructured.Unstructured, rev any, _ ...reviews.ReviewOpt) (*drivers.QueryResponse, error) {
	if len(constraints) == 0 {
		return nil, nil
	}
	rv, ok := rev.(*review)
	if !ok {
		return nil, fmt.Errorf("unexpected review type %T", rev)
	}
	reviewTerm, err := rv.term()
	if err != nil {
		return nil, err
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	d.invMu.RLock()
	defer d.invMu.RUnlock()
	txn, err := d.store.NewTransaction(ctx)
	if err != nil {
		return nil, err
	}
	defer d.store.Abort(ctx, txn)

	var inventory *ast.Term
	readInventory := func() (*ast.Term, error) {
		if inventory == nil {
			// The live inventory: the read transaction keeps writers out.
			v, err := d.store.Read(ctx, txn, storage.Path{"inventory"})
			if err != nil {
				return nil, err
			}
			av, ok := v.(ast.Value)
			if !ok {
				return nil, fmt.Errorf("inventory is %T, not a Rego value", v)
			}
			inventory = ast.NewTerm(av)
		}
		return inventory, nil
	}

	// The constraints of the combined program in one evaluation; the
	// others, or all if that fails, one by one.
	keys := make([]drivers.ConstraintKey, len(constraints))
	for i, c := range constraints {
		keys[i] = drivers.ConstraintKeyFrom(c)
	}
	var combined [][]*ast.Term
	if prog := d.combined(ctx); prog != nil {
		combined = d.queryCombined(ctx, txn, prog, keys, reviewTerm, readInventory)
	}

	var results []*types.Result
	for i, c := range constraints {
		key := keys[i]
		t := d.templates[key.Kind]
		if t == nil {
			return nil, fmt.Errorf("missing template for constraint kind %q", key.Kind)
		}
		params := d.params[key]
		if params == nil {
			continue // removed meanwhile
		}
		if combined != nil && combined[i] != nil {
			for _, r := range combined[i] {
				res, err := toResultTerm(c, r)
				if err != nil {
					return nil, fmt.Errorf("%s %s: %w", key.Kind, key.Name, err)
				}
				if res != nil {
					results = append(results, res)
				}
			}
			continue
		}
		rs, evalErr, err := d.evalTemplate(ctx, txn, t, reviewTerm, params, readInventory)
		if err != nil {
			return nil, err
		}
		if evalErr != nil {
			// As Gatekeeper does: a template that fails on an object
			// violates with the error as message.
			results = append(results, &types.Result{
				Msg:        evalErr.Error(),
				Metadata:   noDetails,
				Constraint: c,
			})
			continue
		}
		for _, r := range rs {
			res, err := toResult(c, r.Bindings["r"])
			if err != nil {
				return nil, fmt.Errorf("%s %s: %w", key.Kind, key.Name, err)
			}
			if res != nil {
				results = append(results, res)
			}
		}
	}
	return &drivers.QueryResponse{Results: results}, nil
}

// evalTemplate runs a template's own query for one constraint; evalErr is
// the evaluation's error, err one preparing its input.
func (d *regoDriver) evalTemplate(ctx context.Context, txn storage.Transaction, t *regoTemplate, reviewTerm, params *ast.Term, readInventory func() (*ast.Term, error)) (rs rego.ResultSet, evalErr, err error) {
	items := make([][2]*ast.Term, 0, 3+len(t.joins))
	items = append(items, [2]*ast.Term{reviewKey, reviewTerm}, [2]*ast.Term{paramsKey, params})
	if t.inventoryInInput {
		inv, err := readInventory()
		if err != nil {
			return nil, nil, err
		}
		items = append(items, [2]*ast.Term{inventoryKeyTerm, inv})
	}
	for _, j := range t.joins {
		idx, err := j.indexAt(ctx, txn, d.invVersion)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: building an inventory index: %w", t.kind, err)
		}
		items = append(items, [2]*ast.Term{j.key, idx})
	}
	q, err := t.query(ctx)
	if err != nil {
		return nil, nil, err
	}
	opts, stop := regoeval.Options(ctx)
	defer stop()
	rs, evalErr = q.Eval(ctx, append(opts, rego.EvalParsedInput(ast.NewObject(items...)), rego.EvalTransaction(txn))...)
	return rs, evalErr, nil
}

// noResults marks, in queryCombined's answer, a constraint that the
// combined evaluation judged without finding anything.
var noResults = []*ast.Term{}

// queryCombined evaluates the constraints of the combined program in one
// evaluation; keys are those of the matched constraints. It returns their
// violations by index in keys (nil for the constraints it did not judge),
// or nil if it judged none: when fewer than two constraints are in the
// program, or when the evaluation fails.
func (d *regoDriver) queryCombined(ctx context.Context, txn storage.Transaction, prog *combinedProgram, keys []drivers.ConstraintKey, reviewTerm *ast.Term, readInventory func() (*ast.Term, error)) [][]*ast.Term {
	// The units to evaluate, and the constraints each judges.
	type group struct {
		u       *unit
		members []int // indexes in constraints
	}
	groups := make([]group, 0, len(keys))
	n := 0
	seen := make([]uint64, (len(prog.units)+63)/64)
	for i, key := range keys {
		u := prog.units[key]
		if u == nil || d.params[key] != u.params || seen[u.n/64]&(1<<(u.n%64)) != 0 {
			continue
		}
		seen[u.n/64] |= 1 << (u.n % 64)
		n++
		g := slices.IndexFunc(groups, func(g group) bool { return g.u == u.eval })
		if g < 0 {
			groups = append(groups, group{u: u.eval})
			g = len(groups) - 1
		}
		groups[g].members = append(groups[g].members, i)
	}
	if n < 2 {
		return nil
	}
	out := make([][]*ast.Term, len(keys))
	for _, g := range groups {
		for _, i := range g.members {
			out[i] = noResults
		}
	}
	answer := func(g group, violations []*ast.Term) {
		for _, i := range g.members {
			if len(violations) > 0 {
				out[i] = violations
			}
		}
	}
	// The units whose verdicts are cached are answered from the cache;
	// the others are evaluated.
	var read []reads // by group, for the cached units
	var look *lookup
	if prog.verdicts != nil {
		read = make([]reads, len(groups))
		look = prog.verdicts.lookup(reviewTerm)
	}
	var eval []int // indexes in groups
	for k, g := range groups {
		if !g.u.guards.mayViolate(reviewTerm.Value) {
			continue // answered: no violations
		}
		if g.u.cached {
			read[k] = look.reads(g.u)
			if vs, ok := prog.verdicts.get(g.u, read[k]); ok {
				answer(g, vs)
				continue
			}
		}
		eval = append(eval, k)
	}
	if len(eval) == 0 {
		return out
	}
	names := make([]*ast.Term, len(eval))
	items := make([][2]*ast.Term, 0, 8)
	items = append(items, [2]*ast.Term{reviewKey, reviewTerm})
	needInventory := false
	var joined []*regoTemplate // templates whose indexes are in items
	for k, gi := range eval {
		g := groups[gi]
		names[k] = g.u.name
		needInventory = needInventory || g.u.tmpl.inventoryInInput
		if len(g.u.joins) == 0 || slices.Contains(joined, g.u.tmpl) {
			continue
		}
		joined = append(joined, g.u.tmpl)
		for _, j := range g.u.joins {
			idx, err := j.plan.indexAt(ctx, txn, d.invVersion)
			if err != nil {
				return nil // the template's own query reports it
			}
			items = append(items, [2]*ast.Term{j.key, idx})
		}
	}
	if needInventory {
		inv, err := readInventory()
		if err != nil {
			return nil
		}
		items = append(items, [2]*ast.Term{inventoryKeyTerm, inv})
	}
	items = append(items,
		[2]*ast.Term{unitsKeyTerm, ast.ArrayTerm(names...)},
		[2]*ast.Term{unitParamsTerm, prog.params})
	opts, stop := regoeval.Options(ctx)
	defer stop()
	rs, err := prog.query.Eval(ctx, append(opts, rego.EvalParsedInput(ast.NewObject(items...)), rego.EvalTransaction(txn), termAsIs,
		rego.EvalVirtualCache(unitCache{topdown.NewVirtualCache()}))...)
	if err != nil {
		return nil
	}
	// Results come unit by unit, in the order of input.__gk_units.
	found := make([][]*ast.Term, len(eval))
	k := 0
	for _, r := range rs {
		nt, _ := r.Bindings[unitVar].(*ast.Term)
		vt, _ := r.Bindings["r"].(*ast.Term)
		if nt == nil || vt == nil || !convertible(vt) {
			return nil
		}
		for k < len(eval) && !groups[eval[k]].u.name.Equal(nt) {
			k++
		}
		if k == len(eval) {
			return nil // not in order: let the templates' own queries judge
		}
		found[k] = append(found[k], vt)
	}
	for k, gi := range eval {
		g := groups[gi]
		answer(g, found[k])
		if g.u.cached {
			prog.verdicts.put(g.u, read[gi], found[k])
		}
	}
	return out
}

// convertible tells whether rego would turn a violation into JSON
// without error: objects with keys that are not strings it may not.
func convertible(t *ast.Term) bool {
	ok := true
	ast.WalkTerms(t, func(x *ast.Term) bool {
		if obj, isObj := x.Value.(ast.Object); isObj {
			obj.Foreach(func(k, _ *ast.Term) {
				if _, isStr := k.Value.(ast.String); !isStr {
					ok = false
				}
			})
		}
		return !ok
	})
	return ok
}

var (
	msgKey     = ast.StringTerm("msg")
	detailsKey = ast.StringTerm("details")
)

// toResultTerm is toResult for a violation as a Rego value.
func toResultTerm(c *unstructured.Unstructured, t *ast.Term) (*types.Result, error) {
	if obj, ok := t.Value.(ast.Object); ok {
		m := obj.Get(msgKey)
		if m == nil {
			return nil, nil
		}
		if msg, ok := m.Value.(ast.String); ok {
			meta := noDetails
			if d := obj.Get(detailsKey); d != nil {
				v, err := ast.JSON(d.Value)
				if err != nil {
					return nil, err
				}
				meta = map[string]any{"details": v}
			}
			return &types.Result{Msg: string(msg), Metadata: meta, Constraint: c}, nil
		}
	}
	v, err := ast.JSON(t.Value)
	if err != nil {
		return nil, err
	}
	return toResult(c, v)
}

// toResult reads one element of violation. One without msg is dropped, as
// Gatekeeper's hook drops it; a msg that is not a string is an error.
func toResult(c *unstructured.Unstructured, v any) (*types.Result, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("violation result is %T, not an object", v)
	}
	msgV, ok := m["msg"]
	if !ok {
		return nil, nil
	}
	msg, ok := msgV.(string)
	if !ok {
		return nil, fmt.Errorf("violation msg is %T, not a string", msgV)
	}
	meta := noDetails
	if details, ok := m["details"]; ok {
		meta = map[string]any{"details": details}
	}
	return &types.Result{Msg: msg, Metadata: meta, Constraint: c}, nil
}

// noDetails is the metadata of a violation without details, as
// Gatekeeper gives it. Results are read, never written, so all share it:
// most violations have no details, and a map each is most of what a
// review allocates for them.
var noDetails = map[string]any{"details": map[string]any{}}

// Dump lists the templates and constraints the driver holds.
func (d *regoDriver) Dump(_ context.Context) (string, error) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := map[string][]string{}
	for kind := range d.templates {
		out[kind] = []string{}
	}
	for k := range d.params {
		out[k.Kind] = append(out[k.Kind], k.Name)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	return string(b), err
}

// GetDescriptionForStat: the driver gathers no stats.
func (d *regoDriver) GetDescriptionForStat(name string) (string, error) {
	return "", fmt.Errorf("unknown stat %q", name)
}
