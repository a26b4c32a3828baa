package argocd

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Repo is the checkout being checked.
type Repo struct {
	Root string   // absolute path of the repository root
	URLs []string // URLs by which Argo CD knows this repository
}

// Owns reports whether an Application's repoURL is this repo. The URLs are compared in a normalised
// form: scheme (https, http, ssh, git, git+ssh, ...), user and port are dropped, scp-like
// git@host:owner/name becomes host/owner/name, a trailing / and .git are dropped and the whole is
// lower-cased (Argo CD's own NormalizeGitURL lower-cases the whole URL too). So
// git@github.com:argoproj/argocd-example-apps.git and https://github.com/argoproj/argocd-example-apps
// are the same repository.
func (r Repo) Owns(repoURL string) bool {
	n := normalizeURL(repoURL)
	if n == "" {
		return false
	}
	for _, u := range r.URLs {
		if normalizeURL(u) == n {
			return true
		}
	}
	return false
}

// normalizeURL returns host/path of a git URL, lower-cased, or "" when there is nothing to compare.
func normalizeURL(raw string) string {
	s := strings.ToLower(strings.TrimSpace(raw))
	if s == "" {
		return ""
	}
	scheme := ""
	if i := strings.Index(s, "://"); i >= 0 {
		scheme = s[:i]
		s = s[i+3:]
	} else if i := strings.IndexAny(s, ":/"); i > 0 && s[i] == ':' {
		// scp-like syntax: [user@]host:path
		s = s[:i] + "/" + strings.TrimPrefix(s[i+1:], "/")
	}
	host, p, _ := strings.Cut(s, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if scheme != "file" {
		if h, port, ok := strings.Cut(host, ":"); ok && isDigits(port) {
			host = h
		}
	}
	if u, err := url.PathUnescape(p); err == nil {
		p = u
	}
	for {
		q := strings.TrimSuffix(strings.TrimSuffix(p, "/"), ".git")
		if q == p {
			break
		}
		p = q
	}
	// Azure DevOps: git@ssh.dev.azure.com:v3/org/project/repo is https://dev.azure.com/org/project/_git/repo.
	if host == "ssh.dev.azure.com" || host == "vs-ssh.visualstudio.com" {
		if parts := strings.Split(p, "/"); len(parts) == 4 && parts[0] == "v3" {
			host, p = "dev.azure.com", parts[1]+"/"+parts[2]+"/_git/"+parts[3]
		}
	}
	if host == "" && p == "" {
		return ""
	}
	return host + "/" + p
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// SourceType is how Argo CD renders a source.
type SourceType string

const (
	Directory SourceType = "directory"
	Kustomize SourceType = "kustomize"
	Helm      SourceType = "helm"
	Plugin    SourceType = "plugin"
)

// kustomizationNames are the file names kustomize (and Argo CD's discovery) take for a kustomization.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isKustomization(name string) bool {
	for _, k := range kustomizationNames {
		if name == k {
			return true
		}
	}
	return false
}

// DetectType says how Argo CD's repo server would render dir (absolute) when the source gives no
// explicit type. As Argo CD's discovery.AppType, only the files directly in dir count, visited in
// lexical order, the last match winning: a file whose name ends in Chart.yaml means Helm, a
// kustomization file (kustomization.yaml, kustomization.yml, Kustomization) means Kustomize, so
// with both a Chart.yaml and a kustomization.yaml the directory is Kustomize. Otherwise Directory.
// (Config management plugins, found by Argo CD through the plugins' discovery rules, are not
// detected.)
func DetectType(dir string) SourceType {
	entries, err := os.ReadDir(dir) // sorted by name, as filepath.Walk visits them
	if err != nil {
		return Directory
	}
	t := Directory
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		if strings.HasSuffix(name, "Chart.yaml") {
			t = Helm
		}
		if isKustomization(name) {
			t = Kustomize
		}
	}
	return t
}

// Local resolves a source of this repo to its directory on disk: repo.Root joined with Path
// (cleaned). ok=false with a reason when the source is a chart from a Helm repository (Chart set),
// is not this repo's (the caller gives a warning naming the URL), has a Ref only (a $values
// source, which Argo CD does not render), or its path is absolute, escapes the root (also through
// a symlink), does not exist or is not a directory (Argo CD refuses those too).
func (r Repo) Local(s Source) (dir string, ok bool, reason string) {
	if s.Chart != "" {
		return "", false, "chart " + quote(s.Chart) + " comes from the Helm repository " + s.RepoURL
	}
	if !r.Owns(s.RepoURL) {
		return "", false, "repoURL " + quote(s.RepoURL) + " is not this repository"
	}
	if s.Path == "" && s.Ref != "" {
		return "", false, "source only gives ref " + quote(s.Ref) + " (for $" + s.Ref + "/... value files); Argo CD does not render it"
	}
	if r.Root == "" {
		return "", false, "the repository root is not known"
	}
	if filepath.IsAbs(s.Path) || strings.HasPrefix(s.Path, "/") {
		return "", false, "path " + quote(s.Path) + " is absolute"
	}
	root := filepath.Clean(r.Root)
	dir = filepath.Join(root, filepath.FromSlash(s.Path))
	if !within(root, dir) {
		return "", false, "path " + quote(s.Path) + " is outside the repository"
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", false, "path " + quote(s.Path) + " does not exist in the repository"
	}
	if !fi.IsDir() {
		return "", false, "path " + quote(s.Path) + " is not a directory"
	}
	if realRoot, err := filepath.EvalSymlinks(root); err == nil {
		if realDir, err := filepath.EvalSymlinks(dir); err == nil && !within(realRoot, realDir) {
			return "", false, "path " + quote(s.Path) + " leads outside the repository through a symlink"
		}
	}
	return dir, true, ""
}

// within reports whether p is root or below it (both clean).
func within(root, p string) bool {
	if p == root {
		return true
	}
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

func quote(s string) string { return `"` + s + `"` }

// buildEnvUnknown are the build environment variables Argo CD knows only when it renders.
var buildEnvUnknown = map[string]bool{
	"ARGOCD_APP_REVISION": true, "ARGOCD_APP_REVISION_SHORT": true, "ARGOCD_APP_REVISION_SHORT_8": true,
	"KUBE_VERSION": true, "KUBE_API_VERSIONS": true,
}

// envsubst expands $VAR and ${VAR} as Argo CD's Env.Envsubst does with the application's build
// environment: unknown variables become "", $$ is $. It fails on a variable that only exists
// when Argo CD renders (the revision, the cluster's versions).
func envsubst(s string, app App, src Source) (string, string) {
	env := map[string]string{
		"ARGOCD_APP_NAME":                   app.Name,
		"ARGOCD_APP_NAMESPACE":              app.Namespace,
		"ARGOCD_APP_PROJECT_NAME":           app.Project,
		"ARGOCD_APP_SOURCE_REPO_URL":        src.RepoURL,
		"ARGOCD_APP_SOURCE_PATH":            src.Path,
		"ARGOCD_APP_SOURCE_TARGET_REVISION": src.TargetRevision,
	}
	missing := ""
	out := os.Expand(s, func(v string) string {
		if v == "$" {
			return "$"
		}
		if buildEnvUnknown[v] && missing == "" {
			missing = v
		}
		return env[v]
	})
	return out, missing
}

// ValueFile resolves one helm valueFile of a source. "$ref/path" is resolved against the root of
// the repository of the source with that ref among app.Sources (which must be this repo); a value
// file starting with $ that names no ref is, as in Argo CD, taken as a path after expanding the
// build environment ($ARGOCD_APP_NAME, ...). Other files are relative to the source's own
// directory, or to the repository root when absolute, and must stay inside the repository.
// ok=false with a reason when the file is in another repository, is a URL, uses a variable known
// only at render time, escapes the repository or does not exist (the reason then ends in
// "does not exist", with "(ignoreMissingValueFiles)" when the source says to skip it).
func (r Repo) ValueFile(app App, src Source, file string) (string, bool, string) {
	if strings.HasPrefix(file, "$") {
		refVar, rest, _ := strings.Cut(file, "/")
		for _, s := range app.Sources {
			if s.Ref == "" || "$"+s.Ref != refVar {
				continue
			}
			if s.Chart != "" {
				return "", false, "value file " + quote(file) + " refers to " + refVar + ", a chart from a Helm repository"
			}
			if !r.Owns(s.RepoURL) {
				return "", false, "value file " + quote(file) + " is in " + s.RepoURL + ", not this repository"
			}
			if r.Root == "" {
				return "", false, "the repository root is not known"
			}
			sub, missing := envsubst("/"+rest, app, src)
			if missing != "" {
				return "", false, "value file " + quote(file) + " uses $" + missing + ", known only when Argo CD renders"
			}
			return r.resolveValueFile(r.Root, file, sub, src)
		}
	}
	sub, missing := envsubst(file, app, src)
	if missing != "" {
		return "", false, "value file " + quote(file) + " uses $" + missing + ", known only when Argo CD renders"
	}
	if u, err := url.Parse(sub); err == nil && u.Scheme != "" {
		return "", false, "value file " + quote(file) + " is a URL"
	}
	dir, ok, reason := r.Local(src)
	if !ok {
		return "", false, "value file " + quote(file) + ": " + reason
	}
	return r.resolveValueFile(dir, file, sub, src)
}

// resolveValueFile is Argo CD's resolveFileOrDirectory: relative to base, or to the root when
// absolute, symlinks followed, and the result inside the root and not the root itself.
func (r Repo) resolveValueFile(base, file, sub string, src Source) (string, bool, string) {
	root := filepath.Clean(r.Root)
	var p string
	if strings.HasPrefix(sub, "/") || filepath.IsAbs(sub) {
		p = filepath.Join(root, filepath.FromSlash(sub))
	} else {
		p = filepath.Join(base, filepath.FromSlash(sub))
	}
	if !within(root, p) || p == root {
		return "", false, "value file " + quote(file) + " resolves outside the repository"
	}
	if _, err := os.Stat(p); err != nil {
		msg := "value file " + quote(file) + " does not exist"
		if src.Helm != nil && src.Helm.IgnoreMissingValueFiles {
			msg += " (ignoreMissingValueFiles)"
		}
		return "", false, msg
	}
	if realRoot, err := filepath.EvalSymlinks(root); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil && (!within(realRoot, real) || real == realRoot) {
			return "", false, "value file " + quote(file) + " leads outside the repository through a symlink"
		}
	}
	return p, true, ""
}
