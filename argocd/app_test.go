package argocd

import (
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

func decode(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func messages(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Message)
	}
	return out
}

const platform = "https://github.com/example/platform"

func TestReadApplication(t *testing.T) {
	repo := testRepo(t)
	tests := []struct {
		name  string
		yaml  string
		want  []App
		warns []string
	}{{
		name: "helm",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: helmapp, namespace: argocd}
spec:
  project: team-a
  destination: {server: https://kubernetes.default.svc, namespace: web}
  source:
    repoURL: git@github.com:example/platform.git
    targetRevision: main
    path: apps/helmapp
    helm:
      releaseName: web
      namespace: other
      valueFiles: [values.yaml, values-prod.yaml]
      values: |
        a: 1
      valuesObject:
        b: {c: true}
      parameters:
        - {name: image.tag, value: v1}
        - {name: port, value: "80", forceString: true}
      fileParameters:
        - {name: cfg, path: files/cfg.txt}
      skipCrds: true
      ignoreMissingValueFiles: true
`,
		want: []App{{
			Name: "helmapp", Namespace: "web", Project: "team-a", File: "apps.yaml", Line: 7,
			Sources: []Source{{
				RepoURL: "git@github.com:example/platform.git", Path: "apps/helmapp", TargetRevision: "main",
				Type: Helm, Pointer: "/spec/source",
				Helm: &HelmOptions{
					ValueFiles:     []string{"values.yaml", "values-prod.yaml"},
					Values:         "a: 1\n",
					ValuesObject:   map[string]any{"b": map[string]any{"c": true}},
					Parameters:     []HelmParameter{{Name: "image.tag", Value: "v1"}, {Name: "port", Value: "80", ForceString: true}},
					FileParameters: []HelmFileParameter{{Name: "cfg", Path: "files/cfg.txt"}},
					ReleaseName:    "web", Namespace: "other", SkipCrds: true, IgnoreMissingValueFiles: true,
				},
			}},
		}},
	}, {
		name: "kustomize",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: guestbook}
spec:
  project: default
  destination: {namespace: gb}
  source:
    repoURL: https://github.com/example/platform
    path: apps/guestbook
    kustomize:
      namePrefix: p-
      nameSuffix: -s
      namespace: kns
      images: [nginx:1.25]
      commonLabels: {team: a}
      commonAnnotations: {note: x}
      forceCommonLabels: true
      forceCommonAnnotations: true
      components: [../../components/c]
      patches:
        - target: {kind: Deployment}
          patch: "- op: replace\n  path: /spec/replicas\n  value: 2"
      replicas:
        - {name: guestbook, count: 3}
`,
		want: []App{{
			Name: "guestbook", Namespace: "gb", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{{
				RepoURL: platform, Path: "apps/guestbook", Type: Kustomize, Pointer: "/spec/source",
				Kustomize: &KustomizeOptions{
					NamePrefix: "p-", NameSuffix: "-s", Namespace: "kns", Images: []string{"nginx:1.25"},
					CommonLabels: map[string]string{"team": "a"}, CommonAnnotations: map[string]string{"note": "x"},
					Patches: []any{map[string]any{
						"target": map[string]any{"kind": "Deployment"},
						"patch":  "- op: replace\n  path: /spec/replicas\n  value: 2",
					}},
					Components:        []string{"../../components/c"},
					Replicas:          []any{map[string]any{"name": "guestbook", "count": float64(3)}},
					ForceCommonLabels: true, ForceCommonAnnotations: true,
				},
			}},
		}},
	}, {
		name: "directory, no project, no namespace",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: plain}
spec:
  source:
    repoURL: https://github.com/example/platform
    path: apps/plain
    directory: {recurse: true, include: '{*.yaml,env/*}', exclude: 'secret*'}
`,
		want: []App{{
			Name: "plain", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{{
				RepoURL: platform, Path: "apps/plain", Type: Directory, Pointer: "/spec/source",
				Directory: &DirectoryOptions{Recurse: true, Include: "{*.yaml,env/*}", Exclude: "secret*"},
			}},
		}},
	}, {
		name: "multi-source with $values",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: redis}
spec:
  destination: {namespace: cache}
  source: {repoURL: https://ignored.example.com, path: x}
  sources:
    - repoURL: https://charts.example.com
      chart: redis
      targetRevision: 1.2.3
      helm:
        valueFiles: [$values/values/prod.yaml]
    - repoURL: https://github.com/example/platform.git
      targetRevision: main
      ref: values
    - repoURL: https://github.com/example/platform.git
      path: apps/plain
`,
		want: []App{{
			Name: "redis", Namespace: "cache", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{{
				RepoURL: "https://charts.example.com", Chart: "redis", TargetRevision: "1.2.3", Type: Helm,
				Pointer: "/spec/sources/0", Helm: &HelmOptions{ValueFiles: []string{"$values/values/prod.yaml"}},
			}, {
				RepoURL: platform + ".git", TargetRevision: "main", Ref: "values", Pointer: "/spec/sources/1",
			}, {
				RepoURL: platform + ".git", Path: "apps/plain", Type: Directory, Pointer: "/spec/sources/2",
			}},
		}},
	}, {
		name: "another repo",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: other}
spec:
  source: {repoURL: https://github.com/other/repo, path: apps/guestbook}
`,
		want: []App{{
			Name: "other", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{{RepoURL: "https://github.com/other/repo", Path: "apps/guestbook", Pointer: "/spec/source"}},
		}},
	}, {
		name: "detected types",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: detect}
spec:
  sources:
    - {repoURL: https://github.com/example/platform, path: apps/guestbook}
    - {repoURL: https://github.com/example/platform, path: apps/helmapp}
    - {repoURL: https://github.com/example/platform, path: apps/plain}
    - {repoURL: https://github.com/example/platform, path: both}
    - {repoURL: https://github.com/example/platform, path: apps/helmapp, plugin: {name: cmp}}
`,
		want: []App{{
			Name: "detect", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{
				{RepoURL: platform, Path: "apps/guestbook", Type: Kustomize, Pointer: "/spec/sources/0"},
				{RepoURL: platform, Path: "apps/helmapp", Type: Helm, Pointer: "/spec/sources/1"},
				{RepoURL: platform, Path: "apps/plain", Type: Directory, Pointer: "/spec/sources/2"},
				{RepoURL: platform, Path: "both", Type: Kustomize, Pointer: "/spec/sources/3"},
				{RepoURL: platform, Path: "apps/helmapp", Type: Plugin, Pointer: "/spec/sources/4"},
			},
		}},
	}, {
		name: ".argocd-source overrides",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: special}
spec:
  source: {repoURL: https://github.com/example/platform, path: other/overridden}
`,
		want: []App{{
			Name: "special", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{{
				RepoURL: platform, Path: "other/overridden", Type: Kustomize, Pointer: "/spec/source",
				Kustomize: &KustomizeOptions{NamePrefix: "from-file-", NameSuffix: "-special"},
			}},
		}},
	}, {
		name: "source hydrator",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: hydrated}
spec:
  destination: {namespace: h}
  sourceHydrator:
    drySource: {repoURL: https://github.com/example/platform, path: apps/helmapp, targetRevision: HEAD}
    syncSource: {targetBranch: env/prod, path: hydrated}
`,
		want: []App{{
			Name: "hydrated", Namespace: "h", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{{RepoURL: platform, Path: "apps/helmapp", TargetRevision: "HEAD", Type: Helm, Pointer: "/spec/sourceHydrator/drySource"}},
		}},
	}, {
		name: "mistakes",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: wrong}
spec:
  source:
    repoURL: https://github.com/example/platform
    path: apps/helmapp
    helm:
      parameters: [{name: port, value: 80}]
    kustomize: {}
`,
		want: []App{{
			Name: "wrong", Project: "default", File: "apps.yaml", Line: 7,
			Sources: []Source{{
				RepoURL: platform, Path: "apps/helmapp", Pointer: "/spec/source",
				Kustomize: &KustomizeOptions{},
				Helm:      &HelmOptions{Parameters: []HelmParameter{{Name: "port", Value: "80"}}},
			}},
		}},
		warns: []string{
			"/spec/source/helm/parameters/0/value is not a string",
			"/spec/source: multiple application sources defined: kustomize,helm (Argo CD refuses this source)",
		},
	}, {
		name: "no source",
		yaml: `
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: empty}
spec: {project: p}
`,
		want:  []App{{Name: "empty", Project: "p", File: "apps.yaml", Line: 7}},
		warns: []string{`Application "empty" has no source`},
	}, {
		name: "not argo",
		yaml: `{apiVersion: v1, kind: ConfigMap, metadata: {name: x}}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			apps, warns := Read(decode(t, tt.yaml), "apps.yaml", 7, repo)
			if !reflect.DeepEqual(apps, tt.want) {
				t.Errorf("apps:\n got %#v\nwant %#v", apps, tt.want)
			}
			if got := messages(warns); !reflect.DeepEqual(got, tt.warns) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warns)
			}
			for _, w := range warns {
				if w.File != "apps.yaml" || w.Line != 7 {
					t.Errorf("warning at %s:%d", w.File, w.Line)
				}
			}
		})
	}
}

func TestIsKinds(t *testing.T) {
	for _, tt := range []struct {
		obj            string
		app, appSetOut bool
	}{
		{`{apiVersion: argoproj.io/v1alpha1, kind: Application}`, true, false},
		{`{apiVersion: argoproj.io/v1alpha1, kind: ApplicationSet}`, false, true},
		{`{apiVersion: argoproj.io/v1alpha1, kind: AppProject}`, false, false},
		{`{apiVersion: argoproj.io/v1beta1, kind: Application}`, false, false},
		{`{kind: Application}`, false, false},
	} {
		m := decode(t, tt.obj)
		if IsApplication(m) != tt.app || IsApplicationSet(m) != tt.appSetOut {
			t.Errorf("%s: IsApplication %v IsApplicationSet %v", tt.obj, IsApplication(m), IsApplicationSet(m))
		}
	}
}

func TestValueFile(t *testing.T) {
	repo := testRepo(t)
	chart := Source{RepoURL: "https://charts.example.com", Chart: "redis", Helm: &HelmOptions{}}
	local := Source{RepoURL: platform, Path: "apps/helmapp", Helm: &HelmOptions{}}
	ignoring := Source{RepoURL: platform, Path: "apps/helmapp", Helm: &HelmOptions{IgnoreMissingValueFiles: true}}
	other := Source{RepoURL: "https://github.com/other/repo", Path: "chart", Helm: &HelmOptions{}}
	app := App{Name: "helmapp", Namespace: "web", Project: "default", Sources: []Source{
		chart, local,
		{RepoURL: platform + ".git", Ref: "values"},
		{RepoURL: "https://github.com/other/values", Ref: "theirs"},
	}}
	tests := []struct {
		src    Source
		file   string
		path   string
		ok     bool
		reason string
	}{
		{chart, "$values/values/prod.yaml", "values/prod.yaml", true, ""},
		{chart, "$values//values/prod.yaml", "values/prod.yaml", true, ""},
		{local, "$values/apps/helmapp/values.yaml", "apps/helmapp/values.yaml", true, ""},
		{chart, "$theirs/values.yaml", "", false, `value file "$theirs/values.yaml" is in https://github.com/other/values, not this repository`},
		{chart, "$values/../outside.yaml", "", false, `value file "$values/../outside.yaml" resolves outside the repository`},
		{chart, "values.yaml", "", false, `value file "values.yaml": chart "redis" comes from the Helm repository https://charts.example.com`},
		{local, "values-prod.yaml", "apps/helmapp/values-prod.yaml", true, ""},
		{local, "../../values/prod.yaml", "values/prod.yaml", true, ""},
		{local, "/values/prod.yaml", "values/prod.yaml", true, ""}, // absolute: from the repository root
		{local, "../../../x.yaml", "", false, `value file "../../../x.yaml" resolves outside the repository`},
		{local, "values-$ARGOCD_APP_NAMESPACE.yaml", "", false, `value file "values-$ARGOCD_APP_NAMESPACE.yaml" does not exist`},
		{local, "$ARGOCD_APP_NAME/../values.yaml", "apps/helmapp/values.yaml", true, ""},
		{local, "values-${ARGOCD_APP_REVISION}.yaml", "", false, `value file "values-${ARGOCD_APP_REVISION}.yaml" uses $ARGOCD_APP_REVISION, known only when Argo CD renders`},
		{local, "https://example.com/values.yaml", "", false, `value file "https://example.com/values.yaml" is a URL`},
		{local, "missing.yaml", "", false, `value file "missing.yaml" does not exist`},
		{ignoring, "missing.yaml", "", false, `value file "missing.yaml" does not exist (ignoreMissingValueFiles)`},
		{other, "values.yaml", "", false, `value file "values.yaml": repoURL "https://github.com/other/repo" is not this repository`},
	}
	for _, tt := range tests {
		p, ok, reason := repo.ValueFile(app, tt.src, tt.file)
		want := ""
		if tt.path != "" {
			want = filepath.Join(repo.Root, tt.path)
		}
		if p != want || ok != tt.ok || reason != tt.reason {
			t.Errorf("ValueFile(%s, %q) = %q, %v, %q; want %q, %v, %q", tt.src.Path, tt.file, p, ok, reason, want, tt.ok, tt.reason)
		}
	}
}
