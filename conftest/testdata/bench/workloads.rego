# A small everyday policy: eight rules, field checks and sprintf, for
# BenchmarkReviewSmall.
package main

is_deployment if input.kind == "Deployment"

name := input.metadata.name

deny contains msg if {
	is_deployment
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("Deployment %s: containers must not run as root", [name])
}

deny contains msg if {
	is_deployment
	not input.spec.selector.matchLabels.app
	msg := sprintf("Deployment %s must provide an app label for its pod selector", [name])
}

deny contains msg if {
	is_deployment
	some label in ["app.kubernetes.io/name", "app.kubernetes.io/owner"]
	not input.metadata.labels[label]
	msg := sprintf("Deployment %s has no %s label", [name, label])
}

deny_latest_tag contains msg if {
	some c in input.spec.template.spec.containers
	endswith(c.image, ":latest")
	msg := sprintf("container %s uses the latest tag", [c.name])
}

deny_no_memory_limit contains {"msg": msg, "container": c.name} if {
	some c in input.spec.template.spec.containers
	not c.resources.limits.memory
	msg := sprintf("container %s has no memory limit", [c.name])
}

violation contains {"msg": msg} if {
	some c in input.spec.template.spec.containers
	c.securityContext.privileged
	msg := sprintf("container %s is privileged", [c.name])
}

warn contains msg if {
	is_deployment
	input.spec.replicas < 2
	msg := sprintf("Deployment %s has fewer than 2 replicas", [name])
}

warn_load_balancer contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	msg := sprintf("Service %s is a LoadBalancer", [name])
}

exception contains ["latest_tag"] if input.metadata.labels["policy.example.com/allow-latest"] == "true"
