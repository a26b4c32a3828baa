package checks

import (
	"fmt"

	"github.com/gatekeep-dev/gatekeep/deprecation"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/schema"
)

// SchemaCheck is the ID of the schema check: the object is not valid for
// the target version, or not served by it.
const SchemaCheck = "schema"

// DeprecatedAPICheck is the ID of the check of deprecated and removed
// APIs.
const DeprecatedAPICheck = "deprecated-api"

// SchemaMissingCheck is the ID of the check of kinds with no schema at all
// (not built in, not in the CRD catalog, no CRD among the inputs or in a
// schema directory). It warns by default (policies/gatekeep.yaml); in the
// cluster it says nothing, since the API server validates custom resources
// against their CRDs itself.
const SchemaMissingCheck = "schema-missing"

// newSchemaChecks returns the schema and schema-missing checks. Both ask one
// validator: the target version's OpenAPI schemas, the CRDs among the
// inputs and in the schema directories, and (in CI) the embedded CRD
// catalog. In the cluster the catalog stays out: the API server has already
// validated a custom resource against the CRD it really has, which a
// catalog of another release of the project could only contradict.
func newSchemaChecks(cfg Config) ([]Check, error) {
	opts := []schema.Option{schema.Strict(cfg.Strict), schema.Catalog(!cfg.Admission)}
	for _, d := range cfg.SchemaDirs {
		opts = append(opts, schema.WithSchemaDir(d))
	}
	base, err := schema.New(cfg.Version, opts...)
	if err != nil {
		return nil, fmt.Errorf("schemas: %w", err)
	}
	// With CRDs among the inputs, a validator that knows them is built once
	// per inventory.
	validator := func(inv *Inventory) (*schema.Validator, error) {
		if inv == nil || len(inv.CRDs) == 0 {
			return base, nil
		}
		inv.once.Do(func() {
			inv.schemas, inv.err = schema.New(cfg.Version, append(opts, schema.WithCRDs(inv.CRDs...))...)
		})
		return inv.schemas, inv.err
	}
	valid := Check{
		ID:      SchemaCheck,
		Summary: "objects must be valid for the target Kubernetes version's API (types, required and, with --strict, unknown fields)",
		Review: func(obj *manifest.Object, inv *Inventory) []Violation {
			v, err := validator(inv)
			if err != nil {
				return []Violation{{Message: "cannot validate: " + err.Error(), Warning: true}}
			}
			res := v.ValidateWithDuplicates(obj.Data, obj.Duplicates())
			if res.NoSchema {
				return nil // schema-missing reports it
			}
			var out []Violation
			for _, p := range res.Problems {
				if res.Unserved && p.Pointer == "/apiVersion" && cfg.RemovedAPIsDenied && removed(cfg.Deprecations, obj, cfg) {
					continue // deprecated-api reports it, once
				}
				out = append(out, Violation{Path: p.Pointer, Message: p.String()})
			}
			return out
		},
	}
	missing := Check{
		ID:      SchemaMissingCheck,
		Summary: "objects must be of a kind with a schema: built in, in the CRD catalog, or with its CRD among the inputs or in --schema-dir",
		Review: func(obj *manifest.Object, inv *Inventory) []Violation {
			if cfg.Admission {
				return nil
			}
			v, err := validator(inv)
			if err != nil {
				return nil // the schema check reports it
			}
			if msg, ok := v.SchemaMissing(obj.Data); ok {
				return []Violation{{Message: msg}}
			}
			return nil
		},
	}
	return []Check{valid, missing}, nil
}

func removed(t *deprecation.Table, obj *manifest.Object, cfg Config) bool {
	if t == nil {
		return false
	}
	v, ok := t.Lookup(obj.APIVersion(), obj.Kind(), cfg.Version)
	return ok && v.Status == deprecation.Removed
}

// deprecatedAPI warns on deprecated APIs the target still serves and denies
// those it no longer serves, naming the replacement.
func deprecatedAPI(cfg Config) Check {
	return Check{
		ID:      DeprecatedAPICheck,
		Summary: "apiVersion and kind must be served by the target Kubernetes version; deprecated ones warn",
		Review: func(obj *manifest.Object, _ *Inventory) []Violation {
			if cfg.Deprecations == nil {
				return nil
			}
			v, ok := cfg.Deprecations.Lookup(obj.APIVersion(), obj.Kind(), cfg.Version)
			if !ok {
				return nil
			}
			return []Violation{{Path: "/apiVersion", Message: v.Message, Warning: v.Status != deprecation.Removed}}
		},
	}
}
