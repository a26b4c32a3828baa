package registry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// hang is a server on loopback that accepts requests and never answers
// them (with headers=true: sends the headers and a few bytes, then
// stalls).
func hang(t *testing.T, headers bool) *httptest.Server {
	t.Helper()
	stop := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if headers {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("abc")) // a client gone is what the test provokes
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop); srv.Close() })
	return srv
}

func TestTimeoutNoAnswer(t *testing.T) {
	srv := hang(t, false)
	c := New(WithTimeout(100 * time.Millisecond))
	ref, err := name.ParseReference(srv.Listener.Addr().String() + "/app/hang:1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Image(context.Background(), ref, nil)
	var te *TimeoutError
	if !errors.As(err, &te) || te.Body || !strings.Contains(err.Error(), "did not answer within 100ms") {
		t.Fatalf("image from a registry that never answers: %v", err)
	}
}

func TestTimeoutStalledBody(t *testing.T) {
	srv := hang(t, true)
	c := New(WithTimeout(100 * time.Millisecond))
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v2/", nil)
	resp, err := c.transport.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	var te *TimeoutError
	if string(b) != "abc" || !errors.As(err, &te) || !te.Body || !strings.Contains(err.Error(), "stopped sending for 100ms") {
		t.Fatalf("stalled body: %q %v", b, err)
	}
}

// Transport and User-Agent are what requests go through and carry.
func TestTransportAndUserAgent(t *testing.T) {
	srv := hang(t, false)
	var got []string
	rt := roundTripper(func(r *http.Request) (*http.Response, error) {
		got = append(got, r.Header.Get("User-Agent"))
		return nil, errors.New("no network in this test")
	})
	c := New(WithTransport(rt), WithUserAgent("gatekeep/test"))
	ref, _ := name.ParseReference(srv.Listener.Addr().String() + "/app/x:1")
	if _, err := c.Image(context.Background(), ref, nil); err == nil || len(got) == 0 || !strings.HasPrefix(got[0], "gatekeep/test") {
		t.Fatalf("requests %q, error %v", got, err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
