package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/certwatcher"
	"sigs.k8s.io/controller-runtime/pkg/healthz"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/secrets"
)

// Options configure a Server.
type Options struct {
	// Listen is the HTTPS address of /validate and /mutate (":8443").
	Listen string
	// HealthListen serves /healthz and /readyz over plain HTTP.
	HealthListen string
	// MetricsListen serves /metrics over plain HTTP ("" or "0": off).
	MetricsListen string
	// CertFile and KeyFile are the serving certificate, re-read when they
	// change on disk.
	CertFile, KeyFile string
	// CertReady, when set, is closed once CertFile and KeyFile exist (a
	// certificate rotator writes them): the webhooks listen, and the
	// server is ready, only after.
	CertReady <-chan struct{}
	// Namespace is gatekeep's own namespace, never judged.
	Namespace string
	// Cluster is where the inventory comes from (nil: no inventory).
	Cluster *rest.Config
	// Load builds the engine from the policy bundles; it is called at
	// start and whenever a file under Watch changes.
	Load func() (*engine.Engine, error)
	// Watch lists the bundle paths to watch.
	Watch []string
	// SealingKeys, when set, is kept equal to the sealed-secrets keys of
	// SealedSecretsNamespace in Cluster (Load gives it to the engines).
	SealingKeys            *secrets.Keys
	SealedSecretsNamespace string
	// ShutdownDelay keeps the webhooks serving this long after a stop
	// (SIGTERM) is asked for, while the Service's endpoints drop the pod.
	ShutdownDelay time.Duration
	// ReadTimeout bounds reading a whole request (headers and body),
	// WriteTimeout the time from the end of its headers to the end of the
	// response, and IdleTimeout how long a keep-alive connection may wait
	// for its next request (0: DefaultReadTimeout, DefaultWriteTimeout,
	// DefaultIdleTimeout).
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration
	// MaxConnections caps the webhook connections open at once: more wait
	// to be accepted (0: DefaultMaxConnections).
	MaxConnections int
	// DecodeBudget bounds the bytes of request bodies read and decoded at
	// once; a request waits until its Content-Length fits (0:
	// DefaultDecodeBudget). A request larger than the budget is refused
	// (413).
	DecodeBudget int64
	Log          logr.Logger
	// Collectors are more series for /metrics (the audit's).
	Collectors []prometheus.Collector

	// hooks let this package's tests observe and hold requests.
	hooks testHooks
}

// Defaults of Options' bounds. The idle timeout is longer than the API
// server's own (90 s, Go's default), so that the client closes an idle
// connection first and never reuses one the server is closing.
const (
	DefaultReadTimeout    = 15 * time.Second
	DefaultWriteTimeout   = 35 * time.Second // the longest admission timeout (30 s) and the answer
	DefaultIdleTimeout    = 120 * time.Second
	DefaultMaxConnections = 512
	DefaultDecodeBudget   = 32 << 20
)

// testHooks are called, when set, at points tests wait on.
type testHooks struct {
	// admitted: a request holds its decode budget and is about to be read.
	admitted func(*http.Request)
	// budgetWait: a request waits for n bytes of decode budget.
	budgetWait func(n int64)
	// connWait: an accepted connection waits for a free connection slot.
	connWait func()
	// draining: the webhook server stopped accepting and waits for the
	// requests in flight.
	draining func()
	// reloaded: a bundle load was attempted (err: how it failed).
	reloaded func(err error)
}

// Server is gatekeep's admission webhook.
type Server struct {
	opts      Options
	engines   *Engines
	inventory *Inventory
	metrics   *metrics
	budget    *decodeBudget // shared by /validate and /mutate
	ready     chan struct{} // closed once listening
	addr      net.Addr
	// loaded is closed once a bundle has loaded.
	loaded     chan struct{}
	loadedOnce sync.Once
	// keysSynced: the sealing keys have been read from the cluster.
	keysSynced atomic.Bool
	// lastFailure is the last bundle that did not load, nil once one
	// has loaded since.
	lastFailure atomic.Pointer[loadFailure]
}

// New prepares a server; Run starts it.
func New(opts Options) *Server {
	if opts.Listen == "" {
		opts.Listen = ":8443"
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&opts.ReadTimeout, DefaultReadTimeout}, {&opts.WriteTimeout, DefaultWriteTimeout}, {&opts.IdleTimeout, DefaultIdleTimeout}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = DefaultMaxConnections
	}
	if opts.DecodeBudget <= 0 {
		opts.DecodeBudget = DefaultDecodeBudget
	}
	m := newMetrics()
	m.registry.MustRegister(opts.Collectors...)
	return &Server{opts: opts, engines: &Engines{}, inventory: NewInventory(), metrics: m,
		budget: newDecodeBudget(opts.DecodeBudget, m, opts.hooks.budgetWait),
		ready:  make(chan struct{}), loaded: make(chan struct{})}
}

// Handler returns the HTTP handler of /validate and /mutate, without TLS
// (for tests and benchmarks that bring their own listener).
func (s *Server) Handler() http.Handler {
	j := judge{engines: s.engines, inventory: s.inventory, namespace: s.opts.Namespace, metrics: s.metrics}
	mux := http.NewServeMux()
	mux.Handle("/validate", &endpoint{name: "validate", decider: &validator{j}, metrics: s.metrics, log: s.opts.Log, budget: s.budget, admitted: s.opts.hooks.admitted})
	mux.Handle("/mutate", &endpoint{name: "mutate", decider: &mutator{j}, metrics: s.metrics, log: s.opts.Log, budget: s.budget, admitted: s.opts.hooks.admitted})
	return mux
}

// Engines returns the engine holder (tests swap engines through it).
func (s *Server) Engines() *Engines { return s.engines }

// Inventory returns the cluster inventory.
func (s *Server) Inventory() *Inventory { return s.inventory }

// Ready reports whether the serving certificate is on disk (CertReady),
// the bundle is loaded and the caches have synced.
func (s *Server) Ready() bool {
	if s.opts.CertReady != nil {
		select {
		case <-s.opts.CertReady:
		default:
			return false
		}
	}
	if s.engines.Get() == nil || s.opts.Cluster == nil {
		return s.engines.Get() != nil
	}
	return s.inventory.Synced() && (s.opts.SealingKeys == nil || s.keysSynced.Load())
}

// bundleRetry is how often a server without a bundle tries to load it
// again (besides on every change of its files).
const bundleRetry = 10 * time.Second

// Run serves until ctx ends. A bundle that fails to load later is logged
// and the last good one kept. One that fails at start is logged too, and
// the server is not ready until it loads: the pod stays out of the
// Service (the webhooks' failurePolicy applies meanwhile) and takes the
// fixed bundle as soon as it is there, without a crash loop's back-off.
func (s *Server) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The bundle is watched before it is first read, so that no change
	// between the two goes unseen.
	var bundles *fsnotify.Watcher
	if len(s.opts.Watch) > 0 {
		bundles = s.watchBundleFiles()
	}
	if err := s.reload(); err != nil {
		s.opts.Log.Error(err, "policy bundle did not load; not ready until it does")
		go s.retryLoad(ctx)
	}
	errs := make(chan error, 4)
	if s.opts.HealthListen != "" {
		go func() { errs <- s.serveHealth(ctx) }()
	}
	if s.opts.MetricsListen != "" && s.opts.MetricsListen != "0" {
		go func() { errs <- s.serveMetrics(ctx) }()
	}
	if bundles != nil {
		go s.watchBundles(ctx, bundles)
	}
	if s.opts.Cluster != nil {
		// What the cluster caches hold depends on the bundle: they start
		// once one has loaded.
		go func() {
			select {
			case <-s.loaded:
			case <-ctx.Done():
				return
			}
			s.watchCluster(ctx, errs)
		}()
	}
	webhooks := make(chan error, 1)
	go func() { webhooks <- s.serveWebhooks(ctx) }()
	select {
	case <-ctx.Done():
		// Answer what is in flight, and what arrives while the endpoints
		// drop this pod, before going.
		return <-webhooks
	case err := <-webhooks:
		return err
	case err := <-errs:
		return err
	}
}

// watchCluster starts the inventory (the kinds the bundle syncs) and the
// sealing keys; failures go to errs.
func (s *Server) watchCluster(ctx context.Context, errs chan<- error) {
	cfg := s.engines.Get().Bundle().Config
	go func() {
		if err := s.inventory.Start(ctx, s.opts.Cluster, SyncKinds(cfg), s.syncInventory); err != nil && ctx.Err() == nil {
			errs <- err
		}
	}()
	if s.opts.SealingKeys == nil {
		return
	}
	ns := s.opts.SealedSecretsNamespace
	if ns == "" {
		ns = cfg.SealedSecrets.KeyNamespace()
	}
	go func() {
		err := watchSealingKeys(ctx, s.opts.Cluster, ns, s.opts.SealingKeys, func(err error) {
			s.opts.Log.Error(err, "sealing keys")
		})
		if err != nil && ctx.Err() == nil {
			errs <- err
			return
		}
		s.keysSynced.Store(true)
	}()
}

// SyncKinds are the kinds a bundle keeps in data.inventory (its sync:).
func SyncKinds(c bundle.Config) []schema.GroupVersionKind {
	kinds := make([]schema.GroupVersionKind, 0, len(c.Sync))
	for _, g := range c.Sync {
		kinds = append(kinds, schema.GroupVersionKind{Group: g.Group, Version: g.Version, Kind: g.Kind})
	}
	return kinds
}

// retryLoad loads the bundle again every bundleRetry until one loads
// (file changes reload it sooner, see watchBundles).
func (s *Server) retryLoad(ctx context.Context) {
	t := time.NewTicker(bundleRetry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.loaded:
			return
		case <-t.C:
			if s.engines.Get() != nil {
				return
			}
			if err := s.reload(); err != nil {
				s.opts.Log.Error(err, "policy bundle did not load; not ready until it does")
			}
		}
	}
}

// syncInventory passes a synced object's change to the engine in force.
func (s *Server) syncInventory(add bool, obj map[string]any) {
	eng := s.engines.Get()
	if eng == nil {
		return
	}
	var err error
	if add {
		err = eng.AddInventory(context.Background(), obj)
	} else {
		err = eng.RemoveInventory(context.Background(), obj)
	}
	if err != nil {
		s.opts.Log.Error(err, "data.inventory", "kind", obj["kind"])
	}
}

// Reload loads the bundles again now, keeping the last good engine if they
// do not load (a poller of a registry calls it when a tag moves).
func (s *Server) Reload() error { return s.reload() }

// LoadFailed records a new bundle refused before it could be loaded (a
// registry artifact that did not pull): counted in
// gatekeep_bundle_load_failures_total and said by /readyz, as a failed
// load is, while the bundle in force stays.
func (s *Server) LoadFailed(err error) {
	s.metrics.bundleFailed()
	s.metrics.bundleReloaded(false)
	s.lastFailure.Store(&loadFailure{at: time.Now(), msg: err.Error()})
}

// loadFailure is the last bundle that did not load.
type loadFailure struct {
	at  time.Time
	msg string
}

func (s *Server) reload() error {
	err := s.load()
	if err != nil {
		s.LoadFailed(err)
	} else {
		s.lastFailure.Store(nil)
		s.metrics.bundleReloaded(true)
	}
	if h := s.opts.hooks.reloaded; h != nil {
		h(err)
	}
	return err
}

func (s *Server) load() error {
	eng, err := s.opts.Load()
	if err != nil {
		return err
	}
	// A new engine starts with what the cluster holds: the inventory goes in
	// before the engine goes into force. (A kind added to sync: needs a
	// restart to be watched.)
	if err := eng.AddInventory(context.Background(), s.inventory.Objects()...); err != nil {
		return fmt.Errorf("data.inventory: %w", err)
	}
	s.engines.Set(eng)
	// Compiling a bundle leaves tens of MB of garbage (Gatekeeper's CEL
	// environments, CRD schemas, the engine it replaces), which at the
	// server's GC percent would stay resident until the heap grew to
	// several times what it holds: collect it now and give it back.
	debug.FreeOSMemory()
	s.loadedOnce.Do(func() { close(s.loaded) })
	s.metrics.bundleInForce(eng.Bundle().Name, eng.Bundle().Digest)
	s.opts.Log.Info("policy bundle in force", "name", eng.Bundle().Name, "digest", eng.Bundle().Digest)
	// What gatekeep check warns about the bundle itself (a file holding
	// policy kinds gatekeep does not run) is said once per load.
	for _, f := range eng.BundleFindings() {
		s.opts.Log.Info("policy bundle warning", "check", f.Check, "action", string(f.Action), "file", f.File, "line", f.Line, "message", f.Message)
	}
	return nil
}

func (s *Server) serveWebhooks(ctx context.Context) error {
	if s.opts.CertReady != nil {
		select {
		case <-s.opts.CertReady:
		case <-ctx.Done():
			return nil
		}
	}
	cw, err := certwatcher.New(s.opts.CertFile, s.opts.KeyFile)
	if err != nil {
		return fmt.Errorf("serving certificate: %w", err)
	}
	go func() { _ = cw.Start(ctx) }()
	tcp, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return err
	}
	s.addr = tcp.Addr()
	ln := newLimitListener(tcp, s.opts.MaxConnections, s.opts.hooks.connWait)
	// A slow body, a slow reader of the answer and an idle keep-alive
	// connection are each cut off, and the connections are capped, so
	// that no client holds the server's memory or descriptors.
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: min(10*time.Second, s.opts.ReadTimeout),
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: cw.GetCertificate},
	}
	close(s.ready)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		time.Sleep(s.opts.ShutdownDelay)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// ServeTLS returns as soon as Shutdown starts: wait for it to finish,
	// so that the requests in flight are answered before Run returns (and
	// the process exits).
	if h := s.opts.hooks.draining; h != nil {
		h()
	}
	<-stopped
	return nil
}

// shutdownGrace bounds the wait for requests in flight at shutdown.
const shutdownGrace = 10 * time.Second

// Addr waits until the webhook listens and returns its address.
func (s *Server) Addr(ctx context.Context) (net.Addr, error) {
	select {
	case <-s.ready:
		return s.addr, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Server) serveHealth(ctx context.Context) error {
	return serve(ctx, s.opts.HealthListen, s.Health())
}

// Health is the handler of /healthz and /readyz.
func (s *Server) Health() http.Handler {
	mux := http.NewServeMux()
	// healthz.Handler names a single check by the path under its own.
	live := http.StripPrefix("/healthz", &healthz.Handler{Checks: map[string]healthz.Checker{"ping": healthz.Ping}})
	ready := http.HandlerFunc(s.serveReady)
	mux.Handle("/healthz", live)
	mux.Handle("/healthz/", live)
	mux.Handle("/readyz", ready)
	mux.Handle("/readyz/", ready)
	return mux
}

// serveReady answers /readyz: 200 once Ready, else 503; the body says
// which bundle is in force and, when the last one offered did not load
// (the one in force kept), why.
func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	var b strings.Builder
	if s.Ready() {
		b.WriteString("ok\n")
	} else {
		b.WriteString("not ready: bundle not loaded or caches not synced\n")
	}
	if eng := s.engines.Get(); eng != nil {
		fmt.Fprintf(&b, "bundle %s %s in force\n", eng.Bundle().Name, eng.Bundle().Digest)
	}
	if f := s.lastFailure.Load(); f != nil {
		fmt.Fprintf(&b, "last bundle offered did not load (%s), the one in force is kept: %s\n", f.at.UTC().Format(time.RFC3339), f.msg)
	}
	if !s.Ready() {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_, _ = io.WriteString(w, b.String()) // a probe's answer: nothing to do if the prober left
}

func (s *Server) serveMetrics(ctx context.Context) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}))
	return serve(ctx, s.opts.MetricsListen, mux)
}

func serve(ctx context.Context, addr string, h http.Handler) error {
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// watchBundleFiles watches the bundles' directories; nil if it cannot.
func (s *Server) watchBundleFiles() *fsnotify.Watcher {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.opts.Log.Error(err, "cannot watch bundles; changes need a restart")
		return nil
	}
	for _, p := range s.opts.Watch {
		_ = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				_ = w.Add(path)
			}
			return nil
		})
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			_ = w.Add(filepath.Dir(p))
		}
	}
	return w
}

// watchBundles reloads the engine when a bundle file changes (a ConfigMap
// mount swaps a symlink; an editor renames files). Bursts of events are
// folded into one reload.
func (s *Server) watchBundles(ctx context.Context, w *fsnotify.Watcher) {
	defer w.Close()
	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op&fsnotify.Create != 0 {
				if st, err := os.Stat(ev.Name); err == nil && st.IsDir() {
					_ = w.Add(ev.Name)
				}
			}
			debounce = time.After(300 * time.Millisecond)
		case err := <-w.Errors:
			s.opts.Log.Error(err, "watching bundles")
		case <-debounce:
			if err := s.reload(); err != nil {
				s.opts.Log.Error(err, "policy bundle did not load; keeping the last good one")
			}
		}
	}
}
