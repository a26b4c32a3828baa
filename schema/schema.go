// Package schema validates Kubernetes objects against the OpenAPI schemas of
// a Kubernetes release, the way the API server decodes them: built-in kinds
// against the schemas embedded for each supported minor, custom resources
// against the openAPIV3Schema of their CustomResourceDefinition (among the
// inputs or in a schema directory) or against JSON Schema files laid out as
// kubeconform's {kind}-{group}-{version}.json.
//
// A Validator is safe for concurrent use; every schema is compiled once,
// on first use.
package schema

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// Problem is one way an object does not fit its schema: the JSON pointer of
// the field ("/spec/replicas"; for a missing field, the object that lacks
// it) and what is wrong, without the pointer (`got string "two", want
// integer`).
type Problem struct {
	Pointer string
	Message string
}

// String gives the pointer and the message: `/spec/replicas: got string
// "two", want integer`.
func (p Problem) String() string {
	if p.Pointer == "" {
		return p.Message
	}
	return p.Pointer + ": " + p.Message
}

// Result is what Validate found.
type Result struct {
	// Problems are the object's schema violations, ordered by pointer.
	Problems []Problem
	// NoSchema: the object is of a custom kind that no CRD among the inputs
	// and no schema directory describes (or whose schema cannot be used);
	// Message says so. It is a warning, not a violation.
	NoSchema bool
	// Unserved: the target does not serve the object's apiVersion and
	// kind, though it knows of the API: its group is a built-in one (a
	// removed, not yet added or misspelled kind), or a CustomResourceDefinition
	// (among the inputs, in a schema directory or in the CRD catalog)
	// defines the kind but does not serve that version.
	// Problems holds one problem at /apiVersion saying so and naming what
	// is served for the kind; leave it out when the deprecated-api check
	// reports the API as removed, so that it is reported once.
	Unserved bool
	// Message explains NoSchema.
	Message string
}

// GVK is a group, version and kind; Group is empty for the core group.
type GVK struct {
	Group, Version, Kind string
}

// APIVersion gives apps/v1, or v1 for the core group.
func (g GVK) APIVersion() string { return apiVersion(g.Group, g.Version) }

// String gives "apps/v1 Deployment".
func (g GVK) String() string { return g.APIVersion() + " " + g.Kind }

// Option configures a Validator.
type Option func(*options)

type options struct {
	strict bool
	crds   []map[string]any
	dirs   []string
	// noCatalog leaves the embedded CRD catalog out (see Catalog).
	noCatalog bool
}

// Strict rejects unknown fields and duplicate keys, as `kubectl apply
// --validate=strict` does.
func Strict(on bool) Option { return func(o *options) { o.strict = on } }

// WithCRDs gives the CustomResourceDefinition objects among the inputs
// (apiextensions.k8s.io/v1, or v1beta1); objects of other kinds are
// ignored. Their schemas take precedence over a schema directory's.
func WithCRDs(crds ...map[string]any) Option {
	return func(o *options) { o.crds = append(o.crds, crds...) }
}

// WithSchemaDir adds a directory of schemas for custom resources: YAML
// files holding CustomResourceDefinitions, and JSON Schema files named as
// kubeconform names them, {kind}-{group}-{version}.json in lower case (group
// being the first label of the API group, or the whole group; absent for
// the core group), e.g. trainingjob-sagemaker-v1.json. Sub-directories are
// searched too. It may be given more than once; earlier directories win.
func WithSchemaDir(dir string) Option {
	return func(o *options) { o.dirs = append(o.dirs, dir) }
}

// Validator validates objects for one Kubernetes version.
type Validator struct {
	target kubeversion.Version
	b      *builtin
	strict bool
	groups map[string]bool
	crds   map[gvKey]*customSchema
	// crdServed: the group/kind of each CRD among the inputs, and the
	// apiVersions it serves, for objects of versions it does not.
	crdServed map[gvKey]*servedCRD
	dirs      []*schemaDir
	// catalog: the embedded CRD catalog is the last source (custom.go).
	catalog bool
}

// New returns a validator for Kubernetes version v (the zero version:
// kubeversion.Latest). A minor with no embedded schemas is an error naming
// the supported range.
func New(v kubeversion.Version, opts ...Option) (*Validator, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if v.IsZero() {
		v = kubeversion.Latest
	}
	b, err := release(v)
	if err != nil {
		return nil, err
	}
	groups, err := builtinGroups()
	if err != nil {
		return nil, err
	}
	val := &Validator{target: v, b: b, strict: o.strict, groups: groups, crds: map[gvKey]*customSchema{}, crdServed: map[gvKey]*servedCRD{}, catalog: !o.noCatalog}
	for _, crd := range o.crds {
		sc := servedVersionsOf(crd)
		if sc == nil {
			continue
		}
		if _, dup := val.crdServed[sc.key]; !dup {
			val.crdServed[sc.key] = sc
		}
		for k, cs := range crdSchemas(crd, "inputs") {
			if !sc.served[k.apiVersion] {
				continue // the API server refuses it: see schemaFor
			}
			if _, dup := val.crds[k]; !dup {
				val.crds[k] = cs
			}
		}
	}
	for _, dir := range o.dirs {
		d, err := loadSchemaDir(dir)
		if err != nil {
			return nil, err
		}
		val.dirs = append(val.dirs, d)
	}
	return val, nil
}

var (
	groupsOnce sync.Once
	allGroups  map[string]bool
)

// builtinGroups are the built-in API groups of every embedded release,
// served or not: whatever the target, their kinds are built-in APIs
// (removed, not yet added, or misspelled), never custom resources.
func builtinGroups() (map[string]bool, error) {
	all, err := builtins()
	if err != nil {
		return nil, err
	}
	groupsOnce.Do(func() {
		allGroups = map[string]bool{}
		for _, b := range all {
			for g := range b.groups { // those of its kinds among them
				allGroups[g] = true
			}
		}
	})
	return allGroups, nil
}

// Validate validates one object (values as JSON decoding gives them;
// integers may be int64 or int, numbers float64).
func (v *Validator) Validate(obj map[string]any) Result {
	return v.ValidateWithDuplicates(obj, nil)
}

// ValidateWithDuplicates validates one object whose source repeated the
// keys at the given JSON pointers ("/spec/template/spec/containers"): in
// strict mode each is a problem, as the API server's strict decoding
// rejects duplicate fields; otherwise they are ignored (the last one wins).
func (v *Validator) ValidateWithDuplicates(obj map[string]any, duplicates []string) Result {
	var res Result
	av, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	w := walkers.Get().(*walker)
	w.strict, w.lenient, w.probe, w.failed = v.strict, 0, false, false
	w.path, w.problems = w.path[:0], nil
	w.secret = secretPathsOf(av, kind)
	defer walkers.Put(w)

	if v.strict {
		for _, d := range duplicates {
			tok := d[strings.LastIndexByte(d, '/')+1:]
			tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
			w.problems = append(w.problems, Problem{Pointer: d, Message: fmt.Sprintf("duplicate field %q", tok)})
		}
	}
	switch {
	case av == "" && kind == "":
		w.problems = append(w.problems, Problem{Message: "missing apiVersion and kind"})
	case av == "":
		w.problems = append(w.problems, Problem{Message: "missing apiVersion"})
	case kind == "":
		w.problems = append(w.problems, Problem{Message: "missing kind"})
	default:
		k := gvKey{av, kind}
		n, err := v.schemaFor(k, &res)
		w.problems = append(w.problems, res.Problems...)
		switch {
		case err != nil:
			res.NoSchema = true
			res.Message = fmt.Sprintf("no usable schema for %s %s: %v", av, kind, err)
		case n != nil:
			w.check(obj, n)
		}
	}
	res.Problems = w.problems
	sortProblems(res.Problems)
	return res
}

var walkers = sync.Pool{New: func() any { return &walker{path: make([]step, 0, 16)} }}

// schemaFor finds the schema of a kind; with none it fills in res.
func (v *Validator) schemaFor(k gvKey, res *Result) (*node, error) {
	if n := v.b.kinds[k]; n != nil {
		return n, nil
	}
	if cs := v.crds[k]; cs != nil {
		return cs.compiled(v.b.objectMeta)
	}
	group, _ := splitAPIVersion(k.apiVersion)
	if v.groups[group] {
		msg := fmt.Sprintf("%s %s is not served by Kubernetes %s", k.apiVersion, k.kind, v.target.MinorString())
		if alt := v.servedVersions(k.kind); len(alt) > 0 {
			msg += "; it serves " + strings.Join(alt, ", ")
		}
		res.Unserved = true
		res.Problems = append(res.Problems, Problem{Pointer: "/apiVersion", Message: msg})
		return nil, nil
	}
	// A CRD among the inputs defines the kind, but not this version or
	// not served: the API server refuses the object, whatever a schema
	// directory or the catalog may say of the version.
	if sc := v.crdServed[gvKey{group, k.kind}]; sc != nil {
		notServed(k, sc, res)
		return nil, nil
	}
	for _, d := range v.dirs {
		if cs := d.lookup(k); cs != nil {
			return cs.compiled(v.b.objectMeta)
		}
	}
	// Likewise a CRD in a schema directory, which stands for the cluster's.
	for _, d := range v.dirs {
		if sc := d.served[gvKey{group, k.kind}]; sc != nil {
			notServed(k, sc, res)
			return nil, nil
		}
	}
	if n, ok, err := v.catalogSchema(k, res); ok {
		return n, err
	}
	res.NoSchema = true
	res.Message = noSchemaMessage(k)
	return nil, nil
}

// notServed denies an object of a version its kind's CRD does not serve,
// naming those it does.
func notServed(k gvKey, sc *servedCRD, res *Result) {
	msg := fmt.Sprintf("%s %s is not served: %s", k.apiVersion, k.kind, sc.source)
	if len(sc.list) > 0 {
		msg += " serves " + strings.Join(sc.list, ", ")
	} else {
		msg += " serves no version"
	}
	res.Unserved = true
	res.Problems = append(res.Problems, Problem{Pointer: "/apiVersion", Message: msg})
}

// servedVersions lists the apiVersions that serve a kind of that name in
// the target, in any group (extensions/v1beta1 Ingress: networking.k8s.io/v1).
func (v *Validator) servedVersions(kind string) []string {
	var out []string
	for k := range v.b.kinds {
		if k.kind == kind {
			out = append(out, k.apiVersion)
		}
	}
	sort.Strings(out)
	return out
}

// Versions lists the Kubernetes minors with embedded schemas, oldest
// first: every minor from the oldest to the newest supported.
func Versions() []kubeversion.Version {
	all, err := builtins()
	if err != nil {
		return nil
	}
	out := make([]kubeversion.Version, 0, len(all))
	for _, b := range all {
		out = append(out, b.version)
	}
	return out
}

// Served lists the kinds the embedded OpenAPI spec of v's minor serves
// (alpha and beta APIs included, List kinds and meta kinds such as
// DeleteOptions left out), ordered; nil when v's minor is not supported.
func Served(v kubeversion.Version) []GVK {
	b, err := release(v)
	if err != nil {
		return nil
	}
	var out []GVK
	for k := range b.kinds {
		g, ver := splitAPIVersion(k.apiVersion)
		if strings.HasSuffix(k.kind, "List") && b.kinds[gvKey{k.apiVersion, strings.TrimSuffix(k.kind, "List")}] != nil {
			continue
		}
		out = append(out, GVK{g, ver, k.kind})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})
	return out
}
