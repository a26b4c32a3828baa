package scanner

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Cache holds scans by image digest for every admission request (and
// every bundle a reload puts in force): an image's contents once read are
// kept, its findings are kept for the database generation that matched
// them (a new database rematches without reading the image again), and
// concurrent requests for one image or one digest share one scan.
type Cache struct {
	s           *Scanner
	maxImages   int
	tagTTL      time.Duration
	scanTimeout time.Duration
	sem         chan struct{} // cold scans at once
	now         func() time.Time

	mu     sync.Mutex
	tags   map[string]*tagEntry // image as written: the digest it resolved to
	images map[string]*list.Element
	lru    *list.List // of *imageEntry, most recent first

	imageFlights  flights // by image as written: resolve, then scan
	digestFlights flights // by digest: scan or rematch
}

type tagEntry struct {
	ref        name.Reference
	digest     string
	at         time.Time
	pinned     bool // a digest reference: never re-resolved
	refreshing bool
	keychain   authn.Keychain
}

type imageEntry struct {
	digest  string
	scanned *scanned
	report  *ImageReport // for report.gen
}

// CacheOption configures a Cache.
type CacheOption func(*Cache)

// MaxImages bounds how many digests are kept (1024), least recently used
// first out.
func MaxImages(n int) CacheOption { return func(c *Cache) { c.maxImages = n } }

// TagTTL is how long a tag's digest is trusted before it is resolved again
// (5m); past it the cached verdict still answers while the tag is resolved
// in the background.
func TagTTL(d time.Duration) CacheOption { return func(c *Cache) { c.tagTTL = d } }

// ScanTimeout bounds one scan, budget or not (5m).
func ScanTimeout(d time.Duration) CacheOption { return func(c *Cache) { c.scanTimeout = d } }

// CacheClock sets the clock tag TTLs run by (time.Now).
func CacheClock(now func() time.Time) CacheOption { return func(c *Cache) { c.now = now } }

// NewCache returns an empty cache over s.
func NewCache(s *Scanner, opts ...CacheOption) *Cache {
	c := &Cache{s: s, maxImages: 1024, tagTTL: 5 * time.Minute, scanTimeout: 5 * time.Minute,
		sem: make(chan struct{}, 2), now: time.Now,
		tags: map[string]*tagEntry{}, images: map[string]*list.Element{}, lru: list.New()}
	for _, o := range opts {
		o(c)
	}
	return c
}

// lookup answers from memory alone: the report for image when its digest
// is known and was matched by the database in use.
func (c *Cache) lookup(image string) *ImageReport {
	gen := c.s.db.Generation()
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tags[image]
	if t == nil {
		return nil
	}
	el := c.images[t.digest]
	if el == nil {
		return nil
	}
	e := el.Value.(*imageEntry)
	if e.report == nil || e.report.gen != gen {
		return nil
	}
	c.lru.MoveToFront(el)
	if !t.pinned && !t.refreshing && c.now().Sub(t.at) > c.tagTTL {
		t.refreshing = true
		go c.refresh(t)
	}
	return e.report
}

// refresh resolves a tag again in the background.
func (c *Cache) refresh(t *tagEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := c.s.reg.Resolve(ctx, t.ref, t.keychain)
	c.mu.Lock()
	defer c.mu.Unlock()
	t.refreshing = false
	if err != nil {
		return // the old digest answers until a resolution succeeds
	}
	t.digest, t.at = d.String(), c.now()
}

// get returns image's report, waiting at most wait for a scan (wait < 0:
// as long as it takes); pending says the scan goes on without the caller.
func (c *Cache) get(ctx context.Context, image string, kc authn.Keychain, wait time.Duration) (r *ImageReport, pending bool, err error) {
	if r := c.lookup(image); r != nil {
		return r, false, nil
	}
	call := c.imageFlights.start(image, func() (*ImageReport, error) { return c.resolveAndScan(image, kc) })
	if wait < 0 {
		select {
		case <-call.done:
			return call.val, false, call.err
		case <-ctx.Done():
			return nil, true, nil
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-call.done:
		return call.val, false, call.err
	case <-timer.C:
		return nil, true, nil
	case <-ctx.Done():
		return nil, true, nil
	}
}

// resolveAndScan is the slow path, run detached from any request.
func (c *Cache) resolveAndScan(image string, kc authn.Keychain) (*ImageReport, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.scanTimeout)
	defer cancel()
	ref, err := c.s.reg.Reference(image)
	if err != nil {
		return nil, err
	}
	var digest string
	c.mu.Lock()
	if t := c.tags[image]; t != nil && (t.pinned || c.now().Sub(t.at) <= c.tagTTL) {
		digest = t.digest
	}
	c.mu.Unlock()
	if digest == "" {
		d, err := c.s.reg.Resolve(ctx, ref, kc)
		if err != nil {
			return nil, err
		}
		digest = d.String()
		_, pinned := ref.(name.Digest)
		c.mu.Lock()
		c.tags[image] = &tagEntry{ref: ref, digest: digest, at: c.now(), pinned: pinned, keychain: kc}
		c.trimTags()
		c.mu.Unlock()
	}
	return c.digestFlights.do(digest, func() (*ImageReport, error) {
		gen := c.s.db.Generation()
		c.mu.Lock()
		var sc *scanned
		if el := c.images[digest]; el != nil {
			e := el.Value.(*imageEntry)
			if e.report != nil && e.report.gen == gen {
				c.mu.Unlock()
				return withImage(e.report, image), nil
			}
			sc = e.scanned
		}
		c.mu.Unlock()
		if sc == nil {
			select {
			case c.sem <- struct{}{}:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			sc, err = c.s.fetch(ctx, image, ref.Context().Digest(digest), kc)
			<-c.sem
			if err != nil {
				return nil, err
			}
			sc.digest = digest
		}
		r, err := c.s.match(sc)
		if err != nil {
			return nil, err
		}
		c.store(digest, sc, r)
		return withImage(r, image), nil
	})
}

// withImage names the report after the image as this caller wrote it (one
// digest may be reached by several tags).
func withImage(r *ImageReport, image string) *ImageReport {
	if r.Image == image {
		return r
	}
	out := *r
	out.Image = image
	return &out
}

func (c *Cache) store(digest string, sc *scanned, r *ImageReport) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el := c.images[digest]; el != nil {
		e := el.Value.(*imageEntry)
		e.scanned, e.report = sc, r
		c.lru.MoveToFront(el)
		return
	}
	c.images[digest] = c.lru.PushFront(&imageEntry{digest: digest, scanned: sc, report: r})
	for c.lru.Len() > c.maxImages {
		old := c.lru.Remove(c.lru.Back()).(*imageEntry)
		delete(c.images, old.digest)
	}
}

// trimTags keeps the tag table within bounds (called with mu held).
func (c *Cache) trimTags() {
	for image := range c.tags {
		if len(c.tags) <= 4*c.maxImages {
			return
		}
		delete(c.tags, image)
	}
}

// Len reports how many digests the cache holds.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

// flights runs one function per key at a time; callers of a key already
// running share its result.
type flights struct {
	mu sync.Mutex
	m  map[string]*call
}

type call struct {
	done chan struct{}
	val  *ImageReport
	err  error
}

func (f *flights) start(key string, fn func() (*ImageReport, error)) *call {
	f.mu.Lock()
	if c := f.m[key]; c != nil {
		f.mu.Unlock()
		return c
	}
	if f.m == nil {
		f.m = map[string]*call{}
	}
	c := &call{done: make(chan struct{})}
	f.m[key] = c
	f.mu.Unlock()
	go func() {
		defer close(c.done)
		c.val, c.err = fn()
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
	}()
	return c
}

func (f *flights) do(key string, fn func() (*ImageReport, error)) (*ImageReport, error) {
	c := f.start(key, fn)
	<-c.done
	return c.val, c.err
}
