package gatekeeper

import (
	"github.com/open-policy-agent/opa/v1/ast"
)

// inventoryReads says which objects of data.inventory a template can read.
// Referential templates name the kinds they look at
// (data.inventory.namespace[ns][_]["Ingress"][name]), and most templates
// read no inventory at all; objects no template can read need not be kept
// as Rego values, which is most of a CI run's memory. Anything the
// analysis cannot pin down (a variable kind under a variable layout, the
// whole data document, an import of data.inventory) reads everything.
type inventoryReads struct {
	all bool
	// kinds are the (apiVersion, kind) the template can read; "" matches
	// any.
	kinds []inventoryKind
}

type inventoryKind struct{ apiVersion, kind string }

// readsOf analyses a template's modules before any rewrite.
func readsOf(mods []*ast.Module) inventoryReads {
	var r inventoryReads
	for _, m := range mods {
		for _, imp := range m.Imports {
			// An alias of data or data.inventory hides the paths read.
			if ref, ok := imp.Path.Value.(ast.Ref); ok && ref.HasPrefix(ast.DefaultRootRef) &&
				(len(ref) == 1 || !isConstString(ref[1]) || ref.HasPrefix(inventoryRef)) {
				r.all = true
			}
		}
		ast.WalkRefs(m, func(ref ast.Ref) bool {
			if r.all || !ref[0].Equal(ast.DefaultRootDocument) {
				return r.all
			}
			if len(ref) < 2 || !isConstString(ref[1]) {
				r.all = true // data, data[x]: could be data.inventory
				return true
			}
			if ref.HasPrefix(inventoryRef) {
				r.add(ref)
			}
			return r.all
		})
		if r.all {
			return r
		}
	}
	return r
}

// add records what one reference under data.inventory reads:
// data.inventory.cluster[apiVersion][kind][name] or
// data.inventory.namespace[ns][apiVersion][kind][name].
func (r *inventoryReads) add(ref ast.Ref) {
	if len(ref) < 3 || !isConstString(ref[2]) {
		r.all = true
		return
	}
	at := 3 // index of apiVersion
	switch string(ref[2].Value.(ast.String)) {
	case "cluster":
	case "namespace":
		at = 4
	default:
		return // no such layout: reads nothing
	}
	if len(ref) <= at+1 {
		r.all = true // a whole layout, or a whole apiVersion's kinds
		if len(ref) == at+1 && isConstString(ref[at]) {
			r.all = false
			r.kinds = append(r.kinds, inventoryKind{apiVersion: constString(ref[at])})
		}
		return
	}
	g := inventoryKind{apiVersion: constString(ref[at]), kind: constString(ref[at+1])}
	if g.kind == "" && !isConstString(ref[at+1]) && g.apiVersion == "" {
		r.all = true
		return
	}
	r.kinds = append(r.kinds, g)
}

// merge adds what another template reads.
func (r *inventoryReads) merge(o inventoryReads) {
	r.all = r.all || o.all
	if !r.all {
		r.kinds = append(r.kinds, o.kinds...)
	}
}

// reads reports whether the object at an inventory key (see inventoryPath)
// can be read.
func (r *inventoryReads) reads(key []string) bool {
	if r.all {
		return true
	}
	if len(key) < 4 {
		return false
	}
	apiVersion, kind := key[len(key)-3], key[len(key)-2]
	for _, g := range r.kinds {
		if (g.apiVersion == "" || g.apiVersion == apiVersion) && (g.kind == "" || g.kind == kind) {
			return true
		}
	}
	return false
}

func isConstString(t *ast.Term) bool {
	_, ok := t.Value.(ast.String)
	return ok
}

// constString is a string term's value, "" for any other term.
func constString(t *ast.Term) string {
	if s, ok := t.Value.(ast.String); ok {
		return string(s)
	}
	return ""
}
