package main

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

containers contains c if {
	input.kind in workload_kinds
	some c in input.spec.template.spec.containers
}

# Pods must not run as root.
deny contains msg if {
	input.kind in workload_kinds
	not input.spec.template.spec.securityContext.runAsNonRoot
	msg := sprintf("%s %s: set spec.template.spec.securityContext.runAsNonRoot", [input.kind, input.metadata.name])
}

# Production runs at least two replicas, reported at the field.
violation contains {"msg": sprintf("Deployment %s runs %d replica(s) in production: run at least 2", [input.metadata.name, input.spec.replicas]), "path": "/spec/replicas"} if {
	input.kind == "Deployment"
	input.metadata.namespace == "production"
	input.spec.replicas < 2
}

warn contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("container %s uses the latest tag", [c.name])
}

deny_untrusted_registry contains msg if {
	some c in containers
	not trusted(c.image)
	msg := sprintf("container %s: image %s is not from a trusted registry", [c.name, c.image])
}

trusted(image) if {
	some prefix in data.trusted_registries
	startswith(image, prefix)
}

# Vendored charts pull from their vendor's registry.
exception contains rules if {
	input.metadata.labels["app.kubernetes.io/managed-by"] == "vendor"
	rules := ["untrusted_registry"]
}
