package fastyaml

import (
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/internal/infragen"
)

// generated returns the documents of a repository infragen writes, as
// `gatekeep check` reads them.
func generated(b *testing.B) [][]byte {
	b.Helper()
	dir := b.TempDir()
	if _, err := infragen.Generate(dir, 20); err != nil {
		b.Fatal(err)
	}
	return documents(b, dir)
}

// BenchmarkParse parses every document of a generated repository (20
// apps, 100 documents) per operation, with Parse and with yaml.v3.
func BenchmarkParse(b *testing.B) {
	docs := generated(b)
	b.Run("fastyaml", func(b *testing.B) {
		accepted := 0
		for _, d := range docs {
			if _, ok := Parse(d); ok {
				accepted++
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				if _, ok := Parse(d); !ok {
					var n yaml.Node
					if err := yaml.Unmarshal(d, &n); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		b.ReportMetric(100*float64(accepted)/float64(len(docs)), "%accepted")
	})
	b.Run("yaml.v3", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, d := range docs {
				var n yaml.Node
				if err := yaml.Unmarshal(d, &n); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
