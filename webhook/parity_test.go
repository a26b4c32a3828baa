package webhook

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// TestParityWithCheck sends every object of the example infra repo through
// the API server, one by one, and compares the cluster's verdict with what
// gatekeep check says of the same object given the same inventory (what the
// cluster held when it arrived): a manifest that passes check is admitted,
// and one the cluster refuses fails check. CI-only checks are left out of
// the comparison, since the cluster does not run them by design.
func TestParityWithCheck(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	t.Chdir("../testdata/infra-repo")
	set := manifest.Load(ctx, []string{"."})
	if len(set.Errors) > 0 || len(set.Objects) < 20 {
		t.Fatalf("load infra repo: %d objects, errors %v", len(set.Objects), set.Errors)
	}
	ci := ciEngine(t, c)
	admissionChecks := map[string]bool{}
	for _, ch := range c.server.Engines().Get().Checks() {
		admissionChecks[ch.ID] = true
	}

	dc, err := discovery.NewDiscoveryClientForConfig(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))
	for _, ns := range []string{"argocd", "dk-1234", "monitoring", "production", "staging"} {
		ensureNamespace(t, c, ns)
	}

	var admitted []*manifest.Object
	// compared counts the objects whose cluster verdict is gatekeep's:
	// admitted, or refused by one of its webhooks. The others must be ones
	// the API server does not serve (notServed): an object refused for any
	// other reason was not compared with check at all.
	compared, notServed, gatekeepDenied := 0, 0, 0
	for _, o := range set.Objects {
		// CI's verdict for o, with the objects the cluster already holds.
		res, err := ci.Check(ctx, &manifest.Set{Objects: append(append([]*manifest.Object{}, admitted...), o)})
		if err != nil {
			t.Fatal(err)
		}
		var ciDenials []string
		for _, f := range res.Objects[len(res.Objects)-1].Findings {
			if f.Action == engine.Deny && admissionChecks[f.Check] {
				ciDenials = append(ciDenials, f.Check)
			}
		}

		refused, how := create(ctx, c, mapper, o)
		t.Logf("%-45s check denies %v, cluster refused %v", o.Ref(), ciDenials, refused)
		if refused {
			if len(ciDenials) == 0 {
				t.Errorf("%s (%s:%d): the cluster refused it (%s) but gatekeep check passes it", o.Ref(), o.Source.File, o.Source.Line, how)
			}
		} else {
			admitted = append(admitted, o)
			if len(ciDenials) > 0 {
				t.Errorf("%s (%s:%d): gatekeep check denies it (%v) but the cluster admitted it", o.Ref(), o.Source.File, o.Source.Line, ciDenials)
			}
			if o.Kind() == "Ingress" {
				waitFor(t, "the host index", func() bool { return len(c.server.Inventory().hosts.Claims(o.Namespace(), o.Name())) > 0 })
			}
		}
		for _, d := range ciDenials {
			if refused && !strings.Contains(how, d) && !strings.Contains(how, "not served") {
				t.Errorf("%s: check denies with %s, the cluster refused with %q", o.Ref(), d, how)
			}
		}
		switch {
		case !refused:
			compared++
		case deniedByGatekeep(how):
			compared++
			gatekeepDenied++
		case strings.HasPrefix(how, "not served"):
			notServed++
		default:
			t.Errorf("%s: refused, but not by gatekeep: %s", o.Ref(), how)
		}
	}
	if compared+notServed != len(set.Objects) {
		t.Errorf("compared %d of %d objects (%d not served)", compared, len(set.Objects), notServed)
	}
	// The repo's deliberate problems must have been met on both sides:
	// gatekeep itself, not only the API server, refused some.
	if gatekeepDenied == 0 {
		t.Errorf("gatekeep denied no object: the parity test saw no denial of its")
	}
}

// deniedByGatekeep: the API server's error is one of gatekeep's webhooks
// denying the request (not failing to be called).
func deniedByGatekeep(how string) bool {
	return strings.Contains(how, `admission webhook "validate.gatekeep.dev" denied the request`) ||
		strings.Contains(how, `admission webhook "mutate.gatekeep.dev" denied the request`)
}

// create sends o to the API server and says whether it was refused, and how.
func create(ctx context.Context, c *controlPlane, mapper meta.RESTMapper, o *manifest.Object) (bool, string) {
	gv, err := schema.ParseGroupVersion(o.APIVersion())
	if err != nil {
		return true, err.Error()
	}
	m, err := mapper.RESTMapping(schema.GroupKind{Group: gv.Group, Kind: o.Kind()}, gv.Version)
	if err != nil {
		return true, "not served: " + err.Error()
	}
	u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(o.Data)}
	var ri interface {
		Create(context.Context, *unstructured.Unstructured, metav1.CreateOptions, ...string) (*unstructured.Unstructured, error)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = c.dynamic.Resource(m.Resource).Namespace(o.Namespace())
	} else {
		ri = c.dynamic.Resource(m.Resource)
	}
	_, err = ri.Create(ctx, u, metav1.CreateOptions{})
	switch {
	case err == nil, apierrors.IsAlreadyExists(err):
		return false, ""
	default:
		return true, err.Error()
	}
}

func ensureNamespace(t *testing.T, c *controlPlane, name string) {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": name}}}
	_, err := c.dynamic.Resource(schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}).Create(context.Background(), u, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("namespace %s: %v", name, err)
	}
	waitFor(t, "namespace "+name, func() bool { return c.server.Inventory().Namespace(name) != nil })
}

// ciEngine is gatekeep check's engine for the same bundle the server uses.
func ciEngine(t *testing.T, c *controlPlane) *engine.Engine {
	t.Helper()
	b, err := bundle.LoadOverBuiltin(c.bundleDir)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := engine.New(b, engine.WithMode(engine.CI))
	if err != nil {
		t.Fatal(err)
	}
	return eng
}
