# Written for OPA 0.x: future.keywords and the old rule heads.
package main

import future.keywords.in

deny_host_network[msg] {
	input.spec.template.spec.hostNetwork
	msg := sprintf("%s %s uses the host network", [input.kind, input.metadata.name])
}

warn_no_probe[msg] {
	some c in input.spec.template.spec.containers
	not c.readinessProbe
	msg := sprintf("container %s has no readiness probe", [c.name])
}

# The same rule as in deployment.rego, in v0 form: the set has both.
violation[{"msg": msg, "details": {"container": c.name}}] {
	c := input.spec.template.spec.containers[_]
	c.securityContext.allowPrivilegeEscalation == true
	msg := sprintf("container %s allows privilege escalation", [c.name])
}
