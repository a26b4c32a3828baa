// Package manifest reads Kubernetes objects out of YAML and JSON files and
// kustomize builds, remembering for each object the file and line it came from.
package manifest

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/internal/jsonptr"
)

// Ref names an object the way kubectl does.
type Ref struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Namespace  string `json:"namespace,omitempty"`
	Name       string `json:"name"`
	// UID is the object's metadata.uid: set for objects read from a
	// cluster (audit), empty for manifests.
	UID string `json:"uid,omitempty"`
}

// String gives "Kind namespace/name" (or "Kind name" for cluster-scoped
// objects). An object without a name (a document that lacks metadata.name)
// is "(unnamed)", so that a report never shows a bare "Kind namespace/".
func (r Ref) String() string {
	name := r.Name
	if name == "" {
		name = unnamed
	}
	if r.Namespace == "" {
		return r.Kind + " " + name
	}
	return r.Kind + " " + r.Namespace + "/" + name
}

// unnamed stands for the name of an object that has none.
const unnamed = "(unnamed)"

// Group is the API group of the reference ("" for the core group).
func (r Ref) Group() string {
	if i := strings.IndexByte(r.APIVersion, '/'); i >= 0 {
		return r.APIVersion[:i]
	}
	return ""
}

// Source is where an object was read: a file relative to the working
// directory and the object's first line (0 when not known).
type Source struct {
	File string
	Line int
}

// Object is one Kubernetes object with where it came from.
type Object struct {
	// Data is the object as JSON would decode it: map[string]any, []any,
	// string, int64, float64, bool and nil.
	Data   map[string]any
	Source Source

	// doc is the source document the object was read from; prefix is the
	// object's JSON pointer inside it (non-empty for items of a List).
	doc    *document
	prefix string
	// rendered objects (kustomize) may differ from their source document: a
	// field's line is only given where the source still holds the same value.
	rendered bool
	// duplicates are the JSON pointers of keys the source repeats.
	duplicates []string
	// locate answers line look-ups for objects rendered from templates
	// (Helm), whose source is not the YAML they became.
	locate func(pointer string) int
	// Renders are the renders that produced the object (an Argo CD
	// application, a kustomization, a Helm chart), outermost first;
	// empty for an object read as it is written.
	Renders []Render
}

// Duplicates returns the JSON pointers of mapping keys the object's source
// repeats (the last value is the one kept, as the API server would).
func (o *Object) Duplicates() []string { return o.duplicates }

// New wraps data that did not come from a file (an admission request, a test).
func New(data map[string]any) *Object { return &Object{Data: data} }

// APIVersion returns apiVersion.
func (o *Object) APIVersion() string { return str(o.Data["apiVersion"]) }

// Kind returns kind.
func (o *Object) Kind() string { return str(o.Data["kind"]) }

// Name returns metadata.name.
func (o *Object) Name() string { return str(o.meta()["name"]) }

// Namespace returns metadata.namespace.
func (o *Object) Namespace() string { return str(o.meta()["namespace"]) }

// Labels returns metadata.labels (nil when absent).
func (o *Object) Labels() map[string]any { m, _ := o.meta()["labels"].(map[string]any); return m }

// Annotations returns metadata.annotations (nil when absent).
func (o *Object) Annotations() map[string]any {
	m, _ := o.meta()["annotations"].(map[string]any)
	return m
}

// Ref returns the object's reference. An object the API server is to name
// (metadata.generateName, as Argo CD and Helm hook Jobs have) is called
// generateName+"*", the glob of the names it may get.
func (o *Object) Ref() Ref {
	name := o.Name()
	if name == "" {
		if gen := str(o.meta()["generateName"]); gen != "" {
			name = gen + "*"
		}
	}
	return Ref{APIVersion: o.APIVersion(), Kind: o.Kind(), Namespace: o.Namespace(), Name: name, UID: str(o.meta()["uid"])}
}

func (o *Object) meta() map[string]any {
	m, _ := o.Data["metadata"].(map[string]any)
	return m
}

// Line returns the line of the field at pointer (a JSON pointer such as
// /spec/replicas), or the object's first line when the field is not in the
// file as it stands.
func (o *Object) Line(pointer string) int { return o.Lines(pointer)[0] }

// Lines is Line for several fields at once, reading the source once.
func (o *Object) Lines(pointers ...string) []int {
	out := make([]int, len(pointers))
	for i := range out {
		out[i] = o.Source.Line
	}
	if o.locate != nil {
		for i, pointer := range pointers {
			if pointer != "" {
				if l := o.locate(pointer); l > 0 {
					out[i] = l
				}
			}
		}
		return out
	}
	if o.doc == nil {
		return out
	}
	if idx := o.doc.lines; idx != nil && !o.rendered {
		answered := true
		for i, pointer := range pointers {
			if pointer == "" {
				continue
			}
			line, ok, known := idx.line(o.prefix + pointer)
			if !known {
				answered = false
				break
			}
			if ok {
				out[i] = line
			}
		}
		if answered {
			return out
		}
		for i := range out {
			out[i] = o.Source.Line
		}
	}
	var root *yaml.Node
	for i, pointer := range pointers {
		if pointer == "" {
			continue
		}
		want, ok := Get(o.Data, pointer)
		if !ok && o.rendered {
			continue
		}
		if root == nil {
			var err *Error
			if root, err = o.doc.parse(); err != nil || root == nil {
				return out
			}
		}
		line, got, found := o.doc.field(root, o.prefix+pointer)
		if !found || line == 0 || o.rendered && ok && !sameScalar(want, got) {
			continue
		}
		out[i] = line
	}
	return out
}

// sameScalar reports whether two values agree where both are scalars;
// collections are taken as the same (their own lines are where they start).
func sameScalar(a, b any) bool {
	switch a.(type) {
	case map[string]any, []any:
		return true
	}
	return fmt.Sprint(a) == fmt.Sprint(b)
}

// Get returns the value at a JSON pointer inside v.
func Get(v any, pointer string) (any, bool) { return jsonptr.Get(v, pointer) }

// Escape escapes one JSON pointer token (RFC 6901).
func Escape(tok string) string { return jsonptr.Escape(tok) }

// Unescape reverses Escape.
func Unescape(tok string) string { return jsonptr.Unescape(tok) }

func str(v any) string { s, _ := v.(string); return s }
