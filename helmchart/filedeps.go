package helmchart

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v4/pkg/chart/common"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	v2loader "helm.sh/helm/v4/pkg/chart/v2/loader"
)

const fileScheme = "file://"

// addFileDependencies does, offline, what `helm dependency build` (which Argo CD's repo server
// runs before helm template) does for a dependency of Chart.yaml whose repository is
// file://<path> and that is not in charts/: it loads the chart directory at that path (relative to
// dir, or absolute), checks its version against the dependency's version constraint, and adds it
// to ch's dependencies as if it had been packed into charts/, so that ProcessDependencies applies
// the entry's alias, condition and tags as usual. where records the chart's directory, so that its
// documents name its real template files.
//
// The first dependency that cannot be built is an *Error at its entry. Dependencies with other
// repositories are left to checkDependencies.
func addFileDependencies(ch *chart.Chart, dir string, where map[*common.File]string) error {
	present := map[string]bool{}
	for _, d := range ch.Dependencies() {
		present[d.Name()] = true
	}
	// helm dependency build saves each chart as charts/<name>-<version>.tgz: entries naming the
	// same chart and version (aliases of one chart) share one copy.
	type packed struct{ name, version string }
	added := map[packed]bool{}
	for _, r := range ch.Metadata.Dependencies {
		if r == nil || present[r.Name] || !strings.HasPrefix(r.Repository, fileScheme) {
			continue
		}
		file, line := dependencyLocation(dir, r)
		fail := func(format string, args ...any) error {
			return newError(file, line, "dependency %q (repository %s): %s", r.Name, r.Repository, fmt.Sprintf(format, args...))
		}

		p := filepath.FromSlash(strings.TrimPrefix(r.Repository, fileScheme))
		if filepath.IsAbs(p) {
			p = filepath.Clean(p)
		} else {
			p = filepath.Join(dir, p)
		}
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fail("directory %s not found", p)
		case err != nil:
			return fail("%s", trimErr(err))
		case !fi.IsDir():
			return fail("%s is not a chart directory", p)
		}
		if _, err := os.Stat(filepath.Join(p, "Chart.yaml")); errors.Is(err, fs.ErrNotExist) {
			return fail("no Chart.yaml in %s", p)
		}

		constraint, err := semver.NewConstraint(r.Version)
		if err != nil {
			return fail("invalid version constraint %q", r.Version)
		}
		sub, err := v2loader.LoadDir(p)
		if err != nil {
			return fail("cannot load the chart in %s: %s", p, trimErr(err))
		}
		if sub.Metadata == nil {
			return fail("cannot load the chart in %s", p)
		}
		v, err := semver.NewVersion(sub.Metadata.Version)
		if err != nil {
			return fail("the chart in %s has version %q, which is not a semantic version", p, sub.Metadata.Version)
		}
		if !constraint.Check(v) {
			return fail("the chart in %s has version %s, which does not satisfy version %s", p, sub.Metadata.Version, r.Version)
		}
		// helm dependency build packs it under its own name; helm template then misses it.
		if sub.Name() != r.Name {
			return fail("the chart in %s is named %q, not %q", p, sub.Name(), r.Name)
		}

		k := packed{sub.Name(), sub.Metadata.Version}
		if added[k] {
			continue
		}
		added[k] = true
		ch.AddDependency(sub)
		mapCharts(sub, p, where)
	}
	return nil
}
