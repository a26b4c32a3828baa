package argocd

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// maxParamSets bounds the param sets of one generator (a matrix of large generators multiplies).
const maxParamSets = 10000

// generatorKinds are the generator fields of ApplicationSetGenerator in Argo CD's order.
var generatorKinds = []string{"list", "clusters", "git", "scmProvider", "clusterDecisionResource", "pullRequest", "matrix", "merge", "plugin"}

type appSet struct {
	*reader
	name   string
	goTmpl bool
	rd     *renderer
}

func (r *reader) applicationSet(obj map[string]any) []App {
	meta := r.object(obj, "metadata", "/metadata")
	name := r.str(meta, "name", "/metadata/name")
	spec := r.object(obj, "spec", "/spec")
	if spec == nil {
		r.warn("ApplicationSet %q has no spec", name)
		return nil
	}
	goTmpl := r.boolean(spec, "goTemplate", "/spec/goTemplate")
	var opts []string
	for _, o := range r.strList(spec, "goTemplateOptions", "/spec/goTemplateOptions") {
		if validTemplateOptions[o] {
			opts = append(opts, o)
		} else {
			r.warn("ApplicationSet %q: goTemplateOptions %q is not a text/template option; ignored", name, o)
		}
	}
	c := &appSet{reader: r, name: name, goTmpl: goTmpl, rd: newRenderer(goTmpl, opts)}
	tmpl := r.object(spec, "template", "/spec/template")
	var patch *string
	switch v := spec["templatePatch"].(type) {
	case nil:
	case string:
		patch = &v
	default:
		r.warn("ApplicationSet %q: /spec/templatePatch is not a string; ignored", name)
	}
	gens := r.list(spec, "generators", "/spec/generators")
	if len(gens) == 0 {
		r.warn("ApplicationSet %q has no generators", name)
	}
	var apps []App
	names := map[string]bool{}
	for i, g := range gens {
		ptr := "/spec/generators/" + strconv.Itoa(i)
		gm, ok := g.(map[string]any)
		if !ok {
			c.warn("ApplicationSet %q: %s is not an object", name, ptr)
			continue
		}
		kinds := kindsOf(gm)
		if len(kinds) == 0 {
			c.warn("ApplicationSet %q: %s names no generator", name, ptr)
			continue
		}
		for _, kind := range kinds {
			params, ok := c.generate(gm, kind, ptr)
			if !ok {
				continue
			}
			// The generator's own template, merged over spec.template.
			var genTmpl map[string]any
			srcPtr := "/spec/template/spec"
			if km, ok := gm[kind].(map[string]any); ok {
				if t, ok := km["template"].(map[string]any); ok {
					genTmpl = t
					if s, ok := t["spec"].(map[string]any); ok && (s["source"] != nil || s["sources"] != nil || s["sourceHydrator"] != nil) {
						srcPtr = ptr + "/" + kind + "/template/spec"
					}
				}
			}
			merged := fillTemplate(genTmpl, tmpl)
			if merged == nil {
				c.warn("ApplicationSet %q has no template", name)
				continue
			}
			for _, p := range params {
				app, ok := c.renderApp(merged, p, patch, srcPtr)
				if !ok {
					continue
				}
				if names[app.Name] {
					c.warn("ApplicationSet %q generates more than one Application named %q (Argo CD refuses this); the first is kept", name, app.Name)
					continue
				}
				names[app.Name] = true
				apps = append(apps, app)
			}
		}
	}
	return apps
}

// renderApp renders the template with one param set (not at all when the set is empty, as Argo
// CD), applies templatePatch and reads the Application.
func (c *appSet) renderApp(tmpl map[string]any, p map[string]any, patch *string, srcPtr string) (App, bool) {
	rendered := tmpl
	if len(p) > 0 {
		v, err := c.rd.render(tmpl, p)
		if err != nil {
			c.warn("ApplicationSet %q: %v", c.name, err)
			return App{}, false
		}
		rendered = v.(map[string]any)
	}
	obj := map[string]any{"apiVersion": apiVersion, "kind": "Application", "metadata": rendered["metadata"], "spec": rendered["spec"]}
	if patch != nil {
		s, err := c.rd.replace(*patch, p)
		if err != nil {
			c.warn("ApplicationSet %q: templatePatch: %v", c.name, err)
			return App{}, false
		}
		var pm any
		if err := yaml.Unmarshal([]byte(s), &pm); err != nil {
			c.warn("ApplicationSet %q: templatePatch: %v", c.name, err)
			return App{}, false
		}
		if pm != nil {
			if _, ok := pm.(map[string]any); !ok {
				c.warn("ApplicationSet %q: templatePatch is not an object", c.name)
				return App{}, false
			}
			obj = mergePatch(obj, pm).(map[string]any)
		}
	}
	return c.application(obj, "/spec/template/spec", srcPtr, c.name)
}

// fillTemplate is mergo.Merge(&gen, base): the generator's template, its empty fields filled from
// the ApplicationSet's.
func fillTemplate(gen, base map[string]any) map[string]any {
	if gen == nil {
		return base
	}
	if base == nil {
		return gen
	}
	out := make(map[string]any, len(gen))
	for k, v := range gen {
		out[k] = v
	}
	for k, bv := range base {
		gv, ok := out[k]
		if !ok || isEmpty(gv) {
			out[k] = bv
			continue
		}
		if gm, ok := gv.(map[string]any); ok {
			if bm, ok := bv.(map[string]any); ok {
				out[k] = fillTemplate(gm, bm)
			}
		}
	}
	return out
}

func isEmpty(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case bool:
		return !v
	case int64:
		return v == 0
	case float64:
		return v == 0
	case int:
		return v == 0
	case []any:
		return len(v) == 0
	}
	return false
}

// kindsOf lists the generator kinds set in a generator, in Argo CD's order.
func kindsOf(gm map[string]any) []string {
	var kinds []string
	for _, k := range generatorKinds {
		if gm[k] != nil {
			kinds = append(kinds, k)
		}
	}
	return kinds
}

// generate runs one generator kind of gm and filters the params with gm's selector.
func (c *appSet) generate(gm map[string]any, kind, ptr string) ([]map[string]any, bool) {
	kptr := ptr + "/" + kind
	km, ok := gm[kind].(map[string]any)
	if !ok {
		c.warn("ApplicationSet %q: %s is not an object", c.name, kptr)
		return nil, false
	}
	var params []map[string]any
	switch kind {
	case "list":
		params, ok = c.listGen(km, kptr)
	case "git":
		params, ok = c.gitGen(km, kptr)
	case "matrix":
		params, ok = c.matrixGen(km, kptr)
	case "merge":
		params, ok = c.mergeGen(km, kptr)
	default:
		c.warn("ApplicationSet %q: the %s generator (%s) is not supported: nothing is rendered for it", c.name, kind, kptr)
		return nil, false
	}
	if !ok {
		return nil, false
	}
	if len(params) > maxParamSets {
		c.warn("ApplicationSet %q: %s gives %d param sets; only the first %d are read", c.name, kptr, len(params), maxParamSets)
		params = params[:maxParamSets]
	}
	if sel, ok := gm["selector"].(map[string]any); ok {
		return c.selectParams(sel, params, ptr+"/selector")
	}
	return params, true
}

// child runs a generator nested in a matrix or merge, interpolated with params when given (a
// matrix's second generator gets each param set of the first).
func (c *appSet) child(g any, params map[string]any, ptr string) ([]map[string]any, bool) {
	gm, ok := g.(map[string]any)
	if !ok {
		c.warn("ApplicationSet %q: %s is not an object", c.name, ptr)
		return nil, false
	}
	kinds := kindsOf(gm)
	if len(kinds) == 0 {
		c.warn("ApplicationSet %q: %s: child generator generated no parameters", c.name, ptr)
		return nil, false
	}
	if len(kinds) > 1 {
		c.warn("ApplicationSet %q: %s: there cannot be more than one inner generator (%s)", c.name, ptr, strings.Join(kinds, ", "))
		return nil, false
	}
	if len(params) > 0 {
		v, err := c.interpolate(gm, params, false)
		if err != nil {
			c.warn("ApplicationSet %q: %s: %v", c.name, ptr, err)
			return nil, false
		}
		gm = v
	}
	return c.generate(gm, kinds[0], ptr)
}

// interpolate renders a nested generator's strings with params, as Argo CD's
// RenderGeneratorParams: list elements and matrix/merge generators nested one level further
// (raw JSON in Argo CD's types) are left as written.
func (c *appSet) interpolate(gm map[string]any, params map[string]any, nested bool) (map[string]any, error) {
	return c.renderFields(gm, params, func(k string, v any) (any, bool, error) {
		km, isMap := v.(map[string]any)
		switch {
		case k == "list" && isMap:
			x, err := c.renderFields(km, params, func(kk string, vv any) (any, bool, error) {
				return vv, kk == "elements", nil
			})
			return x, true, err
		case (k == "matrix" || k == "merge") && nested:
			return v, true, nil
		case (k == "matrix" || k == "merge") && isMap:
			x, err := c.renderFields(km, params, func(kk string, vv any) (any, bool, error) {
				l, ok := vv.([]any)
				if !ok || kk != "generators" {
					return nil, false, nil
				}
				gens := make([]any, len(l))
				for i, g := range l {
					gens[i] = g
					if gm2, ok := g.(map[string]any); ok {
						x, err := c.interpolate(gm2, params, true)
						if err != nil {
							return nil, true, err
						}
						gens[i] = x
					}
				}
				return gens, true, nil
			})
			return x, true, err
		}
		return nil, false, nil
	})
}

// renderFields renders each field of m with params, but those special
// takes care of (its second result says so).
func (c *appSet) renderFields(m, params map[string]any, special func(k string, v any) (any, bool, error)) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		x, done, err := special(k, v)
		if !done && err == nil {
			x, err = c.rd.render(v, params)
		}
		if err != nil {
			return nil, err
		}
		out[k] = x
	}
	return out, nil
}

// listGen is Argo CD's list generator.
func (c *appSet) listGen(km map[string]any, ptr string) ([]map[string]any, bool) {
	var res []map[string]any
	for i, e := range c.list(km, "elements", ptr+"/elements") {
		eptr := ptr + "/elements/" + strconv.Itoa(i)
		em, ok := e.(map[string]any)
		if !ok {
			c.warn("ApplicationSet %q: %s is not an object", c.name, eptr)
			return nil, false
		}
		if c.goTmpl {
			res = append(res, em)
			continue
		}
		params := map[string]any{}
		for _, k := range sortedKeys(em) {
			v := em[k]
			if k == "values" {
				vm, ok := v.(map[string]any)
				if !ok {
					c.warn("ApplicationSet %q: %s/values is not a map (error parsing values map)", c.name, eptr)
					return nil, false
				}
				for vk, vv := range vm {
					s, ok := vv.(string)
					if !ok {
						c.warn("ApplicationSet %q: %s/values/%s is not a string (without goTemplate list values must be strings)", c.name, eptr, vk)
						return nil, false
					}
					params["values."+vk] = s
				}
				continue
			}
			s, ok := v.(string)
			if !ok {
				c.warn("ApplicationSet %q: %s/%s is not a string (without goTemplate list elements must be strings)", c.name, eptr, k)
				return nil, false
			}
			params[k] = s
		}
		res = append(res, params)
	}
	switch ey := km["elementsYaml"].(type) {
	case nil:
	case string:
		if ey != "" {
			var elems []map[string]any
			if err := yaml.Unmarshal([]byte(ey), &elems); err != nil {
				c.warn("ApplicationSet %q: %s/elementsYaml: %v", c.name, ptr, err)
				return nil, false
			}
			res = append(res, elems...)
		}
	default:
		c.warn("ApplicationSet %q: %s/elementsYaml is not a string", c.name, ptr)
		return nil, false
	}
	return res, true
}

type gitItem struct {
	path    string
	exclude bool
}

func (c *appSet) gitItems(km map[string]any, key, ptr string) []gitItem {
	var items []gitItem
	for i, v := range c.list(km, key, ptr+"/"+key) {
		iptr := ptr + "/" + key + "/" + strconv.Itoa(i)
		m, ok := v.(map[string]any)
		if !ok {
			c.warn("ApplicationSet %q: %s is not an object", c.name, iptr)
			continue
		}
		items = append(items, gitItem{path: c.str(m, "path", iptr+"/path"), exclude: c.boolean(m, "exclude", iptr+"/exclude")})
	}
	return items
}

// gitGen is Argo CD's git generator over the checkout.
func (c *appSet) gitGen(km map[string]any, ptr string) ([]map[string]any, bool) {
	repoURL := c.str(km, "repoURL", ptr+"/repoURL")
	if !c.repo.Owns(repoURL) {
		c.warn("ApplicationSet %q: the git generator (%s) reads %q, not this repository: nothing is rendered for it", c.name, ptr, repoURL)
		return nil, false
	}
	if c.repo.Root == "" {
		c.warn("ApplicationSet %q: the git generator (%s): the repository root is not known", c.name, ptr)
		return nil, false
	}
	prefix := c.str(km, "pathParamPrefix", ptr+"/pathParamPrefix")
	values := c.strMap(km, "values", ptr+"/values")
	dirs := c.gitItems(km, "directories", ptr)
	files := c.gitItems(km, "files", ptr)
	var res []map[string]any
	switch {
	case len(dirs) > 0:
		for _, d := range c.gitDirs() {
			include, exclude := false, false
			for _, it := range dirs {
				ok, err := path.Match(it.path, d)
				if err != nil {
					c.warn("ApplicationSet %q: %s: directory pattern %q: %v", c.name, ptr, it.path, err)
					continue
				}
				if ok && it.exclude {
					exclude = true
				} else if ok {
					include = true
				}
			}
			if include && !exclude {
				p := c.dirParams(d, prefix)
				if !c.appendValues(p, values, ptr) {
					return nil, false
				}
				res = append(res, p)
			}
		}
	case len(files) > 0:
		for _, f := range c.gitFiles() {
			include, exclude := false, false
			for _, it := range files {
				if pathspecMatch(it.path, f) {
					if it.exclude {
						exclude = true
					} else {
						include = true
					}
				}
			}
			if !include || exclude {
				continue
			}
			ps, ok := c.fileParams(f, prefix)
			if !ok {
				return nil, false
			}
			for _, p := range ps {
				if !c.appendValues(p, values, ptr) {
					return nil, false
				}
				res = append(res, p)
			}
		}
	default:
		c.warn("ApplicationSet %q: the git generator (%s) has neither directories nor files", c.name, ptr)
		return nil, false
	}
	return res, true
}

// goPathParams are a directory's .path params of goTemplate (the git
// generators').
func goPathParams(dir string) map[string]any {
	return map[string]any{
		"path":               dir,
		"basename":           path.Base(dir),
		"basenameNormalized": sanitizeName(path.Base(dir)),
		"segments":           toAnyList(strings.Split(dir, "/")),
	}
}

// setPathParams puts .path params under the generator's pathParamPrefix.
func setPathParams(params map[string]any, prefix string, pp map[string]any) {
	if prefix != "" {
		params[prefix] = map[string]any{"path": pp}
	} else {
		params["path"] = pp
	}
}

// dirParams are the params of one directory of the git directories generator.
func (c *appSet) dirParams(d, prefix string) map[string]any {
	params := map[string]any{}
	if c.goTmpl {
		setPathParams(params, prefix, goPathParams(d))
		return params
	}
	name := "path"
	if prefix != "" {
		name = prefix + ".path"
	}
	params[name] = d
	params[name+".basename"] = path.Base(d)
	params[name+".basenameNormalized"] = sanitizeName(path.Base(d))
	for i, seg := range strings.Split(d, "/") {
		if seg != "" {
			params[name+"["+strconv.Itoa(i)+"]"] = seg
		}
	}
	return params
}

// fileParams are the param sets of one file of the git files generator: one per element when the
// file holds a list, else one.
func (c *appSet) fileParams(f, prefix string) ([]map[string]any, bool) {
	data, err := os.ReadFile(filepath.Join(c.repo.Root, filepath.FromSlash(f)))
	if err != nil {
		c.warn("ApplicationSet %q: git files generator: unable to process file %q: %v", c.name, f, err)
		return nil, false
	}
	var objects []map[string]any
	if err := yaml.Unmarshal(data, &objects); err != nil {
		single := map[string]any{}
		if err := yaml.Unmarshal(data, &single); err != nil {
			c.warn("ApplicationSet %q: git files generator: unable to process file %q: unable to parse file: %v", c.name, f, err)
			return nil, false
		}
		objects = []map[string]any{single}
	} else if len(objects) == 0 {
		objects = []map[string]any{{}}
	}
	dir := path.Dir(f)
	var res []map[string]any
	for _, obj := range objects {
		params := map[string]any{}
		if c.goTmpl {
			for k, v := range obj {
				params[k] = v
			}
			pp := goPathParams(dir)
			pp["filename"] = path.Base(f)
			pp["filenameNormalized"] = sanitizeName(path.Base(f))
			setPathParams(params, prefix, pp)
		} else {
			flatten("", obj, params)
			name := "path"
			if prefix != "" {
				name = prefix + ".path"
			}
			params[name] = dir
			params[name+".basename"] = path.Base(dir)
			params[name+".filename"] = path.Base(f)
			params[name+".basenameNormalized"] = sanitizeName(path.Base(dir))
			params[name+".filenameNormalized"] = sanitizeName(path.Base(f))
			for i, seg := range strings.Split(dir, "/") {
				if seg != "" {
					params[name+"["+strconv.Itoa(i)+"]"] = seg
				}
			}
		}
		res = append(res, params)
	}
	return res, true
}

// appendValues adds the git generator's values, rendered with the params, as values.<key>
// (fasttemplate) or .values.<key> (goTemplate).
func (c *appSet) appendValues(params map[string]any, values map[string]string, ptr string) bool {
	if len(values) == 0 {
		return true
	}
	tmp := map[string]string{}
	for _, k := range sortedKeys(values) {
		v, err := c.rd.replace(values[k], params)
		if err != nil {
			c.warn("ApplicationSet %q: %s/values/%s: %v", c.name, ptr, k, err)
			return false
		}
		tmp[k] = v
	}
	if c.goTmpl {
		m := map[string]any{}
		for k, v := range tmp {
			m[k] = v
		}
		params["values"] = m
	} else {
		for k, v := range tmp {
			params["values."+k] = v
		}
	}
	return true
}

// flatten is jeremywohl/flatten with DotStyle followed by fmt "%v" of the leaves.
func flatten(prefix string, v any, out map[string]any) {
	key := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			leaf(key(k), x, out)
		}
	case []any:
		for i, x := range v {
			leaf(key(strconv.Itoa(i)), x, out)
		}
	}
}

func leaf(k string, v any, out map[string]any) {
	switch v.(type) {
	case map[string]any, []any:
		flatten(k, v, out)
	default:
		out[k] = fmt.Sprintf("%v", v)
	}
}

func toAnyList(s []string) []any {
	out := make([]any, len(s))
	for i, x := range s {
		out[i] = x
	}
	return out
}

// gitDirs lists the repository's directories as Argo CD's repo server GetGitDirectories: every
// directory below the root (slash paths, lexical order), hidden ones (.name) and what is below
// them left out, symlinks not followed.
func (c *appSet) gitDirs() []string {
	if !c.dirsListed {
		c.dirsListed = true
		c.dirs = walkRepo(c.repo.Root,
			func(_ string, d fs.DirEntry) bool { return !strings.HasPrefix(d.Name(), ".") },
			func(d fs.DirEntry) bool { return d.IsDir() })
	}
	return c.dirs
}

// gitFiles lists the repository's files (what `git ls-files` would give for a clean checkout):
// every file or symlink below the root but .git, and nested repositories (a directory holding
// .git) left out. Untracked and ignored files of the checkout are listed too.
func (c *appSet) gitFiles() []string {
	if !c.filesListed {
		c.filesListed = true
		c.files = walkRepo(c.repo.Root,
			func(p string, d fs.DirEntry) bool {
				_, err := os.Lstat(filepath.Join(p, ".git"))
				return d.Name() != ".git" && err != nil
			},
			func(d fs.DirEntry) bool { return !d.IsDir() })
		sort.Strings(c.files)
	}
	return c.files
}

// walkRepo lists, as slash paths relative to root, the entries below it that list says to,
// going into the directories enter allows; unreadable directories are passed over.
func walkRepo(root string, enter func(path string, d fs.DirEntry) bool, list func(d fs.DirEntry) bool) []string {
	root = filepath.Clean(root)
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			if d != nil && d.IsDir() && p != root {
				return filepath.SkipDir
			}
			return nil
		case p == root:
			return nil
		case d.IsDir() && !enter(p, d):
			return filepath.SkipDir
		}
		if list(d) {
			if rel, err := filepath.Rel(root, p); err == nil {
				out = append(out, filepath.ToSlash(rel))
			}
		}
		return nil
	})
	return out
}

// matrixGen is Argo CD's matrix generator: the second generator runs with each param set of the
// first, and the two sets are combined.
func (c *appSet) matrixGen(km map[string]any, ptr string) ([]map[string]any, bool) {
	gens := c.list(km, "generators", ptr+"/generators")
	if len(gens) != 2 {
		c.warn("ApplicationSet %q: %s: a matrix needs exactly two generators, it has %d", c.name, ptr, len(gens))
		return nil, false
	}
	first, ok := c.child(gens[0], nil, ptr+"/generators/0")
	if !ok {
		return nil, false
	}
	var res []map[string]any
	for _, a := range first {
		second, ok := c.child(gens[1], a, ptr+"/generators/1")
		if !ok {
			return nil, false
		}
		for _, b := range second {
			if c.goTmpl {
				res = append(res, deepMerge(deepMerge(map[string]any{}, b), a))
			} else {
				m, err := combineStringMaps(a, b)
				if err != nil {
					c.warn("ApplicationSet %q: %s: %v", c.name, ptr, err)
					return nil, false
				}
				res = append(res, m)
			}
			if len(res) > maxParamSets {
				return res, true
			}
		}
	}
	return res, true
}

// combineStringMaps is Argo CD's utils.CombineStringMaps: both sides as strings, a key on both
// with different values is an error.
func combineStringMaps(a, b map[string]any) (map[string]any, error) {
	res := map[string]any{}
	for k, v := range a {
		res[k] = fmt.Sprintf("%v", v)
	}
	for _, k := range sortedKeys(b) {
		v := fmt.Sprintf("%v", b[k])
		if cur, ok := res[k]; ok && cur != v {
			return nil, fmt.Errorf("found duplicate key %s with different value, a: %s ,b: %s", k, cur, v)
		}
		res[k] = v
	}
	return res, nil
}

// deepMerge merges src into dst (a new map), src winning, maps merged key by key.
func deepMerge(dst, src map[string]any) map[string]any {
	out := make(map[string]any, len(dst)+len(src))
	for k, v := range dst {
		out[k] = v
	}
	for k, sv := range src {
		if sm, ok := sv.(map[string]any); ok {
			if dm, ok := out[k].(map[string]any); ok {
				out[k] = deepMerge(dm, sm)
				continue
			}
		}
		out[k] = sv
	}
	return out
}

// mergeGen is Argo CD's merge generator: the param sets of the first generator, each overridden
// by the param set of every later generator with the same values of the merge keys.
func (c *appSet) mergeGen(km map[string]any, ptr string) ([]map[string]any, bool) {
	gens := c.list(km, "generators", ptr+"/generators")
	if len(gens) < 2 {
		c.warn("ApplicationSet %q: %s: found less than two generators, Merge requires two or more", c.name, ptr)
		return nil, false
	}
	keys := c.strList(km, "mergeKeys", ptr+"/mergeKeys")
	if len(keys) == 0 {
		c.warn("ApplicationSet %q: %s: no merge keys were specified, Merge requires at least one", c.name, ptr)
		return nil, false
	}
	var sets [][]map[string]any
	for i, g := range gens {
		ps, ok := c.child(g, nil, ptr+"/generators/"+strconv.Itoa(i))
		if !ok {
			return nil, false
		}
		sets = append(sets, ps)
	}
	keyOf := func(p map[string]any) (string, error) {
		k := map[string]any{}
		for _, mk := range keys {
			k[mk] = p[mk]
		}
		data, err := json.Marshal(k)
		return string(data), err
	}
	base := make([]map[string]any, len(sets[0]))
	baseKeys := make([]string, len(sets[0]))
	for i, p := range sets[0] {
		k, err := keyOf(p)
		if err != nil {
			c.warn("ApplicationSet %q: %s: %v", c.name, ptr, err)
			return nil, false
		}
		base[i], baseKeys[i] = p, k
	}
	for gi, ps := range sets[1:] {
		byKey := map[string]map[string]any{}
		for _, p := range ps {
			k, err := keyOf(p)
			if err != nil {
				c.warn("ApplicationSet %q: %s: %v", c.name, ptr, err)
				return nil, false
			}
			if _, dup := byKey[k]; dup {
				c.warn("ApplicationSet %q: %s/generators/%d: the parameters from a generator were not unique by the given mergeKeys, Merge requires all param sets to be unique. Duplicate key was %s", c.name, ptr, gi+1, k)
				return nil, false
			}
			byKey[k] = p
		}
		for i := range base {
			o, ok := byKey[baseKeys[i]]
			if !ok {
				continue
			}
			if c.goTmpl {
				base[i] = deepMerge(base[i], o)
			} else {
				m := map[string]any{}
				for k, v := range base[i] {
					m[k] = fmt.Sprintf("%v", v)
				}
				for k, v := range o {
					m[k] = fmt.Sprintf("%v", v)
				}
				base[i] = m
			}
		}
	}
	return base, true
}

// selectParams keeps the param sets a label selector (matchLabels, matchExpressions) matches,
// judged on the flattened params as Argo CD does.
func (c *appSet) selectParams(sel map[string]any, params []map[string]any, ptr string) ([]map[string]any, bool) {
	type req struct {
		key, op string
		values  []string
	}
	var reqs []req
	ml := c.strMap(sel, "matchLabels", ptr+"/matchLabels")
	for _, k := range sortedKeys(ml) {
		reqs = append(reqs, req{k, "In", []string{ml[k]}})
	}
	for i, e := range c.list(sel, "matchExpressions", ptr+"/matchExpressions") {
		eptr := ptr + "/matchExpressions/" + strconv.Itoa(i)
		m, ok := e.(map[string]any)
		if !ok {
			c.warn("ApplicationSet %q: %s is not an object", c.name, eptr)
			return nil, false
		}
		r := req{key: c.str(m, "key", eptr+"/key"), op: c.str(m, "operator", eptr+"/operator"), values: c.strList(m, "values", eptr+"/values")}
		switch r.op {
		case "In", "NotIn":
			if len(r.values) == 0 {
				c.warn("ApplicationSet %q: %s: values must be non-empty for %s", c.name, eptr, r.op)
				return nil, false
			}
		case "Exists", "DoesNotExist":
			if len(r.values) > 0 {
				c.warn("ApplicationSet %q: %s: values must be empty for %s", c.name, eptr, r.op)
				return nil, false
			}
		default:
			c.warn("ApplicationSet %q: %s: %q is not a valid label selector operator", c.name, eptr, r.op)
			return nil, false
		}
		reqs = append(reqs, r)
	}
	var out []map[string]any
	for _, p := range params {
		flat := map[string]any{}
		flatten("", p, flat)
		match := true
		for _, r := range reqs {
			v, has := flat[r.key]
			s, _ := v.(string)
			in := false
			for _, x := range r.values {
				if x == s {
					in = true
				}
			}
			switch r.op {
			case "In":
				match = has && in
			case "NotIn":
				match = !has || !in
			case "Exists":
				match = has
			case "DoesNotExist":
				match = !has
			}
			if !match {
				break
			}
		}
		if match {
			out = append(out, p)
		}
	}
	return out, true
}
