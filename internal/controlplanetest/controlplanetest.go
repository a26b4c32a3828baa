// Package controlplanetest finds the kube-apiserver and etcd that make
// controlplane builds into bin/, for tests that start a real control plane
// with controller-runtime's envtest.
package controlplanetest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Assets returns the folder holding kube-apiserver and etcd:
// KUBEBUILDER_ASSETS (make test sets it), else the repository's bin/. When
// they are missing the test is skipped, or fails under
// GATEKEEP_CONTROLPLANE=required (make test).
func Assets(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		_, here, _, _ := runtime.Caller(0)
		dir = filepath.Join(filepath.Dir(here), "..", "..", "bin")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			if os.Getenv("GATEKEEP_CONTROLPLANE") == "required" {
				t.Fatalf("kube-apiserver and etcd are not in %s: run make controlplane", dir)
			}
			t.Skipf("kube-apiserver and etcd are not in %s: run make controlplane (make test does)", dir)
		}
	}
	return dir
}
