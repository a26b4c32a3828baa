// Command bench is gatekeep's benchmark harness: it generates a synthetic
// infra repo and times whole runs of gatekeep check over it, reporting
// wall time, objects per second and peak memory (max RSS). It measures; it
// asserts nothing.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/gatekeeper/gen"
	"github.com/gatekeep-dev/gatekeep/internal/infragen"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/schema"
)

func main() {
	apps := flag.Int("apps", 2000, "apps in the generated repo (5 objects each)")
	runs := flag.Int("runs", 5, "runs per command; the median is reported")
	gatekeep := flag.String("gatekeep", "bin/gatekeep", "gatekeep binary")
	kubeconform := flag.String("kubeconform", "bin/kubeconform", "kubeconform binary, run side by side on the same schemas (\"\" to skip)")
	gator := flag.String("gator", "bin/gator", "gator binary, run side by side on a bundle of -templates templates (\"\" to skip)")
	templates := flag.Int("templates", 50, "ConstraintTemplates (one Constraint each) in the Gatekeeper bundle")
	gatorApps := flag.String("gator-apps", "300,2000", "repo sizes (apps) of the Gatekeeper comparison")
	scale := flag.String("scale", "300,1000,2000,4000", "repo sizes (apps) gatekeep alone runs with the Gatekeeper bundle, to show how its cost grows (\"\" to skip)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "gatekeep-bench-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	n, err := infragen.Generate(dir, *apps)
	if err != nil {
		fail(err)
	}
	fmt.Printf("repo: %d apps, %d objects (%s)\n\n", *apps, n, dir)
	fmt.Printf("%-44s %10s %14s %12s\n", "command", "median", "objects/s", "max RSS")
	measure("gatekeep check (built-in bundle)", n, *runs, *gatekeep, "check", "-o", "json", dir)
	measure("gatekeep check --only schema", n, *runs, *gatekeep, "check", "-o", "json", "--only", "schema", dir)
	if *kubeconform != "" {
		// kubeconform reads the very schemas gatekeep embeds, written in its
		// own layout, so both validate against the same definitions.
		schemas, err := os.MkdirTemp("", "gatekeep-bench-schemas-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(schemas)
		if _, err := schema.WriteJSONSchemas(kubeversion.Latest, schemas, false); err != nil {
			fail(err)
		}
		loc := filepath.Join(schemas, "{{.ResourceKind}}-{{.Group}}-{{.ResourceAPIVersion}}.json")
		measure("kubeconform (same schemas)", n, *runs, *kubeconform, "-schema-location", loc, "-summary", "-output", "json", dir)
	}
	if *gator != "" {
		compareGator(*gatekeep, *gator, *templates, *gatorApps, *runs)
	}
	if *scale != "" {
		scaling(*gatekeep, *templates, *scale, *runs)
	}
}

// scaling runs gatekeep check with the Gatekeeper bundle over repos of
// growing size: linear growth keeps objects/s flat.
func scaling(gatekeep string, templates int, sizes string, runs int) {
	fmt.Printf("\nscaling: gatekeep check --bundle <%d templates>\n", templates)
	eachRepo(templates, sizes, func(policy, repo string, apps, n int) {
		measure(fmt.Sprintf("%d apps (%d objects)", apps, n), n, runs, gatekeep, "check", "-o", "json", "--bundle", policy, repo)
	})
}

// eachRepo generates a Gatekeeper bundle of templates templates and, for
// each size of the comma-separated list, a repo of that many apps, and
// calls f with them; it removes them after.
func eachRepo(templates int, sizes string, f func(policy, repo string, apps, objects int)) {
	policy, err := os.MkdirTemp("", "gatekeep-bench-policy-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(policy)
	if _, err := gen.Write(policy, templates); err != nil {
		fail(err)
	}
	for _, field := range strings.Split(sizes, ",") {
		apps, err := strconv.Atoi(strings.TrimSpace(field))
		if err != nil {
			fail(err)
		}
		repo, err := os.MkdirTemp("", "gatekeep-bench-repo-")
		if err != nil {
			fail(err)
		}
		n, err := infragen.Generate(repo, apps)
		if err != nil {
			fail(err)
		}
		f(policy, repo, apps, n)
		_ = os.RemoveAll(repo) // best effort: a temporary benchmark repository
	}
}

// compareGator runs gatekeep check and gator test on the same Gatekeeper
// bundle (generated templates, one constraint each) and the same repos.
// Their runs take turns, so that a machine whose speed drifts (a shared
// one does) slows both alike, and the ratio of the medians is printed.
func compareGator(gatekeep, gator string, templates int, sizes string, runs int) {
	eachRepo(templates, sizes, func(policy, repo string, apps, n int) {
		fmt.Printf("\n%d ConstraintTemplates, repo of %d apps (%d objects), runs taking turns\n", templates, apps, n)
		// gator is slow on large repos: one run of it is enough to compare.
		gatorRuns := runs
		if apps > 500 {
			gatorRuns = 1
		}
		full := command{name: "gatekeep check --bundle <templates>", bin: gatekeep, args: []string{"check", "-o", "json", "--bundle", policy, repo}}
		// The same verdicts as gator's alone: the built-in checks skipped.
		alone := command{name: "  the Gatekeeper checks alone", bin: gatekeep, args: []string{"check", "-o", "json", "--bundle", policy, "--skip", builtinChecks(), repo}}
		peer := command{name: "gator test", bin: gator, args: []string{"test", "--filename", policy, "--filename", repo}}
		for i := 0; i < runs; i++ {
			full.run()
			alone.run()
			if i < gatorRuns {
				peer.run()
			}
		}
		for _, c := range []*command{&full, &alone, &peer} {
			c.print(n)
		}
		g := peer.median().Seconds()
		fmt.Printf("%-44s %9.1fx (the Gatekeeper checks alone: %.1fx)\n", "gator test / gatekeep check", g/full.median().Seconds(), g/alone.median().Seconds())
	})
}

// builtinChecks lists the IDs of the built-in bundle's checks, for --skip.
func builtinChecks() string {
	b, err := bundle.Builtin()
	if err != nil {
		fail(err)
	}
	eng, err := engine.New(b)
	if err != nil {
		fail(err)
	}
	var ids []string
	for _, c := range eng.Checks() {
		ids = append(ids, c.ID)
	}
	return strings.Join(ids, ",")
}

// measure runs a command several times and prints its median wall time and
// the largest peak RSS seen. Exit codes 0 and 1 (findings) both count.
func measure(name string, objects, runs int, bin string, args ...string) {
	c := command{name: name, bin: bin, args: args}
	for i := 0; i < runs; i++ {
		c.run()
	}
	c.print(objects)
}

// command is one command line and what its runs measured.
type command struct {
	name  string
	bin   string
	args  []string
	times []time.Duration
	rss   int64 // KiB, the largest seen
}

func (c *command) run() {
	cmd := exec.Command(c.bin, c.args...) //nolint:gosec // G204: a benchmark harness runs the binary and arguments its user names
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); err != nil && code != 1 {
		fail(fmt.Errorf("%s: %v: %s", c.name, err, stderr.String()))
	}
	c.times = append(c.times, elapsed)
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > c.rss {
		c.rss = ru.Maxrss // KiB on Linux
	}
}

func (c *command) median() time.Duration {
	times := append([]time.Duration(nil), c.times...)
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2]
}

func (c *command) print(objects int) {
	med := c.median()
	fmt.Printf("%-44s %10s %14.0f %9.0f MB  (%d runs)\n", c.name, med.Round(time.Millisecond), float64(objects)/med.Seconds(), float64(c.rss)/1024, len(c.times))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
