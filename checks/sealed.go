package checks

import (
	"fmt"

	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/secrets"
)

// SealedSecretCheck is the ID of the sealed-secret check.
const SealedSecretCheck = "sealed-secret"

// sealedSecret checks SealedSecrets: scope and structure always, and with
// the sealing keys that every value decrypts under the label its scope
// gives. In admission it also refuses a Secret whose inline sealed values
// reached validation undecrypted (the mutating webhook did not run): a
// sealed value is never stored by accident. Messages never hold a value.
func sealedSecret(cfg Config) Check {
	return Check{
		ID:      SealedSecretCheck,
		Summary: "SealedSecrets must unseal in this cluster: scope, structure, and with the sealing keys, every value",
		Review: func(obj *manifest.Object, _ *Inventory) []Violation {
			if obj.Kind() == "Secret" && obj.APIVersion() == "v1" {
				return inlineSealed(obj, cfg)
			}
			var out []Violation
			for _, p := range secrets.CheckSealedSecret(obj.Data, cfg.SealingKeys) {
				out = append(out, Violation{Path: p.Path, Message: p.Message})
			}
			return out
		},
	}
}

// inlineSealed: in CI, an inline sealed Secret must unseal with the keys
// given; at admission, one that reaches validation still sealed is refused.
func inlineSealed(obj *manifest.Object, cfg Config) []Violation {
	if v, _ := obj.Annotations()[secrets.SealedAnnotation].(string); v != "true" {
		return nil
	}
	at := "/metadata/annotations/" + manifest.Escape(secrets.SealedAnnotation)
	if cfg.Admission {
		return []Violation{{Path: at, Message: fmt.Sprintf("Secret %q still carries %s: \"true\": its values were not decrypted (is the mutating webhook installed and reachable?); a sealed value is never stored", obj.Name(), secrets.SealedAnnotation)}}
	}
	if cfg.SealingKeys == nil || cfg.SealingKeys.Len() == 0 {
		return nil
	}
	if _, err := secrets.UnsealInline(obj.Data, cfg.SealingKeys); err != nil {
		return []Violation{{Path: "/data", Message: err.Error()}}
	}
	return nil
}
