package secrets

import (
	"fmt"
	"slices"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Problem is one thing wrong with a SealedSecret: the JSON pointer of the
// field and a message a person can act on. No message holds a value.
type Problem struct {
	Path    string
	Message string
}

// The scope annotations of sealed-secrets.
const (
	clusterWide   = ssv1alpha1.SealedSecretClusterWideAnnotation
	namespaceWide = ssv1alpha1.SealedSecretNamespaceWideAnnotation
)

// CheckSealedSecret reviews a SealedSecret (bitnami.com/v1alpha1; nil for
// any other object). Always: the scope annotations agree with each other and
// with spec.template.metadata; a strict scope has a name and a namespace, a
// namespace-wide one a namespace; spec.template.metadata names the same
// object; every encryptedData value is base64 of a sealed-secrets
// ciphertext. With keys (nil or empty: the structure only), every value must
// also decrypt with one of them under the label of the object's scope, as
// the controller would decrypt it; one that does not is a Problem that names
// the SealedSecret, the key of the value and the likely cause.
//
// The scope is read from metadata.annotations, as the controller does when
// it unseals. In an admission request, metadata.namespace must be filled
// from the request's namespace first.
func CheckSealedSecret(obj map[string]any, keys *Keys) []Problem {
	if str(obj["kind"]) != "SealedSecret" || !strings.HasPrefix(str(obj["apiVersion"]), ssv1alpha1.GroupName+"/") {
		return nil
	}
	meta := mapAt(obj, "metadata")
	name, ns := str(meta["name"]), str(meta["namespace"])
	sc, _, probs := scopeOf(meta["annotations"], "/metadata/annotations")

	decryptable := true
	if sc != ssv1alpha1.ClusterWideScope && ns == "" {
		decryptable = false
		probs = append(probs, Problem{"/metadata/namespace", fmt.Sprintf(
			"a SealedSecret of %s needs metadata.namespace: its values decrypt only in the namespace they were sealed for", scopeName(sc))})
	}
	if sc == ssv1alpha1.StrictScope && name == "" {
		decryptable = false
		probs = append(probs, Problem{"/metadata/name", "a SealedSecret of strict scope needs metadata.name: its values decrypt only under the name they were sealed for"})
	}

	spec := mapAt(obj, "spec")
	tmeta := mapAt(mapAt(spec, "template"), "metadata")
	tname, tns := str(tmeta["name"]), str(tmeta["namespace"])
	if tname != "" && tname != name {
		probs = append(probs, Problem{"/spec/template/metadata/name", fmt.Sprintf(
			"spec.template.metadata.name %q contradicts metadata.name %q: the controller names the Secret %q and decrypts under that name; a renamed SealedSecret must be resealed", tname, name, name)})
	}
	if tns != "" && tns != ns {
		probs = append(probs, Problem{"/spec/template/metadata/namespace", fmt.Sprintf(
			"spec.template.metadata.namespace %q contradicts metadata.namespace %q: the controller decrypts in %q; a moved SealedSecret must be resealed", tns, ns, ns)})
	}
	tsc, tset, tprobs := scopeOf(tmeta["annotations"], "/spec/template/metadata/annotations")
	probs = append(probs, tprobs...)
	if tset && tsc != sc {
		probs = append(probs, Problem{"/spec/template/metadata/annotations", fmt.Sprintf(
			"spec.template.metadata.annotations give %s and metadata.annotations %s: the controller decrypts by metadata.annotations; make them agree (kubeseal writes both)", scopeName(tsc), scopeName(sc))})
	}

	values, vprobs := sealedValues(spec)
	probs = append(probs, vprobs...)

	set := keys.load()
	if !decryptable || set == nil || len(set.keys) == 0 {
		return probs
	}
	lbl := label(ns, name, sc)
	alts := scopeAlternatives(ns, name, sc, "its scope annotations were changed after sealing; restore them, or reseal it")
	alts = append(alts, movedAlternatives(ns, name, tns, tname)...)
	otherwise := fmt.Sprintf("no sealing key opens it under another scope of %s either: most likely it was sealed for another cluster (with a key that is not among these sealing keys), "+
		"or for another name or namespace before the SealedSecret was renamed or moved (a ciphertext does not say which name it was sealed for)", objName(obj))
	for _, v := range values {
		pt, _, ok := set.decrypt(v.ct, lbl)
		if ok {
			clear(pt)
			continue
		}
		probs = append(probs, Problem{v.path, fmt.Sprintf("%s of SealedSecret %s does not decrypt with %s under its %s: %s",
			v.what, objName(obj), keysCount(len(set.keys)), describe(ns, name, sc), set.cause(v.ct, lbl, alts, otherwise))})
	}
	return probs
}

// movedAlternatives are the labels of the name and namespace that
// spec.template.metadata still gives, when they differ from the object's.
func movedAlternatives(ns, name, tns, tname string) []alternative {
	if tns == "" {
		tns = ns
	}
	if tname == "" {
		tname = name
	}
	var alts []alternative
	var what string
	switch {
	case tns != ns && tname != name:
		what = fmt.Sprintf("renamed and moved from %s/%s", tns, tname)
	case tns != ns:
		what = fmt.Sprintf("moved from namespace %q", tns)
	case tname != name:
		what = fmt.Sprintf("renamed from %q", tname)
	default:
		return nil
	}
	fix := fmt.Sprintf("; a sealed value decrypts only under the name and namespace it was sealed for: reseal it for %s/%s", ns, name)
	if tns != "" && tname != "" {
		alts = append(alts, alternative{label(tns, tname, ssv1alpha1.StrictScope),
			fmt.Sprintf("it was sealed for %s/%s (which spec.template.metadata still gives): the SealedSecret was %s after sealing%s", tns, tname, what, fix)})
	}
	if tns != ns && tns != "" {
		alts = append(alts, alternative{label(tns, "", ssv1alpha1.NamespaceWideScope),
			fmt.Sprintf("it was sealed namespace-wide for namespace %q (which spec.template.metadata still gives): the SealedSecret was moved after sealing%s", tns, fix)})
	}
	return alts
}

type sealedValue struct {
	path string
	what string
	ct   []byte
}

// sealedValues returns the well-formed values of spec.encryptedData (and of
// the deprecated spec.data), and what is wrong with the others.
func sealedValues(spec map[string]any) ([]sealedValue, []Problem) {
	var values []sealedValue
	var probs []Problem
	ed, hasED := spec["encryptedData"]
	v1, hasV1 := spec["data"]
	edMap, isMap := ed.(map[string]any)
	switch {
	case hasED && ed != nil && !isMap:
		probs = append(probs, Problem{"/spec/encryptedData", "spec.encryptedData must be a mapping of keys to sealed values"})
	case !hasED && !hasV1:
		probs = append(probs, Problem{"/spec/encryptedData", "the SealedSecret has no spec.encryptedData"})
	}
	keys := make([]string, 0, len(edMap))
	for k := range edMap {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		path := "/spec/encryptedData/" + pointer(k)
		what := fmt.Sprintf("encryptedData %q", k)
		s, ok := edMap[k].(string)
		if !ok {
			probs = append(probs, Problem{path, what + " must be a string: a sealed value as kubeseal writes it"})
			continue
		}
		ct, bad := decodeSealed(s)
		if bad != "" {
			probs = append(probs, Problem{path, what + " " + bad})
			continue
		}
		values = append(values, sealedValue{path, what, ct})
	}
	if hasV1 && v1 != nil {
		switch s, ok := v1.(string); {
		case len(edMap) > 0:
			probs = append(probs, Problem{"/spec/data", "the SealedSecret has both spec.encryptedData and the deprecated spec.data: the controller refuses it; drop spec.data"})
		case !ok:
			probs = append(probs, Problem{"/spec/data", "the deprecated spec.data must be a string: a sealed value in base64"})
		default:
			if ct, bad := decodeSealed(s); bad != "" {
				probs = append(probs, Problem{"/spec/data", "the deprecated spec.data " + bad})
			} else {
				values = append(values, sealedValue{"/spec/data", "the deprecated spec.data", ct})
			}
		}
	}
	return values, probs
}

// scopeOf reads the scope from the sealed-secrets annotations as the
// controller does (SecretScope), says whether either annotation is there,
// and what is wrong with them.
func scopeOf(annotations any, at string) (sc scope, set bool, probs []Problem) {
	ann, _ := annotations.(map[string]any)
	strs := map[string]string{}
	for _, a := range []string{clusterWide, namespaceWide} {
		v, ok := ann[a]
		if !ok {
			continue
		}
		set = true
		path := at + "/" + pointer(a)
		s, isStr := v.(string)
		switch {
		case !isStr:
			probs = append(probs, Problem{path, fmt.Sprintf("annotation %s must be a string: quote it (\"true\")", a)})
		case s != "true" && s != "false":
			probs = append(probs, Problem{path, fmt.Sprintf("annotation %s is %q: only \"true\" sets it, so the controller takes it as unset", a, s)})
		}
		if isStr {
			strs[a] = s
		}
	}
	if strs[clusterWide] == "true" && strs[namespaceWide] == "true" {
		probs = append(probs, Problem{at + "/" + pointer(clusterWide), fmt.Sprintf(
			"annotations %s and %s are both \"true\": the controller takes cluster-wide; keep only the one the values were sealed with", clusterWide, namespaceWide)})
	}
	return ssv1alpha1.SecretScope(&metav1.ObjectMeta{Annotations: strs}), set, probs
}

func scopeName(sc scope) string { return sc.String() + " scope" }
