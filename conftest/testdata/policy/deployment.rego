# Workload rules, in the style of conftest's examples/kubernetes.
package main

import data.lib.k8s

deny contains msg if {
	k8s.is_workload
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("%s %s: containers must not run as root", [input.kind, input.metadata.name])
}

deny contains msg if {
	input.kind == "Deployment"
	not input.spec.selector.matchLabels.app
	msg := sprintf("Deployment %s must provide an app label for its pod selector", [input.metadata.name])
}

# Object messages: msg plus metadata.
deny contains {"msg": msg, "severity": "high", "container": c.name} if {
	some c in k8s.containers
	not c.resources.limits.memory
	msg := sprintf("container %s has no memory limit", [c.name])
}

violation contains {"msg": msg, "details": {"container": c.name}} if {
	some c in k8s.containers
	c.securityContext.privileged
	msg := sprintf("container %s is privileged", [c.name])
}

warn contains msg if {
	input.kind == "Deployment"
	input.spec.replicas < 2
	msg := sprintf("Deployment %s has fewer than 2 replicas", [input.metadata.name])
}
