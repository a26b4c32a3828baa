package regovalue

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatekeep-dev/gatekeep/internal/infragen"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// TestCache converts every field of the objects of a generated
// repository, and of every copy of them with one field changed or removed, through a
// Cache, and wants what ast.InterfaceToValue gives, numbers spelled alike.
// A value met a second time is kept, and the third time comes back the
// very same.
func TestCache(t *testing.T) {
	c := New(64)
	var values []any
	for _, o := range repoObjects(t) {
		objs := []map[string]any{o.Data}
		for _, v := range infragen.Variants(o.Data) {
			objs = append(objs, v.Object)
		}
		for _, obj := range objs {
			values = append(values, obj)
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
			if got[i], err = c.Value(v); err != nil {
				t.Fatal(err)
			}
			if got[i].String() != want.String() {
				t.Fatalf("Value(%v) = %v, want %v", v, got[i], want)
			}
		}
		if got[1] == got[2] {
			kept++
		}
		if m, ok := v.(map[string]any); ok {
			obj, err := c.Object(m)
			if err != nil || obj.String() != want.String() {
				t.Fatalf("Object(%v) = %v, %v; want %v", v, obj, err, want)
			}
		}
	}
	if kept < len(values)/2 {
		t.Errorf("%d of %d values were kept", kept, len(values))
	}
	if obj, err := (*Cache)(nil).Object(map[string]any{"a": []any{int64(1)}}); err != nil || obj.String() != `{"a": [1]}` {
		t.Errorf("nil Cache: %v, %v", obj, err)
	}
}

func repoObjects(t *testing.T) []*manifest.Object {
	t.Helper()
	dir := t.TempDir()
	if _, err := infragen.Generate(dir, 3); err != nil {
		t.Fatal(err)
	}
	set := manifest.Load(context.Background(), []string{dir})
	if len(set.Objects) == 0 {
		t.Fatal("no objects")
	}
	return set.Objects
}

// TestCacheTellsApart: values whose hashes collide, or that differ
// only in how a number is spelled, never answer for each other.
func TestCacheTellsApart(t *testing.T) {
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
		c := New(8)
		// The same hash for both, as a collision would give.
		h, _, _ := hashJSON(tc.a, 100)
		a, _ := ast.InterfaceToValue(tc.a)
		c.values.Put(h, a, 1)
		c.values.Put(mustHash(t, tc.b), a, 1)
		got, err := c.Value(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := ast.InterfaceToValue(tc.b)
		if got.String() != want.String() {
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
	c := New(8)
	big := make([]any, maxWeight)
	for i := range big {
		big[i] = int64(i)
	}
	for range 3 {
		if _, err := c.Value(big); err != nil {
			t.Fatal(err)
		}
	}
	if c.values.Len() != 0 || c.values.Met() != 0 {
		t.Errorf("a value of %d terms was kept", maxWeight+1)
	}
}
