package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/gatekeep-dev/gatekeep/audit"
	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/certrotation"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/ocibundle"
	"github.com/gatekeep-dev/gatekeep/policyreport"
	"github.com/gatekeep-dev/gatekeep/scanner"
	"github.com/gatekeep-dev/gatekeep/scanner/podauth"
	"github.com/gatekeep-dev/gatekeep/schema"
	"github.com/gatekeep-dev/gatekeep/secrets"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

type serveFlags struct {
	listen, healthListen, metricsListen string
	certFile, keyFile                   string
	bundles                             []string
	kubeconfig                          string
	namespace                           string
	version                             string
	sealedNamespace                     string
	images                              imageFlags
	shutdownDelay                       time.Duration
	bundlePoll                          time.Duration
	bounds                              boundFlags
	certs                               certFlags
	audit                               serveAuditFlags
}

// serveAuditFlags turn on the continuous audit.
type serveAuditFlags struct {
	interval time.Duration
	lease    string
	podName  string
	scope    auditScope
	reports  reportFlags
}

// boundFlags bound what clients of the webhooks may hold.
type boundFlags struct {
	readTimeout, writeTimeout, idleTimeout time.Duration
	maxConnections                         int
	maxDecodeBytes                         int64
}

// certFlags turn on gatekeep's own serving certificates (--cert-secret).
type certFlags struct {
	secret, webhookConfiguration                    string
	dnsNames                                        []string
	caValidity, certValidity, renewBefore, interval time.Duration
}

func newServeCommand() *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the validating and mutating admission webhook",
		Long: `Serve /validate and /mutate (AdmissionReview admission.k8s.io/v1) over HTTPS,
deciding with the same engine and bundle as gatekeep check. The bundle files
and the serving certificate are re-read when they change on disk; a bundle
that fails to load is logged and the last good one kept. One that fails at
start leaves gatekeep up but not ready (/readyz) until it loads, answering
503 meanwhile; the metric gatekeep_bundle_load_failures_total counts them.

With --cert-secret, gatekeep makes its serving certificate itself: a CA and a
certificate kept in that Secret (shared by every replica), renewed before
they expire, written to --tls-cert-file and --tls-private-key-file, and the
CA put into the caBundle of --webhook-configuration. A replaced CA stays
trusted until it expires, so replicas still serving its certificate are not
refused meanwhile.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", ":8443", "HTTPS address of the webhooks")
	fl.StringVar(&f.healthListen, "health-listen", ":8081", "plain HTTP address of /healthz and /readyz")
	fl.StringVar(&f.metricsListen, "metrics-listen", ":8080", "plain HTTP address of /metrics (0 turns it off)")
	fl.StringVar(&f.certFile, "tls-cert-file", "/certs/tls.crt", "serving certificate (PEM), re-read when it changes")
	fl.StringVar(&f.keyFile, "tls-private-key-file", "/certs/tls.key", "serving certificate's private key (PEM)")
	fl.StringArrayVar(&f.bundles, "bundle", nil, "policy bundle directory or .tar.gz, added to the built-in bundle (repeatable; watched)")
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: the in-cluster configuration)")
	fl.StringVar(&f.namespace, "namespace", envOr("POD_NAMESPACE", "gatekeep-system"), "gatekeep's own namespace, never judged")
	fl.StringVar(&f.version, "kubernetes-version", "", "target Kubernetes version (default: the bundle's, else the API server's)")
	f.images.register(cmd)
	fl.DurationVar(&f.bundlePoll, "bundle-poll-interval", time.Minute, "how often the tag of an oci:// --bundle is checked for a new bundle (0: never)")
	fl.DurationVar(&f.shutdownDelay, "shutdown-delay", 5*time.Second, "keep answering this long after SIGTERM, while the Service drops the pod")
	b := &f.bounds
	fl.DurationVar(&b.readTimeout, "read-timeout", webhook.DefaultReadTimeout, "a webhook request (headers and body) must arrive within this; a slower one is cut off")
	fl.DurationVar(&b.writeTimeout, "write-timeout", webhook.DefaultWriteTimeout, "a webhook request must be answered within this after its headers (longer than the longest admission timeout, 30s)")
	fl.DurationVar(&b.idleTimeout, "idle-timeout", webhook.DefaultIdleTimeout, "an idle keep-alive connection to the webhooks is closed after this (longer than the API server's own, 90s)")
	fl.IntVar(&b.maxConnections, "max-connections", webhook.DefaultMaxConnections, "webhook connections open at once; more wait to be accepted")
	fl.Int64Var(&b.maxDecodeBytes, "max-decode-bytes", webhook.DefaultDecodeBudget, "bytes of admission requests read and decoded at once (their Content-Length); more wait, and a larger request is refused (413)")
	fl.StringVar(&f.sealedNamespace, "sealed-secrets-namespace", "", "namespace of the sealed-secrets controller's keys (default: the bundle's sealedSecrets.namespace, else kube-system); gatekeep reads Secrets there only")
	c := &f.certs
	fl.StringVar(&c.secret, "cert-secret", "", "Secret of --namespace where gatekeep keeps a CA and serving certificate of its own, renewed before expiry and written to --tls-cert-file and --tls-private-key-file (off: those files are yours to provide)")
	fl.StringVar(&c.webhookConfiguration, "webhook-configuration", "", "with --cert-secret: name of the ValidatingWebhookConfiguration and of the MutatingWebhookConfiguration (one name for both, as the Helm chart gives them) whose every caBundle gatekeep keeps equal to its CAs")
	fl.StringArrayVar(&c.dnsNames, "cert-dns-name", nil, "with --cert-secret: a name the serving certificate holds, SERVICE.NAMESPACE.svc at least, since the API server calls that (repeatable; required; IP addresses accepted)")
	fl.DurationVar(&c.caValidity, "ca-validity", certrotation.DefaultCAValidity, "with --cert-secret: lifetime of a new CA")
	fl.DurationVar(&c.certValidity, "cert-validity", certrotation.DefaultCertValidity, "with --cert-secret: lifetime of a new serving certificate (never past its CA's)")
	fl.DurationVar(&c.renewBefore, "cert-renew-before", certrotation.DefaultRenewBefore, "with --cert-secret: a CA or serving certificate this close to expiry is replaced")
	fl.DurationVar(&c.interval, "cert-check-interval", certrotation.DefaultInterval, "with --cert-secret: how often the certificates are checked (a change of the Secret or of the webhook configuration is acted on at once)")
	a := &f.audit
	fl.DurationVar(&a.interval, "audit-interval", 0, "audit the cluster this often, as gatekeep audit does, in the one replica holding the Lease --audit-lease (0: no audit)")
	fl.StringVar(&a.lease, "audit-lease", "gatekeep-audit", "Lease of --namespace that the replicas take turns to hold; its holder audits")
	fl.StringVar(&a.podName, "pod-name", envOr("POD_NAME", hostname()), "this replica's name in the audit Lease")
	fl.StringArrayVar(&a.scope.exclude, "audit-exclude-namespace", nil, excludeNamespaceHelp+"; gatekeep's own namespace is always left out")
	fl.Int64Var(&a.scope.pageSize, "audit-page-size", audit.DefaultPageSize, pageSizeHelp)
	fl.StringVar(&a.reports.format, "policy-report-format", string(policyreport.WGPolicy), "with --audit-interval: "+reportFormatHelp)
	fl.BoolVar(&a.reports.pass, "policy-report-pass", false, reportPassHelp)
	return cmd
}

// serveGCPercent: an admission review allocates briefly and much; the
// server's heap is small, so collecting less often buys latency cheaply.
const serveGCPercent = 200

func runServe(ctx context.Context, f *serveFlags) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
	if err := f.bounds.check(); err != nil {
		return err
	}
	// Bundles in registries are pulled at start, then followed by the
	// poller below, which reloads itself: their files are not watched.
	watch := slices.DeleteFunc(slices.Clone(f.bundles), ocibundle.IsRef)
	log := zap.New()
	bundles, pulled, cleanup, err := pullBundles(ctx, f.bundles, func(ref string, err error) {
		log.Error(err, "policy bundle not pulled; not ready until it is (tried again every 10s)", "bundle", ref)
	})
	if err != nil {
		return err
	}
	defer cleanup()
	f.bundles = bundles
	cfg, err := clusterConfig(f.kubeconfig)
	if err != nil {
		return usageError("%v", err)
	}
	// The certificate first: the rest of the start-up (the bundle, the
	// caches) overlaps with making it.
	var certReady <-chan struct{}
	if rot, err := certRotator(f, cfg, log.WithName("certificates")); err != nil {
		return err
	} else if rot != nil {
		go func() {
			if err := rot.Run(ctx); err != nil {
				log.Error(err, "certificate rotation stopped")
			}
		}()
		certReady = rot.Ready()
	}
	version := f.version
	if version == "" {
		var note string
		version, note = serverVersion(cfg)
		if note != "" {
			log.Info(note)
		}
	}
	keys := secrets.NewKeys()
	// The audit's engines take the same options in audit mode.
	opts := []engine.Option{engine.SealingKeys(keys)}
	// The bundle is read once at start, for the image gate and the first
	// engine; reloads read it again.
	var first atomic.Pointer[bundle.Bundle]
	if b, err := bundle.LoadOverBuiltin(f.bundles...); err != nil {
		log.Error(err, "image scanning is off")
	} else {
		first.Store(b)
		if gate, err := imageGate(ctx, f, cfg, b, log); err != nil {
			log.Error(err, "image scanning is off")
		} else {
			opts = append(opts, gate)
		}
	}
	admission := append([]engine.Option{engine.WithMode(engine.Admission)}, opts...)
	load := func() (*engine.Engine, error) {
		if b := first.Swap(nil); b != nil {
			return engineFor(b, version, admission...)
		}
		return newEngine(f.bundles, version, admission...)
	}
	var auditMetrics *audit.Metrics
	var collectors []prometheus.Collector
	if f.audit.interval > 0 {
		auditMetrics = audit.NewMetrics()
		collectors = auditMetrics.Collectors()
	}
	srv := webhook.New(webhook.Options{
		Listen: f.listen, HealthListen: f.healthListen, MetricsListen: f.metricsListen,
		CertFile: f.certFile, KeyFile: f.keyFile, CertReady: certReady,
		Namespace: f.namespace, Cluster: cfg, Load: load, Watch: watch, Log: log,
		SealingKeys: keys, SealedSecretsNamespace: f.sealedNamespace, ShutdownDelay: f.shutdownDelay,
		ReadTimeout: f.bounds.readTimeout, WriteTimeout: f.bounds.writeTimeout, IdleTimeout: f.bounds.idleTimeout,
		MaxConnections: f.bounds.maxConnections, DecodeBudget: f.bounds.maxDecodeBytes,
		Collectors: collectors,
	})
	if f.audit.interval > 0 {
		sched, err := auditSchedule(f, cfg, srv, version, opts, auditMetrics, log.WithName("audit"))
		if err != nil {
			return err
		}
		go func() {
			if err := sched.Run(ctx); err != nil {
				log.Error(err, "audit stopped")
			}
		}()
	}
	if len(pulled) > 0 {
		p := &bundlePoller{bundles: pulled, reload: srv.Reload, failed: srv.LoadFailed, log: log}
		go p.run(ctx, f.bundlePoll)
	}
	return srv.Run(ctx)
}

// check refuses bounds that are no bounds (zero or negative).
func (b boundFlags) check() error {
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--read-timeout", b.readTimeout}, {"--write-timeout", b.writeTimeout}, {"--idle-timeout", b.idleTimeout}} {
		if d.v <= 0 {
			return usageError("%s must be positive, not %s", d.name, d.v)
		}
	}
	if b.maxConnections <= 0 {
		return usageError("--max-connections must be positive, not %d", b.maxConnections)
	}
	if b.maxDecodeBytes <= 0 {
		return usageError("--max-decode-bytes must be positive, not %d", b.maxDecodeBytes)
	}
	return nil
}

// certRotator makes the rotator of --cert-secret (nil without it).
func certRotator(f *serveFlags, cfg *rest.Config, log logr.Logger) (*certrotation.Rotator, error) {
	c := f.certs
	if c.secret == "" {
		if len(c.dnsNames) > 0 || c.webhookConfiguration != "" {
			return nil, usageError("--cert-dns-name and --webhook-configuration need --cert-secret")
		}
		return nil, nil
	}
	if len(c.dnsNames) == 0 {
		return nil, usageError("--cert-secret needs --cert-dns-name: the names the API server calls gatekeep by (SERVICE.NAMESPACE.svc)")
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("certificate rotation: %w", err)
	}
	rot, err := certrotation.New(certrotation.Options{
		Client: client, Namespace: f.namespace, SecretName: c.secret, DNSNames: c.dnsNames,
		ValidatingWebhookConfiguration: c.webhookConfiguration, MutatingWebhookConfiguration: c.webhookConfiguration,
		CertFile: f.certFile, KeyFile: f.keyFile,
		CAValidity: c.caValidity, CertValidity: c.certValidity, RenewBefore: c.renewBefore, Interval: c.interval,
		Log: log,
	})
	if err != nil {
		return nil, usageError("%v", err)
	}
	return rot, nil
}

// imageGate prepares the image-vulnerability check: one verdict cache for
// the life of the process, fed by the local trivy-db (re-read when it is
// replaced), with the Pod's pull secrets and service account as registry
// credentials. A bundle with an images: policy asked for scanning: until
// its database is there, images cannot be scanned and the policy's
// onError decides. Without one, no database means no image check.
func imageGate(ctx context.Context, f *serveFlags, cfg *rest.Config, b *bundle.Bundle, log logr.Logger) (engine.Option, error) {
	s, err := f.images.scanner(b.Config.Images, b.Config.Images != nil)
	if err != nil {
		return nil, err
	}
	clientset, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	go s.DB().Watch(ctx, time.Minute, func(err error) { log.Error(err, "vulnerability database") })
	return engine.ImageScans(scanner.NewCache(s), scanner.Keychains(podauth.Keychains(clientset, authn.DefaultKeychain))), nil
}

func clusterConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
		}
		return cfg, nil
	}
	cfg, err := rest.InClusterConfig()
	if err != nil {
		return nil, fmt.Errorf("no --kubeconfig and not in a cluster: %w", err)
	}
	return cfg, nil
}

// serverVersion asks the API server its version, when the bundle does not
// name one ("" lets the bundle or the default decide). A cluster outside
// the versions gatekeep knows is judged as the nearest it knows, and note
// says so: a webhook that refused to start would block every deployment,
// where check refuses such a --kubernetes-version outright.
func serverVersion(cfg *rest.Config) (version, note string) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return "", ""
	}
	info, err := dc.ServerVersion()
	if err != nil {
		return "", ""
	}
	v, err := kubeversion.Parse(info.Major + "." + strings.TrimSuffix(info.Minor, "+"))
	if err != nil {
		return "", ""
	}
	return nearestKnown(v, schema.Versions())
}

// nearestKnown is v, or the nearest of known (oldest first) with a note
// when v is not among them.
func nearestKnown(v kubeversion.Version, known []kubeversion.Version) (version, note string) {
	if len(known) == 0 || schema.Supported(v) == nil {
		return v.String(), ""
	}
	near := known[0]
	if known[len(known)-1].Less(v) {
		near = known[len(known)-1]
	}
	return near.String(), fmt.Sprintf("the cluster runs Kubernetes %s, which gatekeep does not know (%s to %s): judging as %s",
		v.MinorString(), known[0].MinorString(), known[len(known)-1].MinorString(), near.MinorString())
}

// auditSchedule is serve's continuous audit: on every interval, while
// this replica holds the Lease, an engine of the bundle in force (in audit
// mode, with the webhook's sealing keys and image gate) judges the cluster
// with the webhook's caches as its inventory.
func auditSchedule(f *serveFlags, cfg *rest.Config, srv *webhook.Server, version string, opts []engine.Option, m *audit.Metrics, log logr.Logger) (*audit.Schedule, error) {
	writer, err := f.audit.reports.writer(cfg)
	if err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	runner := audit.Runner{Cluster: cfg, PageSize: f.audit.scope.pageSize, Reports: writer, Metrics: m}
	newEngine := func(b *bundle.Bundle) (*engine.Engine, error) { return auditEngine(cfg, b, version, opts...) }
	return &audit.Schedule{
		Client: kube, Namespace: f.namespace, Lease: f.audit.lease, Identity: f.audit.podName,
		Interval: f.audit.interval, Ready: srv.Ready, Log: log,
		Audit: audit.InServer(srv, runner, append([]string{f.namespace}, f.audit.scope.exclude...), newEngine, log),
	}, nil
}

// hostname is the pod's name in a cluster (its hostname), "" if unknown.
func hostname() string {
	h, _ := os.Hostname()
	return h
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
