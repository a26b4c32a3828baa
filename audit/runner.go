package audit

import (
	"context"
	"fmt"
	"time"

	"k8s.io/client-go/rest"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/policyreport"
)

// Runner is one audit as gatekeep audit and serve's continuous audit both
// run it: the run, then its PolicyReports and metrics.
type Runner struct {
	// Cluster is the API server audited.
	Cluster *rest.Config
	// Inventory is the cluster's Ingress hosts; Namespace the Namespace
	// objects (labels) by name. Both come from the webhook's caches.
	Inventory *checks.Inventory
	Namespace func(name string) *manifest.Object
	// Exclude leaves out the objects of namespaces (nil: none).
	Exclude func(ns string) bool
	// PageSize is the limit of each list request (0: DefaultPageSize).
	PageSize int64
	// Reports, when set, writes the PolicyReports; Metrics, when set,
	// records the run.
	Reports *policyreport.Writer
	Metrics *Metrics
	// Progress is called after each page.
	Progress func(Progress)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Once audits the cluster with eng (an engine of mode engine.Audit whose
// data.inventory holds the cluster's synced objects). A failure to write
// the reports is an error of the result: the findings still stand.
func (r *Runner) Once(ctx context.Context, eng *engine.Engine) (*engine.Result, error) {
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	start := now()
	pageSize := r.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	opts := []Option{PageSize(pageSize), ExcludeNamespaces(r.Exclude), NamespaceObjects(r.Namespace), OnProgress(r.Progress)}
	if r.Reports != nil && r.Reports.Pass() {
		opts = append(opts, KeepPassed(true))
	}
	res, err := Run(ctx, r.Cluster, eng, r.Inventory, opts...)
	if err != nil {
		return res, err
	}
	if r.Reports != nil {
		if _, err := r.Reports.Write(ctx, res); err != nil {
			res.Errors = append(res.Errors, manifest.Error{File: "(cluster)", Message: fmt.Sprintf("policy reports: %v", err)})
		}
	}
	if r.Metrics != nil {
		r.Metrics.Observe(res, start, now().Sub(start))
	}
	return res, nil
}
