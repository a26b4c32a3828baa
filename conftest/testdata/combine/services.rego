# Combined policies: input is every document, [{"path": ..., "contents": ...}].
package combine

deployments contains doc if {
	some doc in input
	doc.contents.kind == "Deployment"
}

namespace(obj) := object.get(obj, ["metadata", "namespace"], "default")

# Every Deployment needs a Service selecting its pods.
deny contains msg if {
	some d in deployments
	not selected_by_service(d.contents)
	msg := sprintf("%s: Deployment %s/%s has no Service selecting its pods", [d.path, namespace(d.contents), d.contents.metadata.name])
}

selected_by_service(dep) if {
	some doc in input
	svc := doc.contents
	svc.kind == "Service"
	namespace(svc) == namespace(dep)
	count(svc.spec.selector) > 0
	every k, v in svc.spec.selector {
		dep.spec.template.metadata.labels[k] == v
	}
}

# A Deployment with more than one replica should have a PodDisruptionBudget.
warn_pdb contains {"msg": msg, "path": d.path} if {
	some d in deployments
	d.contents.spec.replicas > 1
	not covered_by_pdb(d.contents)
	msg := sprintf("Deployment %s/%s has no PodDisruptionBudget", [namespace(d.contents), d.contents.metadata.name])
}

covered_by_pdb(dep) if {
	some doc in input
	pdb := doc.contents
	pdb.kind == "PodDisruptionBudget"
	namespace(pdb) == namespace(dep)
	every k, v in pdb.spec.selector.matchLabels {
		dep.spec.template.metadata.labels[k] == v
	}
}
