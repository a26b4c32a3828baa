# METADATA
# title: privileged-container
# description: containers must not run privileged (securityContext.privileged true)
# custom:
#   id: privileged-container
package gatekeep.checks.privileged_container

import rego.v1

import data.gatekeep.lib.kubernetes

# A privileged container has every capability of the host: any container,
# init container or ephemeral container of a Pod or pod template.
deny contains {"msg": sprintf("%s %q is privileged", [c.noun, c.container.name]), "path": concat("/", [c.path, "securityContext", "privileged"])} if {
	some c in kubernetes.containers
	c.container.securityContext.privileged == true
}
