// Package conftest runs conftest-style Rego policies: the rules deny,
// violation and warn (and deny_<x>, violation_<x>, warn_<x>) of the selected
// packages, with conftest's exception rules, over one object at a time or,
// with ReviewCombined, over every document at once. RunTests runs a bundle's
// Rego unit tests the way `opa test` does.
//
// Policies are compiled once by Load; Review evaluates every selected rule
// of every selected package in a single query, and is safe for concurrent
// use, so the same Policies serve a CI run and the admission webhook.
//
// Policy evaluation never leaves the machine: http.send, net.lookup_ip_addr
// and opa.runtime are not available to policies unless AllowNetwork(true)
// is given, and a policy that calls them fails to Load.
package conftest

import (
	"context"
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gatekeep-dev/gatekeep/internal/regoeval"
)

// File is one Rego file of a bundle.
type File struct {
	// Name is how messages name the file: its path relative to the bundle.
	Name    string
	Content []byte
}

// Document is one document of a combined review.
type Document struct {
	// Path is the file the document was read from.
	Path     string
	Contents map[string]any
}

// Result is what the policies found in one review.
type Result struct {
	// Failures come from deny and violation rules, Warnings from warn rules,
	// in the order of Check, then Message.
	Failures []Finding
	Warnings []Finding
	// Exceptions counts the exceptions that applied, as conftest counts them:
	// for each rule, the number of times its name (without the deny_,
	// violation_ or warn_ prefix) appears in the package's exception set.
	Exceptions int
}

// Finding is one message of a rule.
type Finding struct {
	// Check is <package>.<rule>, e.g. "main.deny" or "k8s.warn_latest_tag".
	Check   string
	Message string
	// Metadata holds the fields of an object message other than msg, _loc
	// included, as JSON decodes them (numbers as json.Number); nil for a
	// string message.
	Metadata map[string]any
}

// Option configures Load and RunTests.
type Option func(*config)

type config struct {
	namespaces []string
	optional   []string
	except     []string
	all        bool
	version    string
	network    bool
}

// Namespaces selects the packages whose rules run, as conftest's
// --namespace (repeatable; "main" when not given). Patterns holding *, ? or
// [ are matched against the packages with path.Match, as conftest does.
func Namespaces(ns ...string) Option {
	return func(c *config) { c.namespaces = append(c.namespaces, ns...) }
}

// IfPresent selects the packages matching these patterns when there are
// any, without the error Namespaces gives for a pattern that matches
// nothing (gatekeep's built-in checks, main when a bundle has it).
func IfPresent(ns ...string) Option {
	return func(c *config) { c.optional = append(c.optional, ns...) }
}

// Except leaves out the packages matching these patterns, whatever else
// selects them.
func Except(ns ...string) Option {
	return func(c *config) { c.except = append(c.except, ns...) }
}

// AllNamespaces runs the rules of every package, as conftest's
// --all-namespaces.
func AllNamespaces() Option { return func(c *config) { c.all = true } }

// RegoVersion sets the Rego syntax of the files: "v0" or "v1" parse every
// file at that version. Without it (or with ""), a file is read as v1 unless
// it imports future.keywords or parses only as v0; v0 and v1 files can be
// mixed.
func RegoVersion(v string) Option { return func(c *config) { c.version = v } }

// AllowNetwork makes http.send, net.lookup_ip_addr and opa.runtime (which
// still reports no environment) available to policies, and lets
// json.match_schema and json.verify_schema fetch http and https $refs. All
// are refused by default; file: $refs always are (see regoeval).
func AllowNetwork(allow bool) Option { return func(c *config) { c.network = allow } }

// networkBuiltins reach outside the machine (or, for opa.runtime, into its
// environment): regoeval.NetworkBuiltins.
var networkBuiltins = func() map[string]bool {
	m := map[string]bool{}
	for _, b := range regoeval.NetworkBuiltins {
		m[b] = true
	}
	return m
}()

// The rule names conftest reads, exactly as conftest matches them.
var (
	warningRule = regexp.MustCompile(`^warn(_[a-zA-Z0-9]+)*$`)
	failureRule = regexp.MustCompile(`^(deny|violation)(_[a-zA-Z0-9]+)*$`)
)

// Policies are compiled policies ready to review objects. They are safe for
// concurrent use.
type Policies struct {
	namespaces []namespace
	checks     []string
	query      rego.PreparedEvalQuery
	hasQuery   bool
}

// namespace is a selected package and its rules.
type namespace struct {
	name  string // "main", "k8s.pods"
	rules []rule
	// exception is the index of the package's exception names in the
	// query's output (-1 when nothing defines data.<package>.exception).
	exception int
}

type rule struct {
	name      string // "deny_latest"
	check     string // "main.deny_latest"
	failure   bool
	exception string // the name exceptions give it: "latest" ("" for deny)
	index     int    // of its value in the query's output
	// wrapped rules may be undefined (complete rules): the output holds an
	// array of their value or of nothing. Partial set rules are always
	// defined (empty at worst) and the output holds their value.
	wrapped bool
}

// outVar is the query's one output: an array holding, for each rule, the
// rule's value and, for each package, its exception names.
const outVar = "gatekeep_out"

// Load compiles the policies of a bundle: modules are its Rego files (those
// named *_test.rego are left out: RunTests runs them) and data is its data
// document (data.<key> in Rego; may be nil). Problems with the policies are
// returned as Errors, each with its file and line.
func Load(ctx context.Context, modules []File, data map[string]any, opts ...Option) (*Policies, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	var files []File
	for _, f := range modules {
		if !isTestFile(f.Name) {
			files = append(files, f)
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Rego policies to load")
	}
	parsed, err := parseFiles(files, cfg.version)
	if err != nil {
		return nil, err
	}
	store, err := newStore(data)
	if err != nil {
		return nil, err
	}
	caps := capabilities(cfg.network)
	compiler := newCompiler(caps, false)
	if err := compile(ctx, compiler, store, parsed); err != nil {
		return nil, err
	}

	pkgs := packages(parsed)
	selected, err := selectNamespaces(cfg, slices.Sorted(maps.Keys(pkgs)))
	if err != nil {
		return nil, err
	}
	if errs := checkRuleHeads(parsed, selected); len(errs) > 0 {
		return nil, errs
	}

	p := &Policies{}
	var elems []string
	for _, ns := range selected {
		n := namespace{name: ns}
		names, sets := ruleNames(parsed, ns)
		for _, name := range names {
			r := rule{
				name:      name,
				check:     ns + "." + name,
				failure:   failureRule.MatchString(name),
				exception: removeRulePrefix(name),
				index:     len(elems),
				wrapped:   !sets[name],
			}
			ref := pkgs[ns].Append(ast.StringTerm(name))
			if r.wrapped {
				elems = append(elems, fmt.Sprintf("[x | x := %s]", ref))
			} else {
				elems = append(elems, ref.String())
			}
			n.rules = append(n.rules, r)
			p.checks = append(p.checks, r.check)
		}
		n.exception = -1
		exc := pkgs[ns].Append(ast.StringTerm("exception"))
		if len(n.rules) > 0 && defines(ctx, parsed, store, exc) {
			n.exception = len(elems)
			elems = append(elems, fmt.Sprintf("[x | x := %s[_][_]]", exc))
		}
		p.namespaces = append(p.namespaces, n)
	}
	sort.Strings(p.checks)
	if len(elems) == 0 {
		return p, nil
	}

	src := outVar + " := [" + strings.Join(elems, ", ") + "]"
	body, err := ast.ParseBodyWithOpts(src, ast.ParserOptions{RegoVersion: ast.RegoV1})
	if err != nil {
		return nil, fmt.Errorf("building the query: %w", err)
	}
	p.query, err = rego.New(
		rego.ParsedQuery(body),
		rego.Compiler(compiler),
		rego.Store(store),
		rego.Capabilities(caps),
		rego.EnablePrintStatements(false),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, asErrors(err)
	}
	p.hasQuery = true
	return p, nil
}

func newConfig(opts []Option) (config, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	switch cfg.version {
	case "", "v0", "v1":
	default:
		return cfg, fmt.Errorf("unknown Rego version %q (want v0 or v1)", cfg.version)
	}
	return cfg, nil
}

// Rules returns the checks the policies can report, sorted: <package>.<rule>
// for each deny, violation and warn rule of the selected packages.
func (p *Policies) Rules() []string { return slices.Clone(p.checks) }

// Namespaces returns the selected packages, in the order they run.
func (p *Policies) Namespaces() []string {
	out := make([]string, len(p.namespaces))
	for i, n := range p.namespaces {
		out[i] = n.name
	}
	return out
}

func isTestFile(name string) bool { return strings.HasSuffix(name, "_test.rego") }

// newStore holds the bundle's data as AST values, so evaluation reads them
// without conversion.
func newStore(data map[string]any) (storage.Store, error) {
	if data == nil {
		data = map[string]any{}
	}
	v, err := ast.InterfaceToValue(data)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	obj, ok := v.(ast.Object)
	if !ok {
		return nil, fmt.Errorf("data is %s, not an object", ast.ValueName(v))
	}
	return inmem.NewFromASTObject(obj), nil
}

// capabilities are OPA's, without the builtins that reach outside the
// machine unless network is allowed, and then with no host allowed either
// (json.match_schema's remote $refs): the same as ConstraintTemplates get.
func capabilities(network bool) *ast.Capabilities {
	if network {
		return regoeval.Capabilities()
	}
	return regoeval.Capabilities(regoeval.NetworkBuiltins...)
}

func newCompiler(caps *ast.Capabilities, print bool) *ast.Compiler {
	return ast.NewCompiler().
		WithCapabilities(caps).
		WithEnablePrintStatements(print).
		WithDefaultRegoVersion(ast.RegoV1).
		SetErrorLimit(0)
}

// compile compiles modules, checking that no rule stands where data is.
func compile(ctx context.Context, c *ast.Compiler, store storage.Store, modules map[string]*ast.Module) error {
	txn, err := store.NewTransaction(ctx)
	if err != nil {
		return err
	}
	defer store.Abort(ctx, txn)
	c.WithPathConflictsCheck(storage.NonEmpty(ctx, store, txn))
	if c.Compile(modules); c.Failed() {
		return compileErrors(c.Errors)
	}
	return nil
}

// packages returns the packages of modules: their names (without "data.")
// and paths.
func packages(modules map[string]*ast.Module) map[string]ast.Ref {
	out := map[string]ast.Ref{}
	for _, m := range modules {
		out[packageName(m)] = m.Package.Path
	}
	return out
}

func packageName(m *ast.Module) string {
	return strings.TrimPrefix(m.Package.Path.String(), "data.")
}

// selectNamespaces applies Namespaces and AllNamespaces. A namespace that
// was asked for but holds no policy is an error: a typo must not turn the
// policies off.
func selectNamespaces(cfg config, available []string) ([]string, error) {
	selected, err := chooseNamespaces(cfg, available)
	if err != nil || len(cfg.except) == 0 {
		return selected, err
	}
	out := selected[:0:0]
	for _, ns := range selected {
		if !matchesAny(cfg.except, ns) {
			out = append(out, ns)
		}
	}
	return out, nil
}

func matchesAny(patterns []string, ns string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, ns); ok {
			return true
		}
	}
	return false
}

func chooseNamespaces(cfg config, available []string) ([]string, error) {
	if cfg.all {
		return available, nil
	}
	var out []string
	for _, ns := range available {
		if matchesAny(cfg.optional, ns) {
			out = append(out, ns)
		}
	}
	patterns := cfg.namespaces
	if len(patterns) == 0 && len(cfg.optional) == 0 {
		patterns = []string{"main"}
	}
	for _, p := range patterns {
		if !strings.ContainsAny(p, "*?[") {
			if !slices.Contains(available, p) {
				return nil, fmt.Errorf("namespace %q: no policy has package %s (packages: %s)", p, p, strings.Join(available, ", "))
			}
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
			continue
		}
		n := 0
		for _, ns := range available {
			ok, err := path.Match(p, ns)
			if err != nil {
				return nil, fmt.Errorf("namespace pattern %q: %w", p, err)
			}
			if ok {
				n++
				if !slices.Contains(out, ns) {
					out = append(out, ns)
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("namespace pattern %q matches no package (packages: %s)", p, strings.Join(available, ", "))
		}
	}
	return out, nil
}

// ruleNames returns the names of the deny, violation and warn rules of a
// package, sorted: as conftest, the rules whose name (not a ref head) match,
// functions left out. sets tells the names defined only by partial set
// rules (deny contains msg).
func ruleNames(modules map[string]*ast.Module, ns string) (names []string, sets map[string]bool) {
	sets = map[string]bool{}
	notSet := map[string]bool{}
	for _, m := range modules {
		if packageName(m) != ns {
			continue
		}
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if r.Head.Name == "" || len(r.Head.Args) > 0 {
				continue
			}
			if !failureRule.MatchString(name) && !warningRule.MatchString(name) {
				continue
			}
			if !slices.Contains(names, name) {
				names = append(names, name)
			}
			if r.Head.DocKind() == ast.PartialSetDoc {
				sets[name] = true
			} else {
				notSet[name] = true
			}
		}
	}
	for name := range notSet {
		delete(sets, name)
	}
	sort.Strings(names)
	return names, sets
}

// defines reports whether a rule, a package or the data document may give
// ref (data.<package>.exception) a value.
func defines(ctx context.Context, modules map[string]*ast.Module, store storage.Store, ref ast.Ref) bool {
	for _, m := range modules {
		if m.Package.Path.HasPrefix(ref) {
			return true
		}
		if !ref.HasPrefix(m.Package.Path) {
			continue
		}
		for _, r := range m.Rules {
			if m.Package.Path.Extend(r.Head.Ref()).HasPrefix(ref) || ref.HasPrefix(m.Package.Path.Extend(r.Head.Ref().GroundPrefix())) {
				return true
			}
		}
	}
	path, err := storage.NewPathForRef(ref)
	if err != nil {
		return true
	}
	_, err = storage.ReadOne(ctx, store, path)
	return !storage.IsNotFound(err)
}

// checkRuleHeads refuses, in the selected packages, rules such as
// `deny[msg] if { ... }`: without contains, they build an object that
// conftest never reads, and the policy would silently pass (conftest refuses
// them too).
func checkRuleHeads(modules map[string]*ast.Module, selected []string) Errors {
	var errs Errors
	for _, m := range modules {
		if !slices.Contains(selected, packageName(m)) {
			continue
		}
		for _, r := range m.Rules {
			h := r.Head
			if h.Name != "" || h.Value == nil || len(h.Reference) < 2 {
				continue
			}
			v, ok := h.Reference[0].Value.(ast.Var)
			if !ok {
				continue
			}
			name := string(v)
			if !failureRule.MatchString(name) && !warningRule.MatchString(name) && name != "exception" {
				continue
			}
			if h.Value.Equal(ast.InternedTerm(true)) {
				errs = append(errs, errorAt(h.Location, fmt.Sprintf("rule %s uses if without contains, which makes an object conftest does not read: write %s contains %s if { ... }", h.Reference, name, h.Reference[1])))
			}
		}
	}
	errs.sort()
	return errs
}

// removeRulePrefix is the name by which exceptions refer to a rule, exactly
// as conftest computes it.
func removeRulePrefix(rule string) string {
	if rule == "violation" || rule == "deny" || rule == "warn" {
		return ""
	}
	rule = strings.TrimPrefix(rule, "violation_")
	rule = strings.TrimPrefix(rule, "deny_")
	rule = strings.TrimPrefix(rule, "warn_")
	return rule
}
