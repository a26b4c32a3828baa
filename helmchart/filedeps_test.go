package helmchart

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/internal/jsonptr"
)

// at is the value at a JSON pointer of a parsed object.
func at(obj any, pointer string) any {
	var path []any
	for _, tok := range jsonptr.Tokens(pointer) {
		if _, isList := get(obj, path...).([]any); isList {
			if n, err := strconv.Atoi(tok); err == nil {
				path = append(path, n)
				continue
			}
		}
		path = append(path, tok)
	}
	return get(obj, path...)
}

// A dependency with a file:// repository that is not in charts/ is loaded from its path, as helm
// dependency build (which Argo CD runs before helm template) packs it.
func TestRenderFileDependencies(t *testing.T) {
	root := testdata(t, "filedep")
	gb := filepath.Join(root, "helm-guestbook", "templates")
	deploy, svc := filepath.Join(gb, "deployment.yaml"), filepath.Join(gb, "service.yaml")

	// An apiVersion v2 chart in a temporary directory with an absolute file:// path.
	abs := filepath.Join(t.TempDir(), "abs")
	if err := os.MkdirAll(abs, 0o750); err != nil {
		t.Fatal(err)
	}
	chartYAML := "apiVersion: v2\nname: abs\nversion: 0.1.0\ndependencies:\n  - name: helm-guestbook\n    alias: gb\n    version: 0.1.x\n    repository: file://" +
		filepath.Join(root, "helm-guestbook") + "\n"
	if err := os.WriteFile(filepath.Join(abs, "Chart.yaml"), []byte(chartYAML), 0o600); err != nil {
		t.Fatal(err)
	}

	type doc struct {
		id       string // Kind/name
		file     string
		template string
		line     int
		values   map[string]any // JSON pointer: rendered value
		locate   map[string]int // JSON pointer: Locate
	}
	guestbook := func(release, chartName, tpl string) []doc {
		return []doc{
			{id: "Service/" + release + "-" + chartName, file: svc, template: tpl + "/templates/service.yaml", line: 1,
				values: map[string]any{"/spec/selector/app": chartName, "/spec/ports/0/port": 80.0},
				locate: map[string]int{"/spec/ports/0/port": 9, "/spec/ports/0/targetPort": 10}},
			{id: "Deployment/" + release + "-" + chartName, file: deploy, template: tpl + "/templates/deployment.yaml", line: 1,
				values: map[string]any{"/spec/replicas": 1.0, "/spec/template/spec/containers/0/image": "gcr.io/heptio-images/ks-guestbook-demo:0.1"},
				locate: map[string]int{"/spec/replicas": 6, "/spec/template/spec/containers/0/image": 17, "/metadata/name": 4}},
		}
	}
	kustomized := guestbook("kustomized-helm", "helm-guestbook", "kustomized-helm/charts/helm-guestbook")
	kustomized[1].values = map[string]any{"/spec/replicas": 2.0, "/spec/template/spec/containers/0/securityContext": map[string]any{}}

	parentGB := guestbook("parent", "helm-guestbook", "parent/charts/helm-guestbook")
	parentGB[1].values = map[string]any{"/spec/template/spec/containers/0/securityContext/privileged": true}
	parentGB[1].locate = map[string]int{"/spec/template/spec/containers/0/securityContext/privileged": 19}
	canary := guestbook("parent", "canary", "parent/charts/canary")
	canary[1].values = map[string]any{"/spec/template/spec/containers/0/image": "gcr.io/heptio-images/ks-guestbook-demo:0.2", "/spec/template/metadata/labels/app": "canary"}
	pdir := filepath.Join(root, "parent")
	helper := doc{id: "ServiceAccount/parent-helper", file: filepath.Join(root, "tools", "charts", "helper", "templates", "sa.yaml"),
		template: "parent/charts/tools/charts/helper/templates/sa.yaml", line: 1}
	local := doc{id: "ConfigMap/local", file: filepath.Join(pdir, "charts", "local", "templates", "cm.yaml"), template: "parent/charts/local/templates/cm.yaml", line: 1}
	parentCM := func(canary string) doc {
		return doc{id: "ConfigMap/parent", file: filepath.Join(pdir, "templates", "cm.yaml"), template: "parent/templates/cm.yaml", line: 1,
			values: map[string]any{"/data/canary": canary}}
	}
	tools := doc{id: "Job/parent-tools", file: filepath.Join(root, "tools", "templates", "job.yaml"), template: "parent/charts/tools/templates/job.yaml", line: 1,
		locate: map[string]int{"/spec/template/spec/containers/0/securityContext/runAsNonRoot": 13}}
	gbAbs := guestbook("abs", "gb", "abs/charts/gb")

	for _, c := range []struct {
		name string
		dir  string
		opts Options
		docs []doc // all of them, in order
	}{
		{"argocd-example-apps plugins/kustomized-helm: file://../../helm-guestbook, nothing vendored",
			filepath.Join(root, "plugins", "kustomized-helm"), Options{}, kustomized},
		{"sibling chart, alias disabled by condition, tags, vendored dependency kept, nested charts/ of the file:// chart",
			pdir, Options{}, []doc{helper, local, parentCM("false"), parentGB[0], parentGB[1], tools}},
		{"alias enabled",
			pdir, Options{Set: []Param{{Name: "canary.enabled", Value: "true"}}},
			[]doc{helper, local, parentCM("true"), canary[0], parentGB[0], canary[1], parentGB[1], tools}},
		{"tag disabled",
			pdir, Options{Set: []Param{{Name: "tags.tools", Value: "false"}}}, []doc{local, parentCM("false"), parentGB[0], parentGB[1]}},
		{"absolute path with an alias", abs, Options{}, gbAbs},
	} {
		t.Run(c.name, func(t *testing.T) {
			docs := render(t, c.dir, c.opts)
			var got, want []string
			for _, d := range docs {
				obj := parse(t, d)
				got = append(got, obj["kind"].(string)+"/"+get(obj, "metadata", "name").(string))
			}
			for _, w := range c.docs {
				want = append(want, w.id)
			}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Fatalf("documents\n got %v\nwant %v", got, want)
			}
			for i, w := range c.docs {
				d := docs[i]
				if d.File != w.file || d.Template != w.template || d.Line != w.line || d.Hook {
					t.Errorf("%s: %s (%s) line %d hook %v, want %s (%s) line %d", w.id, d.File, d.Template, d.Line, d.Hook, w.file, w.template, w.line)
				}
				obj := parse(t, d)
				for p, v := range w.values {
					if g := at(obj, p); !equalYAML(g, v) {
						t.Errorf("%s %s = %#v, want %#v", w.id, p, g, v)
					}
				}
				for p, l := range w.locate {
					if g := d.Locate(p); g != l {
						t.Errorf("%s Locate(%s) = %d, want %d", w.id, p, g, l)
					}
				}
			}
		})
	}
}

func equalYAML(a, b any) bool {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if aok || bok {
		return aok && bok && len(am) == 0 && len(bm) == 0
	}
	return a == b
}

func TestRenderFileDependencyErrors(t *testing.T) {
	root := testdata(t, "filedep")
	gbDir := filepath.Join(root, "helm-guestbook")
	for _, c := range []struct {
		name      string
		chart     string // under testdata/filedep; or, with chartYAML, a temporary directory
		chartYAML string
		file      string // relative to the chart
		line      int
		message   string // the whole message
	}{
		{name: "version mismatch", chart: "mismatch", file: "Chart.yaml", line: 8,
			message: `dependency "helm-guestbook" (repository file://../helm-guestbook): the chart in ` + gbDir + ` has version 0.1.0, which does not satisfy version >=0.2.0`},
		{name: "missing path", chart: "missingpath", file: "Chart.yaml", line: 5,
			message: `dependency "helm-guestbook" (repository file://../../helm-guestbook): directory ` + filepath.Join(filepath.Dir(root), "helm-guestbook") + ` not found`},
		{name: "no Chart.yaml", chart: "nochart", file: "Chart.yaml", line: 5,
			message: `dependency "helm-guestbook" (repository file://../helm-guestbook/templates): no Chart.yaml in ` + filepath.Join(gbDir, "templates")},
		{name: "a file, not a directory", chart: "tmp",
			chartYAML: "apiVersion: v2\nname: tmp\nversion: 0.1.0\ndependencies:\n- name: x\n  version: 1.0.0\n  repository: file://" + filepath.Join(gbDir, "Chart.yaml") + "\n",
			file:      "Chart.yaml", line: 5,
			message: `dependency "x" (repository file://` + filepath.Join(gbDir, "Chart.yaml") + `): ` + filepath.Join(gbDir, "Chart.yaml") + ` is not a chart directory`},
		{name: "chart of another name", chart: "tmp",
			chartYAML: "apiVersion: v2\nname: tmp\nversion: 0.1.0\ndependencies:\n- name: guestbook\n  version: '*'\n  repository: file://" + gbDir + "\n",
			file:      "Chart.yaml", line: 5,
			message: `dependency "guestbook" (repository file://` + gbDir + `): the chart in ` + gbDir + ` is named "helm-guestbook", not "guestbook"`},
		{name: "bad constraint; the entry of the alias", chart: "tmp",
			chartYAML: "apiVersion: v2\nname: tmp\nversion: 0.1.0\ndependencies:\n- name: helm-guestbook\n  version: 0.1.0\n  repository: file://" + gbDir + "\n- name: helm-guestbook\n  alias: b\n  version: '>>1'\n  repository: file://" + gbDir + "\n",
			file:      "Chart.yaml", line: 8,
			message: `dependency "helm-guestbook" (repository file://` + gbDir + `): invalid version constraint ">>1"`},
		// Other repositories missing from charts/ are as before.
		{name: "https repository not in charts/", chart: "mixed", file: "Chart.yaml", line: 8,
			message: `dependency "redis" (version 17.x, repository https://charts.bitnami.com/bitnami) is not in charts/: run helm dependency build`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(root, c.chart)
			if c.chartYAML != "" {
				dir = filepath.Join(t.TempDir(), c.chart)
				if err := os.MkdirAll(dir, 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "Chart.yaml"), []byte(c.chartYAML), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := Render(dir, Options{})
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if want := filepath.Join(dir, c.file); e.File != want || e.Line != c.line || e.Message != c.message {
				t.Errorf("got  %s:%d %s\nwant %s:%d %s", e.File, e.Line, e.Message, want, c.line, c.message)
			}
		})
	}
}
