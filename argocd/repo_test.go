package argocd

import (
	"os"
	"path/filepath"
	"testing"
)

func TestOwns(t *testing.T) {
	repo := Repo{URLs: []string{"git@github.com:argoproj/argocd-example-apps.git"}}
	tests := []struct {
		url  string
		want bool
	}{
		{"https://github.com/argoproj/argocd-example-apps", true},
		{"https://github.com/argoproj/argocd-example-apps.git", true},
		{"https://github.com/argoproj/argocd-example-apps/", true},
		{"https://github.com/argoproj/argocd-example-apps.git/", true},
		{"http://github.com/argoproj/argocd-example-apps", true},
		{"ssh://git@github.com/argoproj/argocd-example-apps.git", true},
		{"ssh://git@github.com:22/argoproj/argocd-example-apps", true},
		{"git://github.com/argoproj/argocd-example-apps", true},
		{"git@github.com:argoproj/argocd-example-apps", true},
		{"https://GitHub.COM/argoproj/argocd-example-apps", true},
		{"https://user:token@github.com/argoproj/argocd-example-apps", true},
		{"  https://github.com/argoproj/argocd-example-apps  ", true},
		{"https://github.com/argoproj/argo-cd", false},
		{"https://gitlab.com/argoproj/argocd-example-apps", false},
		{"https://github.com/argoproj/argocd-example-apps/sub", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := repo.Owns(tt.url); got != tt.want {
			t.Errorf("Owns(%q) = %v, want %v (normalized %q)", tt.url, got, tt.want, normalizeURL(tt.url))
		}
	}
	if (Repo{}).Owns("https://github.com/argoproj/argocd-example-apps") {
		t.Error("a repo without URLs owns nothing")
	}
	azure := Repo{URLs: []string{"git@ssh.dev.azure.com:v3/org/proj/repo"}}
	if !azure.Owns("https://org@dev.azure.com/org/proj/_git/repo") {
		t.Error("Azure DevOps ssh and https forms differ")
	}
}

func testRepo(t testing.TB) Repo {
	root, err := filepath.Abs("testdata/repo")
	if err != nil {
		t.Fatal(err)
	}
	return Repo{Root: root, URLs: []string{"https://github.com/example/platform.git"}}
}

func TestDetectType(t *testing.T) {
	repo := testRepo(t)
	odd := t.TempDir()
	if err := os.WriteFile(filepath.Join(odd, "MyChart.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	nested := t.TempDir()
	if err := os.MkdirAll(filepath.Join(nested, "sub"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nested, "sub", "Chart.yaml"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	upper := t.TempDir()
	if err := os.WriteFile(filepath.Join(upper, "Kustomization"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dir  string
		want SourceType
	}{
		{filepath.Join(repo.Root, "apps/guestbook"), Kustomize},
		{filepath.Join(repo.Root, "apps/helmapp"), Helm},
		{filepath.Join(repo.Root, "apps/plain"), Directory},
		{filepath.Join(repo.Root, "both"), Kustomize}, // Chart.yaml and kustomization.yaml: the last in lexical order wins
		{filepath.Join(repo.Root, "apps"), Directory},
		{filepath.Join(repo.Root, "missing"), Directory},
		{odd, Helm}, // Argo CD matches names ending in Chart.yaml
		{nested, Directory},
		{upper, Kustomize},
	}
	for _, tt := range tests {
		if got := DetectType(tt.dir); got != tt.want {
			t.Errorf("DetectType(%s) = %q, want %q", tt.dir, got, tt.want)
		}
	}
}

func TestLocal(t *testing.T) {
	repo := testRepo(t)
	tests := []struct {
		src    Source
		dir    string
		ok     bool
		reason string
	}{
		{Source{RepoURL: "git@github.com:example/platform", Path: "apps/helmapp"}, "apps/helmapp", true, ""},
		{Source{RepoURL: "https://github.com/example/platform", Path: "./apps//guestbook/"}, "apps/guestbook", true, ""},
		{Source{RepoURL: "https://github.com/example/platform"}, ".", true, ""},
		{Source{RepoURL: "https://github.com/example/platform", Path: "."}, ".", true, ""},
		{Source{RepoURL: "https://github.com/other/repo", Path: "apps/helmapp"}, "", false, `repoURL "https://github.com/other/repo" is not this repository`},
		{Source{RepoURL: "https://charts.example.com", Chart: "redis"}, "", false, `chart "redis" comes from the Helm repository https://charts.example.com`},
		{Source{RepoURL: "https://github.com/example/platform", Ref: "values"}, "", false, `source only gives ref "values" (for $values/... value files); Argo CD does not render it`},
		{Source{RepoURL: "https://github.com/example/platform", Path: "../escape"}, "", false, `path "../escape" is outside the repository`},
		{Source{RepoURL: "https://github.com/example/platform", Path: "apps/../../escape"}, "", false, `path "apps/../../escape" is outside the repository`},
		{Source{RepoURL: "https://github.com/example/platform", Path: "/apps"}, "", false, `path "/apps" is absolute`},
		{Source{RepoURL: "https://github.com/example/platform", Path: "nope"}, "", false, `path "nope" does not exist in the repository`},
		{Source{RepoURL: "https://github.com/example/platform", Path: "values/prod.yaml"}, "", false, `path "values/prod.yaml" is not a directory`},
	}
	for _, tt := range tests {
		dir, ok, reason := repo.Local(tt.src)
		want := ""
		if tt.dir != "" {
			want = filepath.Join(repo.Root, tt.dir)
		}
		if dir != want || ok != tt.ok || reason != tt.reason {
			t.Errorf("Local(%+v) = %q, %v, %q; want %q, %v, %q", tt.src, dir, ok, reason, want, tt.ok, tt.reason)
		}
	}
}

func TestMatchDirectory(t *testing.T) {
	tests := []struct {
		rel  string
		opts *DirectoryOptions
		want bool
	}{
		{"a.yaml", nil, true},
		{"sub/a.yaml", nil, false},
		{"sub/a.yaml", &DirectoryOptions{Recurse: true}, true},
		{"a.yaml", &DirectoryOptions{Include: "*.yaml"}, true},
		{"a.json", &DirectoryOptions{Include: "*.yaml"}, false},
		{"sub/a.yaml", &DirectoryOptions{Recurse: true, Include: "*.yaml"}, true}, // no separator: * crosses /
		{"config.json", &DirectoryOptions{Recurse: true, Include: "{config.json,env-usw2/*}"}, true},
		{"env-usw2/a.yaml", &DirectoryOptions{Recurse: true, Include: "{config.json,env-usw2/*}"}, true},
		{"env-use1/a.yaml", &DirectoryOptions{Recurse: true, Include: "{config.json,env-usw2/*}"}, false},
		{"secret.yaml", &DirectoryOptions{Exclude: "secret*"}, false},
		{"a.yaml", &DirectoryOptions{Include: "*.yaml", Exclude: "a.*"}, false},
		{"b.yaml", &DirectoryOptions{Include: "*.yaml", Exclude: "a.*"}, true},
		{"a.yaml", &DirectoryOptions{Include: "[a-"}, false}, // does not compile: matches nothing
		{"./a.yaml", &DirectoryOptions{Include: "a.yaml"}, true},
	}
	for _, tt := range tests {
		if got := MatchDirectory(tt.rel, tt.opts); got != tt.want {
			t.Errorf("MatchDirectory(%q, %+v) = %v, want %v", tt.rel, tt.opts, got, tt.want)
		}
	}
	for name, want := range map[string]bool{"a.yaml": true, "a.yml": true, "a.json": true, "a.jsonnet": true, "a.txt": false, "yaml": false} {
		if got := IsManifestFile(name); got != want {
			t.Errorf("IsManifestFile(%q) = %v", name, got)
		}
	}
}

func TestPathspecMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"clusters/dev/config.json", "clusters/dev/config.json", true},
		{"clusters", "clusters/dev/config.json", true},
		{"clusters/", "clusters/dev/config.json", true},
		{"cluster", "clusters/dev/config.json", false},
		{"clusters/*/config.json", "clusters/dev/config.json", true},
		{"clusters/*/config.json", "clusters/a/b/config.json", true}, // '*' matches '/' in a pathspec
		{"clusters/**/config.json", "clusters/a/b/config.json", true},
		{"clusters/**/config.json", "clusters/config.json", false},
		{"*.json", "clusters/dev/config.json", true},
		{"clusters/?ev/config.json", "clusters/dev/config.json", true},
		{"clusters/[a-d]ev/*.json", "clusters/dev/config.json", true},
		{"clusters/[!d]ev/*.json", "clusters/dev/config.json", false},
		{"clusters/[[:alpha:]]ev/*.json", "clusters/dev/config.json", true},
		{"./clusters/*/config.json", "clusters/dev/config.json", true},
		{"clusters/*/config.yaml", "clusters/dev/config.json", false},
	}
	for _, tt := range tests {
		if got := pathspecMatch(tt.pattern, tt.name); got != tt.want {
			t.Errorf("pathspecMatch(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}
