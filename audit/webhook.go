package audit

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/go-logr/logr"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

// IgnoreLabel is the namespace label that keeps a namespace out of the
// chart's webhooks, and so out of the audit.
const IgnoreLabel = "gatekeep.dev/ignore"

// WebhookExclusion leaves out the namespaces named and those labelled
// IgnoreLabel in inv, as the chart's webhooks do.
func WebhookExclusion(inv *webhook.Inventory, names []string) func(string) bool {
	return func(ns string) bool {
		if slices.Contains(names, ns) {
			return true
		}
		n := inv.Namespace(ns)
		if n == nil {
			return false
		}
		meta, _ := n.Data["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		_, ignored := labels[IgnoreLabel]
		return ignored
	}
}

// InServer is the Audit of a Schedule that runs inside gatekeep serve:
// each run prepares an engine (newEngine, of mode engine.Audit) for the
// bundle in force in srv, fills its data.inventory from the webhook's
// caches, and audits with them as r's inventory. The bundle, the caches
// and the rules of exclusion are the webhook's: what the audit reports is
// what the webhook would decide.
func InServer(srv *webhook.Server, r Runner, exclude []string, newEngine func(*bundle.Bundle) (*engine.Engine, error), log logr.Logger) func(context.Context) error {
	inv := srv.Inventory()
	r.Inventory, r.Namespace = inv.Checks(), inv.Namespace
	r.Exclude = WebhookExclusion(inv, exclude)
	return func(ctx context.Context) error {
		inForce := srv.Engines().Get()
		if inForce == nil {
			return fmt.Errorf("no bundle in force")
		}
		eng, err := newEngine(inForce.Bundle())
		if err != nil {
			return err
		}
		if err := eng.AddInventory(ctx, inv.Objects()...); err != nil {
			return fmt.Errorf("data.inventory: %w", err)
		}
		start := time.Now()
		res, err := r.Once(ctx, eng)
		if err != nil {
			return err
		}
		s := res.Summary()
		log.Info("audit done", "objects", s.Audited, "denied", s.Denied, "warned", s.Warned,
			"bundle", res.BundleDigest, "duration", time.Since(start).Round(time.Millisecond).String())
		for _, e := range res.Errors {
			log.Error(e, "audit")
		}
		return nil
	}
}
