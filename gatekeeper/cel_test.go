package gatekeeper

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestCELTemplate(t *testing.T) {
	ctx := context.Background()
	p := loadBundle(t, "testdata/policies").policy(t)
	pvc := func(size, extra string) Request {
		return Request{Object: obj(t, fmt.Sprintf(`
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data, namespace: shop%s}
spec: {resources: {requests: {storage: %s}}}
`, extra, size))}
	}
	pod := func(ns string, policies ...string) Request {
		var cs []string
		for i, p := range policies {
			cs = append(cs, fmt.Sprintf("{name: c%d, image: nginx, imagePullPolicy: %s}", i, p))
		}
		return Request{
			Object:    obj(t, fmt.Sprintf("{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: %s}, spec: {containers: [%s]}}", ns, strings.Join(cs, ", "))),
			Namespace: obj(t, fmt.Sprintf("{apiVersion: v1, kind: Namespace, metadata: {name: %s}}", ns)),
		}
	}
	cases := []struct {
		name string
		req  Request
		want []string
	}{
		{"small claim", pvc("10Gi", ""), nil},
		{"big claim", pvc("200Gi", ""), []string{"AcmePVCSize/claims-up-to-50gi warn: claim data requests 200Gi, more than 50Gi"}},
		{"quantities compare by value", pvc("51200Mi", ""), nil},
		{"matchConditions exempt", pvc("1Ti", `, annotations: {"acme.example.com/size-exempt": "yes"}`), nil},
		{"no request at all", Request{Object: obj(t, `{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data, namespace: shop}, spec: {}}`)}, nil},
		// Written as the library's CEL templates are (has() on
		// variables.params, lowerAscii()), which a CEL environment of
		// one's own may not declare.
		{"pull policies compared without case", pod("pull", "Always", "ifnotpresent"), nil},
		{"pull policy not allowed", pod("pull", "Never", "Always"), []string{"AcmePullPolicy/pull-always-or-ifnotpresent deny: containers with a pull policy not allowed: c0"}},
		{"no parameters: the template's default", pod("pull-default", "IfNotPresent", "ALWAYS"), []string{"AcmePullPolicy/pull-default deny: containers with a pull policy not allowed: c0"}},
		{"DELETE: object is null, anyObject is the old object", Request{OldObject: pvc("200Gi", "").Object, Operation: "DELETE"},
			[]string{"AcmePVCSize/claims-up-to-50gi warn: claim data requests 200Gi, more than 50Gi"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			vs, err := p.Review(ctx, c.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.Check+" "+v.Action+": "+v.Message)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	// Without the CEL engine the template cannot load, and says so.
	b := loadBundle(t, "testdata/policies")
	_, err := New(ctx, b.templates, b.constraints, WithEngines(RegoEngine))
	if err == nil {
		t.Fatal("a CEL-only template loaded without the CEL engine")
	}
	t.Log(err)
}

// TestBothEnginesSameVerdict runs the template that carries both CEL and
// Rego code with each engine: the violations must be identical.
func TestBothEnginesSameVerdict(t *testing.T) {
	ctx := context.Background()
	b := loadBundle(t, "testdata/policies")
	var tdocs, cdocs []Document
	for _, d := range b.templates {
		if metaOf(d.Object)["name"] == "acmehostnamespaces" {
			tdocs = append(tdocs, d)
		}
	}
	for _, d := range b.constraints {
		if d.Object["kind"] == "AcmeHostNamespaces" {
			cdocs = append(cdocs, d)
		}
	}
	allow := Document{Object: obj(t, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: AcmeHostNamespaces
metadata: {name: network-allowed-in-ingress}
spec:
  match: {namespaces: [ingress]}
  parameters: {allowHostNetwork: true}
`)}
	cdocs = append(cdocs, allow)
	withCEL, err := New(ctx, tdocs, cdocs)
	if err != nil {
		t.Fatal(err)
	}
	withRego, err := New(ctx, tdocs, cdocs, WithEngines(RegoEngine))
	if err != nil {
		t.Fatal(err)
	}
	var objects []Request
	for _, kind := range []string{"Pod", "Deployment", "DaemonSet"} {
		for _, ns := range []string{"shop", "ingress", "kube-system"} {
			for _, spec := range []string{"{}", "{hostPID: true}", "{hostNetwork: true}", "{hostIPC: true, hostNetwork: true, hostPID: false}", "{hostNetwork: false}"} {
				var y string
				if kind == "Pod" {
					y = fmt.Sprintf(`{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: %s}, spec: %s}`, ns, spec)
				} else {
					y = fmt.Sprintf(`{apiVersion: apps/v1, kind: %s, metadata: {name: w, namespace: %s}, spec: {template: {spec: %s}}}`, kind, ns, spec)
				}
				objects = append(objects, Request{Object: obj(t, y)})
			}
		}
	}
	objects = append(objects, Request{OldObject: obj(t, `{apiVersion: v1, kind: Pod, metadata: {name: gone, namespace: shop}, spec: {hostPID: true}}`), Operation: "DELETE"})
	total := 0
	for _, r := range objects {
		a, err := withCEL.Review(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		b, err := withRego.Review(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%v:\n CEL  %s\n Rego %s", r.Object, dump(a), dump(b))
		}
		total += len(a)
	}
	if total < 20 {
		t.Errorf("only %d violations: the objects do not exercise the template", total)
	}
}
