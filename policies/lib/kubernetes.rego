# METADATA
# description: |
#   Helpers shared by gatekeep's checks. The table of where each workload
#   kind keeps its pod spec is gatekeep's own (data.gatekeep.podSpecPaths,
#   data.gatekeep.workloadGroups), so Rego and Go read the same one.
package gatekeep.lib.kubernetes

import rego.v1

# api_group is the group of input's apiVersion ("" for the core group).
api_group := split(input.apiVersion, "/")[0] if contains(input.apiVersion, "/")

api_group := "" if not contains(input.apiVersion, "/")

# pod_specs holds the pod spec of a Pod, or of a built-in workload's pod
# template, with its JSON pointer: {"path": "/spec/template/spec", "spec": {...}}.
pod_specs contains {"path": concat("", ["/", concat("/", p)]), "spec": spec} if {
	p := data.gatekeep.podSpecPaths[input.kind]
	data.gatekeep.workloadGroups[api_group]
	spec := object.get(input, p, null)
	is_object(spec)
}

# containers holds every container of input's pod spec, with the pointer of
# the container and the noun people call it by.
containers contains {"path": sprintf("%s/%s/%d", [ps.path, list, i]), "noun": noun, "container": c} if {
	some ps in pod_specs
	some list, noun in {"initContainers": "init container", "containers": "container", "ephemeralContainers": "ephemeral container"}
	some i, c in ps.spec[list]
}
