package conftest

import (
	"context"
	"testing"
)

// benchReview reviews the Deployment of testdata/manifests/shop.yaml (two
// containers with probes, resources and security contexts).
func benchReview(b *testing.B, p *Policies) {
	ctx := context.Background()
	obj := readObjects(b, "manifests/shop.yaml")[0].Data
	if _, err := p.Review(ctx, obj); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.Review(ctx, obj); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReview uses the testdata policy set: 9 rules in two packages, v0
// and v1 files, a helper package, exceptions and a data lookup.
func BenchmarkReview(b *testing.B) {
	p, err := Load(context.Background(), readFiles(b, "policy"), readData(b), Namespaces("main", "labels"))
	if err != nil {
		b.Fatal(err)
	}
	benchReview(b, p)
}

// BenchmarkReviewSmall uses an everyday eight-rule policy (field checks,
// sprintf, one exception).
func BenchmarkReviewSmall(b *testing.B) {
	p, err := Load(context.Background(), readFiles(b, "bench"), nil)
	if err != nil {
		b.Fatal(err)
	}
	benchReview(b, p)
}

// BenchmarkReviewParallel is BenchmarkReview from every core, as the
// webhook and gatekeep check run it.
func BenchmarkReviewParallel(b *testing.B) {
	ctx := context.Background()
	p, err := Load(ctx, readFiles(b, "policy"), readData(b), Namespaces("main", "labels"))
	if err != nil {
		b.Fatal(err)
	}
	obj := readObjects(b, "manifests/shop.yaml")[0].Data
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Review(ctx, obj); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkReviewCombined(b *testing.B) {
	ctx := context.Background()
	p, err := Load(ctx, readFiles(b, "combine"), nil, Namespaces("combine"))
	if err != nil {
		b.Fatal(err)
	}
	var docs []Document
	for _, o := range readObjects(b, "manifests/shop.yaml", "manifests/worker.yaml") {
		docs = append(docs, Document{Path: o.Source.File, Contents: o.Data})
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.ReviewCombined(ctx, docs); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	ctx := context.Background()
	files, data := readFiles(b, "policy"), readData(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(ctx, files, data, AllNamespaces()); err != nil {
			b.Fatal(err)
		}
	}
}
