package engine

import (
	"context"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/conftest"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// CheckPackages is where gatekeep's own Rego checks live: each package under
// it is one check, named by its METADATA custom.id (else by its last name,
// with dashes), taking one object as input and denying with {msg, path}.
const CheckPackages = "gatekeep.checks"

// regoCheck is one gatekeep check written in Rego.
type regoCheck struct {
	ID, Summary string
	CIOnly      bool
}

// regoPolicies are a bundle's Rego, ready to evaluate: gatekeep's checks,
// one object at a time, and the user's conftest-style policies, per object
// or over every document at once (--combine).
type regoPolicies struct {
	checks  *conftest.Policies // nil: no gatekeep checks
	user    *conftest.Policies // nil: no conftest policies selected
	combine bool
	byPkg   map[string]regoCheck
	// checkIDs are the gatekeep checks the checks query evaluates.
	checkIDs []string
	// userRules are the conftest-style check IDs, evaluated or not.
	userRules []string
}

// regoOptions are the conftest options the engine was given.
type regoOptions struct {
	namespaces []string
	all        bool
	combine    bool
}

// loadRego compiles the bundle's Rego. Admission leaves out CI-only checks,
// and checks that --only or --skip leave out are not evaluated at all.
func loadRego(ctx context.Context, b *bundle.Bundle, o regoOptions, mode Mode, selected func(string) bool) (*regoPolicies, error) {
	if len(b.Rego) == 0 {
		return nil, nil
	}
	files := make([]conftest.File, len(b.Rego))
	for i, f := range b.Rego {
		files[i] = conftest.File{Name: f.Name, Content: f.Content}
	}
	data, err := RegoData(b.Data)
	if err != nil {
		return nil, err
	}
	rp := &regoPolicies{combine: o.combine, byPkg: map[string]regoCheck{}}
	var ciOnly []string // packages not to evaluate
	for _, f := range b.Rego {
		pkg, c, ok := checkMetadata(f)
		if !ok {
			continue
		}
		rp.byPkg[pkg] = c
		if !runsIn(mode, b, c.ID, c.CIOnly) || !selected(c.ID) || b.Config.Checks[c.ID] == bundle.Off {
			ciOnly = append(ciOnly, pkg)
		} else {
			rp.checkIDs = append(rp.checkIDs, c.ID)
		}
	}
	common := []conftest.Option{conftest.RegoVersion(b.Config.RegoVersion), conftest.AllowNetwork(b.Config.AllowNetwork)}
	if len(ciOnly) < len(rp.byPkg) {
		opts := append([]conftest.Option{conftest.IfPresent(CheckPackages + ".*"), conftest.Except(ciOnly...)}, common...)
		if rp.checks, err = conftest.Load(ctx, files, data, opts...); err != nil {
			return nil, err
		}
	}
	userOpts := append([]conftest.Option{conftest.Except(CheckPackages+".*", "gatekeep.lib.*")}, common...)
	switch {
	case o.all:
		userOpts = append(userOpts, conftest.AllNamespaces())
	case len(o.namespaces) > 0:
		userOpts = append(userOpts, conftest.Namespaces(o.namespaces...))
	default:
		userOpts = append(userOpts, conftest.IfPresent("main"))
	}
	user, err := conftest.Load(ctx, files, data, userOpts...)
	if err != nil {
		return nil, err
	}
	rp.userRules = user.Rules()
	for _, id := range rp.userRules {
		if selected(id) {
			rp.user = user // else nothing of it would be reported: skip it
			break
		}
	}
	return rp, nil
}

// RegoData is the bundle's data plus what gatekeep's Rego library reads:
// the one table of where workloads keep their pod spec, shared with Go.
func RegoData(bundleData map[string]any) (map[string]any, error) {
	if _, taken := bundleData["gatekeep"]; taken {
		return nil, fmt.Errorf("data key \"gatekeep\" is gatekeep's own: rename it in the bundle's data files")
	}
	data := make(map[string]any, len(bundleData)+1)
	for k, v := range bundleData {
		data[k] = v
	}
	paths := map[string]any{}
	for kind, p := range manifest.PodSpecPaths() {
		ps := make([]any, len(p))
		for i, s := range p {
			ps[i] = s
		}
		paths[kind] = ps
	}
	groups := map[string]any{}
	for _, g := range manifest.WorkloadGroups() {
		groups[g] = true
	}
	data["gatekeep"] = map[string]any{"podSpecPaths": paths, "workloadGroups": groups}
	return data, nil
}

// checkMetadata reads the METADATA of a module in CheckPackages.
func checkMetadata(f bundle.File) (pkg string, c regoCheck, ok bool) {
	m, err := ast.ParseModuleWithOpts(f.Name, string(f.Content), ast.ParserOptions{ProcessAnnotation: true})
	if err != nil {
		m, err = ast.ParseModuleWithOpts(f.Name, string(f.Content), ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV0})
	}
	if err != nil {
		return "", c, false // conftest.Load reports it, with file and line
	}
	pkg = strings.TrimPrefix(m.Package.Path.String(), "data.")
	if !strings.HasPrefix(pkg, CheckPackages+".") {
		return "", c, false
	}
	name := pkg[len(CheckPackages)+1:]
	c.ID = strings.ReplaceAll(name, "_", "-")
	for _, a := range m.Annotations {
		if a.Scope != "package" {
			continue
		}
		c.Summary = strings.TrimSpace(a.Description)
		if id, ok := a.Custom["id"].(string); ok && id != "" {
			c.ID = id
		}
		c.CIOnly, _ = a.Custom["ciOnly"].(bool)
	}
	return pkg, c, true
}

// ids lists the checks the Rego defines, for validating names.
func (rp *regoPolicies) ids() []string {
	var out []string
	for _, c := range rp.byPkg {
		out = append(out, c.ID)
	}
	return append(out, rp.userRules...)
}

// regoFinding is a Rego result before the engine applies the bundle's
// actions: the check ID and the action the policy gave it.
type regoFinding struct {
	check   string
	action  Action
	message string
	path    string
}

// review evaluates the per-object Rego over obj; value, if not nil, is obj
// as a Rego value. On an error, running are the IDs of the checks whose
// evaluation failed (see timedOut).
func (rp *regoPolicies) review(ctx context.Context, obj map[string]any, value ast.Value) (out []regoFinding, exceptions int, running []string, err error) {
	for i, p := range []*conftest.Policies{rp.checks, rp.userPerObject()} {
		if p == nil {
			continue
		}
		var res conftest.Result
		if value != nil {
			res, err = p.ReviewValue(ctx, value)
		} else {
			res, err = p.Review(ctx, obj)
		}
		if err != nil {
			if i == 0 {
				return out, exceptions, rp.checkIDs, err
			}
			return out, exceptions, rp.userRules, err
		}
		out = append(out, rp.findings(res)...)
		exceptions += res.Exceptions
	}
	return out, exceptions, nil, nil
}

func (rp *regoPolicies) userPerObject() *conftest.Policies {
	if rp.combine {
		return nil
	}
	return rp.user
}

// findings names conftest's results by check ID.
func (rp *regoPolicies) findings(res conftest.Result) []regoFinding {
	var out []regoFinding
	for _, group := range []struct {
		fs     []conftest.Finding
		action Action
	}{{res.Failures, Deny}, {res.Warnings, Warn}} {
		for _, f := range group.fs {
			id := f.Check
			if i := strings.LastIndexByte(id, '.'); i > 0 {
				if c, ok := rp.byPkg[id[:i]]; ok {
					id = c.ID
				}
			}
			path, _ := f.Metadata["path"].(string)
			out = append(out, regoFinding{check: id, action: group.action, message: f.Message, path: path})
		}
	}
	return out
}
