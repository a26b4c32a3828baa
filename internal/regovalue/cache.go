// Package regovalue turns the JSON values of admission requests into Rego
// values, remembering those that come again.
package regovalue

import (
	"hash/maphash"
	"math"
	"strconv"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/gatekeep-dev/gatekeep/internal/gencache"
)

// At the webhook, the Pods of a ReplicaSet come with the very same spec,
// and turning it into a Rego value is much of what the Rego checks and
// Gatekeeper's input.review cost. A Cache keeps the Rego values it made of
// JSON values (as encoding/json and manifest decode them) met more than
// once, and answers an equal JSON value with the same Rego value: no
// conversion, and Gatekeeper's verdict cache then knows the value by
// identity. Rego values are never changed once made, so reviews
// evaluated at once can share them. A Cache is safe for concurrent use.
type Cache struct {
	mu sync.Mutex
	// values are kept, by hash, the second time they are met.
	values *gencache.Cache[uint64, ast.Value]
}

// Bounds on what a Cache holds: a value of more than maxWeight terms is
// not kept, and a generation holds at most meanWeight terms a value.
const (
	maxWeight  = 4096
	meanWeight = 64
)

var seed = maphash.MakeSeed()

// New returns a Cache of two generations of size values each.
func New(size int) *Cache {
	return &Cache{values: gencache.New[uint64, ast.Value](size, meanWeight)}
}

// Object converts a Kubernetes object, as ast.InterfaceToValue does; its
// fields but metadata (a Pod's own name and uid, never met again) go
// through the cache. A nil Cache converts plainly.
func (c *Cache) Object(m map[string]any) (ast.Value, error) {
	if c == nil {
		return ast.InterfaceToValue(m)
	}
	items := make([][2]*ast.Term, 0, len(m))
	for k, v := range m {
		var x ast.Value
		var err error
		if composite(v) && k != "metadata" {
			x, err = c.Value(v)
		} else {
			x, err = ast.InterfaceToValue(v)
		}
		if err != nil {
			return nil, err
		}
		items = append(items, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(x)})
	}
	return ast.NewObject(items...), nil
}

func composite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// Value converts v, a JSON value, to a Rego value, as ast.InterfaceToValue
// does.
func (c *Cache) Value(v any) (ast.Value, error) {
	h, n, ok := hashJSON(v, maxWeight+1)
	if !ok || n > maxWeight {
		return ast.InterfaceToValue(v)
	}
	c.mu.Lock()
	x, ok := c.values.Get(h, func(x ast.Value) bool { return equalJSON(v, x) })
	c.mu.Unlock()
	if ok {
		return x, nil
	}
	x, err := ast.InterfaceToValue(v)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.values.Admit(h) {
		c.values.Put(h, x, n)
	}
	c.mu.Unlock()
	return x, nil
}

// hashJSON hashes a JSON value and counts its terms, up to limit; ok is
// false for values that are not as encoding/json and manifest make them
// (maps of any, slices of any, strings, booleans, nil, int64, float64).
// Maps hash alike whatever their order.
func hashJSON(v any, limit int) (h uint64, n int, ok bool) {
	n = 1
	switch x := v.(type) {
	case nil:
		return 0x6e756c6c, n, true
	case bool:
		if x {
			return 0x74727565, n, true
		}
		return 0x66616c73, n, true
	case string:
		return maphash.String(seed, x), n, true
	case int64:
		return mix(uint64(x) ^ 0x696e7436), n, true //nolint:gosec // G115: hashing the bits of x, wrapping is intended
	case float64:
		return mix(math.Float64bits(x) ^ 0x666c6f61), n, true
	case []any:
		h = 0x61727261 + uint64(len(x))
		for _, e := range x {
			eh, en, eok := hashJSON(e, limit-n)
			if n += en; !eok || n > limit {
				return 0, n, eok
			}
			h = mix(h ^ eh)
		}
		return h, n, true
	case map[string]any:
		h = 0x6f626a65 + uint64(len(x))
		for k, e := range x {
			eh, en, eok := hashJSON(e, limit-n)
			if n += 1 + en; !eok || n > limit {
				return 0, n, eok
			}
			h += mix(maphash.String(seed, k) ^ eh*0x9e3779b97f4a7c15)
		}
		return h, n, true
	}
	return 0, n, false
}

// mix is a 64-bit finaliser (splitmix64's).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// equalJSON tells whether ast.InterfaceToValue(v) would be x, numbers
// spelled alike.
func equalJSON(v any, x ast.Value) bool {
	switch v := v.(type) {
	case nil:
		_, ok := x.(ast.Null)
		return ok
	case bool:
		b, ok := x.(ast.Boolean)
		return ok && bool(b) == v
	case string:
		s, ok := x.(ast.String)
		return ok && string(s) == v
	case int64:
		var buf [24]byte
		n, ok := x.(ast.Number)
		return ok && string(n) == string(strconv.AppendInt(buf[:0], v, 10))
	case float64:
		var buf [32]byte
		n, ok := x.(ast.Number)
		return ok && string(n) == string(strconv.AppendFloat(buf[:0], v, 'g', -1, 64))
	case []any:
		a, ok := x.(*ast.Array)
		if !ok || a.Len() != len(v) {
			return false
		}
		for i, e := range v {
			if !equalJSON(e, a.Elem(i).Value) {
				return false
			}
		}
		return true
	case map[string]any:
		o, ok := x.(ast.Object)
		if !ok || o.Len() != len(v) {
			return false
		}
		differ := o.Until(func(k, t *ast.Term) bool {
			s, isStr := k.Value.(ast.String)
			if !isStr {
				return true
			}
			e, has := v[string(s)]
			return !has || !equalJSON(e, t.Value)
		})
		return !differ
	}
	return false
}
