package checks

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// PlaintextSecret denies Secrets committed with their values: anyone who can
// read the repository can read them. It names the keys, never the values.
var PlaintextSecret = Check{
	ID:      "plaintext-secret",
	Summary: "Secrets must not be committed with plaintext data; seal them or use an external secret store",
	CIOnly:  true,
	Review:  reviewPlaintextSecret,
}

func reviewPlaintextSecret(obj *manifest.Object, _ *Inventory) []Violation {
	if obj.Kind() != "Secret" || obj.APIVersion() != "v1" {
		return nil
	}
	var out []Violation
	for _, field := range []string{"data", "stringData"} {
		m, _ := obj.Data[field].(map[string]any)
		if len(m) == 0 {
			continue
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out = append(out, Violation{
			Path: "/" + field,
			Message: fmt.Sprintf("Secret %q holds plaintext values in %s (keys: %s): seal it with kubeseal or reference an external secret store",
				obj.Name(), field, strings.Join(keys, ", ")),
		})
	}
	return out
}
