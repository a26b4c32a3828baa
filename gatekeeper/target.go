package gatekeeper

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/open-policy-agent/frameworks/constraint/pkg/core/constraints"
	"github.com/open-policy-agent/frameworks/constraint/pkg/handler"
	"github.com/open-policy-agent/opa/v1/ast"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// TargetName is the name of Gatekeeper's Kubernetes admission target, the
// only target a ConstraintTemplate may name here.
const TargetName = "admission.k8s.gatekeeper.sh"

// Enforcement points, for constraints with enforcementAction: scoped.
const (
	// GatorEnforcementPoint is where gator (and gatekeep in CI) enforces.
	GatorEnforcementPoint = "gator.gatekeeper.sh"
	// WebhookEnforcementPoint is where the admission webhook enforces.
	WebhookEnforcementPoint = "validation.gatekeeper.sh"
	// AuditEnforcementPoint is Gatekeeper's audit.
	AuditEnforcementPoint = "audit.gatekeeper.sh"
)

// Sources of a review, for match.source.
const (
	sourceOriginal  = "Original"
	sourceGenerated = "Generated"
	sourceAll       = "All"
)

var (
	errNoObject       = errors.New("the request has neither object nor oldObject")
	errOldObjectIsNil = errors.New("oldObject cannot be nil for DELETE operations")
)

// k8sTarget is our handler.TargetHandler for admission.k8s.gatekeeper.sh,
// with Gatekeeper's semantics: the match schema of constraints, matchers,
// the input.review document and the layout of data.inventory. It caches the
// Namespaces of the inventory so that namespaceSelector can judge objects
// whose Namespace the caller did not pass.
type k8sTarget struct {
	mu         sync.RWMutex
	namespaces map[string]map[string]any
}

var (
	_ handler.TargetHandler = (*k8sTarget)(nil)
	_ handler.Cacher        = (*k8sTarget)(nil)
	_ handler.Cache         = (*k8sTarget)(nil)
)

func newTarget() *k8sTarget { return &k8sTarget{namespaces: map[string]map[string]any{}} }

func (t *k8sTarget) GetName() string { return TargetName }

func (t *k8sTarget) MatchSchema() apiextensions.JSONSchemaProps { return matchSchema() }

// ProcessData gives where an object lives in data.inventory, as Gatekeeper
// lays it out: namespace/<ns>/<groupVersion>/<kind>/<name> for namespaced
// objects and cluster/<groupVersion>/<kind>/<name> for the others.
func (t *k8sTarget) ProcessData(data any) (bool, []string, any, error) {
	var obj map[string]any
	switch d := data.(type) {
	case map[string]any:
		obj = d
	case *unstructured.Unstructured:
		obj = d.Object
	case unstructured.Unstructured:
		obj = d.Object
	default:
		return false, nil, nil, nil
	}
	key, err := inventoryPath(obj)
	if err != nil {
		return true, nil, nil, err
	}
	return true, key, obj, nil
}

func inventoryPath(obj map[string]any) ([]string, error) {
	apiVersion, kind := str(obj["apiVersion"]), str(obj["kind"])
	meta, _ := obj["metadata"].(map[string]any)
	name, ns := placeholderName(meta), str(meta["namespace"])
	_, version := splitAPIVersion(apiVersion)
	switch {
	case version == "":
		return nil, fmt.Errorf("object %q has no apiVersion", name)
	case kind == "":
		return nil, fmt.Errorf("object %q has no kind", name)
	case name == "":
		return nil, fmt.Errorf("%s object has neither metadata.name nor metadata.generateName", kind)
	}
	if ns == "" {
		return []string{"cluster", apiVersion, kind, name}, nil
	}
	return []string{"namespace", ns, apiVersion, kind, name}, nil
}

// placeholderName is metadata.name, or generateName+"*" for an object the
// API server is to name (Argo CD and Helm hook Jobs): in CI such an object
// has no name yet, and it is keyed and reviewed under the name reports give
// it. A "*" is never part of a real name, so the placeholder cannot collide
// with a named object; objects sharing a generateName share it, as they
// share a name glob.
func placeholderName(meta map[string]any) string {
	if name := str(meta["name"]); name != "" {
		return name
	}
	if gen := str(meta["generateName"]); gen != "" {
		return gen + "*"
	}
	return ""
}

// withPlaceholderName returns obj, or for an object that has only a
// generateName a copy of it named by placeholderName: the API server names
// an object before validating admission, so Gatekeeper's templates always
// see a metadata.name there, and the many that print it would otherwise
// find nothing in CI. The copy is shallow but for metadata.
func withPlaceholderName(obj map[string]any) (map[string]any, bool) {
	meta, _ := obj["metadata"].(map[string]any)
	if meta == nil || str(meta["name"]) != "" {
		return obj, false
	}
	name := placeholderName(meta)
	if name == "" {
		return obj, false
	}
	named := make(map[string]any, len(obj))
	for k, v := range obj {
		named[k] = v
	}
	m := make(map[string]any, len(meta)+1)
	for k, v := range meta {
		m[k] = v
	}
	m["name"] = name
	named["metadata"] = m
	return named, true
}

// GetCache lets the frameworks client keep the Namespace cache in step with
// data.inventory.
func (t *k8sTarget) GetCache() handler.Cache { return t }

// Add remembers a Namespace of the inventory.
func (t *k8sTarget) Add(key []string, object any) error {
	obj, ok := object.(map[string]any)
	if !ok {
		return fmt.Errorf("cannot cache %T", object)
	}
	if isNamespaceKey(key) {
		t.mu.Lock()
		t.namespaces[key[3]] = obj
		t.mu.Unlock()
	}
	return nil
}

// Remove forgets a Namespace of the inventory.
func (t *k8sTarget) Remove(key []string) {
	if isNamespaceKey(key) {
		t.mu.Lock()
		delete(t.namespaces, key[3])
		t.mu.Unlock()
	}
}

func (t *k8sTarget) clear() {
	t.mu.Lock()
	t.namespaces = map[string]map[string]any{}
	t.mu.Unlock()
}

func (t *k8sTarget) namespace(name string) map[string]any {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.namespaces[name]
}

func isNamespaceKey(key []string) bool {
	return len(key) == 4 && key[0] == "cluster" && key[1] == "v1" && key[2] == "Namespace"
}

// HandleReview builds the review of a Request (or of a bare object, as
// gator does for the objects it reads).
func (t *k8sTarget) HandleReview(obj any) (bool, any, error) {
	var rv *review
	var err error
	switch o := obj.(type) {
	case *review:
		return true, o, nil
	case Request:
		rv, err = newReview(&o, sourceOriginal)
	case *Request:
		rv, err = newReview(o, sourceOriginal)
	case map[string]any:
		rv, err = newReview(&Request{Object: o}, sourceOriginal)
	case *unstructured.Unstructured:
		rv, err = newReview(&Request{Object: o.Object}, sourceOriginal)
	default:
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	return true, rv, nil
}

// ValidateConstraint checks what the schema cannot: that label selectors
// parse.
func (t *k8sTarget) ValidateConstraint(u *unstructured.Unstructured) error {
	m, found, err := unstructured.NestedMap(u.Object, "spec", "match")
	if err != nil || !found {
		return err
	}
	_, err = parseMatch(m)
	return err
}

// ToMatcher compiles a constraint's spec.match.
func (t *k8sTarget) ToMatcher(u *unstructured.Unstructured) (constraints.Matcher, error) {
	m, found, err := unstructured.NestedMap(u.Object, "spec", "match")
	if err != nil {
		return nil, err
	}
	if !found || m == nil {
		return &matcher{all: true, target: t}, nil
	}
	mt, err := parseMatch(m)
	if err != nil {
		return nil, err
	}
	mt.target = t
	return mt, nil
}

// review is what HandleReview returns: the request as Gatekeeper's
// input.review has it, and what the matchers need.
type review struct {
	object, oldObject map[string]any
	// nsObject is the Namespace the caller passed; input.review.namespaceObject.
	nsObject  map[string]any
	namespace string
	operation string
	source    string
	// doc is input.review without namespaceObject.
	doc map[string]any
	// objectValue, if set, is the Rego value of doc's object.
	objectValue ast.Value
	// ar is the review as an AdmissionRequest: its operation from the
	// start, the rest on first use (see GetAdmissionRequest).
	ar     admissionv1.AdmissionRequest
	arOnce sync.Once
	arErr  error

	// kinds are the group and kind of object and oldObject, read once
	// for every matcher.
	kinds [2]groupKind

	once  sync.Once
	value *ast.Term
	err   error
}

type groupKind struct {
	group, kind string
	set         bool
}

func groupKindOf(obj map[string]any) groupKind {
	if obj == nil {
		return groupKind{}
	}
	group, _ := splitAPIVersion(str(obj["apiVersion"]))
	return groupKind{group: group, kind: str(obj["kind"]), set: true}
}

// GetAdmissionRequest is the review as Gatekeeper's target gives it to the
// drivers: the frameworks client reads its operation (to select templates
// at the webhook), the K8sNativeValidation driver all of it. It is made
// from input.review once, when first asked for.
func (rv *review) GetAdmissionRequest() *admissionv1.AdmissionRequest {
	rv.arOnce.Do(func() { rv.arErr = rv.fillAdmissionRequest() })
	return &rv.ar
}

// admissionRequestErr is why GetAdmissionRequest's request is incomplete.
func (rv *review) admissionRequestErr() error {
	rv.GetAdmissionRequest()
	return rv.arErr
}

// fillAdmissionRequest decodes input.review into rv.ar: the small fields
// through JSON, the objects as their raw JSON (which the CEL driver
// decodes).
func (rv *review) fillAdmissionRequest() error {
	small := make(map[string]any, len(rv.doc))
	for k, v := range rv.doc {
		if k != "object" && k != "oldObject" {
			small[k] = v
		}
	}
	b, err := json.Marshal(small)
	if err == nil {
		var ar admissionv1.AdmissionRequest
		if err = json.Unmarshal(b, &ar); err == nil {
			ar.Operation = rv.ar.Operation
			rv.ar = ar
		}
	}
	if err != nil {
		return fmt.Errorf("review as an AdmissionRequest: %w", err)
	}
	for _, x := range []struct {
		key string
		raw *[]byte
	}{{"object", &rv.ar.Object.Raw}, {"oldObject", &rv.ar.OldObject.Raw}} {
		if o, ok := rv.doc[x.key].(map[string]any); ok && o != nil {
			if *x.raw, err = json.Marshal(o); err != nil {
				return fmt.Errorf("review's %s as JSON: %w", x.key, err)
			}
		}
	}
	return nil
}

// term is input.review as a Rego value, built once however many templates
// judge the review.
func (rv *review) term() (*ast.Term, error) {
	rv.once.Do(func() {
		items := make([][2]*ast.Term, 0, len(rv.doc)+1)
		for k, v := range rv.doc {
			if k == "namespaceObject" {
				continue
			}
			var x ast.Value
			var err error
			if k == "object" && rv.objectValue != nil {
				x = rv.objectValue
			} else {
				x, err = ast.InterfaceToValue(v)
			}
			if err != nil {
				rv.err = err
				return
			}
			items = append(items, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(x)})
		}
		ns := ast.NullValue
		if rv.nsObject != nil {
			x, err := ast.InterfaceToValue(rv.nsObject)
			if err != nil {
				rv.err = err
				return
			}
			ns = x
		}
		items = append(items, [2]*ast.Term{namespaceObjectKey, ast.NewTerm(ns)})
		rv.value = ast.NewTerm(ast.NewObject(items...))
	})
	return rv.value, rv.err
}

var namespaceObjectKey = ast.StringTerm("namespaceObject")

// objectValue is the Rego value of input.review.object the caller made:
// none on DELETE, whose object is the old one.
func (r *Request) objectValue(op string) ast.Value {
	if op == "DELETE" {
		return nil
	}
	return r.ObjectValue
}

// newReview shapes a Request as Gatekeeper's AdmissionRequest-like review.
func newReview(r *Request, source string) (*review, error) {
	if r.Admission != nil {
		return admissionReview(r, source)
	}
	obj, old := r.Object, r.OldObject
	op := r.Operation
	if op == "DELETE" && old == nil {
		old, obj = obj, nil
	}
	base := obj
	if base == nil {
		base = old
	}
	if base == nil {
		return nil, errNoObject
	}
	if op == "DELETE" {
		obj = old
	}
	objectValue := r.objectValue(op)
	if op != "DELETE" && obj != nil {
		var renamed bool
		if obj, renamed = withPlaceholderName(obj); renamed {
			base, objectValue = obj, nil // the caller's value lacks the name
		}
	}
	group, version := splitAPIVersion(str(base["apiVersion"]))
	meta, _ := base["metadata"].(map[string]any)
	name, ns := str(meta["name"]), str(meta["namespace"])
	doc := map[string]any{
		"uid":       "",
		"kind":      map[string]any{"group": group, "version": version, "kind": str(base["kind"])},
		"resource":  map[string]any{"group": "", "version": "", "resource": ""},
		"operation": op,
		"userInfo":  r.UserInfo.toMap(),
		"object":    nilIfEmpty(obj),
		"oldObject": nilIfEmpty(old),
		"options":   nil,
	}
	if name != "" {
		doc["name"] = name
	}
	if ns != "" {
		doc["namespace"] = ns
	}
	if r.DryRun {
		doc["dryRun"] = true
	}
	return &review{
		object: obj, oldObject: old, nsObject: r.Namespace, namespace: ns,
		operation: op, source: source, doc: doc, objectValue: objectValue,
		ar:    admissionv1.AdmissionRequest{Operation: admissionv1.Operation(op)},
		kinds: [2]groupKind{groupKindOf(obj), groupKindOf(old)},
	}, nil
}

// admissionReview takes an AdmissionRequest as the API server sends it,
// filling in what its typed form would always carry.
func admissionReview(r *Request, source string) (*review, error) {
	doc := make(map[string]any, len(r.Admission)+8)
	for k, v := range r.Admission {
		doc[k] = v
	}
	obj, _ := doc["object"].(map[string]any)
	old, _ := doc["oldObject"].(map[string]any)
	if obj == nil && old == nil {
		return nil, fmt.Errorf("AdmissionRequest does not contain an \"object\" or \"oldObject\" to review")
	}
	op := str(doc["operation"])
	if op == "DELETE" {
		if old == nil {
			return nil, errOldObjectIsNil
		}
		obj = old
		doc["object"] = old
	}
	base := obj
	if base == nil {
		base = old
	}
	kind, _ := doc["kind"].(map[string]any)
	group, version := splitAPIVersion(str(base["apiVersion"]))
	nk := map[string]any{"group": group, "version": version, "kind": str(base["kind"])}
	for _, k := range []string{"group", "version", "kind"} {
		if v, ok := kind[k].(string); ok {
			nk[k] = v
		}
	}
	doc["kind"] = nk
	for _, k := range [...]string{"uid", "operation", "object", "oldObject", "options", "userInfo", "resource"} {
		if _, ok := doc[k]; ok {
			continue
		}
		switch k {
		case "uid", "operation":
			doc[k] = ""
		case "userInfo":
			doc[k] = map[string]any{}
		case "resource":
			doc[k] = map[string]any{"group": "", "version": "", "resource": ""}
		default:
			doc[k] = nil
		}
	}
	ns := str(doc["namespace"])
	if ns == "" {
		meta, _ := base["metadata"].(map[string]any)
		ns = str(meta["namespace"])
	}
	return &review{
		object: obj, oldObject: old, nsObject: r.Namespace, namespace: ns,
		operation: op, source: source, doc: doc, objectValue: r.objectValue(op),
		ar:    admissionv1.AdmissionRequest{Operation: admissionv1.Operation(op)},
		kinds: [2]groupKind{groupKindOf(obj), groupKindOf(old)},
	}, nil
}

func nilIfEmpty(m map[string]any) any {
	if m == nil {
		return nil
	}
	return m
}

// splitAPIVersion cuts "apps/v1" into "apps" and "v1" ("" and "v1" for the
// core group).
func splitAPIVersion(av string) (group, version string) {
	if i := strings.IndexByte(av, '/'); i >= 0 {
		return av[:i], av[i+1:]
	}
	return "", av
}

func str(v any) string { s, _ := v.(string); return s }
