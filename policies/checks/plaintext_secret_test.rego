package gatekeep.checks.plaintext_secret_test

import rego.v1

import data.gatekeep.checks.plaintext_secret

secret(fields) := object.union({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db"}}, fields)

test_string_data_denied_naming_keys_not_values if {
	some f in plaintext_secret.deny with input as secret({"stringData": {"user": "admin", "password": "hunter2"}})
	f.path == "/stringData"
	contains(f.msg, "keys: password, user")
	not contains(f.msg, "hunter2")
	not contains(f.msg, "admin\"")
}

test_data_denied if {
	plaintext_secret.deny == {{"path": "/data", "msg": `Secret "db" holds plaintext values in data (keys: token): seal it with kubeseal or reference an external secret store`}} with input as secret({"data": {"token": "aHVudGVyMg=="}})
}

test_empty_and_other_kinds_pass if {
	count(plaintext_secret.deny) == 0 with input as secret({"data": {}})
	count(plaintext_secret.deny) == 0 with input as secret({})
	count(plaintext_secret.deny) == 0 with input as {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"password": "x"}}
	count(plaintext_secret.deny) == 0 with input as {"apiVersion": "bitnami.com/v1alpha1", "kind": "SealedSecret", "metadata": {"name": "s"}, "spec": {"encryptedData": {"password": "AgB"}}}
}

test_empty_values_are_not_plaintext if {
	count(plaintext_secret.deny) == 0 with input as secret({"stringData": {"password": ""}})
	count(plaintext_secret.deny) == 0 with input as secret({"data": {"token": ""}})
	count(plaintext_secret.deny) == 0 with input as secret({"stringData": {"password": null}})
	count(plaintext_secret.deny) == 0 with input as secret({"data": {"token": ""}, "stringData": {"password": "", "user": null}})
}

test_only_keys_with_values_are_named if {
	plaintext_secret.deny == {{"path": "/stringData", "msg": `Secret "db" holds plaintext values in stringData (keys: user): seal it with kubeseal or reference an external secret store`}} with input as secret({"stringData": {"password": "", "user": "admin"}})
	plaintext_secret.deny == {{"path": "/data", "msg": `Secret "db" holds plaintext values in data (keys: token): seal it with kubeseal or reference an external secret store`}} with input as secret({"data": {"token": "aHVudGVyMg==", "ca.crt": ""}, "stringData": {"password": ""}})
}

test_inline_sealed_values_are_not_plaintext if {
	count(plaintext_secret.deny) == 0 with input as secret({"metadata": {"name": "db", "annotations": {"gatekeep.dev/sealed": "true"}}, "data": {"password": "QWdC"}})
	count(plaintext_secret.deny) == 1 with input as secret({"metadata": {"name": "db", "annotations": {"gatekeep.dev/sealed": "false"}}, "data": {"password": "QWdC"}})
}
