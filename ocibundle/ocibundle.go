// Package ocibundle keeps policy bundles in OCI registries, as conftest and
// Kyverno keep theirs: an artifact of one layer, the bundle's canonical
// .tar.gz (bundle.Archive), under gatekeep's own media types, with the
// bundle's digest in an annotation. References take a tag or a digest; the
// registry's credentials come from the keychain given (the docker config
// by default), as image pulls do.
package ocibundle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/gatekeep-dev/gatekeep/bundle"
)

// Media types of the artifact and its one layer, and the annotation that
// carries the bundle's digest (bundle.Bundle.Digest).
const (
	ConfigMediaType  = types.MediaType("application/vnd.gatekeep.bundle.config.v1+json")
	LayerMediaType   = types.MediaType("application/vnd.gatekeep.bundle.layer.v1.tar+gzip")
	DigestAnnotation = "dev.gatekeep.bundle.digest"
)

// Scheme prefixes a registry reference where a bundle path is expected
// (--bundle oci://registry.example.com/policy:v3).
const Scheme = "oci://"

// maxArchive bounds the layer a pull reads: a bundle is policy text.
const maxArchive = 64 << 20

// IsRef tells a --bundle value that names a registry reference.
func IsRef(s string) bool { return strings.HasPrefix(s, Scheme) }

// An Option configures Push and Pull.
type Option func(*options)

type options struct {
	keychain authn.Keychain
}

// WithKeychain sets where registry credentials come from (default: the
// docker config, as `docker login` writes it).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

func remoteOptions(ctx context.Context, opts []Option) []remote.Option {
	o := options{keychain: authn.DefaultKeychain}
	for _, opt := range opts {
		opt(&o)
	}
	return []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(o.keychain)}
}

func parse(ref string) (name.Reference, error) {
	r, err := name.ParseReference(strings.TrimPrefix(ref, Scheme), name.StrictValidation)
	if err != nil {
		return nil, fmt.Errorf("bundle reference %q: %w (want REGISTRY/REPOSITORY:TAG or @sha256:DIGEST)", ref, err)
	}
	return r, nil
}

// Pushed says what a push wrote.
type Pushed struct {
	Ref          string // the reference pushed to
	Digest       string // the artifact's digest in the registry
	BundleDigest string // the bundle's own digest
}

// Push writes the bundle at dir (a directory or .tar.gz) to ref.
func Push(ctx context.Context, dir, ref string, opts ...Option) (Pushed, error) {
	r, err := parse(ref)
	if err != nil {
		return Pushed{}, err
	}
	archive, digest, err := bundle.Archive(dir)
	if err != nil {
		return Pushed{}, err
	}
	// The bundle must load before it is published.
	if _, err := bundle.LoadArchive(path.Base(dir), dir, archive); err != nil {
		return Pushed{}, err
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(archive, LayerMediaType),
		Annotations: map[string]string{DigestAnnotation: digest},
	})
	if err != nil {
		return Pushed{}, err
	}
	img = mutate.ConfigMediaType(mutate.MediaType(img, types.OCIManifestSchema1), ConfigMediaType)
	img = mutate.Annotations(img, map[string]string{DigestAnnotation: digest}).(v1.Image)
	if err := remote.Write(r, img, remoteOptions(ctx, opts)...); err != nil {
		return Pushed{}, fmt.Errorf("push bundle to %s: %w", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return Pushed{}, err
	}
	return Pushed{Ref: r.String(), Digest: d.String(), BundleDigest: digest}, nil
}

// Digest is the registry digest ref names now (a tag's moves when a new
// bundle is pushed), read without pulling the bundle.
func Digest(ctx context.Context, ref string, opts ...Option) (string, error) {
	r, err := parse(ref)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(r, remoteOptions(ctx, opts)...)
	if err != nil {
		return "", fmt.Errorf("bundle %s: %w", r, err)
	}
	return d.Digest.String(), nil
}

// Pulled is a bundle read from a registry.
type Pulled struct {
	Ref          string // the reference pulled
	Digest       string // the artifact's digest in the registry
	BundleDigest string
	Archive      []byte // the bundle's .tar.gz
}

// Pull reads the bundle at ref. The registry's bytes are checked against
// the digests that name them (a pull by digest, and the layer's), the
// artifact must be a gatekeep bundle, and the archive must hold the very
// bundle its annotation names.
func Pull(ctx context.Context, ref string, opts ...Option) (Pulled, error) {
	r, err := parse(ref)
	if err != nil {
		return Pulled{}, err
	}
	img, err := remote.Image(r, remoteOptions(ctx, opts)...)
	if err != nil {
		return Pulled{}, fmt.Errorf("pull bundle %s: %w", r, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return Pulled{}, fmt.Errorf("pull bundle %s: %w", r, err)
	}
	if len(m.Layers) != 1 || m.Layers[0].MediaType != LayerMediaType {
		return Pulled{}, fmt.Errorf("pull bundle %s: not a gatekeep bundle (want one layer of %s; push one with gatekeep bundle push)", r, LayerMediaType)
	}
	if m.Layers[0].Size > maxArchive {
		return Pulled{}, fmt.Errorf("pull bundle %s: the bundle is %d bytes, more than the %d a bundle may have", r, m.Layers[0].Size, maxArchive)
	}
	want := m.Annotations[DigestAnnotation]
	layer, err := img.LayerByDigest(m.Layers[0].Digest)
	if err != nil {
		return Pulled{}, fmt.Errorf("pull bundle %s: %w", r, err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return Pulled{}, fmt.Errorf("pull bundle %s: %w", r, err)
	}
	defer rc.Close()
	// The reader checks the bytes against the layer's digest at EOF.
	archive, err := io.ReadAll(io.LimitReader(rc, maxArchive+1))
	if err == nil && len(archive) > maxArchive {
		err = errors.New("the bundle is larger than its manifest says")
	}
	if err != nil {
		return Pulled{}, fmt.Errorf("pull bundle %s: %w", r, err)
	}
	// Read, not loaded: the caller loads the bundle it uses.
	got, err := bundle.ArchiveDigest(archive)
	if err != nil {
		return Pulled{}, fmt.Errorf("pull bundle %s: %w", r, err)
	}
	if want != "" && got != want {
		return Pulled{}, fmt.Errorf("pull bundle %s: its content is %s, not the %s its annotation names", r, got, want)
	}
	d, err := img.Digest()
	if err != nil {
		return Pulled{}, err
	}
	return Pulled{Ref: r.String(), Digest: d.String(), BundleDigest: got, Archive: archive}, nil
}
