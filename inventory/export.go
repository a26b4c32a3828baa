package inventory

import (
	"context"
	"fmt"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/pager"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/gatekeeper"
)

// DefaultPageSize is how many objects one list request asks for.
const DefaultPageSize = 500

// Options tune Export.
type Options struct {
	// PageSize is the limit of each list request (DefaultPageSize if 0).
	PageSize int64
	// Now gives the export time (time.Now if nil).
	Now func() time.Time
}

// Export reads what the bundle's inventory checks need of the cluster at
// cfg: its Ingresses, cut by SlimIngress (unless the bundle turns
// ingress-host-collision off), and the objects of the bundle's sync:
// kinds its Gatekeeper templates can read, cut by Trim to the fields
// they read. Lists go page by page (limit and continue), each object cut
// as it arrives, so a large cluster is not held whole. The file is
// stamped with the bundle's digest and the time.
func Export(ctx context.Context, cfg *rest.Config, b *bundle.Bundle, opts Options) (*File, error) {
	if opts.PageSize <= 0 {
		opts.PageSize = DefaultPageSize
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	f := &File{
		APIVersion: APIVersion, Kind: Kind, BundleDigest: b.Digest,
		ExportedAt: now().UTC().Truncate(time.Second), Server: cfg.Host,
		Ingresses: []map[string]any{}, Objects: []map[string]any{},
	}
	if b.Config.Checks[checks.IngressHostCollision.ID] != bundle.Off {
		kube, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
		}
		list := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return kube.NetworkingV1().Ingresses("").List(ctx, o)
		}
		err = each(ctx, list, opts.PageSize, func(o runtime.Object) error {
			ing, ok := o.(*networkingv1.Ingress)
			if !ok {
				return fmt.Errorf("listing Ingresses gave a %T", o)
			}
			m, err := IngressObject(ing)
			if err != nil {
				return fmt.Errorf("ingress %s/%s: %w", ing.Namespace, ing.Name, err)
			}
			f.Ingresses = append(f.Ingresses, m)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list Ingresses: %w", err)
		}
	}
	if len(b.Config.Sync) == 0 {
		return f, nil
	}
	docs := make([]gatekeeper.Document, 0, len(b.Objects))
	for _, o := range b.Objects {
		if gatekeeper.IsTemplate(o.Data) {
			docs = append(docs, gatekeeper.DocumentOf(o))
		}
	}
	reads, err := gatekeeper.InventoryFieldsOf(docs)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", b.Name, err)
	}
	var mapper meta.RESTMapper
	var dyn dynamic.Interface
	seen := map[schema.GroupVersionKind]bool{}
	for _, s := range b.Config.Sync {
		gvk := schema.GroupVersionKind{Group: s.Group, Version: s.Version, Kind: s.Kind}
		fields, read := reads.Fields(gvk.GroupVersion().String(), gvk.Kind)
		if !read || seen[gvk] {
			continue // no template reads it: nothing to export
		}
		seen[gvk] = true
		if mapper == nil {
			dc, err := discovery.NewDiscoveryClientForConfig(cfg)
			if err != nil {
				return nil, fmt.Errorf("discovery client for %s: %w", cfg.Host, err)
			}
			mapper = restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
			if dyn, err = dynamic.NewForConfig(cfg); err != nil {
				return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
			}
		}
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return nil, fmt.Errorf("sync kind %s: %w", gvk, err)
		}
		list := func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			return dyn.Resource(m.Resource).List(ctx, o)
		}
		err = each(ctx, list, opts.PageSize, func(o runtime.Object) error {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				return fmt.Errorf("listing %s gave a %T", gvk, o)
			}
			u.SetGroupVersionKind(gvk)
			f.Objects = append(f.Objects, Trim(u.Object, fields))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", m.Resource.GroupResource(), err)
		}
	}
	return f, nil
}

// each lists page by page, calling fn on each item as its page arrives,
// one page fetched ahead at most.
func each(ctx context.Context, list pager.ListPageFunc, pageSize int64, fn func(runtime.Object) error) error {
	p := pager.New(list)
	p.PageSize = pageSize
	p.PageBufferSize = 1
	return p.EachListItem(ctx, metav1.ListOptions{}, fn)
}
