package main

import rego.v1

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet"}

containers contains c if {
	input.kind in workload_kinds
	some c in input.spec.template.spec.containers
}

deny contains msg if {
	some c in containers
	not trusted(c.image)
	msg := sprintf("container %s: image %s is not from a trusted registry", [c.name, c.image])
}

warn contains msg if {
	some c in containers
	endswith(c.image, ":latest")
	msg := sprintf("container %s uses the latest tag", [c.name])
}

trusted(image) if {
	some prefix in data.trusted_registries
	startswith(image, prefix)
}
