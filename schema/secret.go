package schema

import "strings"

// Secret values must not show in messages: a Problem is printed in every
// report format and in the webhook's denials. Which fields hold them is
// decided by the object's group and kind and the field's path, never by
// what a value looks like; under them, a message names the value's type
// ("got string (value not shown), want base64-encoded data").

// kindKey is an API group ("" for core) and a kind.
type kindKey struct{ group, kind string }

// secretFields are, by kind, the paths under which every value is secret
// ("*" is any one token: a list index or a map key).
var secretFields = map[kindKey][][]string{
	// v1 Secret: data (base64 of the value) and stringData (the value).
	{"", "Secret"}:     {{"data"}, {"stringData"}},
	{"", "SecretList"}: {{"items", "*", "data"}, {"items", "*", "stringData"}},
	// sealed-secrets: the sealed values (encryptedData, and the deprecated
	// spec.data), and the template's data and stringData, which hold
	// plaintext (or templates of it) copied into the Secret.
	{"bitnami.com", "SealedSecret"}: {{"spec", "encryptedData"}, {"spec", "data"},
		{"spec", "template", "data"}, {"spec", "template", "stringData"}},
	{"bitnami.com", "SealedSecretList"}: {{"items", "*", "spec", "encryptedData"}, {"items", "*", "spec", "data"},
		{"items", "*", "spec", "template", "data"}, {"items", "*", "spec", "template", "stringData"}},
}

// secretPathsOf returns the secret paths of an object of apiVersion av and
// kind, nil for a kind without any. The core group is v1 only.
func secretPathsOf(av, kind string) [][]string {
	group, version := splitAPIVersion(av)
	if group == "" && version != "v1" {
		return nil
	}
	return secretFields[kindKey{group, kind}]
}

// hidden reports whether the value under validation is, or is inside, a
// secret field of the object.
func (w *walker) hidden() bool {
	for _, p := range w.secret {
		if len(w.path) < len(p) {
			continue
		}
		match := true
		for i, tok := range p {
			s := w.path[i]
			if tok == "*" {
				continue
			}
			if s.idx >= 0 || s.key != tok {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

// describe names a value for a message (describe), or only its type when
// it is secret.
func (w *walker) describe(v any) string {
	if w.hidden() {
		return typeName(v) + " (value not shown)"
	}
	return describe(v)
}

// describeShort is describeShort, or only the type of a secret value.
func (w *walker) describeShort(v any) string {
	if w.hidden() {
		return typeName(v) + " (value not shown)"
	}
	return describeShort(v)
}

// typeName is the JSON type of a value: string, number, boolean, object,
// array, null.
func typeName(v any) string {
	d := describe(v)
	if i := strings.IndexByte(d, ' '); i >= 0 {
		return d[:i]
	}
	return d
}
