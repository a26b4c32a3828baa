package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// gcSettings reads GOGC and the memory limit without changing them.
func gcSettings() (percent int, limit int64) {
	percent = debug.SetGCPercent(-1)
	debug.SetGCPercent(percent)
	return percent, debug.SetMemoryLimit(-1)
}

func TestLazyGC(t *testing.T) {
	percent, limit := gcSettings()
	// The limit is well above what the process (other tests' caches
	// included) holds live now, so that collection starts off.
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	base := int64(sample[0].Value.Uint64()) //nolint:gosec // G115: a heap size fits
	small := 2*base + 32<<20
	switched := make(chan struct{})
	gcSwitched = func() { close(switched) }
	defer func() { gcSwitched = nil }()
	stop := lazyGCAt(small, 40)
	if p, l := gcSettings(); p != -1 || l != small {
		t.Fatalf("while the heap is small: GOGC %d, limit %d; want off, %d", p, l, small)
	}
	// A live heap near the limit: collection becomes proportional, and
	// the limit goes.
	var live [][]byte
	for n := int64(0); base+n < small*100/140+(4<<20); n += 1 << 20 {
		live = append(live, make([]byte, 1<<20))
	}
	runtime.GC() // the live heap metric is the last collection's
	select {
	case <-switched:
	case <-time.After(time.Minute):
		p, l := gcSettings()
		t.Fatalf("with %d MiB more live: GOGC %d, limit %d; want 40, none", len(live), p, l)
	}
	if p, l := gcSettings(); p != 40 || l != math.MaxInt64 {
		t.Fatalf("with %d MiB more live: GOGC %d, limit %d; want 40, none", len(live), p, l)
	}
	runtime.KeepAlive(live)
	stop()
	if p, l := gcSettings(); p != percent || l != limit {
		t.Fatalf("after stop: GOGC %d, limit %d; want %d, %d back", p, l, percent, limit)
	}
}
