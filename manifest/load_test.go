package manifest

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// writeTree creates files (path -> content) under a new directory and
// changes into it, so that reported names are relative to it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Chdir(dir)
	return dir
}

func names(set *Set) []string {
	var out []string
	for _, o := range set.Objects {
		out = append(out, o.Ref().String()+"@"+o.Source.File)
	}
	sort.Strings(out)
	return out
}

func byName(t *testing.T, set *Set, ref string) *Object {
	t.Helper()
	for _, o := range set.Objects {
		if o.Ref().String() == ref {
			return o
		}
	}
	t.Fatalf("no object %s among %v", ref, names(set))
	return nil
}

const cm = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n"

func TestLoadInfraRepo(t *testing.T) {
	t.Chdir("../testdata/infra-repo")
	set := Load(context.Background(), []string{"."})
	if len(set.Errors) != 0 {
		t.Fatalf("errors: %v", set.Errors)
	}
	got := strings.Join(names(set), "\n")
	for _, want := range []string{
		// Overlays render their base; each object is placed in its base file.
		"Deployment staging/shop@app/base/deployment.yaml",
		"Deployment production/shop@app/base/deployment.yaml",
		"Deployment dk-1234/shop@app/base/deployment.yaml",
		"Ingress production/shop@app/base/ingress.yaml",
		// Generated objects are placed in the kustomization that generates them.
		"ConfigMap production/shop-config-hf678c7m2b@app/base/kustomization.yaml",
		"Secret production/shop-db@app/overlays/production/secret.yaml",
		"PodDisruptionBudget staging/shop@app/overlays/staging/pdb.yaml",
		"DaemonSet monitoring/node-exporter@platform/node-exporter/daemonset.yaml",
		"Application argocd/shop-production@argocd-apps/production/shop.yaml",
	} {
		if !strings.Contains(got, want+"\n") && !strings.HasSuffix(got, want) {
			t.Errorf("missing %s", want)
		}
	}
	// The base is consumed by the overlays: never rendered on its own (it
	// would have no namespace), and its files are not read again alone.
	for _, o := range set.Objects {
		if o.Namespace() == "" && o.Kind() != "CustomResourceDefinition" {
			t.Errorf("object without namespace: %s from %s", o.Ref(), o.Source.File)
		}
	}
	if n := len(set.Objects); n != 22 {
		t.Errorf("got %d objects, want 22:\n%s", n, got)
	}

	// Lines inside a base file, for a field the overlay left alone.
	dep := byName(t, set, "Deployment production/shop")
	if dep.Source.Line != 1 || dep.Line("/spec/template/spec/containers/0/image") != 11 {
		t.Errorf("deployment lines: object %d, image %d; want 1, 11", dep.Source.Line, dep.Line("/spec/template/spec/containers/0/image"))
	}
	// A field the overlay changed is not where the base says: the object's line.
	if got := dep.Line("/spec/replicas"); got != 1 {
		t.Errorf("replicas patched by the overlay: line %d, want the object's line 1", got)
	}
	ing := byName(t, set, "Ingress dk-1234/shop")
	if got := ing.Line("/spec/rules/0/host"); got != 1 {
		t.Errorf("host patched by dk-1234: line %d, want 1", got)
	}
	ing = byName(t, set, "Ingress staging/shop")
	if got := ing.Line("/spec/rules/0/host"); got != 8 {
		t.Errorf("host kept from the base: line %d, want 8", got)
	}
	gen := byName(t, set, "ConfigMap staging/shop-config-hf678c7m2b")
	if gen.Source.Line != 12 {
		t.Errorf("generated ConfigMap line %d, want 12 (its generator)", gen.Source.Line)
	}
	if _, ok := gen.Annotations()[originAnnotation]; ok {
		t.Errorf("origin annotation leaked into the object")
	}
}

func TestLoadExplicitBaseIsRendered(t *testing.T) {
	t.Chdir("../testdata/infra-repo")
	set := Load(context.Background(), []string{"app/base"})
	if len(set.Errors) != 0 || len(set.Objects) != 4 {
		t.Fatalf("objects %v errors %v", names(set), set.Errors)
	}
	set = Load(context.Background(), []string{"app/base/kustomization.yaml"})
	if len(set.Objects) != 4 {
		t.Fatalf("naming the kustomization file: objects %v", names(set))
	}
}

func TestLoadKustomizeErrorKeepsTheRest(t *testing.T) {
	writeTree(t, map[string]string{
		"broken/kustomization.yaml": "resources:\n  - missing.yaml\n",
		"plain/cm.yaml":             strings.ReplaceAll(cm, "%s", "plain"),
	})
	set := Load(context.Background(), []string{"."})
	if len(set.Objects) != 1 || set.Objects[0].Name() != "plain" {
		t.Errorf("objects = %v", names(set))
	}
	if len(set.Errors) != 0 {
		t.Errorf("errors = %v, want none: a kustomization that does not build is a render problem", set.Errors)
	}
	if len(set.Problems) != 1 || set.Problems[0].File != "broken/kustomization.yaml" || set.Problems[0].Line != 2 ||
		set.Problems[0].Message != "kustomize build broken: resource missing.yaml does not exist" {
		t.Errorf("problems = %+v", set.Problems)
	}
}

func TestLoadFilesStdinExcludeAndErrors(t *testing.T) {
	writeTree(t, map[string]string{
		"a/one.yaml":                  strings.ReplaceAll(cm, "%s", "one"),
		"a/two.json":                  `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}`,
		"a/notes.txt":                 strings.ReplaceAll(cm, "%s", "txt-is-not-read"),
		"a/broken.yaml":               "apiVersion: v1\nkind: [\n",
		"vendor/x.yaml":               strings.ReplaceAll(cm, "%s", "vendored"),
		"a/skip.tmpl.yaml":            strings.ReplaceAll(cm, "%s", "template"),
		"chart/Chart.yaml":            "apiVersion: v2\nname: c\nversion: 0.1.0\n",
		"chart/values.yaml":           "x: 1\n",
		"chart/templates/cm.yaml":     "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n",
		".git/objects/config.yaml":    strings.ReplaceAll(cm, "%s", "git"),
		"deep/er/still/three.yml":     strings.ReplaceAll(cm, "%s", "three"),
		"deep/er/still/excluded.yaml": strings.ReplaceAll(cm, "%s", "deep-excluded"),
		"policy/gatekeep.yaml":        "checks: {}\n",
		"policy/constraint.yaml":      strings.ReplaceAll(cm, "%s", "policy-is-not-a-manifest"),
	})
	stdin := strings.NewReader(strings.ReplaceAll(cm, "%s", "from-stdin"))
	set := Load(context.Background(), []string{".", "-", "nope.yaml"},
		WithStdin(stdin), WithExclude("vendor", "*.tmpl.yaml", "deep/**/excluded.yaml"))
	want := []string{
		"ConfigMap chart@chart/templates/cm.yaml",
		"ConfigMap from-stdin@<stdin>",
		"ConfigMap one@a/one.yaml",
		"ConfigMap three@deep/er/still/three.yml",
		"ConfigMap two@a/two.json",
	}
	if got := names(set); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("objects = %v\nwant %v", got, want)
	}
	if len(set.Errors) != 2 {
		t.Fatalf("errors = %v, want broken.yaml and nope.yaml", set.Errors)
	}
	if e := set.Errors[0]; e.File != "a/broken.yaml" || e.Line != 2 {
		t.Errorf("first error = %v, want a/broken.yaml:2", e)
	}
	if e := set.Errors[1]; e.File != "nope.yaml" || !strings.Contains(e.Message, "no such file") {
		t.Errorf("second error = %v", e)
	}
	if set.Files != 7 {
		t.Errorf("Files = %d, want 7 (5 with objects, one of them a chart's template, 1 broken, 1 missing)", set.Files)
	}
	if set.Rendered.HelmCharts != 1 {
		t.Errorf("Rendered = %+v, want the chart", set.Rendered)
	}
}

func TestGlobMatcher(t *testing.T) {
	for _, tc := range []struct {
		glob, path string
		match      bool
	}{
		{"*.tmpl.yaml", "a/b/x.tmpl.yaml", true},
		{"*.tmpl.yaml", "a/b/x.yaml", false},
		{"vendor", "x/vendor", true},
		{"a/*.yaml", "a/b.yaml", true},
		{"a/*.yaml", "a/c/b.yaml", false},
		{"a/**/b.yaml", "a/b.yaml", true},
		{"a/**/b.yaml", "a/x/y/b.yaml", true},
		{"./a/**", "a/x/y/b.yaml", true},
		{"charts/", "charts", true},
		{"file?.yaml", "file1.yaml", true},
	} {
		if got := globMatcher(tc.glob)(tc.path, false); got != tc.match {
			t.Errorf("glob %q on %q = %v, want %v", tc.glob, tc.path, got, tc.match)
		}
	}
}
