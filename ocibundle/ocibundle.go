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
	"github.com/gatekeep-dev/gatekeep/progress"
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
	progress *progress.Progress
}

// WithKeychain sets where registry credentials come from (default: the
// docker config, as `docker login` writes it).
func WithKeychain(k authn.Keychain) Option { return func(o *options) { o.keychain = k } }

// WithProgress draws the bytes Push writes, or the bundle layer Pull reads,
// on p (nil: not at all).
func WithProgress(p *progress.Progress) Option { return func(o *options) { o.progress = p } }

func collect(opts []Option) options {
	o := options{keychain: authn.DefaultKeychain}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

func (o options) remote(ctx context.Context) []remote.Option {
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
	o := collect(opts)
	if err := write(ctx, r, img, o); err != nil {
		return Pushed{}, fmt.Errorf("push bundle to %s: %w", r, err)
	}
	d, err := img.Digest()
	if err != nil {
		return Pushed{}, err
	}
	return Pushed{Ref: r.String(), Digest: d.String(), BundleDigest: digest}, nil
}

// write pushes img to r, drawing the bytes written on o.progress.
func write(ctx context.Context, r name.Reference, img v1.Image, o options) error {
	if o.progress == nil {
		return remote.Write(r, img, o.remote(ctx)...)
	}
	// The bar's total is the whole artifact, fixed up front: remote.Write's
	// own Total grows as it goes (the manifest is added last), which would
	// end the bar before the manifest is written.
	total, err := artifactSize(img)
	if err != nil {
		return err
	}
	bar := o.progress.Bytes("push "+r.String(), total)
	defer bar.Done()
	// Buffered, as remote.WithProgress asks, so that drawing never holds
	// up the upload.
	updates := make(chan v1.Update, 16)
	written, drawn := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(drawn)
		for {
			select {
			case u, ok := <-updates:
				if !ok {
					return
				}
				if u.Error == nil { // an error's update carries no count
					bar.Set(u.Complete)
				}
			case <-written:
				// Not waiting for the close, which remote.Write skips
				// when its options fail.
				return
			}
		}
	}()
	err = remote.Write(r, img, append(o.remote(ctx), remote.WithProgress(updates))...)
	close(written)
	<-drawn
	if err == nil {
		// What was still buffered when remote.Write returned counts no
		// further than the whole artifact.
		bar.Set(total)
	}
	return err
}

// artifactSize is what remote.Write counts as written: every layer, the
// config and the manifest.
func artifactSize(img v1.Image) (int64, error) {
	manifest, err := img.RawManifest()
	if err != nil {
		return 0, fmt.Errorf("bundle manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, fmt.Errorf("bundle manifest: %w", err)
	}
	total := int64(len(manifest)) + m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	return total, nil
}

// Digest is the registry digest ref names now (a tag's moves when a new
// bundle is pushed), read without pulling the bundle.
func Digest(ctx context.Context, ref string, opts ...Option) (string, error) {
	r, err := parse(ref)
	if err != nil {
		return "", err
	}
	d, err := remote.Head(r, collect(opts).remote(ctx)...)
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
	o := collect(opts)
	img, err := remote.Image(r, o.remote(ctx)...)
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
	bar := o.progress.Bytes("pull "+r.String(), m.Layers[0].Size)
	// The reader checks the bytes against the layer's digest at EOF.
	archive, err := io.ReadAll(io.LimitReader(bar.Reader(rc), maxArchive+1))
	bar.Done()
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
