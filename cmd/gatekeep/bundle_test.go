package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
	"github.com/gatekeep-dev/gatekeep/ocibundle"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

// loopbackRegistry starts go-containerregistry's registry on loopback for
// the test (scanfixture's, without auth) and returns its host; docker
// logins of the machine are not used (DOCKER_CONFIG is empty).
func loopbackRegistry(tb testing.TB) string {
	tb.Helper()
	tb.Setenv("DOCKER_CONFIG", tb.TempDir())
	reg := fixture.NewRegistry("", "")
	tb.Cleanup(reg.Close)
	return reg.Host
}

// followingServer is serve's webhook server loading the bundles local
// (the built-in one under them), and the poller that follows the tags of
// those pulled, as runServe makes them.
func followingServer(local []string, pulled []pulledBundle) (*webhook.Server, *bundlePoller) {
	srv := webhook.New(webhook.Options{Load: func() (*engine.Engine, error) {
		return newEngine(local, "", engine.WithMode(engine.Admission))
	}, Log: logr.Discard()})
	return srv, &bundlePoller{bundles: pulled, reload: srv.Reload, failed: srv.LoadFailed, log: logr.Discard()}
}

// TestBundleInRegistry pushes a bundle to a real registry on loopback
// (go-containerregistry's), then check and verify load it by tag and by
// digest with --bundle oci://..., and pull writes it back out.
func TestBundleInRegistry(t *testing.T) {
	host := loopbackRegistry(t)

	policy := tree(t, map[string]string{
		"gatekeep.yaml": "checks: {privileged-container: warn}\n",
		"team/deny.rego": `package main
import rego.v1
deny contains msg if {
	input.kind == "ConfigMap"
	not input.metadata.labels.team
	msg := sprintf("ConfigMap %s has no team label", [input.metadata.name])
}
`,
		"team/deny_test.rego": `package main
import rego.v1
test_unlabelled if { count(deny) == 1 with input as {"kind": "ConfigMap", "metadata": {"name": "x"}} }
`,
	})
	out, code, msg := run(t, "", "", "bundle", "push", policy, host+"/policy/team:v1")
	if code != exitPass || !strings.HasPrefix(out, "pushed "+host+"/policy/team:v1@sha256:") {
		t.Fatalf("push: exit %d %s\n%s", code, msg, out)
	}
	digest := strings.Fields(strings.TrimPrefix(out, "pushed "+host+"/policy/team:v1@"))[0]

	manifests := tree(t, map[string]string{
		"cm.yaml":  "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\n",
		"pod.yaml": "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: shop}\nspec: {containers: [{name: c, image: nginx, securityContext: {privileged: true}}]}\n",
	})
	for _, ref := range []string{"oci://" + host + "/policy/team:v1", "oci://" + host + "/policy/team@" + digest} {
		got, code := findings(t, manifests, "--bundle", ref, ".")
		expect(t, got,
			"main.deny deny cm.yaml:1 : ConfigMap settings has no team label",
			`privileged-container warn pod.yaml:4 /spec/containers/0/securityContext/privileged: container "c" is privileged`,
		)
		if code != exitDenied {
			t.Errorf("%s: exit %d, want %d", ref, code, exitDenied)
		}
		out, code, msg := run(t, "", "", "verify", ref)
		if code != exitPass || !strings.Contains(out, "passed") {
			t.Errorf("verify %s: exit %d %s\n%s", ref, code, msg, out)
		}
	}

	dest := filepath.Join(t.TempDir(), "pulled")
	out, code, msg = run(t, "", "", "bundle", "pull", "oci://"+host+"/policy/team:v1", dest)
	if code != exitPass || !strings.HasPrefix(out, "pulled ") {
		t.Fatalf("pull: exit %d %s\n%s", code, msg, out)
	}
	for _, f := range []string{"gatekeep.yaml", "team/deny.rego", "team/deny_test.rego"} {
		want, _ := os.ReadFile(filepath.Join(policy, f))
		got, err := os.ReadFile(filepath.Join(dest, f))
		if err != nil || string(got) != string(want) {
			t.Errorf("pulled %s: %q, %v; want %q", f, got, err, want)
		}
	}
	// Unusable input, exit 2: no such tag, and a pull into a full folder.
	if _, code, msg := run(t, manifests, "", "check", "--bundle", "oci://"+host+"/policy/team:v9", "."); code != exitUnusable || !strings.Contains(msg, "team:v9") {
		t.Errorf("a missing tag: exit %d %q", code, msg)
	}
	if _, code, _ := run(t, "", "", "bundle", "pull", "oci://"+host+"/policy/team:v1", dest); code != exitUnusable {
		t.Errorf("a pull into a full folder: exit %d", code)
	}
}

// TestServeFollowsBundleTag: serve's bundle from a registry tag is
// replaced when the tag moves to a new bundle that loads, and kept when it
// moves to one that does not (the failed load counted).
func TestServeFollowsBundleTag(t *testing.T) {
	ref := "oci://" + loopbackRegistry(t) + "/policy/team:live"
	ctx := context.Background()
	push := func(config string) string {
		t.Helper()
		p, err := ocibundle.Push(ctx, tree(t, map[string]string{"gatekeep.yaml": config}), ref)
		if err != nil {
			t.Fatal(err)
		}
		return p.BundleDigest
	}
	v1 := push("checks: {schema: warn}\n")
	local, pulled, cleanup, err := resolveBundles(ctx, []string{ref})
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	srv, poller := followingServer(local, pulled)
	if err := srv.Reload(); err != nil {
		t.Fatal(err)
	}
	inForce := func() (digest string, schema bundle.Action) {
		b := srv.Engines().Get().Bundle()
		return b.Digest, b.Config.Checks["schema"]
	}
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		srv.Health().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	before, _ := inForce()

	poller.poll(ctx) // the tag has not moved
	if d, s := inForce(); d != before || s != "warn" {
		t.Fatalf("before any push: %s %s", d, s)
	}
	v2 := push("checks: {schema: dryrun}\n")
	poller.poll(ctx)
	after, s := inForce()
	if after == before || s != "dryrun" {
		t.Fatalf("after a push of a new bundle: %s %s, want dryrun in force", after, s)
	}
	// Loads as a bundle, but no engine takes it (a check that does not
	// exist): the last good bundle stays.
	push("checks: {no-such-check: deny}\n")
	poller.poll(ctx)
	if d, s := inForce(); d != after || s != "dryrun" {
		t.Fatalf("after a push of a bundle that does not load: %s %s, want the last good one", d, s)
	}
	if code, body := readyz(); code != http.StatusOK || !strings.Contains(body, after+" in force") || !strings.Contains(body, "no-such-check") {
		t.Errorf("readyz after a bad bundle: %d %q, want ready, the digest in force and why the new one did not load", code, body)
	}
	if v1 == v2 {
		t.Fatal("the two bundles have one digest")
	}

	// An artifact whose annotation does not match its bundle is refused
	// before any load: the last good bundle stays, and /readyz says why.
	push("checks: {schema: warn}\n") // loads: clears the failure
	poller.poll(ctx)
	good, _ := inForce()
	if code, body := readyz(); code != http.StatusOK || strings.Contains(body, "did not load") || !strings.Contains(body, good) {
		t.Errorf("readyz after a good bundle: %d %q", code, body)
	}
	r, err := name.ParseReference(strings.TrimPrefix(ref, "oci://"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	forged := mutate.Annotations(img, map[string]string{ocibundle.DigestAnnotation: "sha256:" + strings.Repeat("0", 64)}).(ggcrv1.Image)
	if err := remote.Write(r, forged); err != nil {
		t.Fatal(err)
	}
	poller.poll(ctx)
	if d, _ := inForce(); d != good {
		t.Errorf("after a forged artifact: %s in force, want %s", d, good)
	}
	if code, body := readyz(); code != http.StatusOK || !strings.Contains(body, "did not load") || !strings.Contains(body, "annotation") {
		t.Errorf("readyz after a forged artifact: %d %q, want the refusal said", code, body)
	}
}

// BenchmarkBundleReload measures, per new bundle, the time from the start
// of its push to a loopback registry to the first admission review answered
// with its digest: push, the poller's check of the tag and pull, the load,
// and the review. serve adds the wait for its next poll
// (--bundle-poll-interval, 1m by default: half of it on average).
func BenchmarkBundleReload(b *testing.B) {
	ref := "oci://" + loopbackRegistry(b) + "/policy/team:live"
	ctx := context.Background()
	push := func(i int) {
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "gatekeep.yaml"), []byte("checks: {schema: warn}\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "data.yaml"), []byte("generation: "+strconv.Itoa(i)+"\n"), 0o600); err != nil {
			b.Fatal(err)
		}
		if _, err := ocibundle.Push(ctx, dir, ref); err != nil {
			b.Fatal(err)
		}
	}
	push(-1)
	local, pulled, cleanup, err := resolveBundles(ctx, []string{ref})
	if err != nil {
		b.Fatal(err)
	}
	defer cleanup()
	srv, poller := followingServer(local, pulled)
	if err := srv.Reload(); err != nil {
		b.Fatal(err)
	}
	h := srv.Handler()
	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"1","kind":{"group":"","version":"v1","kind":"ConfigMap"},` +
		`"resource":{"group":"","version":"v1","resource":"configmaps"},"namespace":"team","operation":"CREATE","userInfo":{"username":"u"},` +
		`"object":{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"team"}}}}`
	digestOfReview := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/validate", strings.NewReader(review)))
		var out struct {
			Response struct {
				AuditAnnotations map[string]string `json:"auditAnnotations"`
			} `json:"response"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			b.Fatalf("review: %v: %s", err, rec.Body.String())
		}
		return out.Response.AuditAnnotations[webhook.DigestAnnotation]
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := srv.Engines().Get().Bundle().Digest
		push(i)
		poller.poll(ctx)
		if d := digestOfReview(); d == before || d != srv.Engines().Get().Bundle().Digest {
			b.Fatalf("review %d answered with %s, the bundle before the push", i, d)
		}
	}
}

// TestServeWaitsForItsBundle: serve whose registry bundle cannot be pulled
// at start is up but not ready, and becomes ready once the poller pulls
// it, rather than exiting (and, with failurePolicy Fail, blocking the
// cluster while it restarts in a loop).
func TestServeWaitsForItsBundle(t *testing.T) {
	ref := "oci://" + loopbackRegistry(t) + "/policy/team:later"
	ctx := context.Background()
	var why []string
	local, pulled, cleanup, err := pullBundles(ctx, []string{ref}, func(r string, err error) { why = append(why, r+": "+err.Error()) })
	if err != nil {
		t.Fatalf("a bundle not there yet stopped serve: %v", err)
	}
	defer cleanup()
	if len(why) != 1 || !strings.Contains(why[0], "team:later") {
		t.Errorf("told %q, want why team:later did not pull", why)
	}
	srv, poller := followingServer(local, pulled)
	if err := srv.Reload(); err == nil || srv.Ready() {
		t.Fatalf("without its bundle: reload %v, ready %v; want a failed load, not ready", err, srv.Ready())
	}
	if !poller.pending() {
		t.Error("the poller does not know the bundle is pending")
	}
	if _, err := ocibundle.Push(ctx, tree(t, map[string]string{"gatekeep.yaml": "checks: {schema: warn}\n"}), ref); err != nil {
		t.Fatal(err)
	}
	poller.poll(ctx)
	if !srv.Ready() || poller.pending() {
		t.Fatalf("after the bundle was pushed and polled: ready %v, pending %v", srv.Ready(), poller.pending())
	}
	if a := srv.Engines().Get().Bundle().Config.Checks["schema"]; a != "warn" {
		t.Errorf("bundle in force sets schema %q, want the pushed one's warn", a)
	}
	// check, verify and mutate still refuse a bundle they cannot pull.
	if _, _, _, err := resolveBundles(ctx, []string{strings.Replace(ref, ":later", ":never", 1)}); err == nil {
		t.Error("resolveBundles took a tag that is not there")
	}
}
