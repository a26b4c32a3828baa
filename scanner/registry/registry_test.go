package registry

import (
	"archive/tar"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
)

func readAll(t *testing.T, img v1.Image, jobs int) map[string]string {
	t.Helper()
	got, err := Files(context.Background(), img, jobs,
		func(name string, h *tar.Header) bool { return !strings.HasPrefix(name, "skip/") },
		func(name string, h *tar.Header, r io.Reader) (string, error) {
			b, err := io.ReadAll(r)
			return string(b), err
		})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// Layer order, whiteouts, opaque directories and shadowing parents, with
// layers read in parallel.
func TestFilesWhiteouts(t *testing.T) {
	img := fixture.Image("linux/amd64",
		fixture.Layer(
			fixture.Dir("etc/"), fixture.Reg("etc/a", "a1"), fixture.Reg("etc/b", "b1"),
			fixture.Reg("./opt/app/x", "x1"), fixture.Reg("/opt/app/y", "y1"),
			fixture.Reg("lib/dir/f", "f1"), fixture.Reg("gone/deep/f", "g1"),
			fixture.Reg("keep", "k1"), fixture.Reg("skip/not-wanted", "s"),
			fixture.Reg("usr/lib/os-release", "os"), fixture.Symlink("etc/os-release", "../usr/lib/os-release"),
		),
		fixture.Layer(
			fixture.Reg("etc/a", "a2"),                         // replaced
			fixture.Whiteout("etc/b"),                          // deleted
			fixture.Opaque("opt/app"),                          // lower contents hidden...
			fixture.Reg("opt/app/z", "z2"),                     // ...but its own stay
			fixture.Symlink("lib/dir", "/elsewhere"),           // a directory turned into a link
			fixture.Whiteout("gone"),                           // a whole tree
			fixture.Reg("dup", "d1"), fixture.Reg("dup", "d2"), // the later entry wins
		),
		fixture.Layer(fixture.Reg("etc/b", "b3")), // back again
	)
	for _, jobs := range []int{1, 3} {
		got := readAll(t, img, jobs)
		want := map[string]string{"etc/a": "a2", "etc/b": "b3", "opt/app/z": "z2", "keep": "k1", "dup": "d2", "usr/lib/os-release": "os"}
		if len(got) != len(want) {
			t.Errorf("jobs=%d: got %v, want %v", jobs, keys(got), keys(want))
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("jobs=%d: %s = %q, want %q", jobs, k, got[k], v)
			}
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Tags resolve to digests; an index resolves to the platform asked for.
func TestResolveAndPlatform(t *testing.T) {
	reg := fixture.NewRegistry("", "")
	defer reg.Close()
	amd := fixture.Image("linux/amd64", fixture.Layer(fixture.Reg("arch", "amd64")))
	arm := fixture.Image("linux/arm64", fixture.Layer(fixture.Reg("arch", "arm64")))
	ref, idxDigest := reg.PushIndex("multi:1", fixture.Index(map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm}))
	ctx := context.Background()
	for _, tc := range []struct {
		platform v1.Platform
		want     string
	}{{DefaultPlatform, "amd64"}, {v1.Platform{OS: "linux", Architecture: "arm64"}, "arm64"}} {
		c := New(WithPlatform(tc.platform), WithKeychain(authn.NewMultiKeychain()))
		r, err := c.Reference(ref)
		if err != nil {
			t.Fatal(err)
		}
		d, err := c.Resolve(ctx, r, nil)
		if err != nil || d.String() != idxDigest {
			t.Fatalf("Resolve = %v, %v; want %s", d, err, idxDigest)
		}
		img, err := c.Image(ctx, r, nil)
		if err != nil {
			t.Fatal(err)
		}
		if img.Digest.String() != idxDigest || img.ManifestDigest.String() == idxDigest {
			t.Errorf("digests %s, %s", img.Digest, img.ManifestDigest)
		}
		files, err := Files(ctx, img.Image, 2, func(string, *tar.Header) bool { return true },
			func(_ string, _ *tar.Header, r io.Reader) (string, error) {
				b, err := io.ReadAll(r)
				return string(b), err
			})
		if err != nil || files["arch"] != tc.want {
			t.Errorf("%v: arch = %q, %v", tc.platform, files["arch"], err)
		}
	}
}

// Plain HTTP goes to loopback and to registries named insecure, never to
// others (go-containerregistry would fall back to it for private
// addresses).
func TestPlainHTTP(t *testing.T) {
	c := New(WithInsecure("registry.internal:5000", "plain.example"))
	for host, want := range map[string]bool{
		"localhost:5000": true, "127.0.0.1:5000": true, "[::1]:5000": true,
		"registry.internal:5000": true, "plain.example:443": true, "plain.example": true,
		"10.0.0.5:5000": false, "192.168.1.10": false, "registry.local:5000": false, "registry.internal:6000": false,
	} {
		if got := c.plainAllowed(host); got != want {
			t.Errorf("plainAllowed(%s) = %v", host, got)
		}
	}
	var hit bool
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer srv.Close()
	guard := New().transport
	req, _ := http.NewRequest("GET", "http://10.0.0.5:5000/v2/", nil)
	if _, err := guard.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "refusing plain HTTP") {
		t.Errorf("plain HTTP to 10.0.0.5: %v", err)
	}
	req, _ = http.NewRequest("GET", srv.URL+"/v2/", nil)
	if resp, err := guard.RoundTrip(req); err != nil || !hit {
		t.Errorf("loopback refused: %v", err)
	} else {
		_ = resp.Body.Close() // nothing was read: only the dial mattered
	}
	r, err := c.Reference("registry.internal:5000/app:1")
	if err != nil || r.Context().Scheme() != "http" {
		t.Errorf("insecure registry scheme: %v %v", r, err)
	}
	r, _ = New().Reference("10.0.0.5:5000/app:1")
	if _, ok := r.(name.Tag); !ok {
		t.Errorf("reference %T", r)
	}
}
