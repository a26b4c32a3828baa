// Package checks holds gatekeep's built-in checks. Each looks at one object
// (and, for cross-object checks, an Inventory) and says what is wrong with
// it; the engine turns that into findings. Nothing here knows whether it runs
// in CI or behind an admission request.
package checks

import "github.com/gatekeep-dev/gatekeep/manifest"

// Violation is one problem a check found in an object: the JSON pointer of
// the offending field and a message a person can act on.
type Violation struct {
	Path    string
	Message string
}

// Check is one built-in check.
type Check struct {
	// ID names the check in reports, bundles and flags; it is a contract.
	ID string
	// Summary says in one line what the check catches.
	Summary string
	// CIOnly checks judge what is committed to git, not what a cluster may
	// hold (a cluster must still accept Secrets).
	CIOnly bool
	// Review returns the object's violations.
	Review func(obj *manifest.Object, inv *Inventory) []Violation
}

// Builtin returns every built-in check, in a stable order.
func Builtin() []Check {
	return []Check{
		PrivilegedContainer,
		IngressHostCollision,
		PlaintextSecret,
	}
}

// Reserved are the IDs of built-in checks specified but not yet shipped;
// bundles may name them already.
var Reserved = []string{"deprecated-api", "schema"}

// Inventory is what a check may know beyond the object under review: in CI
// every object of the run, in the cluster what the informers hold.
type Inventory struct {
	Hosts *HostIndex
}

// InventoryOf builds the inventory of a CI run from all of its objects.
func InventoryOf(objs []*manifest.Object) *Inventory {
	idx := NewHostIndex()
	for _, o := range objs {
		if isIngress(o) {
			idx.Add(o.Namespace(), o.Name(), IngressClaims(o))
		}
	}
	return &Inventory{Hosts: idx}
}
