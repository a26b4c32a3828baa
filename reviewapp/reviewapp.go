// Package reviewapp labels objects created in review-app (per-pull-request
// preview) namespaces, so that cleanup, NetworkPolicies and cost reports can
// select them. It computes JSON patches; the webhook applies them at
// admission and gatekeep mutate shows them in CI.
package reviewapp

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"text/template"
	"time"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Rule recognises review-app namespaces and says how to label their objects
// (gatekeep.yaml reviewApps:).
type Rule struct {
	// NamespacePattern matches the namespace name; its named groups
	// ((?P<pr>[0-9]+)) become template values.
	NamespacePattern string `yaml:"namespacePattern,omitempty"`
	// NamespaceLabel takes the pull request number from this label of the
	// Namespace object instead (value "pr" in templates).
	NamespaceLabel string `yaml:"namespaceLabel,omitempty"`
	// Labels are set on the object and its pod template; values are Go
	// templates over the named groups ({{ .pr }}).
	Labels map[string]string `yaml:"labels"`
	// TTL adds the annotation gatekeep.dev/expires-at, now + TTL (RFC 3339).
	TTL string `yaml:"ttl,omitempty"`
}

// ExpiresAnnotation records when a review app's objects may be removed.
const ExpiresAnnotation = "gatekeep.dev/expires-at"

// Labeller applies compiled rules.
type Labeller struct {
	rules []compiled
	now   func() time.Time
}

type compiled struct {
	Rule
	pattern *regexp.Regexp
	labels  map[string]*template.Template
	ttl     time.Duration
}

// New compiles rules; a bad pattern, template or TTL is an error naming the
// rule.
func New(rules []Rule, now func() time.Time) (*Labeller, error) {
	if now == nil {
		now = time.Now
	}
	l := &Labeller{now: now}
	for i, r := range rules {
		c := compiled{Rule: r, labels: map[string]*template.Template{}}
		if r.NamespacePattern == "" && r.NamespaceLabel == "" {
			return nil, fmt.Errorf("reviewApps[%d]: give namespacePattern or namespaceLabel", i)
		}
		if r.NamespacePattern != "" {
			re, err := regexp.Compile(r.NamespacePattern)
			if err != nil {
				return nil, fmt.Errorf("reviewApps[%d]: namespacePattern: %w", i, err)
			}
			c.pattern = re
		}
		for k, v := range r.Labels {
			t, err := template.New(k).Option("missingkey=error").Parse(v)
			if err != nil {
				return nil, fmt.Errorf("reviewApps[%d]: label %s: %w", i, k, err)
			}
			c.labels[k] = t
		}
		if r.TTL != "" {
			d, err := time.ParseDuration(r.TTL)
			if err != nil || d <= 0 {
				return nil, fmt.Errorf("reviewApps[%d]: ttl %q is not a positive duration such as 168h", i, r.TTL)
			}
			c.ttl = d
		}
		l.rules = append(l.rules, c)
	}
	return l, nil
}

// Patch is one JSON patch (RFC 6902) operation.
type Patch struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Conflict is a label the object already sets to another value: it is kept,
// and reported.
type Conflict struct {
	Path    string
	Message string
}

// Labels returns the patches that label obj as part of its review app, or
// nothing when its namespace is not one. nsLabels are the labels of the
// object's Namespace (for namespaceLabel rules; nil when not known).
func (l *Labeller) Labels(obj *manifest.Object, nsLabels map[string]string) ([]Patch, []Conflict, error) {
	ns := obj.Namespace()
	if obj.Kind() == "Namespace" && obj.APIVersion() == "v1" {
		ns = obj.Name()
		nsLabels = stringMap(obj.Labels())
	}
	for _, r := range l.rules {
		values, ok := r.match(ns, nsLabels)
		if !ok {
			continue
		}
		labels := map[string]string{}
		for k, t := range r.labels {
			var b bytes.Buffer
			if err := t.Execute(&b, values); err != nil {
				return nil, nil, fmt.Errorf("review-app label %s: %w", k, err)
			}
			labels[k] = b.String()
		}
		var annotations map[string]string
		if r.ttl > 0 {
			annotations = map[string]string{ExpiresAnnotation: l.now().Add(r.ttl).UTC().Format(time.RFC3339)}
		}
		return patchesFor(obj, labels, annotations)
	}
	return nil, nil, nil
}

func (r compiled) match(ns string, nsLabels map[string]string) (map[string]string, bool) {
	values := map[string]string{"namespace": ns}
	if r.pattern != nil {
		m := r.pattern.FindStringSubmatch(ns)
		if m == nil {
			return nil, false
		}
		for i, name := range r.pattern.SubexpNames() {
			if name != "" {
				values[name] = m[i]
			}
		}
	}
	if r.NamespaceLabel != "" {
		pr, ok := nsLabels[r.NamespaceLabel]
		if !ok {
			return nil, false
		}
		values["pr"] = pr
	}
	return values, true
}

// patchesFor labels the object and, for workloads, its pod template. A label
// already set to the same value is left alone (applying twice changes
// nothing); one set to another value is kept and reported.
func patchesFor(obj *manifest.Object, labels, annotations map[string]string) ([]Patch, []Conflict, error) {
	var patches []Patch
	var conflicts []Conflict
	targets := []string{"/metadata"}
	if spec, at, ok := obj.PodSpec(); ok && spec != nil && at != "/spec" {
		targets = append(targets, strings.TrimSuffix(at, "/spec")+"/metadata")
	}
	for _, meta := range targets {
		p, c := setAll(obj.Data, meta, "labels", labels)
		patches, conflicts = append(patches, p...), append(conflicts, c...)
		if meta == "/metadata" && annotations != nil {
			p, c := setAll(obj.Data, meta, "annotations", annotations)
			patches, conflicts = append(patches, p...), append(conflicts, c...)
		}
	}
	return patches, conflicts, nil
}

// setAll sets keys in the map at meta/field, creating what is missing.
func setAll(obj map[string]any, meta, field string, values map[string]string) ([]Patch, []Conflict) {
	var patches []Patch
	var conflicts []Conflict
	metaVal, hasMeta := manifest.Get(obj, meta)
	if !hasMeta || metaVal == nil {
		return []Patch{{Op: "add", Path: meta, Value: map[string]any{field: anyMap(values)}}}, nil
	}
	existing, has := manifest.Get(obj, meta+"/"+field)
	current, _ := existing.(map[string]any)
	if !has || current == nil {
		return []Patch{{Op: "add", Path: meta + "/" + field, Value: anyMap(values)}}, nil
	}
	for _, k := range sortedKeys(values) {
		v := values[k]
		old, set := current[k]
		switch {
		case !set:
			patches = append(patches, Patch{Op: "add", Path: meta + "/" + field + "/" + manifest.Escape(k), Value: v})
		case old != v:
			if field == "annotations" && k == ExpiresAnnotation {
				continue // an expiry set by hand wins, silently
			}
			conflicts = append(conflicts, Conflict{
				Path:    meta + "/" + field + "/" + manifest.Escape(k),
				Message: fmt.Sprintf("review-app label %s=%q not applied: the object sets %q", k, v, fmt.Sprint(old)),
			})
		}
	}
	return patches, conflicts
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stringMap(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
