package webhook

import (
	"context"
	"fmt"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/gatekeep-dev/gatekeep/secrets"
)

// watchSealingKeys keeps keys equal to the sealed-secrets controller's
// keys: the labelled Secrets of one namespace, and nothing else (gatekeep
// may read Secrets there only). A rotated key is used without a restart.
func watchSealingKeys(ctx context.Context, cfg *rest.Config, namespace string, keys *secrets.Keys, onError func(error)) error {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	req, err := labels.NewRequirement(secrets.KeyLabel, selection.Exists, nil)
	if err != nil {
		return err
	}
	c, err := cache.New(cfg, cache.Options{
		Scheme:            scheme,
		DefaultNamespaces: map[string]cache.Config{namespace: {}},
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.NewSelector().Add(*req)},
		},
	})
	if err != nil {
		return fmt.Errorf("sealing keys cache: %w", err)
	}
	inf, err := c.GetInformer(ctx, &corev1.Secret{})
	if err != nil {
		return fmt.Errorf("watch sealing keys in %s: %w", namespace, err)
	}
	var mu sync.Mutex
	held := map[string]map[string]any{}
	update := func(o any, gone bool) {
		if d, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
			o = d.Obj
		}
		s, ok := o.(*corev1.Secret)
		if !ok {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if gone {
			delete(held, s.Name)
		} else {
			m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(s)
			if err != nil {
				onError(fmt.Errorf("sealing key Secret %s/%s: %w", s.Namespace, s.Name, err))
				return
			}
			m["apiVersion"], m["kind"] = "v1", "Secret"
			held[s.Name] = m
		}
		all := make([]map[string]any, 0, len(held))
		for _, m := range held {
			all = append(all, m)
		}
		ks, err := secrets.KeysFromSecrets(all)
		if err != nil {
			onError(err) // the good keys are still used
		}
		keys.Replace(ks...)
	}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { update(o, false) },
		UpdateFunc: func(_, o any) { update(o, false) },
		DeleteFunc: func(o any) { update(o, true) },
	}); err != nil {
		return err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return fmt.Errorf("sealing keys cache did not sync: %w", context.Cause(ctx))
	}
	return nil
}
