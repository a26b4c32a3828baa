package main

# conftest exceptions name rules without their deny_/warn_/violation_ prefix.
exception contains rules if {
	input.metadata.labels["policy.example.com/allow-latest"] == "true"
	rules := ["latest_tag"]
}

exception contains ["untrusted_registry"] if {
	input.metadata.namespace == "sandbox"
}
