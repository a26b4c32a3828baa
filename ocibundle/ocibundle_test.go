package ocibundle

import (
	"bytes"
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/progress"
)

// tamper, when set, rewrites the registry's answer to a GET whose path it
// matches (a corrupted disk, a registry that lies).
type tamperingRegistry struct {
	http.Handler
	match  string
	change func([]byte) []byte
}

func (t *tamperingRegistry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if t.match == "" || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, t.match) {
		t.Handler.ServeHTTP(w, r)
		return
	}
	rec := httptest.NewRecorder()
	t.Handler.ServeHTTP(rec, r)
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(t.change(rec.Body.Bytes()))
}

// loopback starts a real OCI registry (go-containerregistry's) on
// loopback, and returns its host and the handler's tampering hook.
func loopback(t *testing.T) (string, *tamperingRegistry) {
	t.Helper()
	reg := &tamperingRegistry{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), reg
}

func writeBundle(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "policy")
	for p, content := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var anonymous = WithKeychain(authn.NewMultiKeychain())

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPushPull(t *testing.T) {
	ctx := context.Background()
	host, _ := loopback(t)
	dir := writeBundle(t, map[string]string{
		"gatekeep.yaml":        "checks: {schema: warn}\n",
		"data/registries.yaml": "registries: [registry.example.com]\n",
	})
	local, err := bundle.LoadPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := Push(ctx, dir, Scheme+host+"/policy/team:v1", anonymous)
	if err != nil {
		t.Fatal(err)
	}
	if pushed.BundleDigest != local.Digest || !strings.HasPrefix(pushed.Digest, "sha256:") {
		t.Fatalf("pushed %+v; the bundle's digest is %s", pushed, local.Digest)
	}
	// The same content pushes to the same artifact.
	again, err := Push(ctx, dir, host+"/policy/team:v1-again", anonymous)
	if err != nil || again.Digest != pushed.Digest {
		t.Fatalf("second push %+v, %v; want digest %s", again, err, pushed.Digest)
	}
	for _, ref := range []string{Scheme + host + "/policy/team:v1", host + "/policy/team@" + pushed.Digest} {
		pulled, err := Pull(ctx, ref, anonymous)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if pulled.Digest != pushed.Digest || pulled.BundleDigest != local.Digest {
			t.Fatalf("%s: pulled %+v, want digests %s, %s", ref, pulled, pushed.Digest, local.Digest)
		}
		b, err := bundle.LoadArchive("team", ref, pulled.Archive)
		if err != nil {
			t.Fatal(err)
		}
		if b.Digest != local.Digest || b.Config.Checks["schema"] != "warn" || b.Data["registries"] == nil {
			t.Fatalf("%s: pulled bundle %s %+v %v", ref, b.Digest, b.Config.Checks, b.Data)
		}
	}
}

// TestOneFolderBundle: a bundle whose files are all in one folder keeps
// its paths, and so its digest, through a registry (a user's tar czf of a
// folder loses the folder; a pushed bundle does not).
func TestOneFolderBundle(t *testing.T) {
	ctx := context.Background()
	host, _ := loopback(t)
	dir := writeBundle(t, map[string]string{"team/deny.rego": "package main\n\ndeny[msg] { input.kind == \"Secret\"; msg := \"no\" }\n"})
	local, err := bundle.LoadPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(ctx, dir, host+"/policy/team:v1", anonymous); err != nil {
		t.Fatal(err)
	}
	pulled, err := Pull(ctx, host+"/policy/team:v1", anonymous)
	if err != nil || pulled.BundleDigest != local.Digest {
		t.Fatalf("pulled %s, %v; want the bundle %s", pulled.BundleDigest, err, local.Digest)
	}
}

func TestPullRefuses(t *testing.T) {
	ctx := context.Background()
	host, reg := loopback(t)
	dir := writeBundle(t, map[string]string{"gatekeep.yaml": "checks: {schema: warn}\n"})
	pushed, err := Push(ctx, dir, host+"/policy/team:v1", anonymous)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Push(ctx, writeBundle(t, map[string]string{"gatekeep.yaml": "checks: {schema: deny}\n"}), host+"/policy/team:v2", anonymous)
	if err != nil {
		t.Fatal(err)
	}
	// An image, not a bundle.
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer([]byte("not policy"), types.DockerLayer))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref(t, host+"/policy/image:v1"), img); err != nil {
		t.Fatal(err)
	}
	// A bundle whose annotation names another bundle.
	archive, _, err := bundle.Archive(dir)
	if err != nil {
		t.Fatal(err)
	}
	lying, err := mutate.Append(empty.Image, mutate.Addendum{Layer: static.NewLayer(archive, LayerMediaType)})
	if err != nil {
		t.Fatal(err)
	}
	lying = mutate.Annotations(lying, map[string]string{DigestAnnotation: other.BundleDigest}).(v1.Image)
	if err := remote.Write(ref(t, host+"/policy/team:lying"), lying); err != nil {
		t.Fatal(err)
	}
	img1, err := remote.Image(ref(t, host+"/policy/team:v1"))
	if err != nil {
		t.Fatal(err)
	}
	m1, err := img1.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	otherManifest, err := remote.Get(ref(t, host+"/policy/team:v2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, ref, match string
		change           func([]byte) []byte
		want             string
	}{
		{"an image, not a bundle", host + "/policy/image:v1", "", nil, "not a gatekeep bundle"},
		{"an annotation naming another bundle", host + "/policy/team:lying", "", nil, "not the " + other.BundleDigest},
		{"a corrupted layer", host + "/policy/team:v1", "/blobs/" + m1.Layers[0].Digest.String(),
			func(b []byte) []byte { c := bytes.Clone(b); c[len(c)-1] ^= 0xff; return c }, "error verifying sha256 checksum"},
		{"another manifest under a digest", host + "/policy/team@" + pushed.Digest, "/manifests/" + pushed.Digest,
			func([]byte) []byte { return otherManifest.Manifest }, "digest"},
		{"no such tag", host + "/policy/team:v9", "", nil, "MANIFEST_UNKNOWN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg.match, reg.change = tc.match, tc.change
			defer func() { reg.match, reg.change = "", nil }()
			got, err := Pull(ctx, tc.ref, anonymous)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("pulled %s (%v); want an error saying %q", got.Digest, err, tc.want)
			}
		})
	}
	// Untampered, the same references pull.
	if _, err := Pull(ctx, host+"/policy/team@"+pushed.Digest, anonymous); err != nil {
		t.Fatal(err)
	}
}

func TestPushRefusesABundleThatDoesNotLoad(t *testing.T) {
	host, _ := loopback(t)
	dir := writeBundle(t, map[string]string{"gatekeep.yaml": "checks: {schema: sometimes}\n"})
	if _, err := Push(context.Background(), dir, host+"/policy/team:v1", anonymous); err == nil {
		t.Fatal("a bundle that does not load was pushed")
	}
	if _, err := remote.Head(ref(t, host+"/policy/team:v1")); err == nil {
		t.Fatal("the registry holds the tag")
	}
}

func TestRefs(t *testing.T) {
	for _, tc := range []struct {
		ref string
		ok  bool
	}{
		{"oci://registry.example.com/policy/team:v3", true},
		{"registry.example.com/policy/team@sha256:" + strings.Repeat("a", 64), true},
		{"oci://registry.example.com/policy/team@sha256:short", false},
		{"oci://Registry Example/policy", false},
	} {
		if _, err := parse(tc.ref); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.ref, err)
		}
	}
	if !IsRef("oci://r.example.com/p:v1") || IsRef("./policy") {
		t.Error("IsRef")
	}
}

// Push and Pull draw their bytes on the progress they are given, from
// nothing to the whole artifact; progress off, they write nothing.
func TestProgress(t *testing.T) {
	ctx := context.Background()
	host, _ := loopback(t)
	dir := writeBundle(t, map[string]string{"gatekeep.yaml": "checks: {schema: warn}\n"})
	var drawn, off bytes.Buffer
	shown := WithProgress(progress.New(&drawn, progress.Always))
	hidden := WithProgress(progress.New(&off, progress.Never))
	for _, tag := range []string{"v1", "v1-again"} { // the second finds every blob there
		drawn.Reset()
		ref := host + "/policy/progress:" + tag
		if _, err := Push(ctx, dir, ref, anonymous, shown); err != nil {
			t.Fatal(err)
		}
		if got := drawn.String(); !strings.Contains(got, "push "+ref+"   0% |") || !strings.Contains(got, "push "+ref+" 100% |") || !strings.HasSuffix(got, "\n") {
			t.Errorf("push %s drew %q", tag, got)
		}
	}
	drawn.Reset()
	ref := host + "/policy/progress:v1"
	if _, err := Pull(ctx, ref, anonymous, shown); err != nil {
		t.Fatal(err)
	}
	if got := drawn.String(); !strings.Contains(got, "pull "+ref+" 100% |") || !strings.HasSuffix(got, "\n") {
		t.Errorf("pull drew %q", got)
	}
	if _, err := Push(ctx, dir, host+"/policy/progress:v2", anonymous, hidden); err != nil {
		t.Fatal(err)
	}
	if _, err := Pull(ctx, host+"/policy/progress:v2", anonymous, hidden); err != nil {
		t.Fatal(err)
	}
	if off.Len() != 0 {
		t.Errorf("progress never: wrote %q", off.String())
	}
}
