package main

import future.keywords.if

# A v0-era rule, as many teams still have them.
deny[msg] {
	input.kind == "Service"
	input.spec.type == "NodePort"
	msg := sprintf("Service %s: NodePort services are not allowed, use an Ingress", [input.metadata.name])
}
