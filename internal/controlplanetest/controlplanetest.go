// Package controlplanetest serves the tests that start a real control plane
// with controller-runtime's envtest: it finds the kube-apiserver and etcd
// that make controlplane builds into bin/, and holds what those tests
// share.
package controlplanetest

import (
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Assets returns the folder holding kube-apiserver and etcd:
// KUBEBUILDER_ASSETS (make test sets it), else the repository's bin/. When
// they are missing the test fails, saying how to build them: a test that
// needs the control plane must not pass by skipping. Only go test -short
// skips it, saying so.
func Assets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		_, here, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(here), "..", "..", "bin")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil { //nolint:gosec // G703: the test binaries directory the developer names
			if testing.Short() {
				t.Skipf("-short: kube-apiserver and etcd are not in %s (make controlplane builds them)", dir)
			}
			t.Fatalf("kube-apiserver and etcd are not in %s: run make controlplane (make test does), or go test -short to leave these tests out", dir)
		}
	}
	return dir
}

// FreeAddr returns a 127.0.0.1 address nothing listens on.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Pod is a one-container Pod, privileged or not.
func Pod(name string, privileged bool) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "main", Image: "registry.example.com/app:1.0",
			SecurityContext: &corev1.SecurityContext{Privileged: &privileged},
		}}},
	}
}

// Shared is what a test binary starts once on a control plane and its
// tests share: the first test that asks starts it, and TestMain stops it.
type Shared[T any] struct {
	once    sync.Once
	v       T
	err     error
	started bool
}

// Get starts it with start(assets) on first use and returns it. Every test
// fails when it did not start, or when the binaries are missing (see
// Assets).
func (s *Shared[T]) Get(t testing.TB, start func(assets string) (T, error)) T {
	t.Helper()
	dir := Assets(t)
	s.once.Do(func() {
		s.v, s.err = start(dir)
		s.started = s.err == nil
	})
	if s.err != nil {
		t.Fatalf("control plane: %v", s.err)
	}
	return s.v
}

// Started returns it when it started, for TestMain to stop it.
func (s *Shared[T]) Started() (T, bool) { return s.v, s.started }
