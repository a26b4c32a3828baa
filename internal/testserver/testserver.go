// Package testserver holds servers on loopback that tests of timeouts
// share.
package testserver

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Hanging accepts requests on loopback and never answers them (until the
// client gives up or the test ends), like a registry or a remote base that
// accepts and hangs. It returns the server's host:port.
func Hanging(t testing.TB) string {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv.Listener.Addr().String()
}
