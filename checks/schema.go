package checks

import (
	"fmt"

	"github.com/gatekeep-dev/gatekeep/deprecation"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/schema"
)

// SchemaCheck is the ID of the schema check.
const SchemaCheck = "schema"

// newSchemaCheck validates objects against the target version's OpenAPI
// schemas, and custom resources against their CRDs.
func newSchemaCheck(cfg Config) (Check, error) {
	opts := []schema.Option{schema.Strict(cfg.Strict)}
	for _, d := range cfg.SchemaDirs {
		opts = append(opts, schema.WithSchemaDir(d))
	}
	base, err := schema.New(cfg.Version, opts...)
	if err != nil {
		return Check{}, fmt.Errorf("schemas: %w", err)
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
	return Check{
		ID:      SchemaCheck,
		Summary: "objects must be valid for the target Kubernetes version's API (types, required and, with --strict, unknown fields)",
		Note:    base.Note(),
		Review: func(obj *manifest.Object, inv *Inventory) []Violation {
			v, err := validator(inv)
			if err != nil {
				return []Violation{{Message: "cannot validate: " + err.Error(), Warning: true}}
			}
			res := v.ValidateWithDuplicates(obj.Data, obj.Duplicates())
			if res.NoSchema {
				if cfg.Admission {
					return nil
				}
				return []Violation{{Message: res.Message, Warning: true}}
			}
			var out []Violation
			for _, p := range res.Problems {
				if res.Unserved && p.Pointer == "/apiVersion" && removed(cfg.Deprecations, obj, cfg) {
					continue // deprecated-api reports it, once
				}
				out = append(out, Violation{Path: p.Pointer, Message: p.String()})
			}
			return out
		},
	}, nil
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
		ID:      "deprecated-api",
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
