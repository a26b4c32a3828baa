package schema

import "sort"

// servedCRD is what a CustomResourceDefinition among the inputs serves.
type servedCRD struct {
	key    gvKey           // the group (as apiVersion) and kind it defines
	source string          // "its CustomResourceDefinition NAME", for messages
	served map[string]bool // apiVersion -> served
	list   []string        // the served apiVersions, ordered
}

// servedVersionsOf reads which versions a CRD (apiextensions.k8s.io/v1,
// or v1beta1) serves: those of spec.versions with served: true, or the
// v1beta1 spec.version when it lists none. Nil when obj is no CRD.
func servedVersionsOf(obj map[string]any) *servedCRD {
	_, spec, group, kind, ok := crdHeader(obj)
	if !ok {
		return nil
	}
	sc := &servedCRD{key: gvKey{group, kind}, source: "its CustomResourceDefinition", served: map[string]bool{}}
	if name, _ := nested(obj, "metadata", "name").(string); name != "" {
		sc.source += " " + name
	}
	versions, _ := spec["versions"].([]any)
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		name, _ := vm["name"].(string)
		if served, _ := vm["served"].(bool); served && name != "" {
			sc.served[group+"/"+name] = true
		}
	}
	if v, _ := spec["version"].(string); v != "" && len(versions) == 0 {
		sc.served[group+"/"+v] = true
	}
	for av := range sc.served {
		sc.list = append(sc.list, av)
	}
	sort.Strings(sc.list)
	return sc
}
