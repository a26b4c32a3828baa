// Command bench is gatekeep's benchmark harness: it generates a synthetic
// infra repo and times whole runs of gatekeep check over it, reporting
// wall time, objects per second and peak memory (max RSS). It measures; it
// asserts nothing, but it prints whether gatekeep's Gatekeeper verdicts
// and gator's agree on the repos both run on.
//
// The Gatekeeper bundle is generated (-templates) or, with -library, the
// public gatekeeper-library: each directory's template.yaml and first
// sample constraint, as gator would be given them.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
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
	"github.com/gatekeep-dev/gatekeep/internal/gklibrary"
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
	templates := flag.Int("templates", 50, "ConstraintTemplates (one Constraint each) in the generated Gatekeeper bundle")
	library := flag.String("library", "", "a gatekeeper-library checkout (its root or its library/): the Gatekeeper bundle is its templates, each with its first sample constraint, instead of -templates generated ones")
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
	if *gator == "" && *scale == "" {
		return
	}
	pol := gatekeeperBundle(*templates, *library, *gatekeep, *gator)
	defer os.RemoveAll(pol.dir)
	if *gator != "" {
		compareGator(*gatekeep, *gator, pol, *gatorApps, *runs)
	}
	if *scale != "" {
		scaling(*gatekeep, pol, *scale, *runs)
	}
}

// policy is the Gatekeeper bundle of the comparison and the scaling run.
type policy struct {
	dir   string
	label string // for headings: "50 ConstraintTemplates", "gatekeeper-library, 49 templates"
}

// gatekeeperBundle writes the Gatekeeper bundle: templates generated
// ones, or the library's when library is set. The library's are what
// users run, so a template gatekeep (or gator) cannot load is not made up
// for: it is left out of both tools' runs and said so, and the rest is
// still measured and compared.
func gatekeeperBundle(templates int, library, gatekeep, gator string) policy {
	dir, err := os.MkdirTemp("", "gatekeep-bench-policy-")
	if err != nil {
		fail(err)
	}
	if library == "" {
		if _, err := gen.Write(dir, templates); err != nil {
			fail(err)
		}
		return policy{dir: dir, label: fmt.Sprintf("%d ConstraintTemplates", templates)}
	}
	s, err := gklibrary.WriteBundle(library, dir)
	if err != nil {
		fail(err)
	}
	fmt.Printf("\ngatekeeper-library %s: %s\n", library, s)
	label := fmt.Sprintf("gatekeeper-library, %d templates", s.Templates)
	tools := []loader{{name: "gatekeep", bin: gatekeep, args: func(bundle, input string) []string {
		return []string{"check", "-o", "json", "--bundle", bundle, input}
	}}}
	if gator != "" {
		tools = append(tools, loader{name: "gator", bin: gator, args: func(bundle, input string) []string {
			return []string{"test", "-o", "json", "--filename", bundle, "--filename", input}
		}})
	}
	if out := leaveOutUnloadable(dir, tools); out > 0 {
		label = fmt.Sprintf("gatekeeper-library, %d of %d templates", s.Templates-out, s.Templates)
	}
	return policy{dir: dir, label: label}
}

// loader is how a tool is run on a bundle and one input file, to see
// whether it loads the bundle.
type loader struct {
	name string
	bin  string
	args func(bundle, input string) []string
}

// probeInput is the input of the load probes: one object no library
// constraint is about, so the run is the bundle's loading and little else.
const probeInput = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: probe\n  namespace: default\ndata:\n  a: b\n"

// leaveOutUnloadable runs each tool on the bundle in dir and, for one
// that cannot load it, each template of it alone (with its constraint),
// and removes from dir the templates some tool cannot load, printing them
// and why. It returns how many it removed. The files are grouped by the
// names gklibrary.WriteBundle gives them, <nn>-<dir>-template.yaml and
// <nn>-<dir>-constraint.yaml.
func leaveOutUnloadable(dir string, tools []loader) int {
	tmp, err := os.MkdirTemp("", "gatekeep-bench-probe-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	input := filepath.Join(tmp, "input.yaml")
	if err := os.WriteFile(input, []byte(probeInput), 0o600); err != nil {
		fail(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		fail(err)
	}
	var prefixes []string // one per template, in the bundle's order
	for _, e := range entries {
		if p, ok := strings.CutSuffix(e.Name(), "-template.yaml"); ok {
			prefixes = append(prefixes, p)
		}
	}
	bad := map[string][]string{} // prefix -> "tool: why"
	for _, t := range tools {
		err := t.load(dir, input)
		if err == nil {
			continue
		}
		fmt.Printf("%s cannot load the bundle (%v); trying each template alone\n", t.name, err)
		for _, p := range prefixes {
			one := filepath.Join(tmp, p)
			if err := os.Mkdir(one, 0o700); err != nil {
				fail(err)
			}
			for _, suffix := range []string{"-template.yaml", "-constraint.yaml"} {
				b, err := os.ReadFile(filepath.Join(dir, p+suffix))
				if errors.Is(err, os.ErrNotExist) && suffix == "-constraint.yaml" {
					continue // a template without a sample constraint
				}
				if err != nil {
					fail(err)
				}
				if err := os.WriteFile(filepath.Join(one, p+suffix), b, 0o600); err != nil { //nolint:gosec // G703: names of the bundle this harness wrote, in its own temporary directory
					fail(err)
				}
			}
			if err := t.load(one, input); err != nil {
				why := err.Error()
				if !strings.HasPrefix(why, t.name+":") { // gatekeep's errors name it already
					why = t.name + ": " + why
				}
				bad[p] = append(bad[p], why)
			}
			_ = os.RemoveAll(one) // best effort: the probe's temporary copy
		}
	}
	if len(bad) == 0 {
		return 0
	}
	fmt.Printf("templates a tool cannot load, left out of every run below for both: %d\n", len(bad))
	for _, p := range prefixes {
		for _, why := range bad[p] {
			fmt.Printf("  %s: %s\n", p, why)
		}
		if bad[p] != nil {
			for _, suffix := range []string{"-template.yaml", "-constraint.yaml"} {
				if err := os.Remove(filepath.Join(dir, p+suffix)); err != nil && !errors.Is(err, os.ErrNotExist) {
					fail(err)
				}
			}
		}
	}
	return len(bad)
}

// load runs the tool once on bundle and input. Exit 1 with a report on
// standard output is a verdict, not a failure: gator exits 1 both for a
// denied object and for a bundle it cannot load, and only the former
// prints a report.
func (l loader) load(bundle, input string) error {
	cmd := exec.Command(l.bin, l.args(bundle, input)...) //nolint:gosec // G204: a benchmark harness runs the binary and arguments its user names
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err == nil || errors.As(err, &exit) && exit.ExitCode() == 1 && len(bytes.TrimSpace(stdout.Bytes())) > 0 {
		return nil
	}
	if why := oneLine(stderr.String()); why != "" {
		return errors.New(why)
	}
	return err
}

// oneLine collapses a tool's error output to one line of at most 600
// bytes, enough to name the template and the cause (gatekeep's error
// names the files, in long temporary paths, first).
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

// scaling runs gatekeep check with the Gatekeeper bundle over repos of
// growing size: linear growth keeps objects/s flat.
func scaling(gatekeep string, pol policy, sizes string, runs int) {
	fmt.Printf("\nscaling: gatekeep check --bundle <%s>\n", pol.label)
	eachRepo(sizes, func(repo string, apps, n int) {
		measure(fmt.Sprintf("%d apps (%d objects)", apps, n), n, runs, gatekeep, "check", "-o", "json", "--bundle", pol.dir, repo)
	})
}

// eachRepo generates, for each size of the comma-separated list, a repo
// of that many apps, and calls f with it; it removes it after.
func eachRepo(sizes string, f func(repo string, apps, objects int)) {
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
		f(repo, apps, n)
		_ = os.RemoveAll(repo) // best effort: a temporary benchmark repository
	}
}

// compareGator runs gatekeep check and gator test on the same Gatekeeper
// bundle and the same repos. Their runs take turns, so that a machine
// whose speed drifts (a shared one does) slows both alike, and the ratio
// of the medians is printed; then whether their verdicts agree.
func compareGator(gatekeep, gator string, pol policy, sizes string, runs int) {
	out, err := os.MkdirTemp("", "gatekeep-bench-verdicts-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(out)
	eachRepo(sizes, func(repo string, apps, n int) {
		fmt.Printf("\n%s, repo of %d apps (%d objects), runs taking turns\n", pol.label, apps, n)
		// gator is slow on large repos: one run of it is enough to compare.
		gatorRuns := runs
		if apps > 500 {
			gatorRuns = 1
		}
		full := command{name: "gatekeep check --bundle <templates>", bin: gatekeep, args: []string{"check", "-o", "json", "--bundle", pol.dir, repo}}
		// The same verdicts as gator's alone: the built-in checks skipped.
		// Both write JSON (to a file, which costs no more than the
		// discarded output of the other runs), whose verdicts are compared.
		alone := command{name: "  the Gatekeeper checks alone", bin: gatekeep, args: []string{"check", "-o", "json", "--bundle", pol.dir, "--skip", builtinChecks(), repo},
			stdout: filepath.Join(out, "gatekeep.json")}
		peer := command{name: "gator test", bin: gator, args: []string{"test", "-o", "json", "--filename", pol.dir, "--filename", repo},
			stdout: filepath.Join(out, "gator.json")}
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
		compareVerdicts(alone.stdout, peer.stdout)
	})
}

// verdict is one violation, as both tools name it: the constraint, the
// object and the message. Actions are left out: gator reports the
// constraint's, gatekeep the one its bundle settles on.
type verdict struct {
	constraint string // Kind/name, gatekeep's check ID
	object     string // Kind namespace/name
	message    string
}

func (v verdict) String() string {
	return fmt.Sprintf("%s on %s: %q", v.constraint, v.object, v.message)
}

func objectName(kind, namespace, name string) string {
	return fmt.Sprintf("%s %s/%s", kind, namespace, name)
}

// compareVerdicts reads gatekeep's JSON report and gator test's JSON
// results and prints whether their violations agree, counting each
// violation as often as it is reported, and the first differences if not.
func compareVerdicts(gatekeepJSON, gatorJSON string) {
	ours, errs := gatekeepVerdicts(gatekeepJSON)
	theirs, ofBundle := gatorVerdicts(gatorJSON)
	if errs > 0 {
		fmt.Printf("%-44s %d (see gatekeep check -o json on the repo)\n", "  gatekeep's errors in the report:", errs)
	}
	if ofBundle > 0 {
		// gator reviews every object it is given, the templates and
		// constraints too; gatekeep reviews the repo, not its bundle.
		fmt.Printf("%-44s %d (set aside)\n", "  gator's, on the bundle's own objects:", ofBundle)
	}
	onlyOurs, onlyTheirs := difference(ours, theirs), difference(theirs, ours)
	if len(onlyOurs) == 0 && len(onlyTheirs) == 0 {
		fmt.Printf("%-44s agree, %d violations\n", "verdicts, gatekeep and gator:", count(ours))
		return
	}
	fmt.Printf("%-44s DIFFER: gatekeep %d violations, gator %d; %d only gatekeep's, %d only gator's\n", "verdicts, gatekeep and gator:",
		count(ours), count(theirs), len(onlyOurs), len(onlyTheirs))
	// By constraint first: an engine difference shows as one constraint
	// differing on every object it matches.
	byConstraint := map[string][2]int{}
	for _, v := range onlyOurs {
		c := byConstraint[v.constraint]
		c[0]++
		byConstraint[v.constraint] = c
	}
	for _, v := range onlyTheirs {
		c := byConstraint[v.constraint]
		c[1]++
		byConstraint[v.constraint] = c
	}
	constraints := make([]string, 0, len(byConstraint))
	for c := range byConstraint {
		constraints = append(constraints, c)
	}
	sort.Strings(constraints)
	for _, c := range constraints {
		fmt.Printf("    %s: %d only gatekeep's, %d only gator's\n", c, byConstraint[c][0], byConstraint[c][1])
	}
	const first = 5
	for _, side := range []struct {
		name string
		vs   []verdict
	}{{"only gatekeep's", onlyOurs}, {"only gator's", onlyTheirs}} {
		for i, v := range side.vs {
			if i == first {
				fmt.Printf("    %s: %d more\n", side.name, len(side.vs)-first)
				break
			}
			fmt.Printf("    %s: %s\n", side.name, v)
		}
	}
}

// gatekeepVerdicts reads the Gatekeeper findings of a gatekeep check -o
// json report (their check IDs are Kind/name; a built-in check's has no
// slash) and the number of errors it lists.
func gatekeepVerdicts(file string) (map[verdict]int, int) {
	var report struct {
		Findings []struct {
			Check   string `json:"check"`
			Message string `json:"message"`
			Object  struct {
				Kind      string `json:"kind"`
				Namespace string `json:"namespace"`
				Name      string `json:"name"`
			} `json:"object"`
		} `json:"findings"`
		Errors []json.RawMessage `json:"errors"`
	}
	readJSON(file, &report)
	out := map[verdict]int{}
	for _, f := range report.Findings {
		if !strings.Contains(f.Check, "/") {
			continue
		}
		out[verdict{constraint: f.Check, object: objectName(f.Object.Kind, f.Object.Namespace, f.Object.Name), message: f.Message}]++
	}
	return out, len(report.Errors)
}

// gatorVerdicts reads gator test -o json's results (a list, or null when
// there are none; see formatOutput in gatekeeper's cmd/gator/test), and
// how many of them are about the bundle's own templates and constraints,
// which are left out.
func gatorVerdicts(file string) (map[verdict]int, int) {
	type object struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"metadata"`
	}
	var results []struct {
		Msg             string `json:"msg"`
		Constraint      object `json:"constraint"`
		ViolatingObject object `json:"violatingObject"`
	}
	readJSON(file, &results)
	out, ofBundle := map[verdict]int{}, 0
	for _, r := range results {
		o := r.ViolatingObject
		if o.Kind == "ConstraintTemplate" || strings.HasPrefix(o.APIVersion, "constraints.gatekeeper.sh/") {
			ofBundle++
			continue
		}
		out[verdict{constraint: r.Constraint.Kind + "/" + r.Constraint.Metadata.Name, object: objectName(o.Kind, o.Metadata.Namespace, o.Metadata.Name), message: r.Msg}]++
	}
	return out, ofBundle
}

func readJSON(file string, v any) {
	b, err := os.ReadFile(file)
	if err != nil {
		fail(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		fail(fmt.Errorf("%s: %w", file, err))
	}
}

// difference is what a reports more often than b, sorted, each as often
// as its excess.
func difference(a, b map[verdict]int) []verdict {
	var out []verdict
	for v, n := range a {
		for i := b[v]; i < n; i++ {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func count(vs map[verdict]int) int {
	n := 0
	for _, c := range vs {
		n += c
	}
	return n
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
	name   string
	bin    string
	args   []string
	stdout string // if set, the file each run writes its output to (else discarded)
	times  []time.Duration
	rss    int64 // KiB, the largest seen
}

func (c *command) run() {
	cmd := exec.Command(c.bin, c.args...) //nolint:gosec // G204: a benchmark harness runs the binary and arguments its user names
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = nil, &stderr
	if c.stdout != "" {
		// The child writes the file itself: no copy through this process.
		f, err := os.Create(c.stdout)
		if err != nil {
			fail(err)
		}
		defer f.Close()
		cmd.Stdout = f
	}
	start := time.Now()
	err := cmd.Run()
	elapsed := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); err != nil && code != 1 {
		fail(fmt.Errorf("%s: %w: %s", c.name, err, stderr.String()))
	}
	// gator exits 1 for a denied object and for a failure alike; only a
	// failure leaves its output empty.
	if err != nil && c.stdout != "" {
		if fi, serr := os.Stat(c.stdout); serr == nil && fi.Size() == 0 {
			fail(fmt.Errorf("%s: %w: %s", c.name, err, stderr.String()))
		}
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
