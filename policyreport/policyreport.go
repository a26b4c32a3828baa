// Package policyreport writes an audit's findings as the reports that
// policy-reporter and other tools read: wgpolicyk8s.io/v1alpha2
// PolicyReports (one per namespace) and a ClusterPolicyReport, or their
// openreports.io/v1alpha1 successors, Report and ClusterReport. Each run
// replaces gatekeep's reports; a namespace without findings has its report
// removed.
package policyreport

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Format is the API the reports are written in.
type Format string

const (
	// WGPolicy is wgpolicyk8s.io/v1alpha2 PolicyReport and
	// ClusterPolicyReport.
	WGPolicy Format = "wgpolicyk8s"
	// OpenReports is openreports.io/v1alpha1 Report and ClusterReport.
	OpenReports Format = "openreports"
)

// Formats are the names ParseFormat takes.
var Formats = []string{string(WGPolicy), string(OpenReports)}

// ParseFormat reads a --policy-report-format.
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case WGPolicy, OpenReports:
		return Format(s), nil
	}
	return "", fmt.Errorf("policy report format %q: want %s", s, strings.Join(Formats, " or "))
}

// resources are the format's namespaced and cluster-scoped kinds.
func (f Format) resources() (ns, cluster schema.GroupVersionResource, nsKind, clusterKind string) {
	if f == OpenReports {
		gv := schema.GroupVersion{Group: "openreports.io", Version: "v1alpha1"}
		return gv.WithResource("reports"), gv.WithResource("clusterreports"), "Report", "ClusterReport"
	}
	gv := schema.GroupVersion{Group: "wgpolicyk8s.io", Version: "v1alpha2"}
	return gv.WithResource("policyreports"), gv.WithResource("clusterpolicyreports"), "PolicyReport", "ClusterPolicyReport"
}

// Name is the name of every report gatekeep writes (one per namespace,
// one for the cluster); ManagedBy labels them, so that a report of a
// namespace now clean is found and removed.
const (
	Name      = "gatekeep-audit"
	ManagedBy = "gatekeep"
	// Source is each result's source: the engine that found it.
	Source = "gatekeep"
	// DefaultMaxResults bounds the results of one report (an object
	// the API server stores, 1.5 MB at most); the summary still counts
	// them all.
	DefaultMaxResults = 1000
)

const managedByLabel = "app.kubernetes.io/managed-by"

// Writer writes reports to one cluster.
type Writer struct {
	dyn        dynamic.Interface
	format     Format
	now        func() time.Time
	pass       bool
	maxResults int
}

// Option configures a Writer.
type Option func(*Writer)

// WithClock sets the time stamped on results.
func WithClock(now func() time.Time) Option { return func(w *Writer) { w.now = now } }

// WithPass writes a pass result for each object judged without findings
// (the audit must keep them: audit.KeepPassed).
func WithPass(on bool) Option { return func(w *Writer) { w.pass = on } }

// MaxResults bounds the results written per report.
func MaxResults(n int) Option { return func(w *Writer) { w.maxResults = n } }

// New returns a Writer of format f.
func New(dyn dynamic.Interface, f Format, opts ...Option) *Writer {
	w := &Writer{dyn: dyn, format: f, now: time.Now, maxResults: DefaultMaxResults}
	for _, o := range opts {
		o(w)
	}
	return w
}

// Pass says whether pass results are written.
func (w *Writer) Pass() bool { return w.pass }

// Written says what Write did.
type Written struct {
	// Reports written (namespaces, and "" for the cluster's).
	Reports []string
	// Removed are the namespaces whose report went away.
	Removed []string
}

// Write replaces gatekeep's reports with the result's findings.
func (w *Writer) Write(ctx context.Context, res *engine.Result) (Written, error) {
	byNS := map[string][]any{}
	counts := map[string]map[string]int{}
	stamp := w.now().UTC()
	for _, o := range res.Objects {
		ns := o.Object.Namespace
		if counts[ns] == nil {
			counts[ns] = map[string]int{}
		}
		if len(o.Findings) == 0 {
			if w.pass {
				counts[ns]["pass"]++
				byNS[ns] = append(byNS[ns], entry{ref: o.Object, policy: Source, result: "pass", message: "every check passed"}.value(res, stamp))
			}
			continue
		}
		for _, f := range o.Findings {
			result, severity := outcome(f.Action)
			counts[ns][result]++
			e := entry{ref: o.Object, policy: f.Check, result: result, severity: severity, message: f.Message, path: f.Path, action: string(f.Action)}
			byNS[ns] = append(byNS[ns], e.value(res, stamp))
		}
	}
	var out Written
	nsGVR, clusterGVR, nsKind, clusterKind := w.format.resources()
	names := make([]string, 0, len(byNS))
	for ns := range byNS {
		names = append(names, ns)
	}
	sort.Strings(names)
	for _, ns := range names {
		results := byNS[ns]
		truncated := 0
		if len(results) > w.maxResults {
			truncated = len(results) - w.maxResults
			results = results[:w.maxResults]
		}
		gvr, kind := nsGVR, nsKind
		if ns == "" {
			gvr, kind = clusterGVR, clusterKind
		}
		obj := w.report(gvr, kind, ns, results, counts[ns], truncated, res)
		// An empty namespace is the cluster scope.
		ri := w.dyn.Resource(gvr).Namespace(ns)
		// Server-side apply replaces the results (an atomic list) whole.
		if _, err := ri.Apply(ctx, Name, obj, metav1.ApplyOptions{FieldManager: "gatekeep-audit", Force: true}); err != nil {
			return out, fmt.Errorf("write %s %s/%s: %w", kind, ns, Name, err)
		}
		out.Reports = append(out.Reports, ns)
	}
	// What the last run wrote and this one did not: namespaces now clean.
	for _, gvr := range []schema.GroupVersionResource{nsGVR, clusterGVR} {
		list, err := w.dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: managedByLabel + "=" + ManagedBy})
		if err != nil {
			return out, fmt.Errorf("list %s: %w", gvr.Resource, err)
		}
		for _, item := range list.Items {
			ns := item.GetNamespace()
			if _, kept := byNS[ns]; kept || item.GetName() != Name {
				continue
			}
			if err := w.dyn.Resource(gvr).Namespace(ns).Delete(ctx, Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return out, fmt.Errorf("remove %s %s/%s: %w", item.GetKind(), ns, Name, err)
			}
			out.Removed = append(out.Removed, ns)
		}
	}
	return out, nil
}

// outcome is a finding's result and severity.
func outcome(a engine.Action) (result, severity string) {
	switch a {
	case engine.Deny:
		return "fail", "high"
	case engine.Warn:
		return "warn", "medium"
	}
	return "warn", "info" // dryrun: found, not enforced
}

// entry is one result of a report: a finding, or an object that passed.
type entry struct {
	ref                               manifest.Ref
	policy, result, severity, message string
	path, action                      string
}

// value is the result as the report holds it. The policy is the check ID,
// and so is the rule (a check is one rule); the bundle's digest, the
// finding's action and field go in properties.
func (e entry) value(res *engine.Result, stamp time.Time) map[string]any {
	ref := e.ref
	props := map[string]any{"bundle": res.BundleName, "bundleDigest": res.BundleDigest, "kubernetesVersion": res.KubernetesVersion}
	if e.path != "" {
		props["path"] = e.path
	}
	if e.action != "" {
		props["action"] = e.action
	}
	resource := map[string]any{"apiVersion": ref.APIVersion, "kind": ref.Kind, "name": ref.Name}
	if ref.Namespace != "" {
		resource["namespace"] = ref.Namespace
	}
	if ref.UID != "" {
		resource["uid"] = ref.UID
	}
	r := map[string]any{
		"policy":     e.policy,
		"rule":       e.policy,
		"result":     e.result,
		"message":    e.message,
		"source":     Source,
		"scored":     true,
		"properties": props,
		"resources":  []any{resource},
		"timestamp":  map[string]any{"seconds": stamp.Unix(), "nanos": int64(stamp.Nanosecond())},
	}
	if e.severity != "" {
		r["severity"] = e.severity
	}
	return r
}

func (w *Writer) report(gvr schema.GroupVersionResource, kind, ns string, results []any, counts map[string]int, truncated int, res *engine.Result) *unstructured.Unstructured {
	meta := map[string]any{
		"name":   Name,
		"labels": map[string]any{managedByLabel: ManagedBy},
		"annotations": map[string]any{
			"gatekeep.dev/bundle-digest": res.BundleDigest,
		},
	}
	if truncated > 0 {
		meta["annotations"].(map[string]any)["gatekeep.dev/results-left-out"] = fmt.Sprint(truncated)
	}
	if ns != "" {
		meta["namespace"] = ns
	}
	summary := map[string]any{}
	for _, k := range []string{"pass", "fail", "warn", "error", "skip"} {
		summary[k] = int64(counts[k])
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": gvr.GroupVersion().String(),
		"kind":       kind,
		"metadata":   meta,
		"summary":    summary,
		"results":    results,
	}}
}
