package helmchart

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v2loader "helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"sigs.k8s.io/yaml"
)

func testdata(t *testing.T, name string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// lineOf is the line of the only line of file that contains text.
func lineOf(t *testing.T, file, text string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, text) {
			if found != 0 {
				t.Fatalf("%s: %q is on lines %d and %d", file, text, found, i+1)
			}
			found = i + 1
		}
	}
	if found == 0 {
		t.Fatalf("%s: no line has %q", file, text)
	}
	return found
}

func render(t *testing.T, dir string, opts Options) []Document {
	t.Helper()
	docs, err := Render(dir, opts)
	if err != nil {
		t.Fatalf("Render(%s): %v", dir, err)
	}
	return docs
}

// find is the one document of the given kind and name (metadata.name or generateName).
func find(t *testing.T, docs []Document, kind, name string) (Document, map[string]any) {
	t.Helper()
	for _, d := range docs {
		obj := parse(t, d)
		md, _ := obj["metadata"].(map[string]any)
		if obj["kind"] == kind && (md["name"] == name || md["generateName"] == name) {
			return d, obj
		}
	}
	t.Fatalf("no %s %s among %d documents", kind, name, len(docs))
	return Document{}, nil
}

func parse(t *testing.T, d Document) map[string]any {
	t.Helper()
	var obj map[string]any
	if err := yaml.Unmarshal(d.Data, &obj); err != nil {
		t.Fatalf("%s: %v\n%s", d.File, err, d.Data)
	}
	return obj
}

func get(obj any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := obj.(map[string]any)
			obj = m[k]
		case int:
			l, _ := obj.([]any)
			if k >= len(l) {
				return nil
			}
			obj = l[k]
		}
	}
	return obj
}

func TestRenderAppAndLocate(t *testing.T) {
	dir := testdata(t, "app")
	deploy := filepath.Join(dir, "templates", "deployment.yaml")
	docs := render(t, dir, Options{Values: map[string]any{"securityContext": map[string]any{"privileged": true}}})

	d, obj := find(t, docs, "Deployment", "app-web")
	if d.File != deploy || d.Hook {
		t.Errorf("File, Hook = %s, %v", d.File, d.Hook)
	}
	if want := lineOf(t, deploy, "apiVersion: apps/v1"); d.Line != want {
		t.Errorf("Line = %d, want %d (the first key, after the comment)", d.Line, want)
	}
	if got := get(obj, "spec", "template", "spec", "containers", 0, "securityContext", "privileged"); got != true {
		t.Errorf("privileged = %v", got)
	}
	if got := get(obj, "metadata", "namespace"); got != "default" {
		t.Errorf("namespace = %v (default release name/namespace)", got)
	}

	for _, c := range []struct {
		pointer string
		line    int
	}{
		{"/spec/template/spec/containers/0/securityContext/privileged", lineOf(t, deploy, "toYaml .Values.securityContext")},
		{"/spec/template/spec/containers/0/securityContext", lineOf(t, deploy, "toYaml .Values.securityContext")},
		{"/spec/template/spec/securityContext/runAsUser", lineOf(t, deploy, "toYaml .Values.podSecurityContext")},
		{"/spec/replicas", lineOf(t, deploy, "replicas: 2")},
		{"/metadata/name", lineOf(t, deploy, "-web")},
		{"/metadata/labels/app.kubernetes.io~1name", lineOf(t, deploy, `include "app.labels"`)},
		{"/spec/template/metadata/labels/app", 17},
		{"/spec/template/spec/containers/0/image", lineOf(t, deploy, "image: \"{{")},
		{"/spec/template/spec/containers/1/name", lineOf(t, deploy, "name: sidecar")},
		{"/spec/template/spec/containers/1/args/0", lineOf(t, deploy, "- |")},
		{"/spec/template/spec/containers/1/securityContext/runAsNonRoot", lineOf(t, deploy, "runAsNonRoot")},
		// not in the template: its deepest ancestor that is
		{"/spec/template/spec/containers/1/securityContext/privileged", lineOf(t, deploy, "runAsNonRoot") - 1},
		{"/spec/template/spec/hostNetwork", lineOf(t, deploy, "    spec:")},
		{"/status/phase", d.Line},
		{"", d.Line},
		{"not-a-pointer", d.Line},
	} {
		if got := d.Locate(c.pointer); got != c.line {
			t.Errorf("Locate(%q) = %d, want %d", c.pointer, got, c.line)
		}
	}

	// A template with two documents: each is located in its own part.
	cmFile := filepath.Join(dir, "templates", "configmap.yaml")
	cm, _ := find(t, docs, "ConfigMap", "app-config")
	svc, _ := find(t, docs, "Service", "app-svc")
	if cm.File != cmFile || svc.File != cmFile {
		t.Errorf("files %s, %s", cm.File, svc.File)
	}
	if cm.Line != 1 || svc.Line != lineOf(t, cmFile, "kind: Service")-1 {
		t.Errorf("lines %d, %d", cm.Line, svc.Line)
	}
	if got, want := svc.Locate("/spec/ports/0/port"), lineOf(t, cmFile, "port: 80"); got != want {
		t.Errorf("Service Locate(/spec/ports/0/port) = %d, want %d", got, want)
	}
	if got, want := svc.Locate("/metadata/name"), lineOf(t, cmFile, "-svc"); got != want {
		t.Errorf("Service Locate(/metadata/name) = %d, want %d", got, want)
	}
	if got, want := cm.Locate("/data/color"), lineOf(t, cmFile, "color:"); got != want {
		t.Errorf("ConfigMap Locate(/data/color) = %d, want %d", got, want)
	}

	// The order: CRDs, then manifests in install order, then hooks; no NOTES.txt, no empty documents.
	var kinds []string
	for _, d := range docs {
		kinds = append(kinds, parse(t, d)["kind"].(string))
		if strings.Contains(d.File, "NOTES") || strings.Contains(d.File, "optional.yaml") {
			t.Errorf("unexpected document from %s", d.File)
		}
	}
	if got, want := strings.Join(kinds, ","), "CustomResourceDefinition,ConfigMap,Service,Deployment,Pod,Job"; got != want {
		t.Errorf("kinds = %s, want %s", got, want)
	}
}

func TestRenderHooks(t *testing.T) {
	dir := testdata(t, "app")
	docs := render(t, dir, Options{})
	job, obj := find(t, docs, "Job", "app-migrate-")
	if !job.Hook || job.File != filepath.Join(dir, "templates", "hook.yaml") || job.Line != 1 {
		t.Errorf("Job: Hook=%v File=%s Line=%d", job.Hook, job.File, job.Line)
	}
	if get(obj, "metadata", "name") != nil {
		t.Errorf("the hook has a name: %v", get(obj, "metadata", "name"))
	}
	if got, want := job.Locate("/spec/template/spec/containers/0/image"), 13; got != want {
		t.Errorf("Job Locate(image) = %d, want %d", got, want)
	}
	test, _ := find(t, docs, "Pod", "app-test")
	if !test.Hook || test.File != filepath.Join(dir, "templates", "tests", "test-connection.yaml") {
		t.Errorf("test hook: Hook=%v File=%s", test.Hook, test.File)
	}
	dep, _ := find(t, docs, "Deployment", "app-web")
	if dep.Hook {
		t.Error("the Deployment is a hook")
	}

	for _, d := range render(t, dir, Options{SkipTests: true}) {
		if strings.Contains(d.File, "test-connection") {
			t.Error("SkipTests kept the test hook")
		}
	}
}

func TestRenderValues(t *testing.T) {
	dir := testdata(t, "app")
	for _, c := range []struct {
		name string
		opts Options
		want map[string]any // data of the ConfigMap
		ns   string
	}{
		{
			name: "defaults",
			opts: Options{},
			want: map[string]any{"color": "blue", "size": "small", "count": "1", "countType": "float64", "note": "", "noteType": "string", "fromFile": "", "name": "app-config"},
			ns:   "default",
		},
		{
			name: "value files in order",
			opts: Options{ValueFiles: []string{"values-a.yaml", filepath.Join(dir, "values-b.yaml")}},
			want: map[string]any{"color": "green", "size": "large"},
		},
		{
			name: "missing value file ignored",
			opts: Options{ValueFiles: []string{"values-a.yaml", "nope.yaml"}, IgnoreMissingValueFiles: true},
			want: map[string]any{"color": "green", "size": "medium"},
		},
		{
			name: "values over value files",
			opts: Options{ValueFiles: []string{"values-a.yaml"}, Values: map[string]any{"config": map[string]any{"color": "purple"}}},
			want: map[string]any{"color": "purple", "size": "medium"},
		},
		{
			name: "set over values; set-string",
			opts: Options{
				Values: map[string]any{"config": map[string]any{"color": "purple", "count": 3}},
				Set: []Param{
					{Name: "config.note", Value: "7", ForceString: true},
					{Name: "config.count", Value: "5"},
					{Name: "config.color", Value: "red,green"},
				},
			},
			want: map[string]any{"color": "red,green", "count": "5", "countType": "int64", "note": "7", "noteType": "string"},
		},
		{
			name: "set without force string",
			opts: Options{Set: []Param{{Name: "config.note", Value: "7"}}},
			want: map[string]any{"note": "7", "noteType": "int64"},
		},
		{
			name: "set-file, release name and namespace",
			opts: Options{
				ReleaseName: "rel",
				Namespace:   "team-a",
				SetFile:     []FileParam{{Name: "config.fromFile", Path: "files/greeting.txt"}},
			},
			want: map[string]any{"fromFile": "hello from a file\n", "name": "rel-config", "namespace": "team-a"},
			ns:   "team-a",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			docs := render(t, dir, c.opts)
			name := c.opts.ReleaseName
			if name == "" {
				name = "app"
			}
			_, obj := find(t, docs, "ConfigMap", name+"-config")
			for k, v := range c.want {
				got := get(obj, "data", k)
				if k == "name" {
					got = get(obj, "metadata", "name")
				}
				if got != v {
					t.Errorf("%s = %#v, want %#v", k, got, v)
				}
			}
			if c.ns != "" {
				_, dep := find(t, docs, "Deployment", name+"-web")
				if got := get(dep, "metadata", "namespace"); got != c.ns {
					t.Errorf("namespace = %v, want %s", got, c.ns)
				}
			}
		})
	}

	_, err := Render(dir, Options{ValueFiles: []string{"nope.yaml"}})
	var e *Error
	if !errors.As(err, &e) || e.File != filepath.Join(dir, "nope.yaml") {
		t.Errorf("missing value file: %v", err)
	}
}

func TestRenderCapabilities(t *testing.T) {
	dir := testdata(t, "caps")
	file := filepath.Join(dir, "templates", "ingress.yaml")
	for _, c := range []struct {
		opts                 Options
		apiVersion, git, has string
		apiLine, hasLine     int
	}{
		{Options{KubeVersion: "1.18"}, "networking.k8s.io/v1beta1", "v1.18", "no",
			lineOf(t, file, "apiVersion: networking.k8s.io/v1beta1"), lineOf(t, file, `hasIngressV1: "no"`)},
		{Options{KubeVersion: "v1.34.0", APIVersions: []string{"networking.k8s.io/v1", "networking.k8s.io/v1/Ingress"}}, "networking.k8s.io/v1", "v1.34.0", "yes",
			2, lineOf(t, file, `hasIngressV1: "yes"`)},
		{Options{KubeVersion: "1.34"}, "networking.k8s.io/v1", "v1.34", "no", 0, 0},
	} {
		docs := render(t, dir, c.opts)
		if len(docs) != 1 {
			t.Fatalf("%d documents", len(docs))
		}
		obj := parse(t, docs[0])
		if obj["apiVersion"] != c.apiVersion || get(obj, "metadata", "annotations", "gitVersion") != c.git ||
			get(obj, "metadata", "annotations", "hasIngressV1") != c.has {
			t.Errorf("%+v: got %s", c.opts, docs[0].Data)
		}
		if c.apiLine != 0 {
			if got := docs[0].Locate("/apiVersion"); got != c.apiLine {
				t.Errorf("%+v: Locate(/apiVersion) = %d, want %d", c.opts, got, c.apiLine)
			}
			if got := docs[0].Locate("/metadata/annotations/hasIngressV1"); got != c.hasLine {
				t.Errorf("%+v: Locate(hasIngressV1) = %d, want %d", c.opts, got, c.hasLine)
			}
		}
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o750)
		}
		b, err := os.ReadFile(p) //nolint:gosec // G122: copies the test's own fixture chart
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o600) //nolint:gosec // G703: copying the test's own fixture chart into its TempDir
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRenderDependencies(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "parent")
	copyDir(t, testdata(t, "parent"), dir)

	// Without the packed dependency: an error at its entry in Chart.yaml.
	_, err := Render(dir, Options{})
	var e *Error
	if !errors.As(err, &e) || e.File != filepath.Join(dir, "Chart.yaml") || e.Line != 10 || !strings.Contains(e.Message, `"packed"`) {
		t.Fatalf("missing packed: %v", err)
	}

	packed, err := v2loader.Load(testdata(t, "packed"))
	if err != nil {
		t.Fatal(err)
	}
	tgz, err := chartutil.Save(packed, filepath.Join(dir, "charts"))
	if err != nil {
		t.Fatal(err)
	}
	docs := render(t, dir, Options{})

	subFile := filepath.Join(dir, "charts", "sub-dir", "templates", "cm.yaml")
	one, oneObj := find(t, docs, "ConfigMap", "sub-one")
	two, twoObj := find(t, docs, "ConfigMap", "sub-two") // the alias "other" of sub
	if one.File != subFile || two.File != subFile || one.Template != "parent/charts/sub/templates/cm.yaml" || two.Template != "parent/charts/other/templates/cm.yaml" {
		t.Errorf("sub: %s %s; %s %s", one.File, one.Template, two.File, two.Template)
	}
	if get(oneObj, "data", "chart") != "sub" || get(twoObj, "data", "chart") != "other" {
		t.Errorf("chart names: %v %v", get(oneObj, "data", "chart"), get(twoObj, "data", "chart"))
	}
	if got := two.Locate("/metadata/name"); got != 4 {
		t.Errorf("alias Locate(/metadata/name) = %d", got)
	}

	pod, podObj := find(t, docs, "Pod", "packed")
	if pod.File != tgz || pod.Line != 1 {
		t.Errorf("packed: File %s Line %d, want %s:1", pod.File, pod.Line, tgz)
	}
	if get(podObj, "spec", "containers", 0, "securityContext", "privileged") != true {
		t.Errorf("packed pod: %s", pod.Data)
	}
	if got := pod.Locate("/spec/containers/0/securityContext/privileged"); got != 10 {
		t.Errorf("packed Locate(privileged) = %d, want 10 (the line in the packed template)", got)
	}

	parent, _ := find(t, docs, "ConfigMap", "parent")
	if parent.File != filepath.Join(dir, "templates", "cm.yaml") {
		t.Errorf("parent: %s", parent.File)
	}
	for _, d := range docs {
		if strings.Contains(d.File, "extra") {
			t.Errorf("the disabled dependency was rendered: %s", d.File)
		}
	}
	if len(docs) != 4 {
		t.Errorf("%d documents, want 4", len(docs))
	}

	// Enabling it renders it.
	docs = render(t, dir, Options{Set: []Param{{Name: "extra.enabled", Value: "true"}}})
	x, _ := find(t, docs, "ConfigMap", "extra")
	if x.File != filepath.Join(dir, "charts", "extra", "templates", "cm.yaml") {
		t.Errorf("extra: %s", x.File)
	}
}

func TestRenderErrors(t *testing.T) {
	for _, c := range []struct {
		chart   string
		opts    Options
		file    string // relative to the chart
		line    int
		message string // contained in the message
	}{
		// helm template stops on a missing dependency even when its condition disables it.
		{"missingdep", Options{}, "Chart.yaml", 8, `dependency "redis" (version 17.x, repository https://charts.bitnami.com/bitnami) is not in charts/`},
		{"broken", Options{}, "templates/cm.yaml", 4, `function "nosuchfunc" not defined`},
		{"exec", Options{}, "templates/cm.yaml", 6, "image.tag is required"},
		{"exec", Options{Values: map[string]any{"tag": "x"}}, "templates/_helpers.tpl", 2, "<.Values.a.b.c>: nil pointer evaluating interface {}.b"},
		{"badyaml", Options{}, "templates/cm.yaml", 6, "rendered template is not valid YAML: mapping values are not allowed in this context (rendered line: key: a: b: c)"},
		{"app", Options{KubeVersion: "x.y"}, "", 0, `invalid kube version "x.y"`},
		{"app", Options{ReleaseName: "Not_Valid"}, "", 0, `release name "Not_Valid"`},
	} {
		dir := testdata(t, c.chart)
		_, err := Render(dir, c.opts)
		var e *Error
		if !errors.As(err, &e) {
			t.Errorf("%s: error %v is not an *Error", c.chart, err)
			continue
		}
		want := ""
		if c.file != "" {
			want = filepath.Join(dir, c.file)
		}
		if e.File != want || e.Line != c.line || !strings.Contains(e.Message, c.message) || len(e.Message) > maxMessage+5 {
			t.Errorf("%s: got %s:%d %q, want %s:%d containing %q", c.chart, e.File, e.Line, e.Message, want, c.line, c.message)
		}
	}
}

func TestRenderCRDs(t *testing.T) {
	dir := testdata(t, "app")
	crdFile := filepath.Join(dir, "crds", "widgets.yaml")
	docs := render(t, dir, Options{})
	crd, _ := find(t, docs, "CustomResourceDefinition", "widgets.example.com")
	if crd.File != crdFile || crd.Line != 2 || crd.Hook {
		t.Errorf("CRD: %s:%d hook=%v", crd.File, crd.Line, crd.Hook)
	}
	if got, want := crd.Locate("/spec/versions/0/storage"), lineOf(t, crdFile, "storage: true"); got != want {
		t.Errorf("CRD Locate = %d, want %d", got, want)
	}
	for _, d := range render(t, dir, Options{SkipCRDs: true}) {
		if d.File == crdFile {
			t.Error("SkipCRDs kept the CRD")
		}
	}
}

func TestLocateTemplates(t *testing.T) {
	// Templates written directly, to check the source model without rendering.
	for _, c := range []struct {
		name    string
		src     string
		data    string
		part    int
		pointer string
		line    int
	}{
		{
			name: "inline value expression",
			src: `apiVersion: v1
kind: Pod
spec:
  containers:
  - name: c
    securityContext:
      privileged: {{ .Values.privileged }}
`,
			data:    "spec:\n  containers:\n  - name: c\n    securityContext:\n      privileged: true\n",
			pointer: "/spec/containers/0/securityContext/privileged",
			line:    7,
		},
		{
			name: "range: index past the literal items",
			src: `spec:
  containers:
  {{- range .Values.containers }}
  - name: {{ .name }}
    image: {{ .image }}
  {{- end }}
`,
			pointer: "/spec/containers/3/image",
			line:    5,
		},
		{
			name: "with block around a toYaml",
			src: `spec:
  template:
    spec:
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
`,
			pointer: "/spec/template/spec/tolerations/0/key",
			line:    10,
		},
		{
			name: "expressions at a level with no literal key: the one naming it",
			src: `spec:
  template:
    spec:
      {{- include "pod.common" . | nindent 6 }}
      {{- toYaml .Values.hostNetwork | nindent 6 }}
`,
			pointer: "/spec/template/spec/hostNetwork",
			line:    5,
		},
		{
			name: "second document of a template",
			src: `apiVersion: v1
kind: ConfigMap
metadata:
  name: a
---
apiVersion: v1
kind: Secret
metadata:
  name: b
`,
			part:    1,
			pointer: "/metadata/name",
			line:    9,
		},
		{
			name: "quoted keys, comments and a multi-line action",
			src: `metadata:
  # a comment: with a colon
  annotations:
    {{- if and
          .Values.a
          .Values.b }}
    "example.com/x": "1"  # trailing
    {{- end }}
`,
			pointer: "/metadata/annotations/example.com~1x",
			line:    7,
		},
		{
			name:    "no panic on odd input",
			src:     "{{ unterminated\n: :\n- - -\n\"x\n",
			pointer: "/a/0/b",
			line:    1,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := Document{File: "x.yaml", Line: 1, Data: []byte(c.data), src: c.src, part: c.part}
			if got := d.Locate(c.pointer); got != c.line {
				t.Errorf("Locate(%q) = %d, want %d", c.pointer, got, c.line)
			}
		})
	}
}

// The chart `helm create` writes: the usual shapes of real charts ({{- with }} around toYaml,
// include for labels, range over ingress hosts).
func TestRenderScaffold(t *testing.T) {
	dir, err := chartutil.Create("demo", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	docs := render(t, dir, Options{Values: map[string]any{
		"securityContext": map[string]any{"privileged": true},
		"ingress":         map[string]any{"enabled": true},
	}})
	lineText := func(d Document, line int) string {
		b, err := os.ReadFile(d.File)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(b), "\n")
		if line < 1 || line > len(lines) {
			return ""
		}
		return strings.TrimSpace(lines[line-1])
	}
	for _, c := range []struct {
		kind, pointer, text string
	}{
		{"Deployment", "/spec/template/spec/containers/0/securityContext/privileged", "{{- toYaml . | nindent 12 }}"},
		{"Deployment", "/spec/template/spec/containers/0/image", `image: "{{ .Values.image.repository }}`},
		{"Deployment", "/spec/template/spec/containers/0/ports/0/containerPort", "containerPort: {{ .Values.service.port }}"},
		{"Deployment", "/metadata/labels/app.kubernetes.io~1name", `{{- include "demo.labels" . | nindent 4 }}`},
		{"Deployment", "/spec/template/spec/serviceAccountName", "serviceAccountName: {{ include"},
		{"Service", "/spec/ports/0/port", "- port: {{ .Values.service.port }}"},
		{"Ingress", "/spec/rules/0/host", "- host: {{ .host | quote }}"},
	} {
		var d Document
		for _, x := range docs {
			if parse(t, x)["kind"] == c.kind {
				d = x
			}
		}
		if d.File == "" {
			t.Fatalf("no %s", c.kind)
		}
		if got := lineText(d, d.Locate(c.pointer)); !strings.HasPrefix(got, c.text) {
			t.Errorf("%s Locate(%s) is at %q, want %q", c.kind, c.pointer, got, c.text)
		}
	}
}

func TestSourcePart(t *testing.T) {
	src := "{{- range .Values.names }}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ . }}\n{{- end }}\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
	rendered := "\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n"
	for _, c := range []struct {
		ri, part int
		data     string
	}{
		{1, 1, "kind: ConfigMap"},
		{2, 1, "kind: ConfigMap"},
		{3, 2, "kind: Secret"},
	} {
		if got := sourcePart(src, rendered, c.ri, []byte(c.data)); got != c.part {
			t.Errorf("sourcePart(%d) = %d, want %d", c.ri, got, c.part)
		}
	}
	d := Document{Line: 1, src: src, part: 1, Data: []byte("kind: ConfigMap\nmetadata:\n  name: b\n")}
	if got := d.Locate("/metadata/name"); got != 6 {
		t.Errorf("Locate = %d, want 6", got)
	}
	if got := d.firstLine(); got != 3 {
		t.Errorf("firstLine = %d, want 3", got)
	}
}
