package argocd

import (
	"testing"

	"sigs.k8s.io/yaml"
)

var fuzzSeeds = []string{
	`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: a}
spec:
  destination: {namespace: web}
  sources:
    - {repoURL: https://charts.example.com, chart: redis, helm: {valueFiles: [$values/values/prod.yaml]}}
    - {repoURL: https://github.com/example/platform, ref: values}
    - {repoURL: https://github.com/example/platform, path: other/overridden}
`,
	`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: b}
spec:
  source:
    repoURL: git@github.com:example/platform.git
    path: apps/helmapp
    helm: {parameters: [{name: a, value: b}], valuesObject: {x: 1}}
    kustomize: {images: [x], replicas: [{name: a, count: 1}]}
`,
	`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  generators:
    - matrix:
        generators:
          - git: {repoURL: https://github.com/example/platform, directories: [{path: 'apps/*'}, {path: apps/skip, exclude: true}]}
          - list: {elements: [{env: dev}], elementsYaml: "- {env: qa}"}
    - clusters: {}
  template:
    metadata: {name: '{{path.basename}}-{{env}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: '{{path}}'}
`,
	`apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {name: s}
spec:
  goTemplate: true
  goTemplateOptions: [missingkey=error]
  generators:
    - merge:
        mergeKeys: [app]
        generators:
          - git: {repoURL: https://github.com/example/platform, files: [{path: 'clusters/*/config.json'}], pathParamPrefix: p}
          - list: {elements: [{app: x}]}
      selector: {matchLabels: {app: x}}
  template:
    metadata: {name: '{{.cluster.name | upper}}'}
    spec:
      source: {repoURL: https://github.com/example/platform, path: '{{.p.path.path}}'}
  templatePatch: '{"spec": {"project": "{{.app}}"}}'
`,
}

func FuzzRead(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	repo := testRepo(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var obj map[string]any
		if err := yaml.Unmarshal(data, &obj); err != nil || obj == nil {
			return
		}
		apps, _ := Read(obj, "fuzz.yaml", 1, repo)
		for _, a := range apps {
			for _, s := range a.Sources {
				repo.Local(s)
				if s.Helm != nil {
					for _, v := range s.Helm.ValueFiles {
						repo.ValueFile(a, s, v)
					}
				}
			}
		}
	})
}
