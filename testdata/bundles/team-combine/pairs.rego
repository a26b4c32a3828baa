package combine

import rego.v1

# With --combine, input is every document: [{"path": ..., "contents": ...}].
deployments contains d.contents if {
	some d in input
	d.contents.kind == "Deployment"
}

services contains d.contents if {
	some d in input
	d.contents.kind == "Service"
}

deny contains msg if {
	some dep in deployments
	not selected(dep)
	msg := sprintf("Deployment %s/%s has no Service selecting its pods", [dep.metadata.namespace, dep.metadata.name])
}

selected(dep) if {
	some svc in services
	svc.metadata.namespace == dep.metadata.namespace
	every k, v in svc.spec.selector {
		dep.spec.template.metadata.labels[k] == v
	}
}
