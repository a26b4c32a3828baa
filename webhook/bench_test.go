package webhook

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/gatekeeper/gen"
)

const benchPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"team-1","labels":{"app":"web","team":"team-1"}},"spec":{"serviceAccountName":"web","containers":[{"name":"web","image":"registry.example.com/team-1/web:1.4.2","ports":[{"containerPort":8080}],"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"256Mi"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":8080}},"securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false}}]}}`

// BenchmarkValidatePod reviews a typical Pod through the validating
// handler (no TLS), with the built-in bundle and 50 Gatekeeper templates.
func BenchmarkValidatePod(b *testing.B) {
	dir := b.TempDir()
	if _, err := gen.Write(dir, 50); err != nil {
		b.Fatal(err)
	}
	s := New(Options{Load: func() (*engine.Engine, error) { return loadEngine(dir) }, Log: logr.Discard()})
	if err := s.reload(); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	body := review(b, admissionv1.Create, benchPod)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", bytes.NewReader(body)))
			if rec.Code != http.StatusOK {
				b.Fatal(rec.Code)
			}
		}
	})
	_ = os.Getpid
}
