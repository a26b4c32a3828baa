package main

import data.lib.k8s

deny_latest_tag contains msg if {
	some c in k8s.containers
	k8s.image_tag(c.image) == "latest"
	msg := sprintf("container %s uses the latest tag (%s)", [c.name, c.image])
}

# data.registries comes from the bundle's data file.
warn_untrusted_registry contains msg if {
	some c in k8s.containers
	not trusted(c.image)
	msg := sprintf("container %s: image %s is not from a trusted registry", [c.name, c.image])
}

trusted(image) if {
	some prefix in data.registries.trusted
	startswith(image, prefix)
}
