package reviewapp

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

var clock = func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }

var rules = []Rule{
	{
		NamespacePattern: `^dk-(?P<pr>[0-9]+)$`,
		Labels:           map[string]string{"gatekeep.dev/review-app": "true", "gatekeep.dev/pr": "{{ .pr }}"},
		TTL:              "168h",
	},
	{
		NamespaceLabel: "preview.example.com/pull-request",
		Labels:         map[string]string{"gatekeep.dev/pr": "{{ .pr }}"},
	},
}

func object(t *testing.T, doc string) *manifest.Object {
	t.Helper()
	objs, errs := manifest.Parse("o.yaml", []byte(doc))
	if len(errs) > 0 || len(objs) != 1 {
		t.Fatalf("parse: %v", errs)
	}
	return objs[0]
}

// apply applies patches as the API server would.
func apply(t *testing.T, obj *manifest.Object, patches []Patch) *manifest.Object {
	t.Helper()
	doc, _ := json.Marshal(obj.Data)
	p, _ := json.Marshal(patches)
	decoded, err := jsonpatch.DecodePatch(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decoded.Apply(doc)
	if err != nil {
		t.Fatalf("apply %s: %v", p, err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("patched document %s: %v", out, err)
	}
	return manifest.New(m)
}

func TestLabelsWorkloadAndTemplate(t *testing.T) {
	l, err := New(rules, clock)
	if err != nil {
		t.Fatal(err)
	}
	dep := object(t, `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: dk-42
  labels:
    app: web
spec:
  template:
    metadata:
      labels:
        app: web
    spec:
      containers: [{name: web, image: nginx}]
`)
	patches, conflicts, err := l.Labels(dep, nil)
	if err != nil || len(conflicts) != 0 {
		t.Fatalf("err %v conflicts %v", err, conflicts)
	}
	got := apply(t, dep, patches)
	for _, p := range []string{"/metadata/labels", "/spec/template/metadata/labels"} {
		v, _ := manifest.Get(got.Data, p)
		labels := v.(map[string]any)
		if labels["gatekeep.dev/pr"] != "42" || labels["gatekeep.dev/review-app"] != "true" || labels["app"] != "web" {
			t.Errorf("%s = %v", p, labels)
		}
	}
	if got.Annotations()[ExpiresAnnotation] != "2026-11-29T10:00:00Z" {
		t.Errorf("expiry = %v", got.Annotations())
	}
	if _, tmpl := manifest.Get(got.Data, "/spec/template/metadata/annotations"); tmpl {
		t.Errorf("the expiry belongs on the object, not its pods")
	}
	// Applying again changes nothing: the labels are already there.
	again, conflicts, _ := l.Labels(got, nil)
	if len(again) != 0 || len(conflicts) != 0 {
		t.Errorf("second pass: patches %v conflicts %v", again, conflicts)
	}
}

func TestLabelsCreateMissingMaps(t *testing.T) {
	l, _ := New(rules, clock)
	for _, doc := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: dk-7}\n",
		"apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: c, namespace: dk-7}\nspec: {schedule: '* * * * *', jobTemplate: {spec: {template: {spec: {containers: []}}}}}\n",
		"apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: dk-7, annotations: {x: y}}\nspec: {containers: []}\n",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: dk-7}\n",
	} {
		obj := object(t, doc)
		patches, _, err := l.Labels(obj, nil)
		if err != nil || len(patches) == 0 {
			t.Fatalf("%s: patches %v err %v", obj.Ref(), patches, err)
		}
		got := apply(t, obj, patches)
		if got.Labels()["gatekeep.dev/pr"] != "7" {
			t.Errorf("%s: labels %v", obj.Ref(), got.Labels())
		}
		if obj.Kind() == "CronJob" {
			v, _ := manifest.Get(got.Data, "/spec/jobTemplate/spec/template/metadata/labels/gatekeep.dev~1pr")
			if v != "7" {
				t.Errorf("CronJob pod template not labelled: %v", got.Data)
			}
		}
	}
}

func TestLabelsConflictAndOtherNamespaces(t *testing.T) {
	l, _ := New(rules, clock)
	obj := object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: dk-9, labels: {gatekeep.dev/pr: '8'}}\n")
	patches, conflicts, _ := l.Labels(obj, nil)
	if len(conflicts) != 1 || conflicts[0].Path != "/metadata/labels/gatekeep.dev~1pr" || !strings.Contains(conflicts[0].Message, `"8"`) {
		t.Errorf("conflicts %v", conflicts)
	}
	got := apply(t, obj, patches)
	if got.Labels()["gatekeep.dev/pr"] != "8" || got.Labels()["gatekeep.dev/review-app"] != "true" {
		t.Errorf("the object's own value must stay: %v", got.Labels())
	}
	for _, ns := range []string{"production", "dk-", "dk-12a", ""} {
		obj := object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: '"+ns+"'}\n")
		if patches, _, _ := l.Labels(obj, nil); len(patches) != 0 {
			t.Errorf("namespace %q labelled: %v", ns, patches)
		}
	}
	// A namespace named otherwise, labelled by the preview tooling.
	obj = object(t, "apiVersion: v1\nkind: Service\nmetadata: {name: s, namespace: preview-feature-x}\n")
	patches, _, _ = l.Labels(obj, map[string]string{"preview.example.com/pull-request": "1234"})
	if got := apply(t, obj, patches); got.Labels()["gatekeep.dev/pr"] != "1234" {
		t.Errorf("namespaceLabel rule: %v", got.Labels())
	}
}

func TestNewRejectsBadRules(t *testing.T) {
	for _, r := range []Rule{
		{Labels: map[string]string{"a": "b"}},
		{NamespacePattern: "([", Labels: map[string]string{"a": "b"}},
		{NamespacePattern: "x", Labels: map[string]string{"a": "{{ .pr"}},
		{NamespacePattern: "x", TTL: "a week"},
	} {
		if _, err := New([]Rule{r}, nil); err == nil {
			t.Errorf("rule %+v accepted", r)
		}
	}
	l, _ := New([]Rule{{NamespacePattern: "^x$", Labels: map[string]string{"a": "{{ .missing }}"}}}, nil)
	if _, _, err := l.Labels(object(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\n"), nil); err == nil {
		t.Errorf("a template naming a missing value must fail")
	}
}
