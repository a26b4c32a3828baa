package manifest

import (
	"context"
	"testing"

	"github.com/gatekeep-dev/gatekeep/internal/infragen"
)

// BenchmarkLoad reads a generated repo of 2,000 apps (10,000 objects).
func BenchmarkLoad(b *testing.B) {
	dir := b.TempDir()
	n, err := infragen.Generate(dir, 2000)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		set := Load(context.Background(), []string{dir})
		if len(set.Objects) != n {
			b.Fatalf("loaded %d objects, want %d", len(set.Objects), n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
}
