// Command webhookbench measures gatekeep's admission webhook over HTTPS on
// loopback: latency (p50, p99) at a fixed request rate, the most requests
// per second it answers, and the server's memory. The server runs in a
// child process of this program, with the given bundles and an inventory
// of N Ingresses, so that its memory is its own.
//
//	go run ./hack/webhookbench [-bundle DIR]... [-templates N] [-library DIR] [-ingresses 10000] [-rate 1000] [-duration 10s]
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/gatekeeper/gen"
	"github.com/gatekeep-dev/gatekeep/internal/gklibrary"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func main() {
	var bundles stringList
	flag.Var(&bundles, "bundle", "policy bundle (repeatable)")
	serve := flag.Bool("serve", false, "run as the server (internal)")
	ingresses := flag.Int("ingresses", 10000, "Ingresses in the server's inventory")
	rate := flag.Int("rate", 1000, "requests per second for the latency run")
	duration := flag.Duration("duration", 10*time.Second, "length of each run")
	workers := flag.Int("workers", 32, "concurrent client connections")
	templates := flag.Int("templates", 0, "also load a generated bundle of this many Gatekeeper ConstraintTemplates, one constraint each")
	library := flag.String("library", "", "also load a gatekeeper-library checkout (its root or library/) as a bundle: each directory's template.yaml and first sample constraint")
	cert := flag.String("cert", "", "serving certificate (internal)")
	key := flag.String("key", "", "serving key (internal)")
	metricsAddr := flag.String("metrics", "", "server's /metrics address (internal)")
	cpuProfile := flag.String("cpuprofile", "", "write the server's CPU profile over all runs to this file")
	mix := flag.String("mix", "", "run only this mix of Pods (replicas or distinct; all when empty)")
	flag.Parse()
	if *serve {
		if err := runServer(bundles, *ingresses, *cert, *key, *metricsAddr, *cpuProfile); err != nil {
			fmt.Fprintln(os.Stderr, "webhookbench server:", err)
			os.Exit(1)
		}
		return
	}
	if *templates > 0 {
		dir, err := os.MkdirTemp("", "webhookbench-templates-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "webhookbench:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		if _, err := gen.Write(dir, *templates); err != nil {
			fmt.Fprintln(os.Stderr, "webhookbench:", err)
			os.Exit(1)
		}
		bundles = append(bundles, dir)
	}
	if *library != "" {
		dir, err := os.MkdirTemp("", "webhookbench-library-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "webhookbench:", err)
			os.Exit(1)
		}
		defer os.RemoveAll(dir)
		s, err := gklibrary.WriteBundle(*library, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "webhookbench:", err)
			os.Exit(1)
		}
		fmt.Printf("gatekeeper-library %s: %s\n", *library, s)
		bundles = append(bundles, dir)
	}
	if err := runClient(bundles, *ingresses, *rate, *duration, *workers, *cpuProfile, *mix); err != nil {
		fmt.Fprintln(os.Stderr, "webhookbench:", err)
		os.Exit(1)
	}
}

func runServer(bundles []string, ingresses int, cert, key, metricsAddr, cpuProfile string) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200) // as gatekeep serve does
	}
	ctrllog.SetLogger(logr.Discard()) // the certificate watcher's news
	load := func() (*engine.Engine, error) {
		b, err := bundle.LoadOverBuiltin(bundles...)
		if err != nil {
			return nil, err
		}
		return engine.New(b, engine.WithMode(engine.Admission))
	}
	s := webhook.New(webhook.Options{Listen: "127.0.0.1:0", MetricsListen: metricsAddr, CertFile: cert, KeyFile: key, Load: load, Log: logr.Discard()})
	hosts := s.Inventory().Hosts()
	for i := 0; i < ingresses; i++ {
		ns := fmt.Sprintf("team-%d", i%200)
		hosts.Add(ns, fmt.Sprintf("app-%d", i), []checks.Claim{{Host: fmt.Sprintf("app-%d.%s.example.com", i, ns), Path: "/", Pointer: "/spec/rules/0/host"}})
	}
	// The client ends the server with an interrupt when it wants its
	// profile: it is written then.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile) //nolint:gosec // G304: the file the benchmark's user names
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() {
			pprof.StopCPUProfile()
			_ = f.Close()
		}()
	}
	errs := make(chan error, 1)
	go func() { errs <- s.Run(ctx) }()
	addr, err := s.Addr(ctx)
	if err != nil {
		return err
	}
	fmt.Println(addr.String())
	return <-errs
}

func runClient(bundles []string, ingresses, rate int, duration time.Duration, workers int, cpuProfile, mix string) error {
	dir, err := os.MkdirTemp("", "webhookbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cert, key := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := selfSigned(cert, key); err != nil {
		return err
	}
	metricsAddr, err := freeAddr()
	if err != nil {
		return err
	}
	args := []string{"-serve", "-ingresses", fmt.Sprint(ingresses), "-cert", cert, "-key", key, "-metrics", metricsAddr}
	if cpuProfile != "" {
		abs, err := filepath.Abs(cpuProfile)
		if err != nil {
			return err
		}
		args = append(args, "-cpuprofile", abs)
	}
	for _, b := range bundles {
		args = append(args, "-bundle", b)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	child := exec.Command(self, args...) //nolint:gosec // G204: the benchmark re-runs its own executable
	child.Stderr = os.Stderr
	out, err := child.StdoutPipe()
	if err != nil {
		return err
	}
	if err := child.Start(); err != nil {
		return err
	}
	defer func() {
		if cpuProfile == "" {
			_ = child.Process.Kill()
		} else {
			// Interrupted, the server writes its profile and stops;
			// killed if it has not within a while.
			_ = child.Process.Signal(os.Interrupt)
			t := time.AfterFunc(30*time.Second, func() { _ = child.Process.Kill() })
			defer t.Stop()
		}
		_ = child.Wait()
	}()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return fmt.Errorf("server did not start: %w", err)
	}
	url := "https://" + strings.TrimSpace(addr) + "/validate?timeout=5s"
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // G402: a benchmark client for the local child server's self-signed certificate
		MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers,
	}}
	fmt.Printf("webhook benchmark: %d Ingresses in the inventory, bundles: builtin %v\n", ingresses, bundles)
	fmt.Printf("%-34s %s\n", "server memory after start:", memory(child.Process.Pid))
	var seq atomic.Int64 // numbers the Pods of all runs apart
	for _, m := range gen.PodMixes {
		if mix != "" && m.Name != mix {
			continue
		}
		body := func() []byte { return m.Review(int(seq.Add(1))) }
		// Warm up at the same rate: connections, caches, the runtime
		// (the peak memory at that rate is then the rate's own).
		_, _, _ = openLoop(client, url, body, rate, workers, 2*time.Second)
		fmt.Printf("%s Pods:\n", m.Name)
		before, err := serverLatency(metricsAddr)
		if err != nil {
			return err
		}
		srv0, gen0 := procCPU(child.Process.Pid), procCPU(os.Getpid())
		lat, late, sent := openLoop(client, url, body, rate, workers, duration)
		srv, gen := procCPU(child.Process.Pid)-srv0, procCPU(os.Getpid())-gen0
		fmt.Printf("%-34s %8d requests  p50 %-9s p99 %-9s max %s\n", fmt.Sprintf("  latency at %d req/s:", rate), sent,
			pct(lat, 50), pct(lat, 99), pct(lat, 100))
		fmt.Printf("%-34s %8s           p50 %-9s p99 %-9s max %s\n", "    pacer's lateness (not counted):", "", pct(late, 50), pct(late, 99), pct(late, 100))
		after, err := serverLatency(metricsAddr)
		if err != nil {
			return err
		}
		// The server's own histogram: arrival to response written,
		// without the load generator, which shares this machine's cores.
		inServer := after.minus(before)
		fmt.Printf("%-34s %8d requests  p50 %-9s p99 %s\n", "    of which in the server:", inServer.count,
			inServer.quantile(.5).Round(10*time.Microsecond), inServer.quantile(.99).Round(10*time.Microsecond))
		// What each request cost the machine: the load generator shares
		// its cores with the server.
		fmt.Printf("%-34s server %s, load generator %s\n", "  CPU per request:",
			(srv / time.Duration(sent)).Round(time.Microsecond), (gen / time.Duration(sent)).Round(time.Microsecond))
		fmt.Printf("%-34s %s\n", fmt.Sprintf("  server memory at %d req/s:", rate), memory(child.Process.Pid))
		n, lat := closedLoop(client, url, body, workers, duration)
		fmt.Printf("%-34s %8.0f req/s     p50 %-9s p99 %s\n", fmt.Sprintf("  throughput (%d connections):", workers), float64(n)/duration.Seconds(), pct(lat, 50), pct(lat, 99))
		fmt.Printf("%-34s %s\n", "  server memory, saturated:", memory(child.Process.Pid))
	}
	return nil
}

// openLoop sends requests at a fixed rate, whatever the answers' pace.
// Each is measured from the moment the pacer releases it, so waiting for
// a free connection counts; how late the pacer's own timer woke (a Go
// sleep can wake up to a millisecond late) does not: that is the load
// generator's error, not the webhook's latency. It is returned too, for
// the report to show.
func openLoop(client *http.Client, url string, body func() []byte, rate, workers int, d time.Duration) (lat, late []time.Duration, sent int) {
	total := int(float64(rate) * d.Seconds())
	interval := time.Second / time.Duration(rate)
	jobs := make(chan time.Time, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for released := range jobs {
				if err := post(client, url, body()); err == nil {
					mu.Lock()
					lat = append(lat, time.Since(released))
					mu.Unlock()
				}
			}
		}()
	}
	late = make([]time.Duration, 0, total)
	start := time.Now()
	for i := 0; i < total; i++ {
		due := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(due))
		now := time.Now()
		late = append(late, now.Sub(due))
		jobs <- now
	}
	close(jobs)
	wg.Wait()
	return lat, late, total
}

// closedLoop keeps every connection busy for d.
func closedLoop(client *http.Client, url string, body func() []byte, workers int, d time.Duration) (int, []time.Duration) {
	var mu sync.Mutex
	var lat []time.Duration
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t := time.Now()
				if err := post(client, url, body()); err == nil {
					mine = append(mine, time.Since(t))
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return len(lat), lat
}

func post(client *http.Client, url string, body []byte) error {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return err
}

func pct(lat []time.Duration, p int) string {
	if len(lat) == 0 {
		return "-"
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	i := (len(lat) - 1) * p / 100
	return lat[i].Round(10 * time.Microsecond).String()
}

// memory describes the server's resident memory: now, split into its own
// (anonymous) pages and the binary's mapped file pages, and the peak.
func memory(pid int) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?"
	}
	defer f.Close()
	v := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) >= 2 {
			v[strings.TrimSuffix(fields[0], ":")] = fields[1]
		}
	}
	mb := func(k string) string {
		n, err := strconv.Atoi(v[k])
		if err != nil {
			return "?"
		}
		return fmt.Sprintf("%.0f MB", float64(n)/1024)
	}
	return fmt.Sprintf("%s resident (anonymous %s, file %s), peak %s", mb("VmRSS"), mb("RssAnon"), mb("RssFile"), mb("VmHWM"))
}

// procCPU is the user and system CPU time a process has used, from
// /proc (in clock ticks of 10 ms); 0 if it cannot be read.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

func selfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644) //nolint:gosec // G306: a public certificate, not a secret
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// histogram is the cumulative buckets of the server's validate latency.
type histogram struct {
	count  uint64
	bounds []float64 // upper bounds, seconds
	counts []uint64  // cumulative
}

// serverLatency reads gatekeep_admission_duration_seconds{webhook="validate"}
// from the server's /metrics.
func serverLatency(addr string) (histogram, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return histogram{}, err
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return histogram{}, fmt.Errorf("server metrics: %w", err)
	}
	var h histogram
	if f := families["gatekeep_admission_duration_seconds"]; f != nil {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "webhook" && l.GetValue() == "validate" {
					hist := m.GetHistogram()
					h.count = hist.GetSampleCount()
					for _, b := range hist.GetBucket() {
						h.bounds = append(h.bounds, b.GetUpperBound())
						h.counts = append(h.counts, b.GetCumulativeCount())
					}
				}
			}
		}
	}
	return h, nil
}

// minus is what was observed between two readings.
func (h histogram) minus(before histogram) histogram {
	out := histogram{count: h.count - before.count, bounds: h.bounds, counts: make([]uint64, len(h.counts))}
	for i := range h.counts {
		out.counts[i] = h.counts[i]
		if i < len(before.counts) {
			out.counts[i] -= before.counts[i]
		}
	}
	return out
}

// quantile interpolates linearly within the bucket holding q, as
// Prometheus' histogram_quantile does.
func (h histogram) quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	rank := q * float64(h.count)
	lower, below := 0.0, uint64(0)
	for i, c := range h.counts {
		if float64(c) >= rank {
			in := float64(c - below)
			frac := 1.0
			if in > 0 {
				frac = (rank - float64(below)) / in
			}
			return time.Duration((lower + (h.bounds[i]-lower)*frac) * float64(time.Second))
		}
		lower, below = h.bounds[i], c
	}
	return time.Duration(lower * float64(time.Second))
}
