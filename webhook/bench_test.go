package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/go-logr/logr"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/gatekeeper/gen"
	"github.com/gatekeep-dev/gatekeep/internal/gklibrary"
)

// BenchmarkValidatePod reviews hack/webhookbench's Pod through the
// validating handler (no TLS), with the built-in bundle and 50 Gatekeeper
// templates: Pods of one ReplicaSet (replicas), and Pods that differ in an
// image so that the verdict cache never answers (distinct).
func BenchmarkValidatePod(b *testing.B) {
	dir := b.TempDir()
	if _, err := gen.Write(dir, 50); err != nil {
		b.Fatal(err)
	}
	benchValidatePod(b, dir)
}

// BenchmarkValidatePodLibrary is BenchmarkValidatePod with the public
// gatekeeper-library (each template and its first sample constraint)
// instead of generated templates; GATEKEEPER_LIBRARY names its checkout.
func BenchmarkValidatePodLibrary(b *testing.B) {
	lib := os.Getenv("GATEKEEPER_LIBRARY")
	if lib == "" {
		b.Skip("GATEKEEPER_LIBRARY is not set (a checkout of open-policy-agent/gatekeeper-library)")
	}
	dir := b.TempDir()
	if _, err := gklibrary.WriteBundle(lib, dir); err != nil {
		b.Fatal(err)
	}
	benchValidatePod(b, dir)
}

func benchValidatePod(b *testing.B, dir string) {
	s := New(Options{Load: func() (*engine.Engine, error) { return loadEngine(dir) }, Log: logr.Discard()})
	if err := s.reload(); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	for _, m := range gen.PodMixes {
		b.Run(m.Name, func(b *testing.B) {
			b.ReportAllocs()
			for i := range b.N {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(m.Review(i))))
				if rec.Code != http.StatusOK {
					b.Fatal(rec.Code, rec.Body.String())
				}
			}
		})
	}
}
