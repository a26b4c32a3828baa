package engine

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// A review app's expiry is stamped by the engine's clock.
func TestMutateReviewAppExpiryClock(t *testing.T) {
	b := withChecks(t, "reviewApps:\n  - namespacePattern: \"^pr-(?P<pr>[0-9]+)$\"\n    labels: {review-app: \"{{.pr}}\"}\n    ttl: 72h\n")
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	eng, err := New(b, WithMode(Admission), WithClock(func() time.Time { return at }))
	if err != nil {
		t.Fatal(err)
	}
	obj := manifest.New(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "pr-12"}})
	m, err := eng.Mutate(context.Background(), Request{Operation: "CREATE", Object: obj})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(m.Patches)
	if !strings.Contains(string(raw), "2025-03-04T12:00:00Z") || !strings.Contains(string(raw), `"12"`) {
		t.Errorf("patches %s", raw)
	}
}
