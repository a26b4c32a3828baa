package gatekeep.checks.privileged_container_test

import rego.v1

import data.gatekeep.checks.privileged_container

pod(spec) := {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}

workload(api, kind, template) := {"apiVersion": api, "kind": kind, "metadata": {"name": "w"}, "spec": {"template": {"spec": template}}}

privileged := {"containers": [{"name": "ok", "image": "a"}, {"name": "main", "image": "b", "securityContext": {"privileged": true}}]}

test_pod_denied if {
	privileged_container.deny == {{"msg": `container "main" is privileged`, "path": "/spec/containers/1/securityContext/privileged"}} with input as pod(privileged)
}

test_every_workload_kind if {
	every kind in ["Deployment", "StatefulSet", "DaemonSet", "ReplicaSet"] {
		count(privileged_container.deny) == 1 with input as workload("apps/v1", kind, privileged)
	}
	count(privileged_container.deny) == 1 with input as workload("batch/v1", "Job", privileged)
	count(privileged_container.deny) == 1 with input as workload("v1", "ReplicationController", privileged)
}

test_cronjob_path if {
	cron := {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": privileged}}}}}
	privileged_container.deny == {{"msg": `container "main" is privileged`, "path": "/spec/jobTemplate/spec/template/spec/containers/1/securityContext/privileged"}} with input as cron
}

test_init_and_ephemeral_containers if {
	spec := {"initContainers": [{"name": "setup", "securityContext": {"privileged": true}}], "containers": [{"name": "app"}], "ephemeralContainers": [{"name": "debug", "securityContext": {"privileged": true}}]}
	privileged_container.deny == {
		{"msg": `init container "setup" is privileged`, "path": "/spec/initContainers/0/securityContext/privileged"},
		{"msg": `ephemeral container "debug" is privileged`, "path": "/spec/ephemeralContainers/0/securityContext/privileged"},
	} with input as pod(spec)
}

test_not_privileged if {
	count(privileged_container.deny) == 0 with input as pod({"containers": [{"name": "a", "securityContext": {"privileged": false}}]})
	count(privileged_container.deny) == 0 with input as pod({"containers": [{"name": "a", "securityContext": {"privileged": "true"}}]})
	count(privileged_container.deny) == 0 with input as pod({"containers": [{"name": "a"}]})
}

test_custom_kinds_are_not_workloads if {
	count(privileged_container.deny) == 0 with input as workload("example.com/v1", "Deployment", privileged)
}
