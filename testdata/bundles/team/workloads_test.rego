package main_test

import rego.v1

import data.main

test_root_denied if {
	count(main.deny) == 1 with input as {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"template": {"spec": {"containers": []}}}}
}

test_non_root_passes if {
	count(main.deny) == 0 with input as {"kind": "Deployment", "metadata": {"name": "a"}, "spec": {"template": {"spec": {"securityContext": {"runAsNonRoot": true}, "containers": []}}}}
}
