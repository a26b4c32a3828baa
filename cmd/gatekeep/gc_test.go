package main

import (
	"math"
	"runtime"
	"runtime/debug"
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
	const small = 32 << 20
	stop := lazyGCAt(small, 40)
	if p, l := gcSettings(); p != -1 || l != small {
		t.Fatalf("while the heap is small: GOGC %d, limit %d; want off, %d", p, l, small)
	}
	// A live heap near the limit: collection becomes proportional, and
	// the limit goes.
	live := make([][]byte, 0, 40)
	for i := 0; i < 30; i++ {
		live = append(live, make([]byte, 1<<20))
	}
	deadline := time.Now().Add(time.Minute)
	for {
		runtime.GC() // the live heap metric is the last collection's
		if p, l := gcSettings(); p == 40 && l == math.MaxInt64 {
			break
		}
		if time.Now().After(deadline) {
			p, l := gcSettings()
			t.Fatalf("with %d MiB live: GOGC %d, limit %d; want 40, none", len(live), p, l)
		}
		time.Sleep(5 * time.Millisecond)
	}
	runtime.KeepAlive(live)
	stop()
	if p, l := gcSettings(); p != percent || l != limit {
		t.Fatalf("after stop: GOGC %d, limit %d; want %d, %d back", p, l, percent, limit)
	}
}
