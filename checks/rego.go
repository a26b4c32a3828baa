package checks

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"

	"github.com/gatekeep-dev/gatekeep/secrets"
)

// SealedInlineBuiltin is the Rego built-in function by which the built-in
// Rego checks ask Go whether a value of a Secret annotated
// gatekeep.dev/sealed has the form of a `kubeseal --raw` output:
// gatekeep.sealed_inline_value(field, value), field "data" or
// "stringData", is secrets.InlineSealed. The form of a sealed-secrets
// ciphertext is Go's to judge (secrets); the plaintext-secret check
// (policies/checks) denies the keys whose values do not have it.
//
// It is registered with OPA, for every Rego evaluation of the process, when
// this package is loaded (the engine, and so the CLI and the webhook, import
// it).
const SealedInlineBuiltin = "gatekeep.sealed_inline_value"

func init() {
	rego.RegisterBuiltin2(&rego.Function{
		Name:        SealedInlineBuiltin,
		Description: "Whether value, of field data or stringData of a Secret annotated gatekeep.dev/sealed, has the form of a `kubeseal --raw` output (without decrypting it).",
		Decl:        types.NewFunction(types.Args(types.S, types.A), types.B),
	}, func(_ rego.BuiltinContext, field, value *ast.Term) (*ast.Term, error) {
		f, _ := field.Value.(ast.String)
		var v any
		if s, ok := value.Value.(ast.String); ok {
			v = string(s)
		}
		return ast.BooleanTerm(secrets.InlineSealed(string(f), v)), nil
	})
}
