package secrets

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"maps"
	"slices"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
)

// A sealed value (crypto.HybridEncrypt) is: the length of the RSA part in
// two bytes, big-endian; the RSA part, RSA-OAEP (SHA-256, the scope's label)
// of an AES-256 session key, as long as the key's modulus; then AES-GCM of
// the plaintext, at least its 16-byte tag. kubeseal writes it in standard
// base64.
const (
	minRSALen = 128  // RSA-1024
	maxRSALen = 2048 // RSA-16384
	gcmTagLen = 16
)

func rsaLen(ct []byte) int {
	if len(ct) < 2 {
		return -1
	}
	return int(binary.BigEndian.Uint16(ct))
}

func split(ct []byte) (rsaPart, aesPart []byte) {
	n := rsaLen(ct)
	if n < 0 || len(ct) < 2+n {
		return nil, nil
	}
	return ct[2 : 2+n], ct[2+n:]
}

func sha256New() hash.Hash { return sha256.New() }

// malformed says what is wrong with the form of a sealed value ("" when
// nothing is). It looks at lengths only, and says no number read from the
// value: a plaintext put where a sealed value belongs must not show through.
func malformed(ct []byte) string {
	if len(ct) == 0 {
		return "is empty"
	}
	n := rsaLen(ct)
	switch {
	case n < minRSALen || n > maxRSALen:
		return "is not a sealed-secrets ciphertext (it does not start with the length of an RSA part)"
	case len(ct) < 2+n:
		return "is truncated: it ends inside its RSA part"
	case len(ct) < 2+n+gcmTagLen:
		return "is truncated: it ends before the AES-GCM tag"
	}
	return ""
}

// decodeSealed decodes one value as kubeseal writes it; the string says what
// is wrong with it.
func decodeSealed(v string) ([]byte, string) {
	ct, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return nil, "is not base64 as kubeseal writes it"
	}
	if m := malformed(ct); m != "" {
		return nil, m
	}
	return ct, ""
}

type scope = ssv1alpha1.SealingScope

func label(ns, name string, sc scope) string {
	return string(ssv1alpha1.EncryptionLabel(ns, name, sc))
}

// describe names a scope with what it pins the value to.
func describe(ns, name string, sc scope) string {
	switch sc {
	case ssv1alpha1.ClusterWideScope:
		return "cluster-wide scope"
	case ssv1alpha1.NamespaceWideScope:
		return fmt.Sprintf("namespace-wide scope (namespace %q)", ns)
	default:
		return fmt.Sprintf("strict scope (%s/%s)", ns, name)
	}
}

// alternative is a label a value may have been sealed under instead, and
// what it means if it was.
type alternative struct {
	label string
	cause string
}

// scopeAlternatives are the other scopes of the same namespace and name.
func scopeAlternatives(ns, name string, sc scope, fixScope string) []alternative {
	var alts []alternative
	for _, other := range []scope{ssv1alpha1.StrictScope, ssv1alpha1.NamespaceWideScope, ssv1alpha1.ClusterWideScope} {
		if other == sc || (other != ssv1alpha1.ClusterWideScope && ns == "") || (other == ssv1alpha1.StrictScope && name == "") {
			continue
		}
		alts = append(alts, alternative{
			label: label(ns, name, other),
			cause: fmt.Sprintf("it was sealed with %s, not %s: %s", describe(ns, name, other), describe(ns, name, sc), fixScope),
		})
	}
	return alts
}

// cause says why a well-formed value does not decrypt under label, as far
// as can be told: the size of the key it was sealed for; whether a key opens
// its session key under the label (then the rest was damaged); whether one
// does under one of the alternatives. A ciphertext does not say which label
// it was sealed under: only one that is tried can be recognised.
func (s *keySet) cause(ct []byte, lbl string, alts []alternative, otherwise string) string {
	if sizes := s.sizes(); !sizes[rsaLen(ct)] {
		// (the size it was sealed for is not said: it is read from the value)
		return fmt.Sprintf("it was sealed for a key of another size than the sealing keys (%s): it was sealed for another cluster", bits(sizes))
	}
	if s.opens(ct, lbl) {
		return "a sealing key and the scope open it, but the encrypted data after them does not authenticate: the value was truncated or edited after sealing; reseal it"
	}
	for _, a := range alts {
		if s.opens(ct, a.label) {
			return a.cause
		}
	}
	return otherwise
}

// bits lists key sizes in bits.
func bits(sizes map[int]bool) string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(sizes)) {
		out = append(out, fmt.Sprintf("%d-bit", n*8))
	}
	return strings.Join(out, ", ")
}

func keysCount(n int) string {
	if n == 1 {
		return "the sealing key"
	}
	return fmt.Sprintf("any of the %d sealing keys", n)
}
