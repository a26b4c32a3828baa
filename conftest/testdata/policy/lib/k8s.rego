package lib.k8s

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "Job"}

is_workload if input.kind in workload_kinds

pod_spec := input.spec.template.spec

containers contains c if some c in pod_spec.containers

containers contains c if some c in pod_spec.initContainers

# image_tag("nginx:1.27") == "1.27"; an image without a tag is "latest".
image_tag(image) := tag if {
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	tag := split(last, ":")[1]
} else := "digest" if {
	contains(image, "@")
} else := "latest"
