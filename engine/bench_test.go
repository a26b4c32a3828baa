package engine

import (
	"context"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/internal/infragen"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// BenchmarkCheck reviews a generated repo of 2,000 apps (10,000 objects)
// with the built-in bundle, objects already loaded.
func BenchmarkCheck(b *testing.B) {
	dir := b.TempDir()
	n, err := infragen.Generate(dir, 2000)
	if err != nil {
		b.Fatal(err)
	}
	set := manifest.Load(context.Background(), []string{dir})
	if len(set.Objects) != n {
		b.Fatalf("loaded %d objects, want %d", len(set.Objects), n)
	}
	bd, _ := bundle.Builtin()
	eng, err := New(bd)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := eng.Check(context.Background(), set); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
