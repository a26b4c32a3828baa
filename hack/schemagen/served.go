package main

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// configSources are where releases define DefaultAPIResourceConfigSource,
// the API server's default set of served group versions and resources.
var configSources = []string{"pkg/controlplane/instance.go", "pkg/master/master.go"}

// deprecatedOff returns the kinds ("group/version/Kind") that the release's
// API server does not serve by default because they are deprecated, though
// its OpenAPI documents list them: the documents are written with every API
// switched on (--runtime-config=api/all=true), so in 1.16 and 1.17 they
// still hold apps/v1beta1, apps/v1beta2 and the deprecated
// extensions/v1beta1 resources, which a default cluster no longer serves.
//
// They are read from DefaultAPIResourceConfigSource: the arguments of its
// DisableVersions and DisableResources calls that the source's own comment
// calls deprecated. Alpha versions and, from 1.24, new beta versions are
// switched off there too, but they are kept: a cluster may switch them on,
// and they were never served by default, so they were never removed.
func deprecatedOff(moduleDir string, v2 *swagger, groups map[string]bool) (map[string]bool, error) {
	var file string
	for _, s := range configSources {
		if _, err := os.Stat(filepath.Join(moduleDir, s)); err == nil {
			file = filepath.Join(moduleDir, s)
			break
		}
	}
	if file == "" {
		return nil, fmt.Errorf("no DefaultAPIResourceConfigSource in %s", strings.Join(configSources, " or "))
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		return nil, fmt.Errorf("default API config: %w", err)
	}
	imports := map[string]string{} // name -> import path
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := path.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		imports[name] = p
	}
	var fn *ast.FuncDecl
	for _, d := range f.Decls {
		if fd, ok := d.(*ast.FuncDecl); ok && fd.Name.Name == "DefaultAPIResourceConfigSource" {
			fn = fd
		}
	}
	if fn == nil {
		return nil, fmt.Errorf("%s: no DefaultAPIResourceConfigSource", file)
	}
	comments := ast.NewCommentMap(fset, f, f.Comments)

	// groupVersion resolves pkg.SchemeGroupVersion, pkg being an import of
	// k8s.io/api/<dir>/<version>: the group is the dir when the release
	// has such a group, else the one group whose first label is the dir
	// (rbac: rbac.authorization.k8s.io), "" for core.
	groupVersion := func(e ast.Expr) (string, error) {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "SchemeGroupVersion" {
			return "", fmt.Errorf("%s: %s is not a package's SchemeGroupVersion", file, fset.Position(e.Pos()))
		}
		id, ok := sel.X.(*ast.Ident)
		if !ok {
			return "", fmt.Errorf("%s: unexpected expression", fset.Position(e.Pos()))
		}
		p, ok := imports[id.Name]
		if !ok || !strings.HasPrefix(p, "k8s.io/api/") {
			return "", fmt.Errorf("%s: %s is no k8s.io/api package", fset.Position(e.Pos()), id.Name)
		}
		dir, version := path.Base(path.Dir(p)), path.Base(p)
		if dir == "core" {
			return version, nil
		}
		if groups[dir] {
			return dir + "/" + version, nil
		}
		var match []string
		for g := range groups {
			if first, _, _ := strings.Cut(g, "."); first == dir {
				match = append(match, g)
			}
		}
		if len(match) != 1 {
			return "", fmt.Errorf("%s: no single API group for %s (%v)", fset.Position(e.Pos()), p, match)
		}
		return match[0] + "/" + version, nil
	}

	offVersions := map[string]bool{}  // apiVersion
	offResources := map[string]bool{} // apiVersion/resource
	var err2 error
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		stmt, ok := n.(*ast.ExprStmt)
		if !ok || err2 != nil {
			return err2 == nil
		}
		call, ok := stmt.X.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || (sel.Sel.Name != "DisableVersions" && sel.Sel.Name != "DisableResources") {
			return true
		}
		deprecated := false
		for _, cg := range comments[stmt] {
			if strings.Contains(strings.ToLower(cg.Text()), "deprecated") {
				deprecated = true
			}
		}
		if !deprecated {
			return true
		}
		for _, arg := range call.Args {
			switch sel.Sel.Name {
			case "DisableVersions":
				gv, err := groupVersion(arg)
				if err != nil {
					err2 = err
					return false
				}
				offVersions[gv] = true
			case "DisableResources":
				c, ok := arg.(*ast.CallExpr)
				var lit *ast.BasicLit
				if ok && len(c.Args) == 1 {
					lit, _ = c.Args[0].(*ast.BasicLit)
				}
				fsel, _ := c.Fun.(*ast.SelectorExpr)
				if fsel == nil || fsel.Sel.Name != "WithResource" || lit == nil {
					err2 = fmt.Errorf("%s: not gv.WithResource(\"name\")", fset.Position(arg.Pos()))
					return false
				}
				gv, err := groupVersion(fsel.X)
				if err != nil {
					err2 = err
					return false
				}
				res, _ := strconv.Unquote(lit.Value)
				offResources[gv+"/"+res] = true
			}
		}
		return true
	})
	if err2 != nil {
		return nil, err2
	}
	if len(offVersions) == 0 && len(offResources) == 0 {
		return nil, nil
	}

	// A kind is off when every resource it is served under is.
	resources, _ := pathKinds(v2)
	off := map[string]bool{}
	for name := range v2.Definitions {
		for _, g := range gvks(v2.Definitions[name]) {
			k := g.key()
			if offVersions[apiVersionOf(g.Group, g.Version)] {
				off[k] = true
				continue
			}
			rs := resources[k]
			all := len(rs) > 0
			for r := range rs {
				all = all && offResources[r]
			}
			if all {
				off[k] = true
			}
		}
	}
	// A list is served with its items (paths carry the item kind).
	for name := range v2.Definitions {
		for _, g := range gvks(v2.Definitions[name]) {
			if item, ok := strings.CutSuffix(g.Kind, "List"); ok && off[gvk{g.Group, g.Version, item}.key()] {
				off[g.key()] = true
			}
		}
	}
	// Every switched-off resource must have been found in the paths.
	var missing []string
	for r := range offResources {
		found := false
		for _, rs := range resources {
			found = found || rs[r]
		}
		if !found {
			missing = append(missing, r)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		return nil, fmt.Errorf("resources switched off by default but not in the OpenAPI paths: %v", missing)
	}
	return off, nil
}

// pathKinds reads the paths of a v2 document
// (/apis/G/V/[namespaces/{namespace}/]RESOURCE[/{name}[/SUBRESOURCE]]):
// for each kind ("group/version/Kind"), the resources it is served under
// ("apiVersion/resource"), and whether it is served as an object, at a
// resource's own path rather than only at a subresource (Scale, Eviction)
// that takes it as a request body.
func pathKinds(v2 *swagger) (resources map[string]map[string]bool, objects map[string]bool) {
	resources, objects = map[string]map[string]bool{}, map[string]bool{}
	for p, ops := range v2.Paths {
		gv, res, sub, ok := resourceOf(p)
		if !ok {
			continue
		}
		for _, raw := range ops {
			var op map[string]any
			if json.Unmarshal(raw, &op) != nil {
				continue // parameters: a list
			}
			for _, g := range gvks(op) {
				k := g.key()
				if resources[k] == nil {
					resources[k] = map[string]bool{}
				}
				resources[k][gv+"/"+res] = true
				if !sub {
					objects[k] = true
				}
			}
		}
	}
	return resources, objects
}

// resourceOf splits an API path into its apiVersion and top resource, and
// says whether it is a subresource's.
func resourceOf(p string) (gv, res string, sub, ok bool) {
	var rest string
	switch {
	case strings.HasPrefix(p, "/api/v1/"):
		gv, rest = "v1", strings.TrimPrefix(p, "/api/v1/")
	case strings.HasPrefix(p, "/apis/"):
		parts := strings.SplitN(strings.TrimPrefix(p, "/apis/"), "/", 3)
		if len(parts) < 3 {
			return "", "", false, false
		}
		gv, rest = parts[0]+"/"+parts[1], parts[2]
	default:
		return "", "", false, false
	}
	rest = strings.TrimPrefix(rest, "watch/")
	if r, ok := strings.CutPrefix(rest, "namespaces/{namespace}/"); ok {
		rest = r
	}
	segs := strings.Split(rest, "/")
	if segs[0] == "" {
		return "", "", false, false
	}
	return gv, segs[0], len(segs) > 2, true
}

func apiVersionOf(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}
