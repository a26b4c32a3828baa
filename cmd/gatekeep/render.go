package main

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/schema"
)

// renderFlags are how check and mutate render what Argo CD would apply.
type renderFlags struct {
	repoURLs      []string
	repoRoot      string
	allowRemote   bool
	remoteTimeout time.Duration
}

func (r *renderFlags) register(fl *pflag.FlagSet) {
	fl.StringArrayVar(&r.repoURLs, "repo-url", nil, "URL by which Argo CD knows this repository, besides its git remotes: Applications with this repoURL are rendered from the checkout (repeatable)")
	fl.StringVar(&r.repoRoot, "repo-root", "", "root of the repository being checked, against which Argo CD source paths resolve (default: the git checkout holding the first PATH, else that PATH)")
	fl.BoolVar(&r.allowRemote, "allow-remote", false, "let kustomizations fetch remote resources and bases (otherwise each is a render finding)")
	fl.DurationVar(&r.remoteTimeout, "remote-timeout", manifest.DefaultRemoteTimeout, "with --allow-remote: how long one remote fetch may take")
}

// options are the manifest loader's options for a bundle and target
// version (flag, else the bundle's, else the newest).
func (r *renderFlags) options(b *bundle.Bundle, version string) []manifest.Option {
	v := kubeversion.Latest
	for _, s := range []string{b.Config.KubernetesVersion, version} {
		if s == "" {
			continue
		}
		if parsed, err := kubeversion.Parse(s); err == nil {
			v = parsed
		}
	}
	apis := func() []string {
		var out []string
		seen := map[string]bool{}
		for _, g := range schema.Served(v) {
			gv := g.APIVersion()
			if !seen[gv] {
				seen[gv] = true
				out = append(out, gv)
			}
			out = append(out, gv+"/"+g.Kind)
		}
		return out
	}
	return []manifest.Option{
		manifest.WithRepoURLs(append(append([]string(nil), b.Config.ArgoCD.RepoURLs...), r.repoURLs...)...),
		manifest.WithRepoRoot(r.repoRoot),
		manifest.AllowRemote(r.allowRemote, r.remoteTimeout),
		manifest.WithKubernetes(v.String(), apis),
		manifest.WithChartValues(b.Config.Helm.ChartValues()),
	}
}
