package gatekeeper

import (
	"errors"
	"fmt"

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

// inventoryKind is one kind a template can read, and what of its
// objects: field is the constant path under the object the reference goes
// on with (metadata, labels for ...[name].metadata.labels[k]), empty when
// the object is read whole (bound to a variable used other than in field
// references, or passed to a function).
type inventoryKind struct {
	apiVersion, kind string
	field            []string
}

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
		tracked := map[**ast.Term]bool{}
		for _, rule := range m.Rules {
			r.trackObjects(rule, tracked)
		}
		ast.WalkRefs(m, func(ref ast.Ref) bool {
			if r.all || !ref[0].Equal(ast.DefaultRootDocument) {
				return r.all
			}
			if len(ref) < 2 || !isConstString(ref[1]) {
				r.all = true // data, data[x]: could be data.inventory
				return true
			}
			if ref.HasPrefix(inventoryRef) && !tracked[&ref[0]] {
				r.add(ref, nil)
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
// data.inventory.namespace[ns][apiVersion][kind][name], and past the name
// the constant field path it goes on with. uses, when set, replace that
// path: the paths a variable bound to the object is read at (see
// trackObjects).
func (r *inventoryReads) add(ref ast.Ref, uses [][]string) {
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
	if uses != nil {
		for _, f := range uses {
			r.kinds = append(r.kinds, inventoryKind{apiVersion: g.apiVersion, kind: g.kind, field: f})
		}
		return
	}
	if name := at + 2; len(ref) > name+1 {
		for _, t := range ref[name+1:] {
			if !isConstString(t) {
				break
			}
			g.field = append(g.field, constString(t))
		}
	}
	r.kinds = append(r.kinds, g)
}

// trackObjects follows the variables a rule binds to whole inventory
// objects (other := data.inventory.namespace[ns][_]["Service"][name], or
// with =): when every other use of the variable is a reference with a
// constant field after it (other.spec.selector, other.metadata.labels[k]),
// the object's reads are those fields; a variable used any other way (a
// function argument, compared whole, returned) reads the whole object. It
// records the references it handles in tracked, keyed by their first
// term's slot (the reference's identity, shared with what ast.WalkRefs
// passes).
func (r *inventoryReads) trackObjects(rule *ast.Rule, tracked map[**ast.Term]bool) {
	ast.WalkExprs(rule, func(e *ast.Expr) bool {
		if !e.IsAssignment() && !e.IsEquality() {
			return false
		}
		a, b := e.Operand(0), e.Operand(1)
		if _, ok := a.Value.(ast.Ref); ok {
			a, b = b, a
		}
		v, ok := a.Value.(ast.Var)
		if !ok || v.IsWildcard() {
			return false
		}
		ref, ok := b.Value.(ast.Ref)
		if !ok || !ref.HasPrefix(inventoryRef) || len(ref) != objectRefLen(ref) {
			return false
		}
		uses, ok := fieldUses(rule, v, a)
		if !ok {
			return false // read whole: the reference is added as it is
		}
		tracked[&ref[0]] = true
		if len(uses) == 0 {
			uses = [][]string{{"metadata"}} // bound and not read: it exists
		}
		r.add(ref, uses)
		return false
	})
}

// objectRefLen is the length of a reference to one inventory object under
// its layout (0 for no known layout).
func objectRefLen(ref ast.Ref) int {
	if len(ref) < 3 || !isConstString(ref[2]) {
		return 0
	}
	switch constString(ref[2]) {
	case "cluster":
		return 6
	case "namespace":
		return 7
	}
	return 0
}

// fieldUses lists the constant field paths v is read at in the rule,
// besides the binding term itself; ok is false when v is used whole.
func fieldUses(rule *ast.Rule, v ast.Var, binding *ast.Term) (uses [][]string, ok bool) {
	ok = true
	var walk func(x any) bool
	walk = func(x any) bool {
		if !ok {
			return true
		}
		switch t := x.(type) {
		case *ast.Term:
			if t == binding {
				return true
			}
			switch val := t.Value.(type) {
			case ast.Var:
				if val.Equal(v) {
					ok = false // used whole
				}
				return true
			case ast.Ref:
				if val[0].Value.Compare(v) != 0 {
					break
				}
				if len(val) < 2 || !isConstString(val[1]) {
					ok = false
					return true
				}
				var f []string
				for _, e := range val[1:] {
					if !isConstString(e) {
						break
					}
					f = append(f, constString(e))
				}
				uses = append(uses, f)
				for _, e := range val[1:] {
					ast.NewGenericVisitor(walk).Walk(e)
				}
				return true
			}
		}
		return false
	}
	ast.NewGenericVisitor(walk).Walk(rule)
	return uses, ok
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

// InventoryFields is what a bundle's templates can read of data.inventory:
// which kinds, and of each which fields. An export of a cluster's objects
// for CI keeps only that.
//
// The analysis pins a kind's fields down when the templates reach them by
// constant references, directly
// (data.inventory.namespace[ns][_]["Service"][name].spec.selector) or
// through a variable bound to the object and read only by such references
// (other := data.inventory...[name]; other.spec.selector). Where it cannot
// (the object passed to a function, compared or returned whole, a
// reference going on with a variable key before any field, a kind or a
// layout chosen by a variable, an import of data.inventory), the objects
// are read whole, and where the kind itself is not constant every kind is.
type InventoryFields struct {
	r inventoryReads
}

// InventoryFieldsOf analyses the Rego of the ConstraintTemplates among
// docs (other documents and CEL-only templates read no inventory).
func InventoryFieldsOf(docs []Document) (*InventoryFields, error) {
	f := &InventoryFields{}
	for i := range docs {
		d := &docs[i]
		if !IsTemplate(d.Object) {
			continue
		}
		ct, _, err := toTemplate(d, []string{CELEngine, RegoEngine})
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", d.Source.File, d.Source.Line, err)
		}
		mods, err := parseRego(&ct.Spec.Targets[0])
		if errors.Is(err, errNoRego) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", d.Source.File, d.Source.Line, err)
		}
		f.r.merge(readsOf(mods))
	}
	return f, nil
}

// Fields says whether the templates can read objects of a kind, and which
// of their fields: paths under the object, nil for the whole object.
func (f *InventoryFields) Fields(apiVersion, kind string) (paths [][]string, read bool) {
	if f.r.all {
		return nil, true
	}
	for _, g := range f.r.kinds {
		if (g.apiVersion != "" && g.apiVersion != apiVersion) || (g.kind != "" && g.kind != kind) {
			continue
		}
		if len(g.field) == 0 {
			return nil, true
		}
		read = true
		paths = append(paths, g.field)
	}
	return paths, read
}
