# A second namespace, plain v0 (no future.keywords).
package labels

required := {"app.kubernetes.io/name", "app.kubernetes.io/owner"}

deny[msg] {
	provided := {k | input.metadata.labels[k]}
	missing := required - provided
	count(missing) > 0
	msg := sprintf("%s %s is missing labels %v", [input.kind, input.metadata.name, sort(missing)])
}

warn_owner_format[msg] {
	owner := input.metadata.labels["app.kubernetes.io/owner"]
	not re_match("^team-[a-z]+$", owner)
	msg := sprintf("owner %q should look like team-<name>", [owner])
}
