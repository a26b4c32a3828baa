package secrets

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
)

// The annotations of a Secret whose values are sealed inline.
const (
	// SealedAnnotation "true": the Secret's data values are `kubeseal --raw`
	// outputs, to be decrypted at admission.
	SealedAnnotation = "gatekeep.dev/sealed"
	// ScopeAnnotation gives the scope they were sealed with: strict (the
	// default, for the Secret's namespace and name), namespace-wide or
	// cluster-wide, as kubeseal's --scope.
	ScopeAnnotation = "gatekeep.dev/sealed-scope"
	// UnsealedWithAnnotation replaces SealedAnnotation once unsealed: the
	// fingerprint of the key that decrypted the values.
	UnsealedWithAnnotation = "gatekeep.dev/unsealed-with"
)

// Unsealed is a Secret's data once decrypted.
type Unsealed struct {
	// Data is the new data of the Secret: every key of its data and
	// stringData, the plaintext in base64 (as a Secret's data holds it).
	Data map[string]string
	// Fingerprint is the fingerprint of the key that decrypted the values
	// (several, comma-separated, when they were sealed with different keys),
	// the value of UnsealedWithAnnotation.
	Fingerprint string
}

// UnsealInline decrypts the values of a Secret annotated gatekeep.dev/sealed:
// "true", each a `kubeseal --raw` output sealed for the Secret's namespace
// and name (or namespace, or cluster, by gatekeep.dev/sealed-scope). It
// returns nil, nil for any other object (nothing to do).
//
// All or nothing: when a value does not decrypt, the error names the key of
// every such value and the likely cause, and no plaintext is returned. To
// admit the result: set data to Data, drop stringData, remove
// SealedAnnotation and set UnsealedWithAnnotation to Fingerprint.
//
// In a Secret's data, a value is the raw output itself (base64 of the
// ciphertext); in stringData too. At admission, a stringData value reaches
// the webhook base64-encoded once more in data; that is decoded as well.
func UnsealInline(obj map[string]any, keys *Keys) (*Unsealed, error) {
	if str(obj["kind"]) != "Secret" || str(obj["apiVersion"]) != "v1" {
		return nil, nil
	}
	meta := mapAt(obj, "metadata")
	ann := mapAt(meta, "annotations")
	v, ok := ann[SealedAnnotation]
	if !ok || v == "false" {
		return nil, nil
	}
	ref := "Secret " + objName(obj)
	if v != "true" {
		return nil, fmt.Errorf("%s: annotation %s must be \"true\" (or \"false\")", ref, SealedAnnotation)
	}
	var sc scope
	scopeText, isStr := ann[ScopeAnnotation].(string)
	if _, has := ann[ScopeAnnotation]; has && !isStr {
		return nil, fmt.Errorf("%s: annotation %s must be a string: strict, namespace-wide or cluster-wide", ref, ScopeAnnotation)
	}
	if err := sc.Set(scopeText); err != nil {
		return nil, fmt.Errorf("%s: annotation %s is %q: it must be strict, namespace-wide or cluster-wide", ref, ScopeAnnotation, scopeText)
	}
	name, ns := str(meta["name"]), str(meta["namespace"])
	if sc != ssv1alpha1.ClusterWideScope && ns == "" {
		return nil, fmt.Errorf("%s: values sealed with %s need the Secret's namespace", ref, scopeName(sc))
	}
	if sc == ssv1alpha1.StrictScope && name == "" {
		return nil, fmt.Errorf("%s: values sealed with strict scope need the Secret's name (generateName cannot be sealed for)", ref)
	}

	values, err := inlineValues(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	if len(values) == 0 {
		return nil, fmt.Errorf("%s is annotated %s but has no data to unseal", ref, SealedAnnotation)
	}
	set := keys.load()
	if set == nil || len(set.keys) == 0 {
		return nil, fmt.Errorf("%s is annotated %s but there is no sealing key to unseal it with", ref, SealedAnnotation)
	}

	lbl := label(ns, name, sc)
	alts := scopeAlternatives(ns, name, sc, fmt.Sprintf("set annotation %s to the scope it was sealed with, or reseal it", ScopeAnnotation))
	otherwise := fmt.Sprintf("no sealing key opens it under another scope of %s either: most likely it was sealed for another cluster (with a key that is not among these sealing keys), "+
		"or for another name or namespace (a ciphertext does not say which name it was sealed for)", objName(obj))
	out := &Unsealed{Data: make(map[string]string, len(values))}
	fps := map[string]bool{}
	var failed []string
	for _, v := range values {
		pt, fp, ok := set.decrypt(v.ct, lbl)
		if !ok {
			failed = append(failed, fmt.Sprintf("%s: %s", v.what, set.cause(v.ct, lbl, alts, otherwise)))
			continue
		}
		out.Data[v.key] = base64.StdEncoding.EncodeToString(pt)
		clear(pt)
		fps[fp] = true
	}
	if len(failed) > 0 {
		clear(out.Data)
		return nil, fmt.Errorf("%s: %d of its %d sealed values do not decrypt with %s under %s, so none is unsealed: %s",
			ref, len(failed), len(values), keysCount(len(set.keys)), describe(ns, name, sc), strings.Join(failed, "; "))
	}
	out.Fingerprint = strings.Join(slices.Sorted(maps.Keys(fps)), ",")
	return out, nil
}

type inlineValue struct {
	key  string
	what string
	ct   []byte
}

// inlineValues returns the ciphertexts of data and stringData (stringData
// wins, as in the API server), by key.
func inlineValues(obj map[string]any) ([]inlineValue, error) {
	byKey := map[string]inlineValue{}
	var errs []error
	for _, field := range []string{"data", "stringData"} {
		m, ok := obj[field].(map[string]any)
		if !ok && obj[field] != nil {
			return nil, fmt.Errorf("%s must be a mapping", field)
		}
		for k, raw := range m {
			what := fmt.Sprintf("%s %q", field, k)
			s, ok := raw.(string)
			if !ok {
				errs = append(errs, fmt.Errorf("%s must be a string", what))
				continue
			}
			ct, bad := inlineCiphertext(field, s)
			if bad != "" {
				errs = append(errs, fmt.Errorf("%s %s", what, bad))
				continue
			}
			byKey[k] = inlineValue{k, what, ct}
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	keys := slices.Sorted(maps.Keys(byKey))
	out := make([]inlineValue, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out, nil
}

// inlineCiphertext returns the ciphertext of one value of a Secret's data
// or stringData (field), or what is wrong with its form. In data a value is
// base64 of the ciphertext (a raw output put in data) or of the raw output
// (one put in stringData and merged by the API server); in stringData, the
// raw output itself.
func inlineCiphertext(field, s string) ([]byte, string) {
	if field != "data" {
		ct, bad := decodeSealed(s)
		if bad != "" {
			return nil, "is not a `kubeseal --raw` output: it " + bad
		}
		return ct, ""
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, "is not base64"
	}
	bad := malformed(b)
	if bad == "" {
		return b, ""
	}
	if ct, bad2 := decodeSealed(string(b)); bad2 == "" {
		return ct, ""
	}
	return nil, "is not a `kubeseal --raw` output: decoded, it " + bad
}

// InlineSealed reports whether v, the value of a key of field ("data" or
// "stringData") of a Secret annotated gatekeep.dev/sealed, has the form of
// a `kubeseal --raw` output, as far as can be told without the sealing
// keys: standard base64 (in data, once more) of a sealed-secrets ciphertext
// whose two-byte length gives an RSA part of a key's size (RSA-1024 to
// RSA-16384), which it holds whole, followed by at least an AES-GCM tag.
// Whether it decrypts is UnsealInline's to say. A value of another type
// than a string is not sealed. Nothing of v is kept or told.
func InlineSealed(field string, v any) bool {
	s, ok := v.(string)
	if !ok || (field != "data" && field != "stringData") {
		return false
	}
	_, bad := inlineCiphertext(field, s)
	return bad == ""
}
