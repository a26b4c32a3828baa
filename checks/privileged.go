package checks

import (
	"fmt"
	"strconv"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// PrivilegedContainer denies containers that run privileged, in a Pod or any
// built-in workload's pod template.
var PrivilegedContainer = Check{
	ID:      "privileged-container",
	Summary: "containers must not run privileged (securityContext.privileged: true)",
	Review:  reviewPrivileged,
}

var containerNoun = map[string]string{
	"containers":          "container",
	"initContainers":      "init container",
	"ephemeralContainers": "ephemeral container",
}

func reviewPrivileged(obj *manifest.Object, _ *Inventory) []Violation {
	spec, at, ok := obj.PodSpec()
	if !ok {
		return nil
	}
	var out []Violation
	for _, list := range manifest.ContainerLists {
		cs, _ := spec[list].([]any)
		for i, c := range cs {
			cm, _ := c.(map[string]any)
			sc, _ := cm["securityContext"].(map[string]any)
			if p, _ := sc["privileged"].(bool); !p {
				continue
			}
			name, _ := cm["name"].(string)
			out = append(out, Violation{
				Path:    at + "/" + list + "/" + strconv.Itoa(i) + "/securityContext/privileged",
				Message: fmt.Sprintf("%s %q is privileged", containerNoun[list], name),
			})
		}
	}
	return out
}
