// Package scanner scans container images for known vulnerabilities and
// judges them by the images: policy of gatekeep.yaml: in CI (gatekeep scan,
// gatekeep check --scan-images) and behind admission requests (Gate, with a
// verdict cache keyed by digest).
//
// The work is split by job: registry fetches images and reads the files
// analyzers want out of their layers; analyzer reads OS and package
// databases and Go binaries; vulndb matches packages against trivy's
// database; this package puts them together, judges, caches and reports.
package scanner

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/gatekeep-dev/gatekeep/progress"
	"github.com/gatekeep-dev/gatekeep/scanner/analyzer"
	"github.com/gatekeep-dev/gatekeep/scanner/registry"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

// Scanner fetches, analyzes and matches images.
type Scanner struct {
	db   *vulndb.DB
	reg  *registry.Client
	jobs int
}

type config struct {
	reg  []registry.Option
	jobs int
}

// Option configures a Scanner.
type Option func(*config)

// Keychain sets the credentials used when a call passes none
// (authn.DefaultKeychain, the docker config, unless set).
func Keychain(kc authn.Keychain) Option {
	return func(c *config) { c.reg = append(c.reg, registry.WithKeychain(kc)) }
}

// Platform sets the platform picked out of multi-platform images
// (linux/amd64 unless set).
func Platform(p v1.Platform) Option {
	return func(c *config) { c.reg = append(c.reg, registry.WithPlatform(p)) }
}

// Insecure names registries ("host" or "host:port") spoken to over plain
// HTTP; loopback ones always are.
func Insecure(hosts ...string) Option {
	return func(c *config) { c.reg = append(c.reg, registry.WithInsecure(hosts...)) }
}

// Transport sets the HTTP transport to registries.
func Transport(t http.RoundTripper) Option {
	return func(c *config) { c.reg = append(c.reg, registry.WithTransport(t)) }
}

// RegistryTimeout bounds every request to a registry (0: none): the
// connection and the response headers must come within d, and a body must
// not stall for d (see registry.WithTimeout).
func RegistryTimeout(d time.Duration) Option {
	return func(c *config) { c.reg = append(c.reg, registry.WithTimeout(d)) }
}

// UserAgent sets the User-Agent sent to registries.
func UserAgent(ua string) Option {
	return func(c *config) { c.reg = append(c.reg, registry.WithUserAgent(ua)) }
}

// LayerJobs sets how many layers of one image are read at once (3).
func LayerJobs(n int) Option { return func(c *config) { c.jobs = n } }

// ParsePlatform reads os/arch[/variant] for Platform.
func ParsePlatform(s string) (v1.Platform, error) { return registry.ParsePlatform(s) }

// New returns a Scanner matching against db.
func New(db *vulndb.DB, opts ...Option) *Scanner {
	c := config{jobs: 3}
	for _, o := range opts {
		o(&c)
	}
	return &Scanner{db: db, reg: registry.New(c.reg...), jobs: c.jobs}
}

// DB returns the database the scanner matches against.
func (s *Scanner) DB() *vulndb.DB { return s.db }

// DBInfo describes the database for reports.
func (s *Scanner) DBInfo() DBInfo {
	return DBInfo{Path: s.db.Path(), UpdatedAt: s.db.Metadata().UpdatedAt}
}

// Scan scans one image with the default credentials. The report carries
// no verdict: Policy.Judge gives one.
func (s *Scanner) Scan(ctx context.Context, image string) (*ImageReport, error) {
	return s.ScanWith(ctx, image, nil)
}

// ScanWith scans one image with the given credentials (nil: the default).
func (s *Scanner) ScanWith(ctx context.Context, image string, kc authn.Keychain) (*ImageReport, error) {
	ref, err := s.reg.Reference(image)
	if err != nil {
		return nil, err
	}
	img, err := s.fetch(ctx, image, ref, kc)
	if err != nil {
		return nil, err
	}
	return s.match(img)
}

// scanned is an image's contents, which do not change with the database.
type scanned struct {
	image    string
	digest   string
	platform string
	contents analyzer.Contents
}

// fetch reads an image's manifest and the files the analyzers want.
func (s *Scanner) fetch(ctx context.Context, image string, ref name.Reference, kc authn.Keychain) (*scanned, error) {
	img, err := s.reg.Image(ctx, ref, kc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	out := &scanned{image: image, digest: img.Digest.String()}
	if cfg, err := img.Image.ConfigFile(); err == nil && cfg.OS != "" {
		out.platform = cfg.OS + "/" + cfg.Architecture
		if cfg.Variant != "" {
			out.platform += "/" + cfg.Variant
		}
	}
	files, err := registry.Files(ctx, img.Image, s.jobs, analyzer.Wants,
		func(name string, h *tar.Header, r io.Reader) (*analyzer.Result, error) {
			return analyzer.Read(name, h, r)
		})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", image, err)
	}
	out.contents = analyzer.Merge(files)
	return out, nil
}

// match matches scanned contents against the database in use.
func (s *Scanner) match(img *scanned) (*ImageReport, error) {
	m, err := s.db.Detect(img.contents.OS, img.contents.Packages)
	if err != nil {
		return nil, fmt.Errorf("%s: vulnerability database: %w", img.image, err)
	}
	r := newImageReport(img.image, img.digest, img.platform, &img.contents, m)
	return r, nil
}

// A ScanAllOption configures ScanAll.
type ScanAllOption func(*scanAllOptions)

type scanAllOptions struct {
	progress *progress.Progress
}

// WithProgress counts the images ScanAll is done with on p (nil: not at
// all), skipped and unreadable ones included.
func WithProgress(p *progress.Progress) ScanAllOption {
	return func(o *scanAllOptions) { o.progress = p }
}

// ScanAll scans images (two at a time) and judges each by policy (nil: the
// defaults) as outside any namespace: what gatekeep scan prints. An image
// that cannot be read gets verdict "error"; one the policy's include and
// exclude leave out, "skipped".
func ScanAll(ctx context.Context, s *Scanner, policy *Policy, images []string, opts ...ScanAllOption) *Report {
	var o scanAllOptions
	for _, opt := range opts {
		opt(&o)
	}
	if policy == nil {
		policy = &Policy{}
	}
	rules := rulesFor(policy, "")
	rep := &Report{DB: s.DBInfo(), Images: make([]*ImageReport, len(images))}
	imagesDone := o.progress.Items("images", int64(len(images)))
	defer imagesDone.Done()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i, image := range images {
		if ok, why := rules.selects(image); !ok {
			rep.Images[i] = &ImageReport{Image: image, Vulnerabilities: []Vulnerability{}, Verdict: VerdictSkipped, Reasons: []string{why}}
			imagesDone.Add(1)
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer imagesDone.Add(1)
			r, err := s.Scan(ctx, image)
			if err != nil {
				rep.Images[i] = &ImageReport{Image: image, Vulnerabilities: []Vulnerability{}, Verdict: VerdictError, Reasons: []string{}, Error: err.Error()}
				return
			}
			rep.Images[i] = r.Judged(rules.judge(r, time.Now()))
		}()
	}
	wg.Wait()
	return rep
}
