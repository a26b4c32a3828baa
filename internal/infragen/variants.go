package infragen

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
)

// A Variant is a copy of an object that differs from it in one field.
type Variant struct {
	Object map[string]any
	Change string // "changed /spec/replicas", "removed /metadata/labels/app"
}

// Variants are copies of obj, a decoded JSON or YAML object, that each
// differ in one field: a scalar changed, or a key below the top level
// removed. Caches keyed by what a review reads are tested with them: a
// field read but missed by the key gives the earlier object's verdict for
// the variant.
func Variants(obj map[string]any) []Variant {
	var out []Variant
	var walk func(v any, path []string, set func(any), del func())
	walk = func(v any, path []string, set func(any), del func()) {
		at := "/" + strings.Join(path, "/")
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				walk(x[k], append(path, k), func(n any) { x[k] = n }, func() { delete(x, k) })
			}
		case []any:
			for i := range x {
				walk(x[i], append(path, fmt.Sprint(i)), func(n any) { x[i] = n }, nil)
			}
		}
		var changed any
		switch x := v.(type) {
		case string:
			changed = x + "-x"
		case bool:
			changed = !x
		case int64:
			changed = x + 1
		case float64:
			changed = x + 1
		}
		if changed != nil && set != nil {
			set(changed)
			out = append(out, Variant{runtime.DeepCopyJSON(obj), "changed " + at})
			set(v)
		}
		if del != nil && len(path) > 1 {
			del()
			out = append(out, Variant{runtime.DeepCopyJSON(obj), "removed " + at})
			set(v)
		}
	}
	walk(obj, nil, nil, nil)
	return out
}
