package gatekeeper

import (
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/gatekeep-dev/gatekeep/internal/gklibrary"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// library is the public gatekeeper-library that GATEKEEPER_LIBRARY names
// (a checkout of open-policy-agent/gatekeeper-library) as a bundle (each
// template with its first sample constraint), and its sample objects.
// Without it the test is skipped, saying how to run it.
func library(t *testing.T) (bundle, []*manifest.Object) {
	t.Helper()
	lib := os.Getenv("GATEKEEPER_LIBRARY")
	if lib == "" {
		t.Skip("GATEKEEPER_LIBRARY is not set: make test GATEKEEPER_LIBRARY=<gatekeeper-library checkout> runs this")
	}
	dir := t.TempDir()
	sum, err := gklibrary.WriteBundle(lib, dir)
	if err != nil {
		t.Fatal(err)
	}
	files, err := gklibrary.Examples(lib)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*manifest.Object
	for _, f := range files {
		data, err := os.ReadFile(f) //nolint:gosec // G304: the checkout the test is given
		if err != nil {
			t.Fatal(err)
		}
		parsed, _ := manifest.Parse(f, data)
		objs = append(objs, parsed...)
	}
	t.Logf("gatekeeper-library: %s; %d sample objects", sum, len(objs))
	return loadBundle(t, dir), objs
}

// webhookPolicies compiles b at the webhook's enforcement point without and
// with a verdict cache of cacheSize.
func webhookPolicies(t *testing.T, b bundle, cacheSize int) (plain, cached *Policy) {
	t.Helper()
	ctx := context.Background()
	plain, err := New(ctx, b.templates, b.constraints, WithEnforcementPoint(WebhookEnforcementPoint))
	if err != nil {
		t.Fatal(err)
	}
	cached, err = New(ctx, b.templates, b.constraints, WithEnforcementPoint(WebhookEnforcementPoint), WithVerdictCache(cacheSize))
	if err != nil {
		t.Fatal(err)
	}
	return plain, cached
}

// sameReview reviews r with both policies, fails the test unless their
// violations are the same, and returns them.
func sameReview(t *testing.T, plain, cached *Policy, r Request) []Violation {
	t.Helper()
	ctx := context.Background()
	want, err := plain.Review(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cached.Review(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		kind, _ := r.Admission["kind"].(map[string]any)
		t.Fatalf("%v %v %v:\n cached %s\n plain  %s", r.Admission["operation"], kind["kind"], r.Admission["name"], dump(got), dump(want))
	}
	return want
}
