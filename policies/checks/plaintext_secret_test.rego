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

# sealed_raw has the form of a `kubeseal --raw` output (for a 1024-bit
# key): base64 of the RSA part's length (128), the RSA part, then AES-GCM.
# Only its form is judged: it decrypts with no key.
sealed_raw := "AIC7tVeHkuNz9KH0uo9+0MxxbDPOd3NNhjwGx2uvcgyP06bwULnS+9bTwM3CtLXGC89WOI7Q9FRGJJgdrs+tZ5aI+eYW3+PVTD6Wg5p8BToYFgR9uuOPMBDnW/6n/yqf3teurRs8UwuhuHVnBLStMphjx++d5mwAJ4+HvScISNCAmBwaosHjtuTW/vCdoRvSMe0rjN6i7wAL3w=="

# truncated_raw is sealed_raw cut inside its RSA part.
truncated_raw := "AIC7tVeHkuNz9KH0uo9+0MxxbDPOd3NNhjwGx2uvcgyP06bwULnS+9bTwM3CtLXGC89WOI7Q9FRGJJgdrs+tZ5aI+eYW3+PVTD6Wg5p8BToYFgR9uuOPMBDnW/6n/yqf3teurQ=="

sealed(fields) := secret(object.union({"metadata": {"name": "db", "annotations": {"gatekeep.dev/sealed": "true"}}}, fields))

test_inline_sealed_values_are_not_plaintext if {
	count(plaintext_secret.deny) == 0 with input as sealed({"data": {"password": sealed_raw}})
	count(plaintext_secret.deny) == 0 with input as sealed({"stringData": {"password": sealed_raw}})
	count(plaintext_secret.deny) == 0 with input as sealed({"data": {"password": base64.encode(sealed_raw)}})
	count(plaintext_secret.deny) == 0 with input as sealed({"data": {"password": sealed_raw, "empty": ""}, "stringData": {"user": null}})
	count(plaintext_secret.deny) == 1 with input as secret({"metadata": {"name": "db", "annotations": {"gatekeep.dev/sealed": "false"}}, "data": {"password": sealed_raw}})
}

sealed_msg(field, keys) := sprintf("Secret \"db\" is annotated gatekeep.dev/sealed but holds plaintext values in %s (keys: %s): they are not `kubeseal --raw` outputs; seal each with kubeseal --raw, or reference an external secret store", [field, keys])

# Issue 17: the annotation does not make a plaintext sealed.
test_inline_sealed_plaintext_denied_naming_keys_not_values if {
	some f in plaintext_secret.deny with input as sealed({"stringData": {"password": "hunter2", "ok": sealed_raw}})
	f.path == "/stringData"
	f.msg == sealed_msg("stringData", "password")
	not contains(f.msg, "hunter2")
}

test_inline_sealed_malformed_values_denied if {
	# base64 of random bytes, too short to be sealed
	plaintext_secret.deny == {{"path": "/data", "msg": sealed_msg("data", "token")}} with input as sealed({"data": {"token": "JVqgteyqvw7ifM5h"}})
	# a sealed value cut short, in data and in stringData
	count(plaintext_secret.deny) == 1 with input as sealed({"data": {"token": truncated_raw}})
	count(plaintext_secret.deny) == 1 with input as sealed({"stringData": {"token": truncated_raw}})
	# base64 of plaintext; a number
	count(plaintext_secret.deny) == 1 with input as sealed({"data": {"token": "aHVudGVyMg=="}})
	count(plaintext_secret.deny) == 1 with input as sealed({"stringData": {"pin": 1234}})
	# both fields
	count(plaintext_secret.deny) == 2 with input as sealed({"data": {"a": "aHVudGVyMg=="}, "stringData": {"b": "hunter2"}})
}
