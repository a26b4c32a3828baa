package gatekeeper

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// expander applies ExpansionTemplates (expansion.gatekeeper.sh/v1alpha1):
// an object of a kind a template applies to also stands for the object its
// templateSource field describes (a Deployment for its Pods), which is
// reviewed in its stead with match.source "Generated".
type expander struct {
	byGVK map[gvk][]*expansionTemplate
}

type gvk struct{ group, version, kind string }

type expansionTemplate struct {
	name      string
	applyTo   []applyTo
	source    []string
	generated gvk
	action    string
}

type applyTo struct {
	Groups   []string `json:"groups"`
	Kinds    []string `json:"kinds"`
	Versions []string `json:"versions"`
}

func (a applyTo) matches(g gvk) bool {
	return contains(a.Groups, g.group) && contains(a.Versions, g.version) && contains(a.Kinds, g.kind)
}

type resultant struct {
	obj      map[string]any
	template string
	action   string
	// pointer is where, in the object reviewed, obj comes from
	// (/spec/template for a Deployment's Pod).
	pointer string
}

const maxExpansionDepth = 30

func newExpander(docs []Document) (*expander, []docError) {
	var errs []docError
	var all []*expansionTemplate
	seen := map[string]bool{}
	for i := range docs {
		d := &docs[i]
		var spec struct {
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Spec struct {
				ApplyTo        []applyTo `json:"applyTo"`
				TemplateSource string    `json:"templateSource"`
				GeneratedGVK   struct {
					Group   string `json:"group"`
					Version string `json:"version"`
					Kind    string `json:"kind"`
				} `json:"generatedGVK"`
				EnforcementAction string `json:"enforcementAction"`
			} `json:"spec"`
		}
		fail := func(ptr, format string, args ...any) {
			errs = append(errs, docError{Error: d.errorf(d.fieldLine(ptr), "ExpansionTemplate "+spec.Metadata.Name+": "+fmt.Sprintf(format, args...))})
		}
		b, _ := json.Marshal(d.Object)
		if err := json.Unmarshal(b, &spec); err != nil {
			fail("/spec", "%v", err)
			continue
		}
		s := spec.Spec
		t := &expansionTemplate{
			name:      spec.Metadata.Name,
			applyTo:   s.ApplyTo,
			generated: gvk{s.GeneratedGVK.Group, s.GeneratedGVK.Version, s.GeneratedGVK.Kind},
			action:    s.EnforcementAction,
		}
		switch {
		case t.name == "":
			fail("/metadata", "metadata.name is empty")
			continue
		case len(t.name) >= 64:
			fail("/metadata/name", "the name must be shorter than 64 characters")
			continue
		case seen[t.name]:
			fail("/metadata/name", "defined twice")
			continue
		case s.TemplateSource == "":
			fail("/spec", "spec.templateSource is empty")
			continue
		case t.generated == (gvk{}):
			fail("/spec", "spec.generatedGVK is empty")
			continue
		case len(s.ApplyTo) == 0:
			fail("/spec", "spec.applyTo is empty")
			continue
		}
		if a := t.action; a != "" && a != Deny && a != Warn && a != DryRun {
			fail("/spec/enforcementAction", "unknown enforcementAction %q (want deny, warn or dryrun)", a)
			continue
		}
		self := false
		for _, a := range s.ApplyTo {
			if a.matches(t.generated) {
				self = true
			}
		}
		if self {
			fail("/spec/applyTo", "generates %s but also applies to it", t.generated.String())
			continue
		}
		t.source = strings.Split(s.TemplateSource, ".")
		seen[t.name] = true
		all = append(all, t)
	}

	// Templates that expand into each other in a cycle are left out, as
	// Gatekeeper does; here it is an error, not a silent omission.
	for _, t := range all {
		if inCycle(t, all) {
			for i := range docs {
				if str(metaOf(docs[i].Object)["name"]) == t.name {
					d := &docs[i]
					errs = append(errs, docError{Error: d.errorf(d.Source.Line, "ExpansionTemplate "+t.name+": it is part of a cycle of ExpansionTemplates and is not applied")})
				}
			}
			t.name = "" // mark
		}
	}
	e := &expander{byGVK: map[gvk][]*expansionTemplate{}}
	for _, t := range all {
		if t.name == "" {
			continue
		}
		for _, a := range t.applyTo {
			for _, g := range a.Groups {
				for _, v := range a.Versions {
					for _, k := range a.Kinds {
						key := gvk{g, v, k}
						e.byGVK[key] = append(e.byGVK[key], t)
					}
				}
			}
		}
	}
	for _, ts := range e.byGVK {
		sort.Slice(ts, func(i, j int) bool { return ts[i].name < ts[j].name })
	}
	return e, errs
}

func (g gvk) String() string {
	if g.group == "" {
		return g.version + ", Kind=" + g.kind
	}
	return g.group + "/" + g.version + ", Kind=" + g.kind
}

// inCycle tells whether t's output can, through other templates, be
// expanded back into what t applies to.
func inCycle(t *expansionTemplate, all []*expansionTemplate) bool {
	visited := map[*expansionTemplate]bool{}
	var walk func(g gvk) bool
	walk = func(g gvk) bool {
		for _, u := range all {
			applies := false
			for _, a := range u.applyTo {
				if a.matches(g) {
					applies = true
				}
			}
			if !applies {
				continue
			}
			if u == t {
				return true
			}
			if visited[u] {
				continue
			}
			visited[u] = true
			if walk(u.generated) {
				return true
			}
		}
		return false
	}
	return walk(t.generated)
}

// expand returns the objects generated from obj, recursively.
func (e *expander) expand(obj map[string]any) ([]resultant, error) {
	var out []resultant
	if err := e.expandRec(obj, "", &out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

func (e *expander) expandRec(obj map[string]any, pointer string, out *[]resultant, depth int) error {
	if depth >= maxExpansionDepth {
		return fmt.Errorf("maximum expansion depth of %d reached", maxExpansionDepth)
	}
	group, version := splitAPIVersion(str(obj["apiVersion"]))
	ts := e.byGVK[gvk{group, version, str(obj["kind"])}]
	var level []resultant
	for _, t := range ts {
		res, err := t.expand(obj)
		if err != nil {
			return err
		}
		level = append(level, resultant{obj: res, template: t.name, action: t.action, pointer: pointer + t.pointer()})
	}
	for _, r := range level {
		if err := e.expandRec(r.obj, r.pointer, out, depth+1); err != nil {
			return err
		}
	}
	*out = append(*out, level...)
	return nil
}

func (t *expansionTemplate) pointer() string {
	var b strings.Builder
	for _, f := range t.source {
		b.WriteByte('/')
		b.WriteString(escapePointer(f))
	}
	return b.String()
}

func (t *expansionTemplate) expand(obj map[string]any) (map[string]any, error) {
	meta, _ := obj["metadata"].(map[string]any)
	parentName := str(meta["name"])
	var cur any = obj
	for _, f := range t.source {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("could not find source field %q in resource %s", strings.Join(t.source, "."), parentName)
		}
		cur, ok = m[f]
		if !ok {
			return nil, fmt.Errorf("could not find source field %q in resource %s", strings.Join(t.source, "."), parentName)
		}
	}
	src, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("source field %q of resource %s is not an object", strings.Join(t.source, "."), parentName)
	}
	res := deepCopyMap(src)
	apiVersion := t.generated.version
	if t.generated.group != "" {
		apiVersion = t.generated.group + "/" + t.generated.version
	}
	res["apiVersion"] = apiVersion
	res["kind"] = t.generated.kind
	rmeta, _ := res["metadata"].(map[string]any)
	if rmeta == nil {
		rmeta = map[string]any{}
		res["metadata"] = rmeta
	}
	if ns := str(meta["namespace"]); ns != "" {
		rmeta["namespace"] = ns
	} else {
		delete(rmeta, "namespace")
	}
	name := parentName
	if t.generated.kind != "" {
		name += "-"
	}
	rmeta["name"] = strings.ToLower(name + t.generated.kind)
	owner := map[string]any{"apiVersion": str(obj["apiVersion"]), "kind": str(obj["kind"]), "name": parentName}
	if owner["apiVersion"] != "" && owner["kind"] != "" && parentName != "" {
		refs, _ := rmeta["ownerReferences"].([]any)
		present := false
		for _, r := range refs {
			rm, _ := r.(map[string]any)
			if rm["apiVersion"] == owner["apiVersion"] && rm["kind"] == owner["kind"] && rm["name"] == owner["name"] {
				present = true
			}
		}
		if !present {
			rmeta["ownerReferences"] = append(append([]any(nil), refs...), owner)
		}
	}
	return res, nil
}

func deepCopyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = deepCopy(v)
	}
	return out
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return deepCopyMap(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = deepCopy(e)
		}
		return out
	default:
		return v
	}
}
