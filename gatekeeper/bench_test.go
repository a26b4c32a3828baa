package gatekeeper

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gatekeep-dev/gatekeep/gatekeeper/gen"
	"github.com/gatekeep-dev/gatekeep/internal/infragen"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

func genWrite(dir string, n int) ([]string, error) { return gen.Write(dir, n) }

func parseObj(tb testing.TB, y string) *manifest.Object {
	tb.Helper()
	objs, errs := manifest.Parse("extra.yaml", []byte(strings.TrimSpace(y)+"\n"))
	if len(errs) > 0 || len(objs) != 1 {
		tb.Fatalf("bad object: %v", errs)
	}
	return objs[0]
}

// genPolicy compiles 50 generated policies.
func genPolicy(tb testing.TB) *Policy {
	tb.Helper()
	return genBundle(tb).policy(tb)
}

// genBundle writes a generated bundle of 50 templates and loads it.
func genBundle(tb testing.TB) bundle {
	tb.Helper()
	dir := tb.TempDir()
	if _, err := gen.Write(dir, 50); err != nil {
		tb.Fatal(err)
	}
	return loadBundle(tb, dir)
}

// repoObjects generates an infragen repository of apps and parses it.
func repoObjects(tb testing.TB, apps int) []*manifest.Object {
	tb.Helper()
	dir := tb.TempDir()
	if _, err := infragen.Generate(dir, apps); err != nil {
		tb.Fatal(err)
	}
	return parseDir(tb, dir)
}

func parseDir(tb testing.TB, dir string) []*manifest.Object {
	tb.Helper()
	var objs []*manifest.Object
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error { //nolint:gosec // G703: the test's own generated TempDir
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p) //nolint:gosec // G122: walks the test's own fixture tree
		if err != nil {
			return err
		}
		o, errs := manifest.Parse(p, data)
		if len(errs) > 0 {
			return errs[0]
		}
		objs = append(objs, o...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return objs
}

// checkRepo does what gatekeep check does with a Gatekeeper bundle: all
// objects into the inventory, then every object reviewed, on all cores.
func checkRepo(tb testing.TB, p *Policy, objs []*manifest.Object) (violations int) {
	ctx := context.Background()
	data := make([]map[string]any, len(objs))
	for i, o := range objs {
		data[i] = o.Data
	}
	if err := p.AddInventory(ctx, data...); err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan map[string]any)
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for o := range work {
				vs, err := p.Review(ctx, Request{Object: o})
				if err != nil {
					tb.Error(err)
				}
				n += len(vs)
			}
			mu.Lock()
			violations += n
			mu.Unlock()
		}()
	}
	for _, o := range data {
		work <- o
	}
	close(work)
	wg.Wait()
	return violations
}

func TestGeneratedBundle(t *testing.T) {
	p := genPolicy(t)
	if n := len(p.Checks()); n != 50 {
		t.Fatalf("%d checks, want 50", n)
	}
	actions := map[string]int{}
	for _, c := range p.Checks() {
		actions[c.Action]++
	}
	if actions[Deny] == 0 || actions[Warn] == 0 || actions[DryRun] == 0 {
		t.Errorf("want every action among the generated constraints: %v", actions)
	}
	objs := repoObjects(t, 100)
	start := time.Now()
	n := checkRepo(t, p, objs)
	t.Logf("%d objects, %d violations, %v", len(objs), n, time.Since(start))
	if n == 0 {
		t.Error("the generated bundle finds nothing in an infragen repo")
	}
}

// BenchmarkReview reviews one realistic Deployment against 50 generated
// templates (about half of them match it).
func BenchmarkReview(b *testing.B) {
	p := genPolicy(b)
	objs := repoObjects(b, 50)
	var deploy map[string]any
	for _, o := range objs {
		if o.Kind() == "Deployment" {
			deploy = o.Data
			break
		}
	}
	ctx := context.Background()
	data := make([]map[string]any, len(objs))
	for i, o := range objs {
		data[i] = o.Data
	}
	if err := p.AddInventory(ctx, data...); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Review(ctx, Request{Object: deploy}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUniqueHost reviews an Ingress against a template that scans the
// inventory (2,000 Ingresses, 6,000 objects) for the same host.
func BenchmarkUniqueHost(b *testing.B) {
	var tdocs, cdocs []Document
	for _, p := range gen.Policies(14) {
		if p.Shape != "uniqueingresshost" {
			continue
		}
		tdocs = append(tdocs, Document{Object: obj(b, p.Template)})
		cdocs = append(cdocs, Document{Object: obj(b, p.Constraint)})
	}
	pol, err := New(context.Background(), tdocs, cdocs)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 2000; i++ {
		ing := obj(b, fmt.Sprintf(`{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: app-%d, namespace: team-%d}, spec: {rules: [{host: app-%d.example.com}]}}`, i, i%50, i))
		if err := pol.AddInventory(ctx, ing); err != nil {
			b.Fatal(err)
		}
		for _, k := range []string{"Service", "ConfigMap"} {
			o := obj(b, fmt.Sprintf(`{apiVersion: v1, kind: %s, metadata: {name: app-%d, namespace: team-%d}}`, k, i, i%50))
			_ = pol.AddInventory(ctx, o)
		}
	}
	o := obj(b, `{apiVersion: networking.k8s.io/v1, kind: Ingress, metadata: {name: app-1, namespace: team-1}, spec: {rules: [{host: app-1.example.com}]}}`)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		vs, err := pol.Review(ctx, Request{Object: o})
		if err != nil || len(vs) != 0 {
			b.Fatal(err, vs)
		}
	}
}

// BenchmarkCheckRepo checks whole generated repositories with 50 templates:
// the cost per object should not grow with the repository.
func BenchmarkCheckRepo(b *testing.B) {
	for _, apps := range []int{100, 400} {
		b.Run(fmt.Sprintf("apps=%d", apps), func(b *testing.B) {
			objs := repoObjects(b, apps)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				p := genPolicy(b)
				b.StartTimer()
				checkRepo(b, p, objs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(objs)), "ns/object")
		})
	}
}

// TestWriteBenchmarkRepo writes a generated bundle (policies/) and repo
// (apps/) for comparing gatekeep with gator test:
//
//	GATEKEEP_BENCH_DIR=/tmp/b GATEKEEP_BENCH_APPS=2000 go test ./gatekeeper -run TestWriteBenchmarkRepo
//	gator test -f /tmp/b/policies -f /tmp/b/apps
func TestWriteBenchmarkRepo(t *testing.T) {
	dir := os.Getenv("GATEKEEP_BENCH_DIR")
	if dir == "" {
		t.Skip("set GATEKEEP_BENCH_DIR to write a benchmark repo")
	}
	apps := 2000
	if s := os.Getenv("GATEKEEP_BENCH_APPS"); s != "" {
		if _, err := fmt.Sscan(s, &apps); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gen.Write(filepath.Join(dir, "policies"), 50); err != nil {
		t.Fatal(err)
	}
	n, err := infragen.Generate(dir, apps)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote 50 policies and %d objects under %s", n, dir)
}

// TestScale times the whole check of a generated repository, the way
// gatekeep check would run it: parse, compile, inventory, review on all
// cores. GATEKEEP_SCALE_DIR reads a directory written by
// TestWriteBenchmarkRepo (policies/ and apps/) instead, for comparing with
// gator test on the very same files:
//
//	GATEKEEP_SCALE_APPS=2000 go test ./gatekeeper -run TestScale -v
//	GATEKEEP_SCALE_DIR=/tmp/b go test ./gatekeeper -run TestScale -v
func TestScale(t *testing.T) {
	dir, s := os.Getenv("GATEKEEP_SCALE_DIR"), os.Getenv("GATEKEEP_SCALE_APPS")
	if s == "" && dir == "" {
		t.Skip("set GATEKEEP_SCALE_APPS or GATEKEEP_SCALE_DIR to run")
	}
	start := time.Now()
	var objs []*manifest.Object
	var p *Policy
	if dir != "" {
		objs = parseDir(t, filepath.Join(dir, "apps"))
		p = loadBundle(t, filepath.Join(dir, "policies")).policy(t)
	} else {
		var apps int
		if _, err := fmt.Sscan(s, &apps); err != nil {
			t.Fatal(err)
		}
		objs = repoObjects(t, apps)
		p = genPolicy(t)
	}
	loaded := time.Since(start)
	n := checkRepo(t, p, objs)
	total := time.Since(start)
	if f := os.Getenv("GATEKEEP_GATOR_JSON"); f != "" {
		compareWithGator(t, p, objs, f)
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("%d objects: parse and compile %v, check %v, total %v; %d violations; heap in use %d MB, sys %d MB",
		len(objs), loaded, total-loaded, total, n, ms.HeapInuse>>20, ms.Sys>>20)
}

// compareWithGator compares our violations with gator test -o json output
// for the same files: object, constraint, action and message.
func compareWithGator(t *testing.T, p *Policy, objs []*manifest.Object, file string) {
	data, err := os.ReadFile(file) //nolint:gosec // G703: the test's own golden file
	if err != nil {
		t.Fatal(err)
	}
	var results []struct {
		Msg               string `json:"msg"`
		EnforcementAction string `json:"enforcementAction"`
		Constraint        struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
		} `json:"constraint"`
		ViolatingObject map[string]any `json:"violatingObject"`
	}
	if err := json.Unmarshal(data, &results); err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range results {
		o := manifest.New(r.ViolatingObject)
		count[fmt.Sprintf("%s|%s/%s|%s|%s", o.Ref(), r.Constraint.Kind, r.Constraint.Metadata.Name, r.EnforcementAction, r.Msg)]++
	}
	ours := 0
	for _, o := range objs {
		vs, err := p.Review(context.Background(), Request{Object: o.Data})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vs {
			ours++
			count[fmt.Sprintf("%s|%s|%s|%s", o.Ref(), v.Check, v.Action, v.Message)]--
		}
	}
	diff := 0
	for k, n := range count {
		if n != 0 {
			if diff < 10 {
				t.Errorf("differs (gator minus ours = %d): %s", n, k)
			}
			diff++
		}
	}
	t.Logf("gator %d violations, ours %d, %d differences", len(results), ours, diff)
}

// benchPod is a typical Pod, as the webhook's benchmark sends it.
const benchPod = `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"team-1","labels":{"app":"web","team":"team-1"}},"spec":{"serviceAccountName":"web","containers":[{"name":"web","image":"registry.example.com/team-1/web:1.4.2","ports":[{"containerPort":8080}],"resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"memory":"256Mi"}},"readinessProbe":{"httpGet":{"path":"/healthz","port":8080}},"securityContext":{"runAsNonRoot":true,"allowPrivilegeEscalation":false}}]}}`

// BenchmarkReviewPod reviews the admission of a typical Pod against 50
// generated templates at the webhook's enforcement point, as the webhook
// does (22 of the templates match the Pod; 14 of them differ in code or
// parameters).
func BenchmarkReviewPod(b *testing.B) {
	bd := genBundle(b)
	p, err := New(context.Background(), bd.templates, bd.constraints, WithEnforcementPoint(WebhookEnforcementPoint))
	if err != nil {
		b.Fatal(err)
	}
	var pod map[string]any
	if err := json.Unmarshal([]byte(benchPod), &pod); err != nil {
		b.Fatal(err)
	}
	req := map[string]any{
		"uid": "uid-1", "operation": "CREATE", "namespace": "team-1",
		"kind":     map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"resource": map[string]any{"group": "", "version": "", "resource": ""},
		"userInfo": map[string]any{"username": "system:serviceaccount:ci:deployer"},
		"object":   pod,
		"options":  nil,
	}
	ctx := context.Background()
	vs, err := p.Review(ctx, Request{Admission: req})
	if err != nil {
		b.Fatal(err)
	}
	if len(vs) == 0 {
		b.Fatal("no violations")
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if _, err := p.Review(ctx, Request{Admission: req}); err != nil {
			b.Fatal(err)
		}
	}
	// The process's CPU time, GC included: what the machine pays per
	// review, whatever else runs on it.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
