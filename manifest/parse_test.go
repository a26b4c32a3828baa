package manifest

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

const multiDoc = `# leading comment
apiVersion: v1
kind: ConfigMap
metadata:
  name: first
data:
  key: value
--- # second document
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 3
  template:
    spec:
      containers:
        - name: main
          image: nginx
          securityContext:
            privileged: true
        - name: sidecar
          image: envoy
---
---
# only a comment
`

func TestParseMultiDocumentPositions(t *testing.T) {
	objs, errs := Parse("m.yaml", []byte(multiDoc))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	cm, dep := objs[0], objs[1]
	if cm.Source != (Source{File: "m.yaml", Line: 2}) {
		t.Errorf("ConfigMap source = %+v, want m.yaml:2", cm.Source)
	}
	if dep.Source.Line != 9 {
		t.Errorf("Deployment starts at line %d, want 9", dep.Source.Line)
	}
	if got := dep.Ref(); got != (Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}) {
		t.Errorf("Ref = %+v", got)
	}
	for _, tc := range []struct {
		obj     *Object
		pointer string
		line    int
	}{
		{cm, "/data/key", 7},
		{cm, "", 2},
		{dep, "/spec/replicas", 15},
		{dep, "/spec/template/spec/containers/0", 19},
		{dep, "/spec/template/spec/containers/0/securityContext/privileged", 22},
		{dep, "/spec/template/spec/containers/1/image", 24},
		{dep, "/spec/template/spec/containers/7", 9}, // not there: the object's line
		{dep, "/spec/template/metadata/labels", 9},   // not there either
		{dep, "/metadata/name", 12},
	} {
		if got := tc.obj.Line(tc.pointer); got != tc.line {
			t.Errorf("%s Line(%q) = %d, want %d", tc.obj.Kind(), tc.pointer, got, tc.line)
		}
	}
	if r, ok := dep.Data["spec"].(map[string]any)["replicas"].(int64); !ok || r != 3 {
		t.Errorf("replicas decoded as %T %v, want int64 3", dep.Data["spec"].(map[string]any)["replicas"], r)
	}
}

func TestParseList(t *testing.T) {
	in := `apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: a
  - apiVersion: v1
    kind: ServiceAccount
    metadata:
      name: b
      labels:
        team: x
  - just a string
`
	objs, errs := Parse("list.yaml", []byte(in))
	if len(objs) != 2 {
		t.Fatalf("got %d objects, want 2", len(objs))
	}
	if objs[0].Source.Line != 4 || objs[1].Source.Line != 8 {
		t.Errorf("item lines = %d, %d; want 4, 8", objs[0].Source.Line, objs[1].Source.Line)
	}
	if got := objs[1].Line("/metadata/labels/team"); got != 13 {
		t.Errorf("item field line = %d, want 13", got)
	}
	if len(errs) != 1 || errs[0].Line != 14 || !strings.Contains(errs[0].Message, "items[2]") {
		t.Errorf("errors = %v, want one for items[2] at line 14", errs)
	}
}

func TestParseJSON(t *testing.T) {
	in := "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Pod\",\n\t\"metadata\": {\"name\": \"p\"},\n\t\"spec\": {\n\t\t\"containers\": [\n\t\t\t{\"name\": \"c\", \"image\": \"x\", \"securityContext\": {\"privileged\": true}}\n\t\t]\n\t}\n}\n"
	objs, errs := Parse("pod.json", []byte(in))
	if len(errs) != 0 || len(objs) != 1 {
		t.Fatalf("objs=%d errs=%v", len(objs), errs)
	}
	if got := objs[0].Line("/spec/containers/0/securityContext/privileged"); got != 7 {
		t.Errorf("line = %d, want 7", got)
	}
}

func TestParseSkipsWhatIsNotAnObject(t *testing.T) {
	for name, in := range map[string]string{
		"Chart.yaml":         "apiVersion: v2\nname: web\nversion: 1.0.0\n",
		"values.yaml":        "replicaCount: 2\nimage:\n  tag: latest\n",
		"workflow.yml":       "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n",
		"kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n",
		"scalar.yaml":        "just text\n",
		"empty.yaml":         "",
		"list-of-things.yml": "- a\n- b\n",
	} {
		objs, errs := Parse(name, []byte(in))
		if len(objs) != 0 || len(errs) != 0 {
			t.Errorf("%s: got %d objects and errors %v, want nothing", name, len(objs), errs)
		}
	}
}

func TestParseBrokenDocumentKeepsTheOthers(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  name: ok-1
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: broken
    labels: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: ok-2
`
	objs, errs := Parse("b.yaml", []byte(in))
	if len(objs) != 2 || objs[0].Name() != "ok-1" || objs[1].Name() != "ok-2" {
		t.Errorf("objects = %d, want ok-1 and ok-2", len(objs))
	}
	if len(errs) != 1 {
		t.Fatalf("errors = %v, want one", errs)
	}
	e := errs[0]
	if e.File != "b.yaml" || e.Line != 10 || !strings.Contains(e.Message, "invalid YAML") {
		t.Errorf("error = %v, want b.yaml:10 invalid YAML", e)
	}
	if got := e.Error(); !strings.HasPrefix(got, "b.yaml:10: ") {
		t.Errorf("Error() = %q", got)
	}
}

func TestParseScalarsAndMerges(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata:
  name: types
  labels: &labels
    a: "1"
    b: x
  annotations:
    <<: *labels
    b: overridden
spec:
  int: 42
  hex: 0x1F
  float: 1.5
  bool: True
  null: ~
  str: "42"
  date: 2024-01-02
  big: 1e3
`
	objs, errs := Parse("t.yaml", []byte(in))
	if len(errs) != 0 || len(objs) != 1 {
		t.Fatalf("objs=%d errs=%v", len(objs), errs)
	}
	spec := objs[0].Data["spec"].(map[string]any)
	want := map[string]any{"int": int64(42), "hex": int64(31), "float": 1.5, "bool": true, "null": nil, "str": "42", "date": "2024-01-02", "big": 1000.0}
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("spec = %#v\nwant %#v", spec, want)
	}
	ann := objs[0].Annotations()
	if !reflect.DeepEqual(ann, map[string]any{"a": "1", "b": "overridden"}) {
		t.Errorf("merged annotations = %v", ann)
	}
	if got := objs[0].Line("/metadata/annotations/a"); got != 6 {
		t.Errorf("merged key line = %d, want 6 (where the anchor defines it)", got)
	}
}

func TestGetAndEscape(t *testing.T) {
	data := map[string]any{"metadata": map[string]any{"annotations": map[string]any{"a/b~c": "v"}}, "l": []any{"x"}}
	p := "/metadata/annotations/" + Escape("a/b~c")
	if v, ok := Get(data, p); !ok || v != "v" {
		t.Errorf("Get(%q) = %v, %v", p, v, ok)
	}
	for _, bad := range []string{"/l/1", "/l/x", "/nope", "nope", "/l/0/deeper"} {
		if _, ok := Get(data, bad); ok {
			t.Errorf("Get(%q) found something", bad)
		}
	}
}

func TestPodSpec(t *testing.T) {
	for _, tc := range []struct {
		apiVersion, kind, yaml, pointer string
	}{
		{"v1", "Pod", "spec: {containers: []}", "/spec"},
		{"apps/v1", "Deployment", "spec: {template: {spec: {containers: []}}}", "/spec/template/spec"},
		{"apps/v1", "StatefulSet", "spec: {template: {spec: {containers: []}}}", "/spec/template/spec"},
		{"apps/v1", "DaemonSet", "spec: {template: {spec: {containers: []}}}", "/spec/template/spec"},
		{"apps/v1", "ReplicaSet", "spec: {template: {spec: {containers: []}}}", "/spec/template/spec"},
		{"v1", "ReplicationController", "spec: {template: {spec: {containers: []}}}", "/spec/template/spec"},
		{"batch/v1", "Job", "spec: {template: {spec: {containers: []}}}", "/spec/template/spec"},
		{"batch/v1", "CronJob", "spec: {jobTemplate: {spec: {template: {spec: {containers: []}}}}}", "/spec/jobTemplate/spec/template/spec"},
		{"v1", "PodTemplate", "template: {spec: {containers: []}}", "/template/spec"},
		{"example.com/v1", "Deployment", "spec: {template: {spec: {containers: []}}}", ""}, // a custom kind
		{"apps/v1", "Deployment", "spec: {}", ""},
		{"v1", "ConfigMap", "data: {}", ""},
	} {
		objs, _ := Parse("w.yaml", []byte("apiVersion: "+tc.apiVersion+"\nkind: "+tc.kind+"\nmetadata: {name: x}\n"+tc.yaml+"\n"))
		_, p, ok := objs[0].PodSpec()
		if ok != (tc.pointer != "") || p != tc.pointer {
			t.Errorf("%s %s: PodSpec pointer %q ok=%v, want %q", tc.apiVersion, tc.kind, p, ok, tc.pointer)
		}
	}
}

func TestFromJSONValue(t *testing.T) {
	decode := func(s string) any {
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	o, err := FromJSONValue(decode(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"n": 3, "f": 1.5, "big": 12345678901234567890, "l": [1, "a", null, true]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"n": int64(3), "f": 1.5, "big": 12345678901234567890.0, "l": []any{int64(1), "a", nil, true}}
	if !reflect.DeepEqual(o.Data["spec"], want) || o.Name() != "p" {
		t.Errorf("spec = %#v", o.Data["spec"])
	}
	for _, bad := range []string{`[1]`, `"pod"`, `null`} {
		if _, err := FromJSONValue(decode(bad)); err == nil {
			t.Errorf("FromJSONValue(%s) accepted", bad)
		}
	}
}

func TestParseDuplicateKeys(t *testing.T) {
	objs, errs := Parse("d.yaml", []byte(`apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: a
      name: b
    data:
      x: "1"
      y: "2"
      x: "3"
`))
	if len(errs) > 0 || len(objs) != 1 {
		t.Fatalf("objs %d errs %v", len(objs), errs)
	}
	if got := objs[0].Duplicates(); !reflect.DeepEqual(got, []string{"/metadata/name", "/data/x"}) {
		t.Errorf("duplicates = %v", got)
	}
	if objs[0].Name() != "b" || objs[0].Data["data"].(map[string]any)["x"] != "3" {
		t.Errorf("the last value must win: %v", objs[0].Data)
	}
}
