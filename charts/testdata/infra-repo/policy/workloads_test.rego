package main

import rego.v1

test_untrusted_registry_denied if {
	count(deny) == 1 with input as {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "docker.io/nginx:1"}]}}}}
		with data.trusted_registries as ["registry.example.com/"]
}

test_trusted_registry_allowed if {
	count(deny) == 0 with input as {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "registry.example.com/app:1"}]}}}}
		with data.trusted_registries as ["registry.example.com/"]
}
