package regoeval

import (
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
)

// NetworkBuiltins reach outside the machine (or, for opa.runtime, into its
// environment). Policies may use them only where the bundle allows the
// network (gatekeep.yaml's allowNetwork).
var NetworkBuiltins = []string{ast.HTTPSend.Name, ast.NetLookupIPAddr.Name, ast.OPARuntime.Name}

// Capabilities returns OPA's capabilities without the disabled built-ins.
// Taking away any of NetworkBuiltins takes the network away altogether:
// the capabilities then allow no host (AllowNet empty), so neither
// http.send nor json.match_schema's and json.verify_schema's remote $refs
// reach one, and a $ref that would be fetched stops the evaluation with an
// error (see SchemaRefs). Every Rego evaluation of gatekeep (conftest
// policies, their tests, ConstraintTemplates) gets its capabilities here.
func Capabilities(disabled ...string) *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	if len(disabled) == 0 {
		return caps
	}
	caps.Builtins = slices.DeleteFunc(caps.Builtins, func(b *ast.Builtin) bool { return slices.Contains(disabled, b.Name) })
	for _, b := range NetworkBuiltins {
		if slices.Contains(disabled, b) {
			caps.AllowNet = []string{}
			break
		}
	}
	return caps
}

// NetworkAllowed tells whether capabilities let evaluation reach the
// network: a nil AllowNet allows any host, a list the hosts in it. Without
// capabilities, it does not.
func NetworkAllowed(caps *ast.Capabilities) bool {
	return caps != nil && (caps.AllowNet == nil || len(caps.AllowNet) > 0)
}
