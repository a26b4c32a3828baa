# METADATA
# title: plaintext-secret
# description: Secrets must not be committed with plaintext data; seal them or use an external secret store
# custom:
#   id: plaintext-secret
#   ciOnly: true
package gatekeep.checks.plaintext_secret

import rego.v1

# Anyone who can read the repository can read a committed Secret's values.
# The message names the keys, never the values. CI only: a cluster must
# still accept Secrets.
deny contains {"msg": msg, "path": concat("", ["/", field])} if {
	input.apiVersion == "v1"
	input.kind == "Secret"
	not sealed_inline
	some field in ["data", "stringData"]
	is_object(input[field])
	keys := filled(input[field])
	count(keys) > 0
	msg := sprintf("Secret %q holds plaintext values in %s (keys: %s): seal it with kubeseal or reference an external secret store", [input.metadata.name, field, concat(", ", keys)])
}

# filled are the keys that hold a value, sorted: an empty one ("" or null,
# as a template leaves a key filled in at deploy time) reveals nothing.
filled(values) := sort([k | some k, v in values; not empty_value(v)])

empty_value(v) if v == ""

empty_value(v) if v == null

# Values sealed inline (gatekeep.dev/sealed) are ciphertexts, decrypted at
# admission: the sealed-secret check judges whether they decrypt. Without
# the sealing keys nothing would: so here each must at least have the form
# of a `kubeseal --raw` output (gatekeep.sealed_inline_value, in Go: base64
# of a sealed-secrets ciphertext, its RSA part and AES-GCM tag whole); a key
# whose value does not is plaintext, the annotation notwithstanding.
sealed_inline if input.metadata.annotations["gatekeep.dev/sealed"] == "true"

deny contains {"msg": msg, "path": concat("", ["/", field])} if {
	input.apiVersion == "v1"
	input.kind == "Secret"
	sealed_inline
	some field in ["data", "stringData"]
	is_object(input[field])
	keys := not_sealed(field, input[field])
	count(keys) > 0
	msg := sprintf("Secret %q is annotated gatekeep.dev/sealed but holds plaintext values in %s (keys: %s): they are not `kubeseal --raw` outputs; seal each with kubeseal --raw, or reference an external secret store", [input.metadata.name, field, concat(", ", keys)])
}

# not_sealed are the keys of field that hold a value without the form of a
# sealed value, sorted.
not_sealed(field, values) := sort([k |
	some k, v in values
	not empty_value(v)
	not gatekeep.sealed_inline_value(field, v)
])
