// Package audit judges the objects a cluster already holds, with the same
// engine and bundle as the webhook: it lists every kind the API server
// serves, page by page, reviews each object as CI reviews a manifest, and
// keeps only the objects that have findings, so that its memory is a page
// and the findings, whatever the size of the cluster.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/pager"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/deprecation"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/parallel"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// DefaultPageSize is the number of objects asked for per list request.
const DefaultPageSize = 500

// Option configures a Run.
type Option func(*config)

type config struct {
	pageSize   int64
	exclude    func(ns string) bool
	namespace  func(name string) *manifest.Object
	progress   func(Progress)
	keepPassed bool
}

// PageSize sets the objects asked for per list request (limit).
func PageSize(n int64) Option { return func(c *config) { c.pageSize = n } }

// ExcludeNamespaces leaves out the objects of the namespaces f says, as
// the webhook configuration does (gatekeep's own, kube-system, ...). The
// bundle's exempt namespaces are left out anyway.
func ExcludeNamespaces(f func(ns string) bool) Option {
	return func(c *config) { c.exclude = f }
}

// KeepPassed keeps the objects without findings in the result too (for
// pass results in PolicyReports); without it only their count is kept.
func KeepPassed(on bool) Option { return func(c *config) { c.keepPassed = on } }

// NamespaceObjects gives the Namespace object of a name (its labels), for
// namespace selectors, as the webhook's inventory does.
func NamespaceObjects(f func(name string) *manifest.Object) Option {
	return func(c *config) { c.namespace = f }
}

// OnProgress is called after each page judged, and when a kind is done.
func OnProgress(f func(Progress)) Option { return func(c *config) { c.progress = f } }

// Progress says how far a run is.
type Progress struct {
	// Kinds listed so far (the one being listed included), of KindsTotal.
	Kinds, KindsTotal int
	// Kind is the one being listed: "apps/v1 Deployment".
	Kind string
	// Objects judged so far.
	Objects int
}

// skipped are the resources an audit does not list: records of what
// happened and heartbeats (Events, Leases), not objects anyone applies; the
// health probes ComponentStatus answers with; and v1 Endpoints, which the
// control plane writes for every Service (deprecated since 1.33, so each
// would be a finding about the control plane, not about its owner).
var skipped = map[schema.GroupResource]bool{
	{Group: "", Resource: "componentstatuses"}:         true,
	{Group: "", Resource: "endpoints"}:                 true,
	{Group: "", Resource: "events"}:                    true,
	{Group: "events.k8s.io", Resource: "events"}:       true,
	{Group: "coordination.k8s.io", Resource: "leases"}: true,
}

// Run audits the cluster: every object the engine may judge, with inv (the
// cluster's Ingress hosts; Gatekeeper's data.inventory is the engine's own)
// as what the checks know beyond it. The result holds the objects with
// findings; Audited counts every object judged. A kind that cannot be
// listed is an error of the result, and the other kinds are still audited;
// one RBAC forbids listing is counted in Skipped.
func Run(ctx context.Context, cfg *rest.Config, eng *engine.Engine, inv *checks.Inventory, opts ...Option) (*engine.Result, error) {
	c := config{pageSize: DefaultPageSize}
	for _, o := range opts {
		o(&c)
	}
	// Reading an object at the deprecated version it was written with is
	// the point, not something to warn about on stderr.
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = rest.NoWarnings{}
	if cfg.QPS == 0 {
		// client-go's default (5 a second) would make a list per kind
		// and page wait on the client, not the API server, whose
		// priority and fairness still bounds the audit's share.
		cfg.QPS, cfg.Burst = 50, 100
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	b := eng.Bundle()
	r := &engine.Result{BundleName: b.Name, BundleDigest: b.Digest, KubernetesVersion: eng.KubernetesVersion().String()}
	kinds, served, err := listable(disc)
	if err != nil {
		if len(kinds) == 0 {
			return nil, fmt.Errorf("audit: discover the cluster's kinds: %w", err)
		}
		// Some groups did not answer (an aggregated API down): the
		// others are still audited.
		r.Errors = append(r.Errors, manifest.Error{File: "(cluster)", Message: fmt.Sprintf("discovery: %v", err)})
	}
	a := &auditor{cfg: c, dyn: dyn, eng: eng, inv: inv, served: served, result: r}
	// Without a table no object is read at another version: judged as
	// listed, as a bundle without deprecations would have it.
	a.deprecations, _ = b.Deprecations()
	for i, k := range kinds {
		a.progress = Progress{Kinds: i + 1, KindsTotal: len(kinds), Kind: k.String(), Objects: a.progress.Objects}
		if err := a.list(ctx, k); err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			var reviewErr *reviewError
			if errors.As(err, &reviewErr) {
				return r, err
			}
			if apierrors.IsForbidden(err) {
				// RBAC narrowed on purpose (Secrets kept out): said
				// in the summary, not an error.
				if r.Skipped == nil {
					r.Skipped = map[string]int{}
				}
				r.Skipped["not readable: "+k.String()]++
				continue
			}
			r.Errors = append(r.Errors, manifest.Error{File: "(cluster)", Message: fmt.Sprintf("list %s: %v", k, err)})
		}
	}
	r.Combined = append(r.Combined, eng.BundleFindings()...)
	sort.SliceStable(r.Objects, func(i, j int) bool { return refLess(r.Objects[i].Object, r.Objects[j].Object) })
	return r, nil
}

// kind is one listable resource at the version the API server prefers.
type kind struct {
	gvr  schema.GroupVersionResource
	kind string
}

func (k kind) String() string {
	return schema.GroupVersion{Group: k.gvr.Group, Version: k.gvr.Version}.String() + " " + k.kind
}

// listable returns the kinds to list, in a stable order, and every served
// group/version (to read an object at the version it was written in).
func listable(disc discovery.DiscoveryInterface) ([]kind, map[string]bool, error) {
	served := map[string]bool{}
	groups, err := disc.ServerGroups()
	if err != nil {
		return nil, nil, err
	}
	for _, g := range groups.Groups {
		for _, v := range g.Versions {
			served[v.GroupVersion] = true
		}
	}
	lists, err := disc.ServerPreferredResources()
	var out []kind
	for _, l := range lists {
		gv, perr := schema.ParseGroupVersion(l.GroupVersion)
		if perr != nil {
			continue
		}
		for _, res := range l.APIResources {
			if strings.Contains(res.Name, "/") || !slices.Contains(res.Verbs, "list") || skipped[gv.WithResource(res.Name).GroupResource()] {
				continue
			}
			out = append(out, kind{gvr: gv.WithResource(res.Name), kind: res.Kind})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, served, err
}

type auditor struct {
	cfg      config
	dyn      dynamic.Interface
	eng      *engine.Engine
	inv      *checks.Inventory
	served   map[string]bool
	result   *engine.Result
	progress Progress
	// deprecations is the bundle's deprecated-API table (nil if it has
	// none that loads).
	deprecations *deprecation.Table
}

// reviewError is an object the engine could not judge: the run stops, as
// check stops.
type reviewError struct{ err error }

func (e *reviewError) Error() string { return e.err.Error() }
func (e *reviewError) Unwrap() error { return e.err }

// list judges every object of one kind, a page at a time.
func (a *auditor) list(ctx context.Context, k kind) error {
	p := pager.New(func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
		return a.dyn.Resource(k.gvr).List(ctx, opts)
	})
	p.PageSize = a.cfg.pageSize
	older := a.deprecatedVersions(k)
	// The pages are judged as they come: the pager's buffering of a
	// whole list (a fallback when continue tokens expire) is not used.
	var page []*manifest.Object
	flush := func() error {
		err := a.judge(ctx, page)
		page = page[:0]
		if a.cfg.progress != nil {
			a.cfg.progress(a.progress) // also for a kind without objects
		}
		return err
	}
	err := p.EachListItem(ctx, metav1.ListOptions{}, func(o runtime.Object) error {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			return nil
		}
		if ns := u.GetNamespace(); ns != "" && a.excluded(ns) {
			return nil
		}
		obj, err := a.object(ctx, k, older, u)
		if err != nil {
			return err
		}
		page = append(page, obj)
		if int64(len(page)) >= a.cfg.pageSize {
			return flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return flush()
}

func (a *auditor) excluded(ns string) bool {
	return a.cfg.exclude != nil && a.cfg.exclude(ns) || a.eng.Bundle().Config.ExemptNamespace(ns)
}

// object is the listed object as its manifest would have been written: at
// the apiVersion it was last applied or written with when that is one of
// older, the kind's deprecated versions the API server still serves (so a
// deprecated API in use is found, as Pluto finds it), without the fields
// the API server keeps for itself.
func (a *auditor) object(ctx context.Context, k kind, older map[string]bool, u *unstructured.Unstructured) (*manifest.Object, error) {
	// Most kinds have no such version: their objects' annotations and
	// field managers are not read.
	if len(older) > 0 {
		if av := writtenAPIVersion(u, k); older[av] {
			gv, _ := schema.ParseGroupVersion(av)
			// An empty namespace is the cluster scope.
			got, err := a.dyn.Resource(gv.WithResource(k.gvr.Resource)).Namespace(u.GetNamespace()).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err == nil {
				u = got
			} // gone since it was listed, or refused: judge it as listed
		}
	}
	unstructured.RemoveNestedField(u.Object, "metadata", "managedFields")
	obj, err := manifest.FromJSONValue(u.Object)
	if err != nil {
		return nil, fmt.Errorf("%s %s/%s: %w", k, u.GetNamespace(), u.GetName(), err)
	}
	return obj, nil
}

// deprecatedVersions are the apiVersions of k's group, other than the
// listed one, that the API server serves and the bundle's table knows for
// k's kind at the target version.
func (a *auditor) deprecatedVersions(k kind) map[string]bool {
	if a.deprecations == nil {
		return nil
	}
	var out map[string]bool
	for gv := range a.served {
		g, err := schema.ParseGroupVersion(gv)
		if err != nil || g.Group != k.gvr.Group || g.Version == k.gvr.Version {
			continue
		}
		if _, ok := a.deprecations.Lookup(gv, k.kind, a.eng.KubernetesVersion()); ok {
			if out == nil {
				out = map[string]bool{}
			}
			out[gv] = true
		}
	}
	return out
}

// lastApplied is kubectl's annotation of the manifest last applied.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// writtenAPIVersion is the apiVersion of the group other than the listed
// one that the object was written with: its kubectl last-applied manifest's,
// else that of a field manager's (server-side apply and updates record
// the version they used). "" when there is none.
func writtenAPIVersion(u *unstructured.Unstructured, k kind) string {
	listed := schema.GroupVersion{Group: k.gvr.Group, Version: k.gvr.Version}.String()
	sameGroup := func(av string) bool {
		gv, err := schema.ParseGroupVersion(av)
		return err == nil && gv.Group == k.gvr.Group && av != listed
	}
	if s := u.GetAnnotations()[lastApplied]; s != "" {
		var m struct{ APIVersion string }
		if err := json.Unmarshal([]byte(s), &m); err == nil && sameGroup(m.APIVersion) {
			return m.APIVersion
		}
	}
	var versions []string
	for _, mf := range u.GetManagedFields() {
		if mf.Subresource == "" && sameGroup(mf.APIVersion) {
			versions = append(versions, mf.APIVersion)
		}
	}
	if len(versions) == 0 {
		return ""
	}
	slices.Sort(versions)
	return versions[0]
}

// judge reviews a page of objects on every core, keeping those with
// findings.
func (a *auditor) judge(ctx context.Context, page []*manifest.Object) error {
	if len(page) == 0 {
		return nil
	}
	results := make([]engine.ObjectResult, len(page))
	errs := make([]error, len(page))
	parallel.For(len(page), func(i int) {
		o := page[i]
		req := engine.Request{Operation: "CREATE", Object: o}
		if a.cfg.namespace != nil && o.Namespace() != "" {
			req.Namespace = a.cfg.namespace(o.Namespace())
		}
		fs, err := a.eng.Review(ctx, req, a.inv)
		if err != nil {
			errs[i] = &reviewError{fmt.Errorf("%s: %w", o.Ref(), err)}
			return
		}
		results[i] = engine.ObjectResult{Object: o.Ref(), Findings: fs}
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	for _, res := range results {
		if len(res.Findings) > 0 || a.cfg.keepPassed {
			a.result.Objects = append(a.result.Objects, res)
		}
	}
	a.result.Audited += len(page)
	a.progress.Objects += len(page)
	return nil
}

func refLess(a, b manifest.Ref) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Kind != b.Kind {
		return a.Kind < b.Kind
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	return a.APIVersion < b.APIVersion
}
