package main

import (
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// A target Kubernetes minor gatekeep has no schemas for is unusable input
// (exit 2) naming the supported range, whether the flag or the bundle
// names it, and whatever checks run.
func TestUnsupportedKubernetesVersion(t *testing.T) {
	dir := tree(t, map[string]string{
		"cm.yaml":              cleanCM,
		"old/gatekeep.yaml":    "kubernetesVersion: \"1.15\"\n",
		"recent/gatekeep.yaml": "kubernetesVersion: \"1.16\"\n",
	})
	latest := kubeversion.Latest.MinorString()
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"--kubernetes-version", "1.15"}, exitUnusable, "Kubernetes 1.15 is not supported: gatekeep knows 1.16 to " + latest},
		{[]string{"--kubernetes-version", "1.99"}, exitUnusable, "Kubernetes 1.99 is not supported: gatekeep knows 1.16 to " + latest},
		{[]string{"--kubernetes-version", "v1.15.3", "--only", "deprecated-api"}, exitUnusable, "Kubernetes 1.15 is not supported: gatekeep knows 1.16 to " + latest},
		{[]string{"--bundle", "old"}, exitUnusable, "Kubernetes 1.15 is not supported: gatekeep knows 1.16 to " + latest},
		{[]string{"--bundle", "old", "--kubernetes-version", "1.16"}, exitPass, ""},
		{[]string{"--bundle", "recent"}, exitPass, ""},
		{[]string{"--kubernetes-version", latest}, exitPass, ""},
	} {
		out, code, msg := run(t, dir, "", append(append([]string{"check"}, tc.args...), "cm.yaml")...)
		if code != tc.code || (tc.msg == "" && msg != "") || !strings.Contains(msg, tc.msg) {
			t.Errorf("check %v: exit %d %q, want %d %q\n%s", tc.args, code, msg, tc.code, tc.msg, out)
		}
	}
}

// Whether the target serves an object's apiVersion and kind is answered by
// the target's own minor, and said once: by deprecated-api when its table
// lists the API as removed, else by schema.
func TestServedByTargetVersion(t *testing.T) {
	const hpa = "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\nmetadata: {name: web, namespace: shop}\n" +
		"spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 1, maxReplicas: 3}\n"
	dir := tree(t, map[string]string{
		"hpa.yaml":        hpa,
		"flow.yaml":       "apiVersion: flowcontrol.apiserver.k8s.io/v1\nkind: FlowSchema\nmetadata: {name: f}\nspec: {priorityLevelConfiguration: {name: global-default}}\n",
		"typo.yaml":       "apiVersion: apps/v1\nkind: Deploymnet\nmetadata: {name: d, namespace: shop}\n",
		"rs.yaml":         "apiVersion: apps/v1beta1\nkind: ReplicaSet\nmetadata: {name: r, namespace: shop}\n",
		"deployment.yaml": "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\n",
	})
	for _, tc := range []struct {
		version, file string
		want          []string
	}{
		{"1.22", "hpa.yaml", []string{"schema deny hpa.yaml:1 /apiVersion: /apiVersion: autoscaling/v2 HorizontalPodAutoscaler is not served by Kubernetes 1.22; it serves autoscaling/v1, autoscaling/v2beta1, autoscaling/v2beta2"}},
		{"1.23", "hpa.yaml", nil},
		{"1.28", "flow.yaml", []string{"schema deny flow.yaml:1 /apiVersion: /apiVersion: flowcontrol.apiserver.k8s.io/v1 FlowSchema is not served by Kubernetes 1.28; it serves flowcontrol.apiserver.k8s.io/v1beta2, flowcontrol.apiserver.k8s.io/v1beta3"}},
		{"1.29", "flow.yaml", nil},
		{"1.28", "typo.yaml", []string{"schema deny typo.yaml:1 /apiVersion: /apiVersion: apps/v1 Deploymnet is not served by Kubernetes 1.28"}},
		// A kind apps/v1beta1 never had: the table does not list it, so
		// schema says it; one that it had: deprecated-api says it.
		{"1.16", "rs.yaml", []string{"schema deny rs.yaml:1 /apiVersion: /apiVersion: apps/v1beta1 ReplicaSet is not served by Kubernetes 1.16; it serves apps/v1"}},
		{"1.16", "deployment.yaml", []string{"deprecated-api deny deployment.yaml:1 /apiVersion: apps/v1beta1 Deployment was removed in Kubernetes 1.16"}},
	} {
		got, code := findings(t, dir, "--kubernetes-version", tc.version, tc.file)
		expect(t, got, tc.want...)
		if want := map[bool]int{true: exitDenied, false: exitPass}[len(tc.want) > 0]; code != want {
			t.Errorf("%s at %s: exit %d, want %d", tc.file, tc.version, code, want)
		}
	}
}

// A removed API is denied whatever deprecated-api is set to: by
// deprecated-api when it runs and denies, else by schema.
func TestRemovedAPIDeniedOnce(t *testing.T) {
	dir := tree(t, map[string]string{
		"deployment.yaml": "apiVersion: apps/v1beta1\nkind: Deployment\nmetadata: {name: d, namespace: shop}\n",
	})
	warnDir := tree(t, map[string]string{
		"gatekeep.yaml": "checks: {deprecated-api: warn}\n",
	})
	const bySchema = "schema deny deployment.yaml:1 /apiVersion: /apiVersion: apps/v1beta1 Deployment is not served by Kubernetes 1.16; it serves apps/v1"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"deprecated-api denies", nil, []string{"deprecated-api deny deployment.yaml:1 /apiVersion: apps/v1beta1 Deployment was removed in Kubernetes 1.16"}},
		{"deprecated-api skipped", []string{"--skip", "deprecated-api"}, []string{bySchema}},
		{"schema alone", []string{"--only", "schema"}, []string{bySchema}},
		{"deprecated-api warns", []string{"--bundle", warnDir}, []string{"deprecated-api warn deployment.yaml:1 /apiVersion: apps/v1beta1 Deployment was removed in Kubernetes 1.16", bySchema}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, code := findings(t, dir, append(append([]string{"--kubernetes-version", "1.16"}, tc.args...), "deployment.yaml")...)
			expect(t, got, tc.want...)
			if code != exitDenied {
				t.Errorf("exit %d, want %d", code, exitDenied)
			}
		})
	}
}

// A CRD among the inputs that defines an object's kind but does not serve
// its version denies it, as the API server would refuse it.
func TestCRDAmongInputsServes(t *testing.T) {
	const notServed = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
    - {name: v2, served: false, storage: false, schema: {openAPIV3Schema: {type: object}}}
`
	dir := tree(t, map[string]string{
		"crds/widget.yaml":  widgetCRD,
		"crds/gadget.yaml":  notServed,
		"apps/widget.yaml":  "apiVersion: example.com/v2\nkind: Widget\nmetadata: {name: w, namespace: shop}\nspec: {size: 1}\n",
		"apps/gadget.yaml":  "apiVersion: example.com/v2\nkind: Gadget\nmetadata: {name: g, namespace: shop}\n",
		"apps/gadget1.yaml": "apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g1, namespace: shop}\n",
	})
	got, code := findings(t, dir, ".")
	expect(t, got,
		"schema deny apps/gadget.yaml:1 /apiVersion: /apiVersion: example.com/v2 Gadget is not served: its CustomResourceDefinition gadgets.example.com serves example.com/v1",
		"schema deny apps/widget.yaml:1 /apiVersion: /apiVersion: example.com/v2 Widget is not served: its CustomResourceDefinition widgets.example.com serves example.com/v1",
	)
	if code != exitDenied {
		t.Errorf("exit %d, want %d", code, exitDenied)
	}
}
