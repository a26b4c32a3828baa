// Package certrotation keeps the serving certificate of gatekeep's webhooks
// without cert-manager or Helm: a CA and a serving certificate in a Secret,
// renewed before they expire, written to files for the TLS server, and the
// CA injected into the webhook configurations' caBundle. Every replica runs
// one; they agree through the Secret (create, or update at its
// resourceVersion, and on conflict read again).
//
// The Secret holds ca.crt (the current CA, then previous CAs until they
// expire, so that pods still serving an older certificate stay trusted
// during a rotation), ca.key (the current CA's key), tls.crt and tls.key.
package certrotation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
)

// Defaults of Options.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
	DefaultRenewBefore  = 90 * 24 * time.Hour
	DefaultInterval     = time.Minute
)

// Options configure a Rotator.
type Options struct {
	Client kubernetes.Interface
	// Namespace and SecretName name the Secret holding the certificates.
	Namespace, SecretName string
	// DNSNames are the names the serving certificate must hold; IP
	// addresses among them become IP SANs.
	DNSNames []string
	// ValidatingWebhookConfiguration and MutatingWebhookConfiguration name
	// the configurations whose every webhook's caBundle is kept equal to
	// the trusted CAs ("": none).
	ValidatingWebhookConfiguration, MutatingWebhookConfiguration string
	// CertFile and KeyFile receive the serving certificate and its key,
	// each replaced atomically.
	CertFile, KeyFile string
	// CAValidity, CertValidity: lifetimes of new certificates.
	// RenewBefore: a certificate this close to expiry is replaced.
	CAValidity, CertValidity, RenewBefore time.Duration
	// Interval between checks; a change of the Secret or of a webhook
	// configuration also starts one.
	Interval time.Duration
	// Now is the clock (tests move it).
	Now func() time.Time
	Log logr.Logger
}

// Rotator keeps the certificates; see the package documentation.
type Rotator struct {
	opts      Options
	ready     chan struct{}
	readyOnce sync.Once
}

// New checks opts and fills in the defaults.
func New(opts Options) (*Rotator, error) {
	switch {
	case opts.Client == nil:
		return nil, errors.New("certificate rotation: no Kubernetes client")
	case opts.Namespace == "" || opts.SecretName == "":
		return nil, errors.New("certificate rotation: the Secret's namespace and name are required")
	case len(opts.DNSNames) == 0:
		return nil, errors.New("certificate rotation: the serving certificate needs at least one DNS name")
	case opts.CertFile == "" || opts.KeyFile == "":
		return nil, errors.New("certificate rotation: the certificate and key files are required")
	}
	for _, n := range opts.DNSNames {
		if n == "" {
			return nil, errors.New("certificate rotation: empty DNS name")
		}
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&opts.CAValidity, DefaultCAValidity)
	def(&opts.CertValidity, DefaultCertValidity)
	def(&opts.RenewBefore, DefaultRenewBefore)
	def(&opts.Interval, DefaultInterval)
	// Renewing at or before issue would renew at every check.
	if opts.RenewBefore < 0 || opts.RenewBefore >= opts.CertValidity || opts.RenewBefore >= opts.CAValidity {
		return nil, fmt.Errorf("certificate rotation: renew-before %s must be less than the certificate's validity %s and the CA's %s",
			opts.RenewBefore, opts.CertValidity, opts.CAValidity)
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("certificate rotation: negative interval %s", opts.Interval)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log.GetSink() == nil {
		opts.Log = logr.Discard()
	}
	return &Rotator{opts: opts, ready: make(chan struct{})}, nil
}

// Ready is closed once a certificate and key are in CertFile and KeyFile.
func (r *Rotator) Ready() <-chan struct{} { return r.ready }

// Run keeps the certificates until ctx ends. Failures (the API server away,
// a webhook configuration not created yet) are logged and retried, soon
// at first, then every Interval; Run returns nil when ctx ends.
func (r *Rotator) Run(ctx context.Context) error {
	kick := make(chan struct{}, 1)
	r.watch(ctx, kick)
	first := min(time.Second, r.opts.Interval)
	backoff := first
	for {
		wait := r.opts.Interval
		if err := r.sync(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			r.opts.Log.Error(err, "certificate rotation; retrying", "after", backoff.String())
			wait, backoff = backoff, min(2*backoff, r.opts.Interval)
		} else {
			backoff = first
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-kick:
			timer.Stop()
		case <-timer.C:
		}
	}
}

// sync makes one pass: the Secret, then caBundle, then the files.
func (r *Rotator) sync(ctx context.Context) error {
	data, err := r.ensureSecret(ctx)
	if err != nil {
		return err
	}
	// caBundle before the files: a replica serves a certificate of a new CA
	// only once the webhook configurations trust that CA. A failure here
	// does not keep the files back (a configuration not created yet calls
	// nobody).
	injectErr := r.injectCABundle(ctx, data[caCertKey])
	if err := r.writeFiles(data[tlsCertKey], data[tlsKeyKey]); err != nil {
		return errors.Join(injectErr, err)
	}
	r.readyOnce.Do(func() { close(r.ready) })
	return injectErr
}

// maxAttempts bounds the Secret's read-judge-write rounds in one pass
// (each lost round means another replica wrote it meanwhile).
const maxAttempts = 5

// ensureSecret returns the Secret's data once it holds usable certificates,
// creating or renewing them when it does not.
func (r *Rotator) ensureSecret(ctx context.Context) (map[string][]byte, error) {
	api := r.opts.Client.CoreV1().Secrets(r.opts.Namespace)
	where := r.opts.Namespace + "/" + r.opts.SecretName
	for attempt := 1; ; attempt++ {
		sec, err := api.Get(ctx, r.opts.SecretName, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			sec = nil
		case err != nil:
			return nil, fmt.Errorf("read Secret %s: %w", where, err)
		}
		var data map[string][]byte
		if sec != nil {
			data = sec.Data
		}
		next, why, err := r.plan(data, r.opts.Now())
		if err != nil {
			return nil, fmt.Errorf("certificates for Secret %s: %w", where, err)
		}
		if len(why) == 0 {
			return data, nil
		}
		if sec == nil {
			_, err = api.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{
					Name: r.opts.SecretName, Namespace: r.opts.Namespace,
					Labels: map[string]string{"app.kubernetes.io/managed-by": "gatekeep"},
				},
				Type: corev1.SecretTypeTLS,
				Data: next,
			}, metav1.CreateOptions{})
		} else {
			sec.Data = next // at the resourceVersion read: a concurrent write conflicts
			_, err = api.Update(ctx, sec, metav1.UpdateOptions{})
		}
		switch {
		case err == nil:
			r.opts.Log.Info("certificates renewed", "secret", where, "why", why,
				"caNotAfter", notAfter(next[caCertKey]), "certNotAfter", notAfter(next[tlsCertKey]))
			return next, nil
		case (apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err)) && attempt < maxAttempts:
			// Another replica wrote first: judge what it wrote.
			continue
		case sec == nil:
			return nil, fmt.Errorf("create Secret %s: %w", where, err)
		default:
			return nil, fmt.Errorf("update Secret %s: %w", where, err)
		}
	}
}

// notAfter is the expiry of the first certificate of a PEM bundle, for logs.
func notAfter(pemData []byte) string {
	if cs := parseCerts(pemData); len(cs) > 0 {
		return cs[0].NotAfter.UTC().Format(time.RFC3339)
	}
	return ""
}

// injectCABundle sets caBundle of every webhook of both configurations to
// bundle, where it differs.
func (r *Rotator) injectCABundle(ctx context.Context, bundle []byte) error {
	api := r.opts.Client.AdmissionregistrationV1()
	var errs []error
	if name := r.opts.ValidatingWebhookConfiguration; name != "" {
		errs = append(errs, inject(ctx, r, "ValidatingWebhookConfiguration", name, bundle,
			api.ValidatingWebhookConfigurations().Get, api.ValidatingWebhookConfigurations().Update,
			func(c *admissionregistrationv1.ValidatingWebhookConfiguration) []*admissionregistrationv1.WebhookClientConfig {
				out := make([]*admissionregistrationv1.WebhookClientConfig, len(c.Webhooks))
				for i := range c.Webhooks {
					out[i] = &c.Webhooks[i].ClientConfig
				}
				return out
			}))
	}
	if name := r.opts.MutatingWebhookConfiguration; name != "" {
		errs = append(errs, inject(ctx, r, "MutatingWebhookConfiguration", name, bundle,
			api.MutatingWebhookConfigurations().Get, api.MutatingWebhookConfigurations().Update,
			func(c *admissionregistrationv1.MutatingWebhookConfiguration) []*admissionregistrationv1.WebhookClientConfig {
				out := make([]*admissionregistrationv1.WebhookClientConfig, len(c.Webhooks))
				for i := range c.Webhooks {
					out[i] = &c.Webhooks[i].ClientConfig
				}
				return out
			}))
	}
	return errors.Join(errs...)
}

// inject sets caBundle in one webhook configuration, read and written at
// one resourceVersion (retried on conflict).
func inject[T any](ctx context.Context, r *Rotator, kind, name string, bundle []byte,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	update func(context.Context, T, metav1.UpdateOptions) (T, error),
	clientConfigs func(T) []*admissionregistrationv1.WebhookClientConfig,
) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		c, err := get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		changed := false
		for _, cc := range clientConfigs(c) {
			if !bytes.Equal(cc.CABundle, bundle) {
				cc.CABundle = bundle
				changed = true
			}
		}
		if !changed {
			return nil
		}
		if _, err := update(ctx, c, metav1.UpdateOptions{}); err != nil {
			return err
		}
		r.opts.Log.Info("caBundle injected", "kind", kind, "name", name)
		return nil
	})
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s %s does not exist (yet): %w", kind, name, err)
	}
	if err != nil {
		return fmt.Errorf("inject caBundle into %s %s: %w", kind, name, err)
	}
	return nil
}

// writeFiles puts the certificate and key on disk where they differ: the
// key first, since a TLS server watching the files reloads on the
// certificate (a read between the two renames sees a mismatched pair,
// fails, and is repeated on the certificate's change).
func (r *Rotator) writeFiles(certPEM, keyPEM []byte) error {
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{r.opts.KeyFile, keyPEM, 0o600}, {r.opts.CertFile, certPEM, 0o644}} {
		if old, err := os.ReadFile(f.path); err == nil && bytes.Equal(old, f.data) {
			continue
		}
		if err := writeAtomic(f.path, f.data, f.perm); err != nil {
			return err
		}
	}
	return nil
}

// writeAtomic replaces path with data: a temporary file in the same
// directory, renamed over it, so that readers see the old or the new
// content, never a part.
func writeAtomic(path string, data []byte, perm os.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// On failure the temporary file is closed and removed; their own
	// errors add nothing to the one returned.
	defer func() {
		if err != nil {
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// watch signals kick when the Secret or a webhook configuration changes
// (deleted, edited, or created after gatekeep started), so that a repair
// or an injection does not wait for the next interval. Each watch selects
// one object by name, which RBAC can grant by resourceNames.
func (r *Rotator) watch(ctx context.Context, kick chan<- struct{}) {
	notify := func() {
		select {
		case kick <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify() },
		UpdateFunc: func(any, any) { notify() },
		DeleteFunc: func(any) { notify() },
	}
	start := func(client rest.Interface, resource, namespace, name string, obj runtime.Object) {
		lw := cache.NewListWatchFromClient(client, resource, namespace, fields.OneTermEqualSelector("metadata.name", name))
		_, ctrl := cache.NewInformerWithOptions(cache.InformerOptions{ListerWatcher: lw, ObjectType: obj, Handler: handler})
		go ctrl.RunWithContext(ctx)
	}
	start(r.opts.Client.CoreV1().RESTClient(), "secrets", r.opts.Namespace, r.opts.SecretName, &corev1.Secret{})
	api := r.opts.Client.AdmissionregistrationV1().RESTClient()
	if name := r.opts.ValidatingWebhookConfiguration; name != "" {
		start(api, "validatingwebhookconfigurations", "", name, &admissionregistrationv1.ValidatingWebhookConfiguration{})
	}
	if name := r.opts.MutatingWebhookConfiguration; name != "" {
		start(api, "mutatingwebhookconfigurations", "", name, &admissionregistrationv1.MutatingWebhookConfiguration{})
	}
}
