package gatekeeper

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// matchSpec is a constraint's spec.match as Gatekeeper defines it.
type matchSpec struct {
	Source             string                `json:"source,omitempty"`
	Kinds              []matchKinds          `json:"kinds,omitempty"`
	Scope              string                `json:"scope,omitempty"`
	Namespaces         []string              `json:"namespaces,omitempty"`
	ExcludedNamespaces []string              `json:"excludedNamespaces,omitempty"`
	LabelSelector      *metav1.LabelSelector `json:"labelSelector,omitempty"`
	NamespaceSelector  *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	Name               string                `json:"name,omitempty"`
}

type matchKinds struct {
	APIGroups []string `json:"apiGroups,omitempty"`
	Kinds     []string `json:"kinds,omitempty"`
}

// matcher decides whether a constraint applies to a review, with the
// semantics of Gatekeeper's match: every field given must match, for the
// object or (on UPDATE and DELETE) the old object.
type matcher struct {
	all          bool
	spec         matchSpec
	labelSel     labels.Selector
	namespaceSel labels.Selector
	target       *k8sTarget
}

func parseMatch(m map[string]any) (*matcher, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var spec matchSpec
	if err := json.Unmarshal(b, &spec); err != nil {
		return nil, fmt.Errorf("spec.match: %w", err)
	}
	mt := &matcher{spec: spec}
	for _, s := range []struct {
		sel  *metav1.LabelSelector
		dst  *labels.Selector
		path string
	}{
		{spec.LabelSelector, &mt.labelSel, "labelSelector"},
		{spec.NamespaceSelector, &mt.namespaceSel, "namespaceSelector"},
	} {
		if s.sel == nil {
			continue
		}
		fp := field.NewPath("spec", "match", s.path)
		if errs := validation.ValidateLabelSelector(s.sel, validation.LabelSelectorValidationOptions{}, fp); len(errs) > 0 {
			return nil, errs.ToAggregate()
		}
		sel, err := metav1.LabelSelectorAsSelector(s.sel)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fp, err)
		}
		*s.dst = sel
	}
	return mt, nil
}

// Match runs the matcher against a review.
func (m *matcher) Match(x any) (bool, error) {
	if m.all {
		return true, nil
	}
	rv, ok := x.(*review)
	if !ok {
		return false, fmt.Errorf("unexpected review type %T", x)
	}
	ns := rv.nsObject
	if ns == nil && rv.namespace != "" && m.target != nil {
		ns = m.target.namespace(rv.namespace)
	}
	if rv.object == nil && rv.oldObject == nil {
		return false, errNoObject
	}
	for i, obj := range [2]map[string]any{rv.object, rv.oldObject} {
		if obj == nil {
			continue
		}
		ok, err := m.matches(obj, rv.kinds[i], ns, rv.source)
		if err != nil {
			meta, _ := obj["metadata"].(map[string]any)
			return false, fmt.Errorf("%v: %w", str(meta["name"]), err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// matches tests one of the review's objects; gk is its group and kind.
func (m *matcher) matches(obj map[string]any, gk groupKind, ns map[string]any, source string) (bool, error) {
	group, kind := gk.group, gk.kind
	meta, _ := obj["metadata"].(map[string]any)
	objNS := str(meta["namespace"])
	isNamespace := kind == "Namespace" && group == ""
	s := &m.spec

	if !s.kindsMatch(group, kind) {
		return false, nil
	}

	// scope
	hasNamespace := objNS != "" || ns != nil
	switch s.Scope {
	case "Cluster":
		if !isNamespace && hasNamespace {
			return false, nil
		}
	case "Namespaced":
		if isNamespace || !hasNamespace {
			return false, nil
		}
	}

	// namespaces and excludedNamespaces
	if len(s.Namespaces) > 0 || len(s.ExcludedNamespaces) > 0 {
		namespace, known := "", true
		switch {
		case isNamespace:
			namespace = str(meta["name"])
		case ns != nil:
			namespace = nsName(ns)
		case objNS != "":
			namespace = objNS
		default:
			known = false // cluster-scoped, not a Namespace: cannot disqualify
		}
		if known {
			if len(s.Namespaces) > 0 && !anyWildcard(s.Namespaces, namespace) {
				return false, nil
			}
			if anyWildcard(s.ExcludedNamespaces, namespace) {
				return false, nil
			}
		}
	}

	// labelSelector
	if m.labelSel != nil && !m.labelSel.Matches(labelSet(meta)) {
		return false, nil
	}

	// namespaceSelector
	if m.namespaceSel != nil {
		switch {
		case isNamespace:
			if !m.namespaceSel.Matches(labelSet(meta)) {
				return false, nil
			}
		case ns == nil && objNS == "":
			// cluster-scoped objects match
		case ns == nil:
			return false, fmt.Errorf("namespace selector for namespace-scoped object but missing Namespace %q", objNS)
		default:
			nsMeta, _ := ns["metadata"].(map[string]any)
			if !m.namespaceSel.Matches(labelSet(nsMeta)) {
				return false, nil
			}
		}
	}

	// name
	if s.Name != "" && !wildcardMatches(s.Name, str(meta["name"])) && !generateNameMatches(s.Name, str(meta["generateName"])) {
		return false, nil
	}

	// source
	want := s.Source
	if want == "" {
		want = sourceAll
	}
	switch want {
	case sourceAll:
		return true, nil
	case sourceOriginal, sourceGenerated:
	default:
		return false, fmt.Errorf("invalid source field %q", want)
	}
	if source == "" {
		return false, fmt.Errorf("source field not specified for resource %s", str(meta["name"]))
	}
	return want == source, nil
}

// kindsMatch reports whether an object of group and kind passes
// match.kinds, the first of the tests.
func (s *matchSpec) kindsMatch(group, kind string) bool {
	if len(s.Kinds) == 0 {
		return true
	}
	for _, k := range s.Kinds {
		if (len(k.Kinds) == 0 || contains(k.Kinds, "*") || contains(k.Kinds, kind)) &&
			(len(k.APIGroups) == 0 || contains(k.APIGroups, "*") || contains(k.APIGroups, group)) {
			return true
		}
	}
	return false
}

// mayMatch is a cheap first look at a review: false when neither of its
// objects is of a kind the matcher takes, where Match says false too.
func (m *matcher) mayMatch(rv *review) bool {
	if m.all || len(m.spec.Kinds) == 0 || rv.object == nil && rv.oldObject == nil {
		return true
	}
	for _, gk := range rv.kinds {
		if gk.set && m.spec.kindsMatch(gk.group, gk.kind) {
			return true
		}
	}
	return false
}

func nsName(ns map[string]any) string {
	meta, _ := ns["metadata"].(map[string]any)
	return str(meta["name"])
}

// labelSet is an object's labels for selectors, read in place.
func labelSet(meta map[string]any) labels.Labels {
	l, _ := meta["labels"].(map[string]any)
	return labelMap(l)
}

// labelMap is labels as JSON decodes them; values that are not strings
// (which the API server would refuse) read as fmt.Sprint prints them.
type labelMap map[string]any

func (l labelMap) Has(k string) bool { _, ok := l[k]; return ok }

func (l labelMap) Get(k string) string { v, _ := l.Lookup(k); return v }

func (l labelMap) Lookup(k string) (string, bool) {
	v, ok := l[k]
	if !ok {
		return "", false
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	return fmt.Sprint(v), true
}

// wildcardMatches is Gatekeeper's glob: a "*" at the start, the end, or
// both.
func wildcardMatches(pattern, s string) bool {
	switch {
	case len(pattern) > 1 && strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*"):
		return strings.Contains(s, pattern[1:len(pattern)-1])
	case strings.HasPrefix(pattern, "*"):
		return strings.HasSuffix(s, pattern[1:])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(s, pattern[:len(pattern)-1])
	default:
		return pattern == s
	}
}

// generateNameMatches lets name: "pod-*" match objects that only have
// metadata.generateName "pod-".
func generateNameMatches(pattern, generateName string) bool {
	switch {
	case len(pattern) > 1 && strings.HasPrefix(pattern, "*") && strings.HasSuffix(pattern, "*"):
		return strings.Contains(generateName, pattern[1:len(pattern)-1])
	case strings.HasSuffix(pattern, "*"):
		return strings.HasPrefix(generateName, pattern[:len(pattern)-1])
	default:
		return false
	}
}

func anyWildcard(patterns []string, s string) bool {
	for _, p := range patterns {
		if wildcardMatches(p, s) {
			return true
		}
	}
	return false
}

func contains(set []string, s string) bool {
	for _, x := range set {
		if x == s {
			return true
		}
	}
	return false
}

// matchSchema is the OpenAPI schema of spec.match in every constraint.
func matchSchema() apiextensions.JSONSchemaProps {
	str := apiextensions.JSONSchemaProps{Type: "string"}
	arrayOf := func(s apiextensions.JSONSchemaProps) apiextensions.JSONSchemaProps {
		return apiextensions.JSONSchemaProps{Type: "array", Items: &apiextensions.JSONSchemaPropsOrArray{Schema: &s}}
	}
	wildcard := apiextensions.JSONSchemaProps{Type: "string", Pattern: `^\*?[-:a-z0-9]*\*?$`}
	selector := apiextensions.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensions.JSONSchemaProps{
			"matchLabels": {
				Type:                 "object",
				AdditionalProperties: &apiextensions.JSONSchemaPropsOrBool{Allows: true, Schema: &str},
			},
			"matchExpressions": arrayOf(apiextensions.JSONSchemaProps{
				Type:     "object",
				Required: []string{"key", "operator"},
				Properties: map[string]apiextensions.JSONSchemaProps{
					"key":      str,
					"operator": str,
					"values":   arrayOf(str),
				},
			}),
		},
	}
	return apiextensions.JSONSchemaProps{
		Type: "object",
		Properties: map[string]apiextensions.JSONSchemaProps{
			"source": {Type: "string", Enum: []apiextensions.JSON{sourceAll, sourceGenerated, sourceOriginal}},
			"kinds": arrayOf(apiextensions.JSONSchemaProps{
				Type: "object",
				Properties: map[string]apiextensions.JSONSchemaProps{
					"apiGroups": arrayOf(str),
					"kinds":     arrayOf(str),
				},
			}),
			"scope":              str,
			"namespaces":         arrayOf(wildcard),
			"excludedNamespaces": arrayOf(wildcard),
			"labelSelector":      selector,
			"namespaceSelector":  selector,
			"name":               wildcard,
		},
	}
}
