package scanner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

func gate(t *testing.T, c *Cache, p Policy, opts ...GateOption) *Gate {
	t.Helper()
	g, err := NewGate(c, p, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

var strict = Policy{FailOn: "HIGH", FixableOnly: true, ScanBudget: 30 * time.Second}

// A denial names the image, its digest and the worst findings; a cached
// verdict asks the registry nothing.
func TestGateDenyAndCache(t *testing.T) {
	e := testEnv(t)
	c := NewCache(New(e.db))
	g := gate(t, c, strict)
	ctx := context.Background()
	d := g.Check(ctx, e.refs[imgDebian], "shop", nil)
	if d.Action != Deny || d.Pending || d.Err != nil {
		t.Fatalf("%+v", d)
	}
	for _, want := range []string{e.refs[imgDebian], e.digest[imgDebian], "1 HIGH or worse with a fix available", "CVE-2022-32149 HIGH golang.org/x/text in usr/local/bin/app v0.3.7 (fixed in 0.3.8)"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("message lacks %q: %s", want, d.Message)
		}
	}
	if d.Report == nil || d.Report.Verdict != VerdictFail {
		t.Errorf("report %+v", d.Report)
	}
	if d := g.Check(ctx, e.refs[imgClean], "shop", nil); d.Action != Allow || d.Message != "" {
		t.Errorf("clean: %+v", d)
	}
	before := e.reg.Requests.Load()
	for range 100 {
		if d := g.Check(ctx, e.refs[imgDebian], "shop", nil); d.Action != Deny {
			t.Fatalf("cached: %+v", d)
		}
	}
	// The same digest by digest: resolved without asking, found in cache.
	byDigest := strings.Split(e.refs[imgDebian], ":1.2")[0] + "@" + e.digest[imgDebian]
	if d := g.Check(ctx, byDigest, "shop", nil); d.Action != Deny || !strings.Contains(d.Message, byDigest) {
		t.Errorf("by digest: %+v", d)
	}
	if n := e.reg.Requests.Load() - before; n != 0 {
		t.Errorf("%d registry requests for cached verdicts", n)
	}
	// A new gate (a bundle reload) on the same cache: still no requests.
	g2 := gate(t, c, Policy{FailOn: "CRITICAL", ScanBudget: time.Second})
	if d := g2.Check(ctx, e.refs[imgDebian], "shop", nil); d.Action != Deny || !strings.Contains(d.Message, "CVE-2023-45853 CRITICAL zlib1g 1:1.2.13.dfsg-1 (no fix)") {
		t.Errorf("CRITICAL policy: %+v", d)
	}
	if n := e.reg.Requests.Load() - before; n != 0 {
		t.Errorf("%d registry requests after a reload", n)
	}
}

// Concurrent admissions of one cold image make one scan.
func TestGateOneScanPerDigest(t *testing.T) {
	e := testEnv(t)
	c := NewCache(New(e.db))
	g := gate(t, c, strict)
	before := e.reg.Blobs.Load()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if d := g.Check(context.Background(), e.refs[imgDistroless], "", nil); d.Action != Deny {
				t.Errorf("%+v", d)
			}
		}()
	}
	wg.Wait()
	img := e.images()[imgDistroless]
	layers, _ := img.Layers()
	if got, want := e.reg.Blobs.Load()-before, int64(len(layers)+1); got != want {
		t.Errorf("%d blob fetches, want %d (config and layers once)", got, want)
	}
}

// Past the budget onPending decides, the scan finishes in the background,
// and the retry gets the real verdict without scanning again.
func TestGatePending(t *testing.T) {
	e := testEnv(t)
	e.reg.SetDelay(150 * time.Millisecond)
	defer e.reg.SetDelay(0)
	for _, onPending := range []Action{Deny, Warn, Allow} {
		t.Run(string(onPending), func(t *testing.T) {
			c := NewCache(New(e.db))
			g := gate(t, c, Policy{FailOn: "HIGH", FixableOnly: true, ScanBudget: 20 * time.Millisecond, OnPending: onPending})
			blobs := e.reg.Blobs.Load()
			d := g.Check(context.Background(), e.refs[imgScratch], "", nil)
			if !d.Pending || d.Action != onPending || !strings.Contains(d.Message, "scan in progress, retry") {
				t.Fatalf("%+v", d)
			}
			if v := g.Review(context.Background(), pod("", e.refs[imgScratch])); (len(v) == 0) != (onPending == Allow) ||
				(len(v) > 0 && v[0].Warning != (onPending == Warn)) {
				t.Errorf("review while pending: %+v", v)
			}
			deadline := time.Now().Add(10 * time.Second)
			for c.Len() == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			d = g.Check(context.Background(), e.refs[imgScratch], "", nil)
			if d.Pending || d.Action != Deny || !strings.Contains(d.Message, "CVE-2022-32149") {
				t.Errorf("retry: %+v", d)
			}
			layers, _ := e.images()[imgScratch].Layers()
			if n := e.reg.Blobs.Load() - blobs; n != int64(len(layers)+1) {
				t.Errorf("%d blob fetches in all, want %d: one scan", n, len(layers)+1)
			}
		})
	}
}

func TestGateOnError(t *testing.T) {
	e := testEnv(t)
	missing := e.reg.Host + "/app/missing:1"
	for _, onError := range []Action{Deny, Warn, Allow} {
		g := gate(t, NewCache(New(e.db)), Policy{OnError: onError, ScanBudget: 10 * time.Second})
		d := g.Check(context.Background(), missing, "", nil)
		if d.Err == nil || d.Action != onError || !strings.Contains(d.Message, "cannot be scanned") {
			t.Errorf("%s: %+v", onError, d)
		}
	}
	// Excluded images are not looked at.
	g := gate(t, NewCache(New(e.db)), Policy{Exclude: []string{e.reg.Host + "/app/missing*"}})
	if d := g.Check(context.Background(), missing, "", nil); d.Action != Allow || d.Err != nil {
		t.Errorf("excluded: %+v", d)
	}
}

// A new database invalidates verdicts: the next admission rematches the
// image's contents, kept in the cache, against it; layers are not read
// again.
func TestGateDatabaseChange(t *testing.T) {
	e := testEnv(t)
	dir := t.TempDir()
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(dir, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), advs, details); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	g := gate(t, NewCache(New(db)), strict)
	ctx := context.Background()
	if d := g.Check(ctx, e.refs[imgScratch], "", nil); d.Action != Deny {
		t.Fatalf("%+v", d)
	}
	// The next database has no advisory for golang.org/x/text.
	var kept []fixture.Advisory
	for _, a := range advs {
		if a.Package != "golang.org/x/text" {
			kept = append(kept, a)
		}
	}
	next := t.TempDir()
	if err := fixture.WriteDB(next, time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC), kept, details); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"metadata.json", "trivy.db"} {
		if err := os.Rename(filepath.Join(next, f), filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	if d := g.Check(ctx, e.refs[imgScratch], "", nil); d.Action != Deny {
		t.Errorf("before reload: %+v", d)
	}
	if changed, err := db.Reload(); !changed || err != nil {
		t.Fatal(changed, err)
	}
	blobs := e.reg.Blobs.Load()
	if d := g.Check(ctx, e.refs[imgScratch], "", nil); d.Action != Allow {
		t.Errorf("after reload: %+v", d)
	}
	if n := e.reg.Blobs.Load() - blobs; n != 0 {
		t.Errorf("rematch fetched %d blobs", n)
	}
}

// A database not there yet (the webhook started before gatekeep db update
// wrote it) is a database failure: onError decides, naming the reason;
// once the file is there and reloaded, images are judged on it.
func TestGatePendingDatabase(t *testing.T) {
	e := testEnv(t)
	dir := filepath.Join(t.TempDir(), "db") // not even the directory yet
	db, err := vulndb.OpenPending(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := vulndb.Open(dir); err == nil {
		t.Fatal("Open of a missing database: no error")
	}
	ctx := context.Background()
	cache := NewCache(New(db)) // one cache throughout: no failure stays in it
	for _, onError := range []Action{Deny, Allow} {
		g := gate(t, cache, Policy{FailOn: "HIGH", FixableOnly: true, ScanBudget: 30 * time.Second, OnError: onError})
		d := g.Check(ctx, e.refs[imgScratch], "", nil)
		if d.Err == nil || d.Action != onError || !strings.Contains(d.Message, "not there yet") {
			t.Fatalf("onError %s, no database: %+v", onError, d)
		}
	}
	if changed, err := db.Reload(); changed || err == nil {
		t.Fatalf("reload of a missing file: changed %v, err %v", changed, err)
	}
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(dir, time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC), advs, details); err != nil {
		t.Fatal(err)
	}
	if changed, err := db.Reload(); !changed || err != nil {
		t.Fatalf("reload once written: changed %v, err %v", changed, err)
	}
	g := gate(t, cache, strict)
	if d := g.Check(ctx, e.refs[imgScratch], "", nil); d.Action != Deny || d.Err != nil {
		t.Fatalf("with the database: %+v", d)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// A tag moved to another image: the cached verdict answers until the tag
// is resolved again in the background, then the new image is judged.
func TestGateTagMoves(t *testing.T) {
	e := testEnv(t)
	clock := newFakeClock()
	c := NewCache(New(e.db), TagTTL(time.Minute), CacheClock(clock.Now))
	g := gate(t, c, strict, Clock(clock.Now))
	ctx := context.Background()
	ref, _ := e.reg.Push("app/moving:1", e.images()[imgScratch])
	if d := g.Check(ctx, ref, "", nil); d.Action != Deny {
		t.Fatalf("%+v", d)
	}
	e.reg.Push("app/moving:1", e.images()[imgClean])
	// Within the TTL the tag is trusted: nothing is asked.
	before := e.reg.Requests.Load()
	clock.Add(59 * time.Second)
	if d := g.Check(ctx, ref, "", nil); d.Action != Deny {
		t.Errorf("verdict within the TTL: %+v", d)
	}
	if n := e.reg.Requests.Load() - before; n != 0 {
		t.Errorf("%d registry requests within the TTL", n)
	}
	// Past it, the stale verdict answers while the tag is resolved.
	clock.Add(2 * time.Second)
	if d := g.Check(ctx, ref, "", nil); d.Action != Deny {
		t.Errorf("stale verdict while resolving: %+v", d)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		d := g.Check(ctx, ref, "", nil)
		if d.Action == Allow && d.Digest == e.digest[imgClean] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tag never moved: %+v", d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// An allowance answers until it expires by the gate's clock; a remembered
// decision that relied on it does not outlive it.
func TestGateAllowanceExpires(t *testing.T) {
	e := testEnv(t)
	clock := newFakeClock()
	p := strict
	p.Allow = []Allowance{{ID: "CVE-2022-32149", Expires: Date{Time: clock.Now().Add(time.Hour)}, Reason: "fix under way"}}
	g := gate(t, NewCache(New(e.db)), p, Clock(clock.Now))
	ctx := context.Background()
	if d := g.Check(ctx, e.refs[imgDebian], "", nil); d.Action == Deny {
		t.Fatalf("allowed: %+v", d)
	}
	clock.Add(59 * time.Minute)
	if d := g.Check(ctx, e.refs[imgDebian], "", nil); d.Action == Deny {
		t.Fatalf("allowed, remembered: %+v", d)
	}
	clock.Add(2 * time.Minute)
	if d := g.Check(ctx, e.refs[imgDebian], "", nil); d.Action != Deny || !strings.Contains(d.Message, "CVE-2022-32149") {
		t.Errorf("expired allowance: %+v", d)
	}
}

func pod(ns string, images ...string) *manifest.Object {
	var cs []any
	for _, img := range images {
		cs = append(cs, map[string]any{"name": "c", "image": img})
	}
	return manifest.New(map[string]any{"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "p", "namespace": ns}, "spec": map[string]any{"containers": cs}})
}

// Every container image of a pod template, each violation at its field.
func TestReview(t *testing.T) {
	e := testEnv(t)
	g := gate(t, NewCache(New(e.db)), Policy{FailOn: "HIGH", FixableOnly: true, ScanBudget: 30 * time.Second,
		Namespaces: map[string]Override{"lenient": {FailOn: "CRITICAL"}}})
	deploy := manifest.New(map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "shop"},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"initContainers": []any{map[string]any{"name": "init", "image": e.refs[imgScratch]}},
			"containers": []any{
				map[string]any{"name": "app", "image": e.refs[imgClean]},
				map[string]any{"name": "sidecar", "image": e.refs[imgDistroless]},
				map[string]any{"name": "again", "image": e.refs[imgScratch]},
			},
		}}}})
	check := ImageCheck(g)
	v := check.Review(deploy, nil)
	paths := map[string]bool{}
	for _, x := range v {
		paths[x.Path] = true
		if x.Warning || !strings.Contains(x.Message, "CVE-2022-32149") {
			t.Errorf("%+v", x)
		}
	}
	for _, p := range []string{"/spec/template/spec/initContainers/0/image", "/spec/template/spec/containers/1/image", "/spec/template/spec/containers/2/image"} {
		if !paths[p] {
			t.Errorf("no violation at %s: %+v", p, v)
		}
	}
	if len(v) != 3 {
		t.Errorf("%d violations", len(v))
	}
	lenient := pod("lenient", e.refs[imgScratch])
	if v := g.Review(context.Background(), lenient); len(v) != 0 {
		t.Errorf("lenient namespace: %+v", v)
	}
	if v := check.Review(manifest.New(map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}), nil); v != nil {
		t.Errorf("configmap: %+v", v)
	}
}
