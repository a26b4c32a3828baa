package webhook

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/inventory"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Inventory is what the webhook knows of the cluster, read through
// controller-runtime caches: every Ingress's hosts (namespace, name, hosts
// and paths only, never whole objects: inventory.KeepHosts, the cut
// `gatekeep inventory export` makes too) and every Namespace's labels.
type Inventory struct {
	hosts *checks.HostIndex

	mu         sync.RWMutex
	namespaces map[string]map[string]any // name -> labels
	// objects are the kinds gatekeep.yaml syncs, whole, for data.inventory;
	// sink receives each change (the engine in force).
	objects map[types.UID]map[string]any
	sink    func(add bool, obj map[string]any)

	synced atomic.Bool
}

// NewInventory returns an empty inventory; Start fills it from a cluster.
func NewInventory() *Inventory {
	return &Inventory{hosts: checks.NewHostIndex(), namespaces: map[string]map[string]any{}, objects: map[types.UID]map[string]any{}}
}

// Hosts returns the Ingress host index (benchmarks fill it directly).
func (i *Inventory) Hosts() *checks.HostIndex { return i.hosts }

// Checks returns the inventory as the checks read it.
func (i *Inventory) Checks() *checks.Inventory { return &checks.Inventory{Hosts: i.hosts} }

// Synced reports whether the caches have synced.
func (i *Inventory) Synced() bool { return i.synced.Load() }

// Namespace returns the Namespace object (metadata only), nil if unknown.
func (i *Inventory) Namespace(name string) *manifest.Object {
	i.mu.RLock()
	labels, ok := i.namespaces[name]
	i.mu.RUnlock()
	if !ok {
		return nil
	}
	return manifest.New(map[string]any{
		"apiVersion": "v1", "kind": "Namespace",
		"metadata": map[string]any{"name": name, "labels": labels},
	})
}

// Objects returns the objects of the synced kinds (to fill a new engine's
// data.inventory).
func (i *Inventory) Objects() []map[string]any {
	i.mu.RLock()
	defer i.mu.RUnlock()
	out := make([]map[string]any, 0, len(i.objects))
	for _, o := range i.objects {
		out = append(out, o)
	}
	return out
}

// Start watches the cluster until ctx ends; it returns once the caches have
// synced, or with the reason they could not. sync are the kinds kept whole
// for data.inventory; each change goes to sink.
func (i *Inventory) Start(ctx context.Context, cfg *rest.Config, sync []schema.GroupVersionKind, sink func(add bool, obj map[string]any)) error {
	i.sink = sink
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme: scheme,
		ByObject: map[client.Object]cache.ByObject{
			&networkingv1.Ingress{}: {Transform: inventory.KeepHosts},
		},
		DefaultTransform: cache.TransformStripManagedFields(),
	})
	if err != nil {
		return fmt.Errorf("inventory cache: %w", err)
	}
	ingresses, err := c.GetInformer(ctx, &networkingv1.Ingress{})
	if err != nil {
		return fmt.Errorf("watch Ingresses: %w", err)
	}
	if _, err := ingresses.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { i.setIngress(o) },
		UpdateFunc: func(_, o any) { i.setIngress(o) },
		DeleteFunc: func(o any) { i.deleteIngress(o) },
	}); err != nil {
		return err
	}
	nsMeta := &metav1.PartialObjectMetadata{}
	nsMeta.SetGroupVersionKind(metav1.SchemeGroupVersion.WithKind("Namespace"))
	nsMeta.APIVersion = "v1"
	namespaces, err := c.GetInformer(ctx, nsMeta)
	if err != nil {
		return fmt.Errorf("watch Namespaces: %w", err)
	}
	if _, err := namespaces.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { i.setNamespace(o) },
		UpdateFunc: func(_, o any) { i.setNamespace(o) },
		DeleteFunc: func(o any) { i.deleteNamespace(o) },
	}); err != nil {
		return err
	}
	for _, gvk := range sync {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		inf, err := c.GetInformer(ctx, u)
		if err != nil {
			return fmt.Errorf("watch %s for data.inventory: %w", gvk, err)
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { i.setObject(o) },
			UpdateFunc: func(_, o any) { i.setObject(o) },
			DeleteFunc: func(o any) { i.deleteObject(o) },
		}); err != nil {
			return err
		}
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("inventory caches did not sync: %w", context.Cause(ctx))
	}
	i.synced.Store(true)
	return nil
}

func (i *Inventory) setIngress(o any) {
	ing, ok := o.(*networkingv1.Ingress)
	if !ok {
		return
	}
	m, err := inventory.IngressObject(ing)
	if err != nil {
		return
	}
	i.hosts.Set(ing.Namespace, ing.Name, checks.IngressClaims(manifest.New(m)))
}

func (i *Inventory) deleteIngress(o any) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	if ing, ok := o.(*networkingv1.Ingress); ok {
		i.hosts.Delete(ing.Namespace, ing.Name)
	}
}

func (i *Inventory) setNamespace(o any) {
	ns, ok := o.(*metav1.PartialObjectMetadata)
	if !ok {
		return
	}
	labels := make(map[string]any, len(ns.Labels))
	for k, v := range ns.Labels {
		labels[k] = v
	}
	i.mu.Lock()
	i.namespaces[ns.Name] = labels
	i.mu.Unlock()
}

func (i *Inventory) deleteNamespace(o any) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	if ns, ok := o.(*metav1.PartialObjectMetadata); ok {
		i.mu.Lock()
		delete(i.namespaces, ns.Name)
		i.mu.Unlock()
	}
}

func (i *Inventory) setObject(o any) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	i.mu.Lock()
	i.objects[u.GetUID()] = u.Object
	sink := i.sink
	i.mu.Unlock()
	if sink != nil {
		sink(true, u.Object)
	}
}

func (i *Inventory) deleteObject(o any) {
	if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
		o = d.Obj
	}
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return
	}
	i.mu.Lock()
	delete(i.objects, u.GetUID())
	sink := i.sink
	i.mu.Unlock()
	if sink != nil {
		sink(false, u.Object)
	}
}
