// Package checks holds gatekeep's built-in checks. Each looks at one object
// (and, for cross-object checks, an Inventory) and says what is wrong with
// it; the engine turns that into findings. Nothing here knows whether it runs
// in CI or behind an admission request.
package checks

import (
	"sync"

	"github.com/gatekeep-dev/gatekeep/deprecation"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/schema"
	"github.com/gatekeep-dev/gatekeep/secrets"
)

// Violation is one problem a check found in an object: the JSON pointer of
// the offending field and a message a person can act on.
type Violation struct {
	Path    string
	Message string
	// Warning caps the finding at warn even where the check denies (a
	// deprecated API that is still served).
	Warning bool
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
	// Note is said once per run when set (what the check could not do).
	Note string
}

// Config is what the configurable checks need to know.
type Config struct {
	// Version is the target Kubernetes version.
	Version kubeversion.Version
	// Strict: unknown fields and duplicate keys are schema violations.
	Strict bool
	// SchemaDirs hold CRDs and JSON Schemas for custom kinds.
	SchemaDirs []string
	// Deprecations is the deprecated-API table (built-in plus the bundle's).
	Deprecations *deprecation.Table
	// RemovedAPIsDenied: the deprecated-api check runs and denies an
	// apiVersion the target no longer serves, so schema need not say so
	// too; otherwise schema denies it.
	RemovedAPIsDenied bool
	// Admission: the API server validates custom resources against their
	// CRDs itself, so a kind without a schema is not worth a warning.
	Admission bool
	// SealingKeys are the sealed-secrets controller's keys (nil in CI
	// without --sealed-secrets-key: SealedSecrets are checked for
	// structure only).
	SealingKeys *secrets.Keys
}

// Builtin returns every built-in check, in a stable order.
func Builtin(cfg Config) ([]Check, error) {
	sc, err := newSchemaChecks(cfg)
	if err != nil {
		return nil, err
	}
	// privileged-container and plaintext-secret are Rego, in the built-in
	// bundle (policies/checks). The host index stays Go: it must answer in
	// time independent of the number of Ingresses, and hold only hosts.
	out := []Check{IngressHostCollision, deprecatedAPI(cfg)}
	out = append(out, sc...)
	return append(out, sealedSecret(cfg)), nil
}

// Inventory is what a check may know beyond the object under review: in CI
// every object of the run, in the cluster what the informers hold.
type Inventory struct {
	Hosts *HostIndex
	// CRDs are the CustomResourceDefinitions among the inputs.
	CRDs []map[string]any

	once    sync.Once
	schemas *schema.Validator
	err     error
}

// InventoryOf builds the inventory of a CI run from all of its objects.
func InventoryOf(objs []*manifest.Object) *Inventory {
	idx := NewHostIndex()
	inv := &Inventory{Hosts: idx}
	for _, o := range objs {
		switch {
		case isIngress(o):
			idx.Add(o.Namespace(), o.Name(), IngressClaims(o))
		case o.Kind() == "CustomResourceDefinition" && o.Ref().Group() == "apiextensions.k8s.io":
			inv.CRDs = append(inv.CRDs, o.Data)
		}
	}
	return inv
}
