package manifest

import (
	"context"
	"strconv"
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

// manyDocuments is n small ConfigMaps, one document each.
func manyDocuments(n int) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-"...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, "\n  namespace: default\ndata:\n  key: value\n"...)
	}
	return b
}

// BenchmarkParseManyDocuments parses one file of many tiny documents: its
// cost should grow linearly with their number.
func BenchmarkParseManyDocuments(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		data := manyDocuments(n)
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				objs, errs := Parse("many.yaml", data)
				if len(objs) != n || len(errs) != 0 {
					b.Fatalf("%d objects, %v", len(objs), errs)
				}
			}
		})
	}
}
