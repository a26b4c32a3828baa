package main

import (
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// A check run is short and allocates much, most of it garbage. The
// collector runs only when the heap reaches gcLimit (GOGC off): small runs
// collect a few times, cheaply, and reuse the memory they free, where
// fresh pages would cost more in faults than the collections do (at 200
// MiB, a 1,500-object run with the gatekeeper-library took a third longer),
// and 10,000 objects stay under 300 MB resident. When the live
// heap grows near the limit (a bigger repo, its inventory live
// throughout), a fixed limit would collect ever more often for ever less;
// the collector then runs in proportion to the live heap instead
// (GOGC=gcPercent), so that the cost keeps in proportion to the repo's
// size. GOGC or GOMEMLIMIT, when set, win.
const (
	gcLimit   = 100 << 20
	gcPercent = 40
	gcPoll    = 2 * time.Millisecond
)

// lazyGC applies that policy until the returned stop is called, which
// restores the previous settings.
func lazyGC() (stop func()) {
	if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return func() {}
	}
	return lazyGCAt(gcLimit, gcPercent)
}

// collectLoadGarbage starts a collection as the reviews start, under the
// same policy: compiling the bundle and parsing the manifests leave tens
// of MB of garbage, whose memory the reviews then reuse instead of
// faulting in fresh pages (a tenth of a 1,500-object run's time, a fifth
// of its memory). It runs beside the reviews: waiting for it would leave
// the cores idle while the collector works at its quarter.
func collectLoadGarbage() {
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		go runtime.GC()
	}
}

// gcSwitched, when set (by tests), is called once lazyGCAt has switched to
// proportional collection.
var gcSwitched func()

func lazyGCAt(gcLimit int64, gcPercent int) (stop func()) {
	prevPercent := debug.SetGCPercent(-1)
	prevLimit := debug.SetMemoryLimit(gcLimit)
	// The live heap at which gcPercent's growth would reach gcLimit:
	// both are positive, bounded here for the conversions.
	growth, limit := uint64(100), uint64(0)
	if gcPercent > 0 {
		growth += uint64(gcPercent)
	}
	if gcLimit > 0 {
		limit = uint64(gcLimit)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		// The live heap the last collection marked.
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		tick := time.NewTicker(gcPoll)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			metrics.Read(sample)
			if sample[0].Value.Kind() != metrics.KindUint64 {
				return
			}
			if live := sample[0].Value.Uint64(); live*growth/100 >= limit {
				debug.SetGCPercent(gcPercent)
				debug.SetMemoryLimit(math.MaxInt64)
				if gcSwitched != nil {
					gcSwitched()
				}
				return
			}
		}
	}()
	return func() {
		close(done)
		<-finished
		debug.SetGCPercent(prevPercent)
		debug.SetMemoryLimit(prevLimit)
	}
}
