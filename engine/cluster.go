package engine

import (
	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// clusterInventory is what a CI run knows of the cluster (see
// ClusterInventory).
type clusterInventory struct {
	origin    string
	ingresses []map[string]any
	objects   []map[string]any
}

// objectKey names an object as a run's objects replace the cluster's: the
// API group (not the version: one object is served at several; the old
// extensions Ingresses are networking.k8s.io's), kind, namespace and name.
// An empty namespace is default, where kubectl applies a namespaced object
// without one; cluster-scoped kinds have no namespaced objects to be mixed
// up with.
type objectKey struct{ group, kind, namespace, name string }

func keyOf(o *manifest.Object) objectKey {
	ref := o.Ref()
	group := ref.Group()
	if ref.Kind == "Ingress" && group == "extensions" {
		group = "networking.k8s.io"
	}
	ns := ref.Namespace
	if ns == "" {
		ns = "default"
	}
	return objectKey{group: group, kind: ref.Kind, namespace: ns, name: ref.Name}
}

// runKeys are the keys of a run's objects.
func runKeys(objs []*manifest.Object) map[objectKey]bool {
	keys := make(map[objectKey]bool, len(objs))
	for _, o := range objs {
		keys[keyOf(o)] = true
	}
	return keys
}

// addHosts puts the cluster's Ingresses the run does not replace into the
// host index, saying where they are.
func (c *clusterInventory) addHosts(idx *checks.HostIndex, run map[objectKey]bool) {
	for _, m := range c.ingresses {
		o := manifest.New(m)
		if run[keyOf(o)] {
			continue
		}
		idx.AddFrom(c.origin, o.Namespace(), o.Name(), checks.IngressClaims(o))
	}
}

// objectsBesides returns the cluster's objects the run does not replace.
func (c *clusterInventory) objectsBesides(run map[objectKey]bool) []map[string]any {
	out := make([]map[string]any, 0, len(c.objects))
	for _, m := range c.objects {
		if !run[keyOf(manifest.New(m))] {
			out = append(out, m)
		}
	}
	return out
}
