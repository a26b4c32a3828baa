// Package deprecation holds the table of deprecated and removed Kubernetes
// APIs: built-in ones (policies/deprecations.yaml in the built-in bundle)
// and users' own (deprecations: in gatekeep.yaml), and says what becomes of
// an apiVersion and kind in a target Kubernetes version.
package deprecation

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// Entry is one deprecated or removed API. Its YAML fields are what
// policies/deprecations.yaml and the deprecations: list of gatekeep.yaml
// hold.
type Entry struct {
	// Group is the API group, empty for the core group ("" or absent).
	Group string `yaml:"group,omitempty" json:"group,omitempty"`
	// Version is the API version within the group: v1beta1.
	Version string `yaml:"version" json:"version"`
	// Kind is the object kind: Ingress.
	Kind string `yaml:"kind" json:"kind"`
	// DeprecatedIn is the Kubernetes minor from which the API server warns
	// ("1.19"); empty when it was removed without a deprecation period (as
	// alpha APIs may be).
	DeprecatedIn string `yaml:"deprecatedIn,omitempty" json:"deprecatedIn,omitempty"`
	// RemovedIn is the first Kubernetes minor that no longer serves it
	// ("1.22"); empty when no removal is scheduled.
	RemovedIn string `yaml:"removedIn,omitempty" json:"removedIn,omitempty"`
	// Replacement is the apiVersion to migrate to (networking.k8s.io/v1);
	// empty when there is none.
	Replacement string `yaml:"replacement,omitempty" json:"replacement,omitempty"`
	// ReplacementKind is the replacement's kind when it differs from Kind.
	ReplacementKind string `yaml:"replacementKind,omitempty" json:"replacementKind,omitempty"`
	// ReplacementAvailableIn is the first Kubernetes minor that serves the
	// replacement ("1.19").
	ReplacementAvailableIn string `yaml:"replacementAvailableIn,omitempty" json:"replacementAvailableIn,omitempty"`
	// Note is added to the message: what to do when there is no
	// replacement, or what changes on migration.
	Note string `yaml:"note,omitempty" json:"note,omitempty"`
}

// APIVersion gives group/version, or the version alone for the core group.
func (e Entry) APIVersion() string { return apiVersion(e.Group, e.Version) }

// ReplacementAPI names the replacement as "apiVersion Kind" ("" when none).
func (e Entry) ReplacementAPI() string {
	if e.Replacement == "" {
		return ""
	}
	return e.Replacement + " " + e.replacementKind()
}

func (e Entry) replacementKind() string {
	if e.ReplacementKind != "" {
		return e.ReplacementKind
	}
	return e.Kind
}

func apiVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// Status is what an API is in a target version.
type Status int

const (
	// Deprecated: still served, with a removal coming or possible (warn).
	Deprecated Status = iota + 1
	// Removed: no longer served (deny).
	Removed
)

func (s Status) String() string {
	switch s {
	case Deprecated:
		return "deprecated"
	case Removed:
		return "removed"
	}
	return "served"
}

// Verdict is what Lookup found.
type Verdict struct {
	Status Status
	// Entry is the table entry of the API looked up.
	Entry Entry
	// Replacement is the API to migrate to, "apiVersion Kind" (following
	// the table through replacements that are themselves deprecated in the
	// target); empty when there is none.
	Replacement string
	// ReplacementAvailableIn is when the replacement is first served; set
	// only when it is later than the target.
	ReplacementAvailableIn string
	// Message says it all for a person: "policy/v1beta1 PodDisruptionBudget
	// was removed in Kubernetes 1.25: use policy/v1".
	Message string
}

// Table is a set of entries, one per group, version and kind.
type Table struct {
	entries []Entry
	byKey   map[key]*entryInfo
}

type key struct{ group, version, kind string }

type entryInfo struct {
	Entry
	deprecated, removed, available kubeversion.Version // zero: unset
}

// Load reads a table: a YAML document whose deprecations: key lists
// entries (policies/deprecations.yaml). Unknown fields, bad versions and
// repeated APIs are errors.
func Load(data []byte) (*Table, error) {
	var doc struct {
		Deprecations []Entry `yaml:"deprecations"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("deprecations: %w", err)
	}
	t := &Table{byKey: map[key]*entryInfo{}}
	if err := t.add(doc.Deprecations, false); err != nil {
		return nil, err
	}
	return t, nil
}

// Extend returns a table holding t's entries and the given ones (a user's
// deprecations: for their CRDs); an entry for an API t already lists
// replaces t's. t is not changed.
func (t *Table) Extend(entries ...Entry) (*Table, error) {
	n := &Table{byKey: map[key]*entryInfo{}}
	if t != nil {
		for k, v := range t.byKey {
			n.byKey[k] = v
		}
		n.entries = append(n.entries, t.entries...)
	}
	if err := n.add(entries, true); err != nil {
		return nil, err
	}
	return n, nil
}

func (t *Table) add(entries []Entry, override bool) error {
	seen := map[key]bool{}
	for i, e := range entries {
		info, err := check(e)
		if err != nil {
			return fmt.Errorf("deprecations[%d]: %w", i, err)
		}
		k := key{e.Group, e.Version, e.Kind}
		if seen[k] {
			return fmt.Errorf("deprecations[%d]: %s %s is listed twice", i, e.APIVersion(), e.Kind)
		}
		seen[k] = true
		if _, dup := t.byKey[k]; dup {
			if !override {
				return fmt.Errorf("deprecations[%d]: %s %s is listed twice", i, e.APIVersion(), e.Kind)
			}
			for j := range t.entries {
				if (key{t.entries[j].Group, t.entries[j].Version, t.entries[j].Kind}) == k {
					t.entries = append(t.entries[:j:j], t.entries[j+1:]...)
					break
				}
			}
		}
		t.byKey[k] = info
		t.entries = append(t.entries, e)
	}
	return nil
}

func check(e Entry) (*entryInfo, error) {
	info := &entryInfo{Entry: e}
	if e.Version == "" || e.Kind == "" {
		return nil, fmt.Errorf("version and kind are required")
	}
	if strings.Contains(e.Group, "/") || strings.Contains(e.Version, "/") {
		return nil, fmt.Errorf("%s %s: group and version are separate fields (group: apps, version: v1beta1)", e.APIVersion(), e.Kind)
	}
	name := e.APIVersion() + " " + e.Kind
	parse := func(field, s string, dst *kubeversion.Version) error {
		if s == "" {
			return nil
		}
		v, err := kubeversion.Parse(s)
		if err != nil {
			return fmt.Errorf("%s: %s: %v", name, field, err)
		}
		*dst = kubeversion.Version{Major: v.Major, Minor: v.Minor}
		return nil
	}
	if err := parse("deprecatedIn", e.DeprecatedIn, &info.deprecated); err != nil {
		return nil, err
	}
	if err := parse("removedIn", e.RemovedIn, &info.removed); err != nil {
		return nil, err
	}
	if err := parse("replacementAvailableIn", e.ReplacementAvailableIn, &info.available); err != nil {
		return nil, err
	}
	if e.DeprecatedIn == "" && e.RemovedIn == "" {
		return nil, fmt.Errorf("%s: deprecatedIn or removedIn is required", name)
	}
	if e.DeprecatedIn != "" && e.RemovedIn != "" && info.removed.Less(info.deprecated) {
		return nil, fmt.Errorf("%s: removedIn %s is before deprecatedIn %s", name, e.RemovedIn, e.DeprecatedIn)
	}
	if e.Replacement == "" && (e.ReplacementKind != "" || e.ReplacementAvailableIn != "") {
		return nil, fmt.Errorf("%s: replacementKind and replacementAvailableIn need replacement (an apiVersion such as apps/v1)", name)
	}
	if e.Replacement != "" && (strings.Count(e.Replacement, "/") > 1 || strings.ContainsAny(e.Replacement, " \t")) {
		return nil, fmt.Errorf("%s: replacement %q is not an apiVersion such as apps/v1", name, e.Replacement)
	}
	return info, nil
}

// Entries lists the table's entries in the order they were added.
func (t *Table) Entries() []Entry { return append([]Entry(nil), t.entries...) }

// statusAt says what the API is in the target: 0 (not yet deprecated, or
// never listed), Deprecated or Removed.
func (e *entryInfo) statusAt(target kubeversion.Version) Status {
	if !e.removed.IsZero() && !target.Less(e.removed) {
		return Removed
	}
	if !e.deprecated.IsZero() && !target.Less(e.deprecated) {
		return Deprecated
	}
	return 0
}

// Lookup says whether the API is deprecated (still served: warn) or
// removed (deny) in the target; false when it is neither there.
func (t *Table) Lookup(apiVersion, kind string, target kubeversion.Version) (Verdict, bool) {
	if t == nil {
		return Verdict{}, false
	}
	group, version := "", apiVersion
	if i := strings.LastIndexByte(apiVersion, '/'); i >= 0 {
		group, version = apiVersion[:i], apiVersion[i+1:]
	}
	e, ok := t.byKey[key{group, version, kind}]
	if !ok {
		return Verdict{}, false
	}
	status := e.statusAt(target)
	if status == 0 {
		return Verdict{}, false
	}
	v := Verdict{Status: status, Entry: e.Entry}

	// Follow replacements listed in the table themselves to the newest one
	// the target serves: autoscaling/v2beta1 -> v2beta2 -> v2.
	cur := e
	seen := map[key]bool{{group, version, kind}: true}
	for cur.Replacement != "" {
		g, ver := splitAPIVersion(cur.Replacement)
		k := key{g, ver, cur.replacementKind()}
		next, ok := t.byKey[k]
		if !ok || seen[k] || next.Replacement == "" || (!next.available.IsZero() && target.Less(next.available)) {
			break
		}
		seen[k] = true
		cur = next
	}
	name := e.APIVersion() + " " + e.Kind
	var msg strings.Builder
	if status == Removed {
		fmt.Fprintf(&msg, "%s was removed in Kubernetes %s", name, e.removed.MinorString())
	} else {
		fmt.Fprintf(&msg, "%s is deprecated since Kubernetes %s", name, e.deprecated.MinorString())
		if !e.removed.IsZero() {
			fmt.Fprintf(&msg, " and removed in %s", e.removed.MinorString())
		}
	}
	note := e.Note
	if cur.Replacement != "" {
		v.Replacement = cur.ReplacementAPI()
		rep := cur.Replacement
		if cur.replacementKind() != e.Kind {
			rep = v.Replacement
		}
		verb := "migrate to"
		if status == Removed {
			verb = "use"
		}
		fmt.Fprintf(&msg, ": %s %s", verb, rep)
		g, ver := splitAPIVersion(cur.Replacement)
		if gone, ok := t.byKey[key{g, ver, cur.replacementKind()}]; ok && gone.statusAt(target) == Removed {
			// The end of the line: the replacement is gone too.
			fmt.Fprintf(&msg, ", which was removed in %s too", gone.removed.MinorString())
			if gone.Note != "" {
				note = gone.Note
			}
		} else if !cur.available.IsZero() && target.Less(cur.available) {
			v.ReplacementAvailableIn = cur.available.MinorString()
			fmt.Fprintf(&msg, "; the replacement is not available until Kubernetes %s", v.ReplacementAvailableIn)
		}
	}
	if note != "" {
		if cur.Replacement == "" {
			msg.WriteString(": ")
		} else {
			msg.WriteString("; ")
		}
		msg.WriteString(note)
	}
	v.Message = msg.String()
	return v, true
}

func splitAPIVersion(av string) (group, version string) {
	if i := strings.LastIndexByte(av, '/'); i >= 0 {
		return av[:i], av[i+1:]
	}
	return "", av
}
