package scanner

import (
	"context"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
)

// staticKeychain answers every registry with one login.
type staticKeychain struct{ user, pass string }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	return &authn.Basic{Username: k.user, Password: k.pass}, nil
}

// Keychain gives the credentials of calls that pass none.
func TestScanKeychain(t *testing.T) {
	e := testEnv(t)
	reg := fixture.NewRegistry("robot", "s3cret")
	defer reg.Close()
	ref, _ := reg.Push("app/private:1", e.images()[imgClean])
	ctx := context.Background()
	if _, err := New(e.db, Keychain(staticKeychain{"robot", "wrong"})).Scan(ctx, ref); err == nil {
		t.Errorf("scanned with wrong credentials")
	}
	r, err := New(e.db, Keychain(staticKeychain{"robot", "s3cret"})).Scan(ctx, ref)
	if err != nil || r.Digest != e.digest[imgClean] {
		t.Fatalf("%+v %v", r, err)
	}
}

// Reading layers one at a time finds what reading them at once does.
func TestScanLayerJobs(t *testing.T) {
	e := testEnv(t)
	ctx := context.Background()
	want, err := New(e.db).Scan(ctx, e.refs[imgDebian])
	if err != nil {
		t.Fatal(err)
	}
	got, err := New(e.db, LayerJobs(1)).Scan(ctx, e.refs[imgDebian])
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(findings(got), findings(want)) || got.Packages != want.Packages {
		t.Errorf("one layer at a time: %v, at once: %v", findings(got), findings(want))
	}
}

// MaxImages bounds the digests kept, least recently used out first.
func TestCacheMaxImages(t *testing.T) {
	e := testEnv(t)
	c := NewCache(New(e.db), MaxImages(1))
	g := gate(t, c, strict)
	ctx := context.Background()
	for _, img := range []string{imgDebian, imgClean} {
		if d := g.Check(ctx, e.refs[img], "", nil); d.Err != nil {
			t.Fatalf("%s: %v", img, d.Err)
		}
	}
	if c.Len() != 1 {
		t.Errorf("%d digests kept, want 1", c.Len())
	}
	if c.lookup(e.refs[imgClean]) == nil || c.lookup(e.refs[imgDebian]) != nil {
		t.Errorf("the least recently used digest was not the one dropped")
	}
}

// recorder passes requests on, noting their User-Agent.
type recorder struct {
	mu     sync.Mutex
	agents []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.agents = append(r.agents, req.Header.Get("User-Agent"))
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

// Registry requests go through Transport, saying UserAgent.
func TestScanTransportAndUserAgent(t *testing.T) {
	e := testEnv(t)
	rec := &recorder{}
	if _, err := New(e.db, Transport(rec), UserAgent("gatekeep/test")).Scan(context.Background(), e.refs[imgClean]); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.agents) == 0 {
		t.Fatal("no request went through the transport")
	}
	for _, ua := range rec.agents {
		if !strings.HasPrefix(ua, "gatekeep/test") {
			t.Errorf("User-Agent %q", ua)
		}
	}
}
