// Package registry fetches images with go-containerregistry: tags resolved
// to digests, indexes resolved to the cluster's platform, and the files the
// analyzers ask for read out of the layers as they stream by, with whiteouts
// and layer order applied. Nothing is written to disk.
package registry

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// DefaultPlatform is the platform picked out of an image index.
var DefaultPlatform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Client speaks to registries.
type Client struct {
	keychain  authn.Keychain
	platform  v1.Platform
	insecure  map[string]bool
	transport http.RoundTripper
	userAgent string
	timeout   time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithKeychain sets the default credentials (authn.DefaultKeychain, the
// docker config, unless set); calls may pass their own.
func WithKeychain(kc authn.Keychain) Option { return func(c *Client) { c.keychain = kc } }

// WithPlatform sets the platform picked out of image indexes.
func WithPlatform(p v1.Platform) Option { return func(c *Client) { c.platform = p } }

// WithInsecure lets the named registries ("host" or "host:port") be spoken
// to over plain HTTP. Loopback registries always may, as go-containerregistry
// does by default; every other registry must speak TLS.
func WithInsecure(hosts ...string) Option {
	return func(c *Client) {
		for _, h := range hosts {
			c.insecure[strings.ToLower(h)] = true
		}
	}
}

// WithTransport sets the HTTP transport (remote.DefaultTransport unless set).
func WithTransport(t http.RoundTripper) Option { return func(c *Client) { c.transport = t } }

// WithUserAgent sets the User-Agent sent to registries.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a Client.
func New(opts ...Option) *Client {
	c := &Client{keychain: authn.DefaultKeychain, platform: DefaultPlatform, insecure: map[string]bool{}, transport: remote.DefaultTransport}
	for _, o := range opts {
		o(c)
	}
	if c.timeout > 0 {
		c.transport = &timeoutTransport{next: c.transport, d: c.timeout}
	}
	c.transport = &plainHTTPGuard{next: c.transport, c: c}
	return c
}

// Platform returns the platform picked out of indexes.
func (c *Client) Platform() v1.Platform { return c.platform }

// ParsePlatform reads "os/arch[/variant]".
func ParsePlatform(s string) (v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, err
	}
	if p.OS == "" || p.Architecture == "" {
		return v1.Platform{}, fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	return *p, nil
}

// Reference parses an image reference as Kubernetes does (docker.io and
// :latest implied).
func (c *Client) Reference(image string, opts ...name.Option) (name.Reference, error) {
	ref, err := name.ParseReference(image, opts...)
	if err != nil {
		return nil, err
	}
	if c.plainAllowed(ref.Context().RegistryStr()) && !isLoopback(ref.Context().RegistryStr()) {
		return name.ParseReference(image, append(opts, name.Insecure)...)
	}
	return ref, nil
}

func (c *Client) options(ctx context.Context, kc authn.Keychain) []remote.Option {
	if kc == nil {
		kc = c.keychain
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithPlatform(c.platform), remote.WithTransport(c.transport)}
	if c.userAgent != "" {
		opts = append(opts, remote.WithUserAgent(c.userAgent))
	}
	return opts
}

// Resolve returns the digest ref names: its own when it has one, else the
// digest of the manifest or index its tag points to now.
func (c *Client) Resolve(ctx context.Context, ref name.Reference, kc authn.Keychain) (v1.Hash, error) {
	if d, ok := ref.(name.Digest); ok {
		return v1.NewHash(d.DigestStr())
	}
	desc, err := remote.Head(ref, c.options(ctx, kc)...)
	if err != nil {
		// Some registries answer HEAD poorly; GET says the same.
		d, gerr := remote.Get(ref, c.options(ctx, kc)...)
		if gerr != nil {
			return v1.Hash{}, err
		}
		return d.Digest, nil
	}
	return desc.Digest, nil
}

// Image is an image as fetched.
type Image struct {
	Image v1.Image
	// Digest is the digest the reference resolves to: the index's for a
	// multi-platform image (what a Pod pulls), else the manifest's.
	Digest v1.Hash
	// ManifestDigest is the platform's image manifest's.
	ManifestDigest v1.Hash
}

// Image fetches ref's manifest (the platform's, out of an index).
func (c *Client) Image(ctx context.Context, ref name.Reference, kc authn.Keychain) (*Image, error) {
	desc, err := remote.Get(ref, c.options(ctx, kc)...)
	if err != nil {
		return nil, err
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	md, err := img.Digest()
	if err != nil {
		return nil, err
	}
	return &Image{Image: img, Digest: desc.Digest, ManifestDigest: md}, nil
}

// plainAllowed reports whether registry may be spoken to over plain HTTP.
func (c *Client) plainAllowed(registry string) bool {
	registry = strings.ToLower(registry)
	if isLoopback(registry) || c.insecure[registry] {
		return true
	}
	host, _, err := net.SplitHostPort(registry)
	return err == nil && c.insecure[host]
}

func isLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// plainHTTPGuard refuses plain HTTP to registries that were not named
// insecure: go-containerregistry falls back to HTTP for private addresses
// (10.x, 192.168.x, *.local), which an admission webhook must not do on a
// Pod's say-so.
type plainHTTPGuard struct {
	next http.RoundTripper
	c    *Client
}

func (g *plainHTTPGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.c.plainAllowed(req.URL.Host) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: it is not on loopback and not named an insecure registry", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}
