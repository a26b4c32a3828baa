package argocd

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// summary is one line per App: name, namespace, project, then each source as type:path (or
// chart), with helm parameters and kustomize prefix when set.
func summary(a App) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s ns=%s proj=%s", a.Name, a.Namespace, a.Project)
	for _, s := range a.Sources {
		fmt.Fprintf(&b, " %s:%s", s.Type, s.Path+s.Chart)
		if s.Helm != nil {
			if s.Helm.ReleaseName != "" {
				fmt.Fprintf(&b, " release=%s", s.Helm.ReleaseName)
			}
			for _, p := range s.Helm.Parameters {
				fmt.Fprintf(&b, " %s=%s", p.Name, p.Value)
			}
		}
		if s.Kustomize != nil && s.Kustomize.NamePrefix != "" {
			fmt.Fprintf(&b, " prefix=%s", s.Kustomize.NamePrefix)
		}
	}
	return b.String()
}

func TestReadApplicationSet(t *testing.T) {
	repo := testRepo(t)
	tests := []struct {
		name  string
		yaml  string
		want  []string
		warns []string
	}{{
		name: "list",
		yaml: `
spec:
  generators:
    - list:
        elements:
          - {cluster: dev, url: https://1.2.3.4}
          - {cluster: prod, url: https://2.4.6.8, values: {replicas: "3"}}
        elementsYaml: |
          - {cluster: qa, url: https://3.3.3.3}
  template:
    metadata: {name: '{{cluster}}-guestbook'}
    spec:
      project: '{{ cluster }}'
      source:
        repoURL: git@github.com:example/platform.git
        path: apps/helmapp
        helm:
          parameters:
            - {name: replicas, value: '{{values.replicas}}'}
            - {name: url, value: '{{url}}'}
      destination: {server: '{{url}}', namespace: 'gb-{{cluster}}'}
`,
		want: []string{
			"dev-guestbook ns=gb-dev proj=dev helm:apps/helmapp replicas={{values.replicas}} url=https://1.2.3.4",
			"prod-guestbook ns=gb-prod proj=prod helm:apps/helmapp replicas=3 url=https://2.4.6.8",
			"qa-guestbook ns=gb-qa proj=qa helm:apps/helmapp replicas={{values.replicas}} url=https://3.3.3.3",
		},
	}, {
		name: "git directories with exclude",
		yaml: `
spec:
  generators:
    - git:
        repoURL: git@github.com:example/platform.git
        revision: HEAD
        directories:
          - path: apps/*
          - path: apps/skip
            exclude: true
  template:
    metadata: {name: '{{path.basename}}'}
    spec:
      project: default
      source: {repoURL: https://github.com/example/platform, path: '{{path}}'}
      destination: {namespace: '{{path[0]}}-{{path.basenameNormalized}}'}
`,
		want: []string{
			"guestbook ns=apps-guestbook proj=default kustomize:apps/guestbook",
			"helmapp ns=apps-helmapp proj=default helm:apps/helmapp",
			"plain ns=apps-plain proj=default directory:apps/plain",
		},
	}, {
		name: "git files, fasttemplate",
		yaml: `
spec:
  generators:
    - git:
        repoURL: https://github.com/example/platform
        files: [{path: clusters/*/config.json}]
        values: {where: '{{cluster.address}}'}
  template:
    metadata: {name: '{{cluster.name}}-app'}
    spec:
      project: default
      source:
        repoURL: https://github.com/example/platform
        path: apps/helmapp
        helm:
          releaseName: '{{path.basename}}'
          parameters:
            - {name: replicas, value: '{{replicas}}'}
            - {name: tag, value: '{{tags.0}}'}
            - {name: file, value: '{{path}}/{{path.filename}}'}
            - {name: where, value: '{{values.where}}'}
      destination: {namespace: '{{path[1]}}'}
`,
		want: []string{
			"dev-app ns=dev proj=default helm:apps/helmapp release=dev replicas=2 tag=a file=clusters/dev/config.json where=https://1.2.3.4",
			"prod-app ns=prod proj=default helm:apps/helmapp release=prod replicas=5 tag={{tags.0}} file=clusters/prod/config.json where=https://2.4.6.8",
		},
	}, {
		name: "git files, goTemplate",
		yaml: `
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - git:
        repoURL: https://github.com/example/platform
        files: [{path: clusters/**}, {path: clusters/prod/config.json, exclude: true}]
        pathParamPrefix: cfg
        values: {where: '{{.cluster.address}}'}
  template:
    metadata: {name: '{{.cluster.name}}-app'}
    spec:
      project: default
      source:
        repoURL: https://github.com/example/platform
        path: apps/helmapp
        helm:
          releaseName: '{{.cfg.path.basename}}'
          parameters:
            - {name: replicas, value: '{{.replicas}}'}
            - {name: tag, value: '{{index .tags 1}}'}
            - {name: file, value: '{{.cfg.path.path}}/{{.cfg.path.filenameNormalized}}'}
            - {name: segments, value: '{{join "," .cfg.path.segments}}'}
            - {name: where, value: '{{.values.where}}'}
      destination: {namespace: '{{.cluster.name | upper}}'}
`,
		want: []string{
			"dev-app ns=DEV proj=default helm:apps/helmapp release=dev replicas=2 tag=b file=clusters/dev/config.json segments=clusters,dev where=https://1.2.3.4",
		},
	}, {
		name: "git file holding a list",
		yaml: `
spec:
  generators:
    - git:
        repoURL: https://github.com/example/platform
        files: [{path: envs/envs.yaml}]
  template:
    metadata: {name: '{{env}}-{{region}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: apps/plain}
      destination: {namespace: '{{path.basename}}-{{path.filename}}'}
`,
		want: []string{
			"staging-eu ns=envs-envs.yaml proj=default directory:apps/plain",
			"production-us ns=envs-envs.yaml proj=default directory:apps/plain",
		},
	}, {
		name: "matrix of git directories and list",
		yaml: `
spec:
  generators:
    - matrix:
        generators:
          - git:
              repoURL: https://github.com/example/platform.git
              directories: [{path: apps/guestbook}, {path: apps/plain}]
          - list:
              elements: [{env: dev}, {env: prod}]
  template:
    metadata: {name: '{{path.basename}}-{{env}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: '{{path}}'}
      destination: {namespace: '{{env}}'}
`,
		want: []string{
			"guestbook-dev ns=dev proj=default kustomize:apps/guestbook",
			"guestbook-prod ns=prod proj=default kustomize:apps/guestbook",
			"plain-dev ns=dev proj=default directory:apps/plain",
			"plain-prod ns=prod proj=default directory:apps/plain",
		},
	}, {
		name: "matrix: the second generator uses the first's params",
		yaml: `
spec:
  goTemplate: true
  generators:
    - matrix:
        generators:
          - list:
              elements: [{dir: clusters/dev}, {dir: clusters/prod}]
          - git:
              repoURL: https://github.com/example/platform.git
              files: [{path: '{{.dir}}/config.json'}]
  template:
    metadata: {name: '{{.cluster.name}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: '{{.path.path}}'}
      destination: {namespace: '{{.dir}}'}
`,
		want: []string{
			"dev ns=clusters/dev proj=default directory:clusters/dev",
			"prod ns=clusters/prod proj=default directory:clusters/prod",
		},
		warns: nil,
	}, {
		name: "merge with mergeKeys",
		yaml: `
spec:
  goTemplate: true
  generators:
    - merge:
        mergeKeys: [app]
        generators:
          - list:
              elements: [{app: a, ns: a-ns, tier: web}, {app: b, ns: b-ns, tier: db}, {app: c, ns: c-ns, tier: db}]
          - list:
              elements: [{app: b, ns: override}, {app: z, ns: unused}]
          - list:
              elements: [{app: c, tier: cache}]
  template:
    metadata: {name: '{{.app}}'}
    spec:
      project: '{{.tier}}'
      source: {repoURL: https://github.com/example/platform, path: apps/plain}
      destination: {namespace: '{{.ns}}'}
`,
		want: []string{
			"a ns=a-ns proj=web directory:apps/plain",
			"b ns=override proj=db directory:apps/plain",
			"c ns=c-ns proj=cache directory:apps/plain",
		},
	}, {
		name: "merge of git directories and list, fasttemplate",
		yaml: `
spec:
  generators:
    - merge:
        mergeKeys: [path.basename]
        generators:
          - git:
              repoURL: https://github.com/example/platform
              directories: [{path: 'apps/[gh]*'}]
          - list:
              elements: [{path.basename: helmapp, ns: special}, {path.basename: guestbook, ns: gb}]
  template:
    metadata: {name: '{{path.basename}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: '{{path}}'}
      destination: {namespace: '{{ns}}'}
`,
		want: []string{
			"guestbook ns=gb proj=default kustomize:apps/guestbook",
			"helmapp ns=special proj=default helm:apps/helmapp",
		},
	}, {
		name: "unsupported generator",
		yaml: `
spec:
  generators:
    - clusters: {selector: {matchLabels: {env: prod}}}
    - list: {elements: [{name: one}]}
  template:
    metadata: {name: '{{name}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: apps/plain}
`,
		want:  []string{"one ns= proj=default directory:apps/plain"},
		warns: []string{`ApplicationSet "set": the clusters generator (/spec/generators/0/clusters) is not supported: nothing is rendered for it`},
	}, {
		name: "unsupported generator in a matrix",
		yaml: `
spec:
  generators:
    - matrix:
        generators:
          - list: {elements: [{a: ex}, {a: why}]}
          - pullRequest: {github: {owner: o, repo: r}}
  template:
    metadata: {name: '{{a}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: apps/plain}
`,
		warns: []string{`ApplicationSet "set": the pullRequest generator (/spec/generators/0/matrix/generators/1/pullRequest) is not supported: nothing is rendered for it`},
	}, {
		name: "goTemplate with sprig",
		yaml: `
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - git:
        repoURL: https://github.com/example/platform
        directories: [{path: 'apps/*'}, {path: apps/skip, exclude: true}, {path: apps/plain, exclude: true}]
  template:
    metadata: {name: '{{ .path.basename | upper }}'}
    spec:
      project: '{{ index .path.segments 0 }}'
      source: {repoURL: https://github.com/example/platform, path: '{{ .path.path }}'}
      destination: {namespace: '{{ normalize "Team_A" }}-{{ .path.basename | trunc 4 }}'}
`,
		want: []string{
			"GUESTBOOK ns=team-a-gues proj=apps kustomize:apps/guestbook",
			"HELMAPP ns=team-a-helm proj=apps helm:apps/helmapp",
		},
	}, {
		name: "missingkey=error",
		yaml: `
spec:
  goTemplate: true
  goTemplateOptions: ["missingkey=error"]
  generators:
    - list: {elements: [{a: x}]}
  template:
    metadata: {name: '{{.b}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: apps/plain}
`,
		warns: []string{`ApplicationSet "set": failed to execute go template {{.b}}: template: :1:2: executing "" at <.b>: map has no entry for key "b"`},
	}, {
		name: "git generator of another repository",
		yaml: `
spec:
  generators:
    - git: {repoURL: https://github.com/other/repo, directories: [{path: '*'}]}
  template:
    metadata: {name: '{{path.basename}}'}
    spec:
      source: {repoURL: https://github.com/other/repo, path: '{{path}}'}
`,
		warns: []string{`ApplicationSet "set": the git generator (/spec/generators/0/git) reads "https://github.com/other/repo", not this repository: nothing is rendered for it`},
	}, {
		name: "selector, generator template, templatePatch",
		yaml: `
spec:
  goTemplate: true
  generators:
    - list:
        elements: [{env: dev, count: "1"}, {env: prod, count: "3"}]
        template:
          metadata: {name: 'sel-{{.env}}'}
          spec:
            project: from-generator
      selector:
        matchExpressions: [{key: env, operator: In, values: [prod]}]
  template:
    metadata: {name: unused}
    spec:
      project: unused
      source: {repoURL: https://github.com/example/platform, path: apps/helmapp}
      destination: {namespace: '{{.env}}'}
  templatePatch: |
    spec:
      source:
        helm:
          parameters:
            - name: replicas
              value: "{{ .count }}"
`,
		want: []string{"sel-prod ns=prod proj=from-generator helm:apps/helmapp replicas=3"},
	}, {
		name: "duplicate names, bad matrix",
		yaml: `
spec:
  generators:
    - list: {elements: [{a: x}, {a: x}]}
    - matrix: {generators: [{list: {elements: [{a: why}]}}]}
  template:
    metadata: {name: 'dup-{{a}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: apps/plain}
`,
		want: []string{"dup-x ns= proj=default directory:apps/plain"},
		warns: []string{
			`ApplicationSet "set" generates more than one Application named "dup-x" (Argo CD refuses this); the first is kept`,
			`ApplicationSet "set": /spec/generators/1/matrix: a matrix needs exactly two generators, it has 1`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := decode(t, "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: set}\n"+tt.yaml)
			apps, warns := Read(obj, "sets.yaml", 12, repo)
			var got []string
			for _, a := range apps {
				got = append(got, summary(a))
				if a.AppSet != "set" || a.File != "sets.yaml" || a.Line != 12 {
					t.Errorf("%s: AppSet %q at %s:%d", a.Name, a.AppSet, a.File, a.Line)
				}
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("apps:\n got %q\nwant %q", got, tt.want)
			}
			if got := messages(warns); !reflect.DeepEqual(got, tt.warns) {
				t.Errorf("warnings:\n got %q\nwant %q", got, tt.warns)
			}
		})
	}
}

func TestReadApplicationSetPointers(t *testing.T) {
	repo := testRepo(t)
	obj := decode(t, `
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: set}
spec:
  generators:
    - list:
        elements: [{a: x}]
    - list:
        elements: [{a: why}]
        template:
          metadata: {}
          spec:
            sources: [{repoURL: https://github.com/example/platform, path: apps/plain}]
  template:
    metadata: {name: 'p-{{a}}'}
    spec:
      sources:
        - {repoURL: https://github.com/example/platform, path: apps/guestbook}
        - {repoURL: https://github.com/example/platform, ref: values}
`)
	apps, warns := Read(obj, "f.yaml", 1, repo)
	if len(warns) != 0 {
		t.Fatalf("warnings: %v", warns)
	}
	want := []App{{
		Name: "p-x", Project: "default", File: "f.yaml", Line: 1, AppSet: "set",
		Sources: []Source{
			{RepoURL: platform, Path: "apps/guestbook", Type: Kustomize, Pointer: "/spec/template/spec/sources/0"},
			{RepoURL: platform, Ref: "values", Pointer: "/spec/template/spec/sources/1"},
		},
	}, {
		Name: "p-why", Project: "default", File: "f.yaml", Line: 1, AppSet: "set",
		Sources: []Source{{RepoURL: platform, Path: "apps/plain", Type: Directory, Pointer: "/spec/generators/1/list/template/spec/sources/0"}},
	}}
	if !reflect.DeepEqual(apps, want) {
		t.Errorf("got %#v\nwant %#v", apps, want)
	}
}
