package scanner

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
)

// The cost of a cached verdict per admission: what every Pod pays once
// its images have been scanned.
func BenchmarkGateCachedVerdict(b *testing.B) {
	e := testEnv(b)
	c := NewCache(New(e.db))
	g, err := NewGate(c, Policy{FailOn: "HIGH", FixableOnly: true, ScanBudget: time.Minute,
		Allow:   []Allowance{{ID: "CVE-2011-3374", Expires: Date{Time: time.Now().Add(24 * time.Hour)}, Reason: "bench"}},
		Exclude: []string{"registry.example.com/tools/*"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, name := range []string{imgDebian, imgClean} {
		g.Check(ctx, e.refs[name], "shop", nil)
	}
	b.Run("deny", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d := g.Check(ctx, e.refs[imgDebian], "shop", nil); d.Action != Deny {
				b.Fatal(d)
			}
		}
	})
	b.Run("allow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if d := g.Check(ctx, e.refs[imgClean], "shop", nil); d.Action != Allow {
				b.Fatal(d)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				g.Check(ctx, e.refs[imgDebian], "shop", nil)
			}
		})
	})
	obj := pod("shop", e.refs[imgDebian], e.refs[imgClean], e.refs[imgDebian])
	b.Run("review-pod-3-containers", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v := g.Review(ctx, obj); len(v) != 2 {
				b.Fatal(v)
			}
		}
	})
}

var (
	bigOnce sync.Once
	bigRef  string
	bigSize int64
)

// bigImage is a ~100 MB image (compressed; random data does not shrink):
// a Debian base with its dpkg database, eight layers of files, Go binaries
// among them, and an upgrade layer on top.
func bigImage(b *testing.B, e *env) (string, int64) {
	bigOnce.Do(func() {
		rng := rand.NewChaCha8([32]byte{1})
		layers := []v1.Layer{fixture.Layer(
			fixture.Reg("usr/lib/os-release", fixture.DebianOSRelease),
			fixture.Symlink("etc/os-release", "../usr/lib/os-release"),
			fixture.Reg("etc/debian_version", "12.5\n"),
			fixture.Reg("var/lib/dpkg/status", fixture.DpkgStatus(fixture.Bookworm...)),
		)}
		for l := range 8 {
			var raw bytes.Buffer
			gz, _ := gzip.NewWriterLevel(&raw, gzip.BestSpeed)
			tw := tar.NewWriter(gz)
			for f := range 48 {
				body := make([]byte, 256<<10)
				if _, err := rng.Read(body); err != nil {
					b.Fatal(err)
				}
				mode := int64(0o644)
				if f%8 == 0 {
					mode = 0o755 // executables that are not ELF
				}
				if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("opt/data%d/file%d", l, f), Mode: mode, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
					b.Fatal(err)
				}
				if _, err := tw.Write(body); err != nil {
					b.Fatal(err)
				}
			}
			if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("usr/local/bin/tool%d", l), Mode: 0o755, Size: int64(len(e.goBin)), Typeflag: tar.TypeReg}); err != nil {
				b.Fatal(err)
			}
			if _, err := tw.Write(e.goBin); err != nil {
				b.Fatal(err)
			}
			if err := tw.Close(); err != nil {
				b.Fatal(err)
			}
			if err := gz.Close(); err != nil {
				b.Fatal(err)
			}
			layers = append(layers, fixture.LayerOf(raw.Bytes()))
			bigSize += int64(raw.Len())
		}
		layers = append(layers, fixture.Layer(fixture.Whiteout("usr/local/bin/tool0"), fixture.Exe("usr/local/bin/app", e.goBin)))
		bigRef, _ = e.reg.Push("app/big:1", fixture.Image("linux/amd64", layers...))
	})
	return bigRef, bigSize
}

// A cold scan of a ~100 MB image from the loopback registry: time and
// bytes allocated per scan, and the peak of the scan's live heap (measured
// once, outside the timed loop, with the collector run often enough that
// the heap in use is the heap still live; the registry's own copy of the
// image is the baseline, not counted).
func BenchmarkColdScan100MB(b *testing.B) {
	e := testEnv(b)
	ref, size := bigImage(b, e)
	scan := func() {
		r, err := New(e.db).Scan(context.Background(), ref)
		if err != nil {
			b.Fatal(err)
		}
		if r.Packages != 7+2*8 {
			b.Fatalf("%d packages", r.Packages)
		}
	}
	peak := peakHeap(scan)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		scan()
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-live-heap-MB")
	b.ReportMetric(float64(size)/(1<<20), "image-MB")
}

// peakHeap runs fn with a collector set to run at 5% growth and returns
// the highest heap in use above where it started.
func peakHeap(fn func()) uint64 {
	old := debug.SetGCPercent(5)
	defer debug.SetGCPercent(old)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return peak.Load()
}
