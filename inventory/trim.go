package inventory

import (
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/gatekeep-dev/gatekeep/gatekeeper"
)

// SlimIngress cuts an Ingress to what the host index needs: its name,
// namespace, uid and resourceVersion, its rules' hosts and paths and its
// TLS hosts. The webhook's cache keeps Ingresses so (KeepHosts), and an
// export writes them so.
func SlimIngress(ing *networkingv1.Ingress) *networkingv1.Ingress {
	slim := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{
		Name: ing.Name, Namespace: ing.Namespace, UID: ing.UID, ResourceVersion: ing.ResourceVersion,
	}}
	for _, r := range ing.Spec.Rules {
		rule := networkingv1.IngressRule{Host: r.Host}
		if r.HTTP != nil {
			rule.HTTP = &networkingv1.HTTPIngressRuleValue{}
			for _, p := range r.HTTP.Paths {
				rule.HTTP.Paths = append(rule.HTTP.Paths, networkingv1.HTTPIngressPath{Path: p.Path})
			}
		}
		slim.Spec.Rules = append(slim.Spec.Rules, rule)
	}
	for _, t := range ing.Spec.TLS {
		slim.Spec.TLS = append(slim.Spec.TLS, networkingv1.IngressTLS{Hosts: t.Hosts})
	}
	return slim
}

// KeepHosts is SlimIngress as a cache transform (controller-runtime's
// cache.TransformFunc): other objects pass unchanged.
func KeepHosts(o any) (any, error) {
	ing, ok := o.(*networkingv1.Ingress)
	if !ok {
		return o, nil
	}
	return SlimIngress(ing), nil
}

// IngressObject is an Ingress as the checks read objects (JSON-decoded,
// with apiVersion and kind): the form of the inventory file's ingresses.
// The empty backends and path types the typed form cannot leave out are.
func IngressObject(ing *networkingv1.Ingress) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(SlimIngress(ing))
	if err != nil {
		return nil, err
	}
	m["apiVersion"], m["kind"] = "networking.k8s.io/v1", "Ingress"
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "creationTimestamp")
	}
	delete(m, "status")
	spec, _ := m["spec"].(map[string]any)
	rules, _ := spec["rules"].([]any)
	for _, r := range rules {
		http, _ := r.(map[string]any)["http"].(map[string]any)
		paths, _ := http["paths"].([]any)
		for _, p := range paths {
			if pm, ok := p.(map[string]any); ok {
				delete(pm, "backend")
				if pm["pathType"] == nil {
					delete(pm, "pathType")
				}
			}
		}
	}
	return m, nil
}

// IsIngress tells an Ingress (networking.k8s.io or the old extensions).
func IsIngress(o map[string]any) bool {
	if str(o["kind"]) != "Ingress" {
		return false
	}
	group, _, _ := cutLast(str(o["apiVersion"]), "/")
	return group == "networking.k8s.io" || group == "extensions"
}

func isSecret(o map[string]any) bool {
	return str(o["kind"]) == "Secret" && str(o["apiVersion"]) == "v1"
}

// lastApplied is the annotation kubectl apply keeps the applied object in:
// a Secret's holds its data.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// Trim cuts an object to what the templates read of its kind (fields from
// gatekeeper.InventoryFields.Fields: nil keeps the whole object but
// metadata.managedFields). apiVersion, kind and metadata name, namespace,
// labels and uid are always kept. A Secret never keeps data, stringData
// or the last-applied-configuration annotation (which holds them), even
// where a template reads them. The object is not changed; the result may
// share values with it.
func Trim(obj map[string]any, fields [][]string) map[string]any {
	var out map[string]any
	if fields == nil {
		out = cloneMap(obj)
	} else {
		keep := &node{}
		for _, f := range append([][]string{{"apiVersion"}, {"kind"}, {"metadata", "name"}, {"metadata", "namespace"}, {"metadata", "labels"}, {"metadata", "uid"}}, fields...) {
			keep.add(f)
		}
		out = keep.copy(obj)
	}
	if md, ok := out["metadata"].(map[string]any); ok {
		md = cloneMap(md)
		delete(md, "managedFields")
		if isSecret(obj) {
			if a, ok := md["annotations"].(map[string]any); ok {
				a = cloneMap(a)
				delete(a, lastApplied)
				md["annotations"] = a
			}
		}
		out["metadata"] = md
	}
	if isSecret(obj) {
		delete(out, "data")
		delete(out, "stringData")
	}
	return out
}

// node is a tree of field paths: a leaf keeps the whole value there.
type node struct {
	leaf     bool
	children map[string]*node
}

func (n *node) add(path []string) {
	for _, k := range path {
		if n.leaf {
			return // a prefix is kept whole
		}
		if n.children == nil {
			n.children = map[string]*node{}
		}
		c, ok := n.children[k]
		if !ok {
			c = &node{}
			n.children[k] = c
		}
		n = c
	}
	n.leaf, n.children = true, nil
}

// copy returns the parts of src the tree keeps, in new maps.
func (n *node) copy(src map[string]any) map[string]any {
	out := map[string]any{}
	for k, c := range n.children {
		v, ok := src[k]
		if !ok {
			continue
		}
		if c.leaf {
			out[k] = v
			continue
		}
		if m, ok := v.(map[string]any); ok {
			if sub := c.copy(m); len(sub) > 0 { // nothing read is there
				out[k] = sub
			}
		}
	}
	return out
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TrimFor trims an object for the templates' reads; ok is false when no
// template reads its kind.
func TrimFor(obj map[string]any, reads *gatekeeper.InventoryFields) (map[string]any, bool) {
	fields, ok := reads.Fields(str(obj["apiVersion"]), str(obj["kind"]))
	if !ok {
		return nil, false
	}
	return Trim(obj, fields), true
}
