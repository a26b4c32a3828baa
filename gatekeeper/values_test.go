package gatekeeper

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// TestValueCache converts every field of the objects of a generated
// repository, and of every copy of them with one field changed or removed,
// through a valueCache, and wants what ast.InterfaceToValue gives, numbers
// spelled alike. A value met a second time is kept, and the third time
// comes back the very same.
func TestValueCache(t *testing.T) {
	c := newValueCache(64)
	var values []any
	for _, o := range repoObjects(t, 3) {
		for _, obj := range append([]map[string]any{o.Data}, variantObjects(o.Data)...) {
			for _, v := range obj {
				values = append(values, v)
			}
		}
	}
	var fromJSON any
	if err := json.Unmarshal([]byte(`{"n": 1, "f": 1.5, "big": 1e300, "l": [null, true, "x", {}]}`), &fromJSON); err != nil {
		t.Fatal(err)
	}
	values = append(values, fromJSON, map[string]any{"i": int64(1), "f": 1.0}, []any{int64(-7), 0.1})
	kept := 0
	for _, v := range values {
		want, err := ast.InterfaceToValue(v)
		if err != nil {
			t.Fatal(err)
		}
		var got [3]ast.Value
		for i := range got {
			if got[i], err = c.value(v); err != nil {
				t.Fatal(err)
			}
			if !sameValue(got[i], want) {
				t.Fatalf("value(%v) = %v, want %v", v, got[i], want)
			}
		}
		if got[1] == got[2] {
			kept++
		}
	}
	if kept < len(values)/2 {
		t.Errorf("%d of %d values were kept", kept, len(values))
	}
}

func variantObjects(obj map[string]any) []map[string]any {
	var out []map[string]any
	for _, v := range variants(obj) {
		out = append(out, v.obj)
	}
	return out
}

// TestValueCacheTellsApart: values whose hashes collide, or that differ
// only in how a number is spelled, never answer for each other.
func TestValueCacheTellsApart(t *testing.T) {
	for _, tc := range []struct {
		a, b any
	}{
		{map[string]any{"a": int64(1)}, map[string]any{"a": "1"}},
		{map[string]any{"a": int64(1)}, map[string]any{"a": 1.5}},
		{map[string]any{"a": int64(1), "b": int64(2)}, map[string]any{"a": int64(1)}},
		{map[string]any{"a": int64(1), "b": int64(2)}, map[string]any{"a": int64(2), "b": int64(1)}},
		{[]any{int64(1), int64(2)}, []any{int64(2), int64(1)}},
		{[]any{nil}, []any{false}},
		{[]any{map[string]any{}}, []any{[]any{}}},
		{map[string]any{"x": []any{true}}, map[string]any{"y": []any{true}}},
	} {
		c := newValueCache(8)
		// The same hash for both, as a collision would give.
		h, _, _ := hashJSON(tc.a, 100)
		a, _ := ast.InterfaceToValue(tc.a)
		c.putLocked(h, cachedValue{v: a, weight: 1})
		c.cur[mustHash(t, tc.b)] = cachedValue{v: a, weight: 1}
		got, err := c.value(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ast.InterfaceToValue(tc.b)
		if !sameValue(got, want) {
			t.Errorf("value(%v) = %v, the value of %v", tc.b, got, tc.a)
		}
		if equalJSON(tc.b, a) {
			t.Errorf("equalJSON(%v, %v)", tc.b, a)
		}
	}
}

func mustHash(t *testing.T, v any) uint64 {
	t.Helper()
	h, n, ok := hashJSON(v, 1000)
	if !ok || n > 1000 {
		t.Fatalf("hashJSON(%v) not ok", v)
	}
	return h
}

// TestHashJSON: maps hash alike whatever order they were built in;
// what is not a decoded JSON value, or larger than the limit, is not
// hashed.
func TestHashJSON(t *testing.T) {
	a, b := map[string]any{}, map[string]any{}
	for i := range 50 {
		a[fmt.Sprint("k", i)] = int64(i)
		b[fmt.Sprint("k", 49-i)] = int64(49 - i)
	}
	if mustHash(t, a) != mustHash(t, b) {
		t.Error("equal maps hash apart")
	}
	b["k0"] = int64(1)
	if mustHash(t, a) == mustHash(t, b) {
		t.Error("maps that differ in one value hash alike")
	}
	if _, _, ok := hashJSON(map[string]any{"x": []string{"a"}}, 100); ok {
		t.Error("hashed a []string")
	}
	if _, n, _ := hashJSON(a, 10); n <= 10 {
		t.Errorf("50 entries counted as %d terms", n)
	}
	c := newValueCache(8)
	big := make([]any, maxVerdictWeight)
	for i := range big {
		big[i] = int64(i)
	}
	for range 3 {
		if _, err := c.value(big); err != nil {
			t.Fatal(err)
		}
	}
	if len(c.cur) != 0 || len(c.seen) != 0 {
		t.Errorf("a value of %d terms was kept", maxVerdictWeight+1)
	}
}
