package bundle

import (
	"fmt"
	"strings"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Unsupported is one bundle file holding policy kinds gatekeep does not
// run (Gatekeeper mutators, admission policies the API server runs itself,
// Kyverno policies): gatekeep loads the bundle without them, and says so.
type Unsupported struct {
	// File is the file as messages name it; Line is the first line of its
	// first such document.
	File string
	Line int
	// Kinds are the file's unsupported kinds, in the order they first
	// appear.
	Kinds []UnsupportedKind
}

// UnsupportedKind is one kind gatekeep does not run, and how many documents
// of it a file holds.
type UnsupportedKind struct {
	Group string
	Kind  string
	Count int
	// Family is what the kind belongs to, which says why gatekeep does
	// not run it and what to do instead.
	Family UnsupportedFamily
}

// UnsupportedFamily is a family of policy kinds gatekeep does not run.
type UnsupportedFamily struct {
	// Name is the family's ID: gatekeeper-mutation,
	// validating-admission-policy, mutating-admission-policy or kyverno.
	Name string
	// Why says that gatekeep does not run the family's kinds and what to
	// do instead: one sentence, without a final full stop.
	Why string
}

// The families of policy kinds gatekeep does not run.
var (
	GatekeeperMutation = UnsupportedFamily{Name: "gatekeeper-mutation",
		Why: "Gatekeeper mutators are not run by gatekeep (neither gatekeep mutate nor its webhook applies them): run them with Gatekeeper's mutation webhook, or take them out of the bundle"}
	ValidatingAdmissionPolicy = UnsupportedFamily{Name: "validating-admission-policy",
		Why: "ValidatingAdmissionPolicy is not evaluated by gatekeep (the API server enforces it once it is in the cluster): apply it as a manifest, or write the rule as a ConstraintTemplate (CEL or Rego) for gatekeep to run"}
	MutatingAdmissionPolicy = UnsupportedFamily{Name: "mutating-admission-policy",
		Why: "MutatingAdmissionPolicy is not run by gatekeep (the API server runs it once it is in the cluster): apply it as a manifest, not in the bundle"}
	Kyverno = UnsupportedFamily{Name: "kyverno",
		Why: "Kyverno policies are not evaluated by gatekeep: run them with Kyverno, or rewrite them as Rego or Gatekeeper ConstraintTemplates"}
)

// unsupportedKinds are the policy kinds gatekeep does not run, by API group
// (any version) and kind. Nothing else in a bundle is flagged: a
// ValidatingWebhookConfiguration, say, is not a policy.
var unsupportedKinds = map[string]map[string]UnsupportedFamily{
	"mutations.gatekeeper.sh": {
		"Assign": GatekeeperMutation, "AssignMetadata": GatekeeperMutation,
		"ModifySet": GatekeeperMutation, "AssignImage": GatekeeperMutation,
	},
	"admissionregistration.k8s.io": {
		"ValidatingAdmissionPolicy": ValidatingAdmissionPolicy, "ValidatingAdmissionPolicyBinding": ValidatingAdmissionPolicy,
		"MutatingAdmissionPolicy": MutatingAdmissionPolicy, "MutatingAdmissionPolicyBinding": MutatingAdmissionPolicy,
	},
	"kyverno.io": {
		"ClusterPolicy": Kyverno, "Policy": Kyverno, "PolicyException": Kyverno,
		"ClusterCleanupPolicy": Kyverno, "CleanupPolicy": Kyverno,
	},
	"policies.kyverno.io": {
		"ValidatingPolicy": Kyverno, "NamespacedValidatingPolicy": Kyverno,
		"ImageValidatingPolicy": Kyverno, "NamespacedImageValidatingPolicy": Kyverno,
		"MutatingPolicy": Kyverno, "NamespacedMutatingPolicy": Kyverno,
		"GeneratingPolicy": Kyverno, "NamespacedGeneratingPolicy": Kyverno,
		"DeletingPolicy": Kyverno, "NamespacedDeletingPolicy": Kyverno,
		"PolicyException": Kyverno,
	},
}

// unsupportedFamilyOf says whether o is a policy kind gatekeep does not
// run, and which.
func unsupportedFamilyOf(o *manifest.Object) (UnsupportedFamily, bool) {
	ref := o.Ref()
	f, ok := unsupportedKinds[ref.Group()][ref.Kind]
	return f, ok
}

// Unsupported lists the bundle's files that hold policy kinds gatekeep does
// not run, one entry per file, in the order of the bundle's objects.
func (b *Bundle) Unsupported() []Unsupported {
	var out []Unsupported
	byFile := map[string]int{}
	for _, o := range b.Objects {
		fam, ok := unsupportedFamilyOf(o)
		if !ok {
			continue
		}
		i, seen := byFile[o.Source.File]
		if !seen {
			i = len(out)
			byFile[o.Source.File] = i
			out = append(out, Unsupported{File: o.Source.File, Line: o.Source.Line})
		}
		u := &out[i]
		ref := o.Ref()
		k := -1
		for j, have := range u.Kinds {
			if have.Group == ref.Group() && have.Kind == ref.Kind {
				k = j
				break
			}
		}
		if k < 0 {
			k = len(u.Kinds)
			u.Kinds = append(u.Kinds, UnsupportedKind{Group: ref.Group(), Kind: ref.Kind, Family: fam})
		}
		u.Kinds[k].Count++
	}
	return out
}

// String names the kind, with its count when the file holds several:
// "Assign", "ModifySet (2)".
func (k UnsupportedKind) String() string {
	if k.Count > 1 {
		return fmt.Sprintf("%s (%d)", k.Kind, k.Count)
	}
	return k.Kind
}

// kindNames names the file's unsupported kinds, with their counts.
func (u Unsupported) kindNames() []string {
	out := make([]string, len(u.Kinds))
	for i, k := range u.Kinds {
		out[i] = k.String()
	}
	return out
}

// Message says, in one line, which kinds the file holds that gatekeep
// does not run, why, and what to do: per family, in the order they first
// appear, "Kind, Kind (n): why", joined by "; ".
//
//	AssignMetadata, ModifySet (2): Gatekeeper mutators are not run by gatekeep (…): …
func (u Unsupported) Message() string {
	var order []UnsupportedFamily
	kinds := map[string][]string{}
	for _, k := range u.Kinds {
		if _, seen := kinds[k.Family.Name]; !seen {
			order = append(order, k.Family)
		}
		kinds[k.Family.Name] = append(kinds[k.Family.Name], k.String())
	}
	parts := make([]string, len(order))
	for i, f := range order {
		parts[i] = strings.Join(kinds[f.Name], ", ") + ": " + f.Why
	}
	return strings.Join(parts, "; ")
}
