package manifest

import (
	"encoding/json"
	"fmt"
)

// FromJSONValue makes an object of a JSON value that encoding/json
// decoded, with UseNumber, as part of a larger document (an admission
// request): numbers become int64 where they are whole and float64
// otherwise, as Parse gives them. It takes v over.
func FromJSONValue(v any) (*Object, error) {
	m, ok := numbers(v).(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a JSON object")
	}
	return New(m), nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
		return x
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}
