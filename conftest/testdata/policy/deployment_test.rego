package main_test

import data.main

deployment(image, labels) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "shop", "labels": labels},
	"spec": {
		"replicas": 3,
		"selector": {"matchLabels": {"app": "web"}},
		"template": {"spec": {
			"securityContext": {"runAsNonRoot": true},
			"containers": [{
				"name": "web",
				"image": image,
				"resources": {"limits": {"memory": "128Mi"}},
				"readinessProbe": {"httpGet": {"path": "/", "port": 8080}},
			}],
		}},
	},
}

test_good_deployment_has_no_failures if {
	d := deployment("registry.example.com/web:1.2.3", {})
	count(main.deny) == 0 with input as d
	count(main.deny_latest_tag) == 0 with input as d
	count(main.warn_untrusted_registry) == 0 with input as d
}

test_latest_tag_is_denied if {
	main.deny_latest_tag == {"container web uses the latest tag (registry.example.com/web:latest)"} with input as deployment("registry.example.com/web:latest", {})
}

test_untagged_image_is_latest if {
	count(main.deny_latest_tag) == 1 with input as deployment("registry.example.com/web", {})
}

test_exception_names_the_rule if {
	main.exception == {["latest_tag"]} with input as deployment("registry.example.com/web:latest", {"policy.example.com/allow-latest": "true"})
}

test_trusted_registries_come_from_data if {
	d := deployment("docker.io/web:1.0", {})
	count(main.warn_untrusted_registry) == 1 with input as d
	count(main.warn_untrusted_registry) == 0 with input as d with data.registries.trusted as ["docker.io/"]
}

todo_test_statefulsets if {
	false
}
