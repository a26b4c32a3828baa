// Package gencache is the bounded cache the webhook's caches of Rego
// values and of Gatekeeper verdicts share: two generations make a cheap
// LRU, entries are admitted on their second sighting, and what they hold
// is weighed so that large requests cannot fill memory.
package gencache

// A Cache keeps up to size entries in each of two generations. A hit in
// the old generation moves to the current one; when the current one is
// full, or its entries weigh more than meanWeight each on average, it
// becomes the old one and the old one is dropped. It is not safe for
// concurrent use: its users lock around it, with what they keep beside it.
type Cache[K comparable, V any] struct {
	size, meanWeight int
	cur, old         map[K]entry[V]
	weight           int // of cur's entries
	// seen holds the keys met once (see Admit).
	seen map[K]struct{}
	// OnNewGeneration, if set, is called when a generation begins.
	OnNewGeneration func()
}

type entry[V any] struct {
	v      V
	weight int
}

// New returns an empty Cache.
func New[K comparable, V any](size, meanWeight int) *Cache[K, V] {
	return &Cache[K, V]{size: size, meanWeight: meanWeight, cur: make(map[K]entry[V], size), seen: map[K]struct{}{}}
}

// Get returns the entry under k if match accepts it (a hash key alone
// must not answer), moving it to the current generation.
func (c *Cache[K, V]) Get(k K, match func(V) bool) (V, bool) {
	e, ok := c.cur[k]
	inCur := ok
	if !ok {
		e, ok = c.old[k]
	}
	if !ok || !match(e.v) {
		var zero V
		return zero, false
	}
	if !inCur {
		c.put(k, e)
	}
	return e.v, true
}

// Admit tells whether k was met before, and remembers it if not: most
// keys are met once (a new Pod's spec), and those hold no entry. The keys
// remembered are bounded too.
func (c *Cache[K, V]) Admit(k K) bool {
	if _, ok := c.seen[k]; ok {
		return true
	}
	if len(c.seen) >= 4*c.size {
		clear(c.seen)
	}
	c.seen[k] = struct{}{}
	return false
}

// Put keeps v under k; weight is what it holds.
func (c *Cache[K, V]) Put(k K, v V, weight int) {
	c.put(k, entry[V]{v: v, weight: weight})
}

func (c *Cache[K, V]) put(k K, e entry[V]) {
	if _, ok := c.cur[k]; !ok && (len(c.cur) >= c.size || c.weight+e.weight > c.size*c.meanWeight) {
		c.old, c.cur = c.cur, make(map[K]entry[V], c.size)
		c.weight = 0
		if c.OnNewGeneration != nil {
			c.OnNewGeneration()
		}
	}
	c.weight += e.weight - c.cur[k].weight
	c.cur[k] = e
}

// Len is the entries of the current generation, Weight what they hold,
// and Met the keys met once.
func (c *Cache[K, V]) Len() int    { return len(c.cur) }
func (c *Cache[K, V]) Weight() int { return c.weight }
func (c *Cache[K, V]) Met() int    { return len(c.seen) }
