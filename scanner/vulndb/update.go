package vulndb

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	bolt "go.etcd.io/bbolt"

	"github.com/gatekeep-dev/gatekeep/progress"
	"github.com/gatekeep-dev/gatekeep/scanner/registry"
)

// DefaultRepository is where trivy publishes its database, schema 2.
const DefaultRepository = "ghcr.io/aquasecurity/trivy-db:2"

// The OCI artifact trivy publishes: one layer, a gzipped tar of trivy.db
// and metadata.json.
const (
	LayerMediaType  = "application/vnd.aquasec.trivy.db.layer.v1.tar+gzip"
	ConfigMediaType = "application/vnd.aquasec.trivy.config.v1+json"
)

const maxDBFile = 8 << 30

// An UpdateOption configures Update.
type UpdateOption func(*updateOptions)

type updateOptions struct {
	registry []registry.Option
	progress *progress.Progress
}

// WithRegistry sets how the registry is spoken to: plain-HTTP hosts,
// credentials, transport (registry.With...).
func WithRegistry(opts ...registry.Option) UpdateOption {
	return func(o *updateOptions) { o.registry = append(o.registry, opts...) }
}

// WithProgress draws the download of the database layer on p (nil: not
// at all): bytes of the compressed layer, rate and time left.
func WithProgress(p *progress.Progress) UpdateOption {
	return func(o *updateOptions) { o.progress = p }
}

// Update pulls the database artifact from repo (DefaultRepository when
// empty; a repository without tag or digest gets :2) and replaces dir's
// trivy.db and metadata.json with it: written beside them, checked (a bbolt
// file with trivy's buckets, schema 2), then renamed into place, metadata
// first, so a reader sees the old database or the new one and never half of
// one. A process serving from dir picks it up on its next DB.Reload.
func Update(ctx context.Context, repo, dir string, opts ...UpdateOption) (Metadata, error) {
	var o updateOptions
	for _, opt := range opts {
		opt(&o)
	}
	if repo == "" {
		repo = DefaultRepository
	}
	c := registry.New(o.registry...)
	ref, err := c.Reference(repo, name.WithDefaultTag(fmt.Sprint(SchemaVersion)))
	if err != nil {
		return Metadata{}, fmt.Errorf("db repository: %w", err)
	}
	img, err := c.Image(ctx, ref, nil)
	if err != nil {
		return Metadata{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	m, err := img.Image.Manifest()
	if err != nil {
		return Metadata{}, fmt.Errorf("pull %s: %w", ref, err)
	}
	var layerDigest string
	var layerSize int64
	for _, l := range m.Layers {
		if l.MediaType == LayerMediaType {
			layerDigest, layerSize = l.Digest.String(), l.Size
			break
		}
	}
	if layerDigest == "" {
		return Metadata{}, fmt.Errorf("%s has no %s layer: not a trivy database", ref, LayerMediaType)
	}
	layers, err := img.Image.Layers()
	if err != nil {
		return Metadata{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: public vulnerability data; a --db-path shared with other users must stay readable
		return Metadata{}, err
	}
	tmp, err := os.MkdirTemp(dir, ".update-")
	if err != nil {
		return Metadata{}, err
	}
	defer os.RemoveAll(tmp)
	for _, l := range layers {
		if d, _ := l.Digest(); d.String() != layerDigest {
			continue
		}
		rc, err := l.Compressed()
		if err != nil {
			return Metadata{}, fmt.Errorf("pull %s: %w", ref, err)
		}
		bar := o.progress.Bytes("trivy-db", layerSize)
		counted := bar.Reader(rc)
		err = extract(counted, tmp)
		if err == nil {
			_, err = io.Copy(io.Discard, counted) // to EOF: the digest is checked there
		}
		_ = rc.Close() // read to its end above, where the digest is checked
		bar.Done()
		if err != nil {
			return Metadata{}, fmt.Errorf("pull %s: %w", ref, err)
		}
	}
	meta, err := check(tmp)
	if err != nil {
		return Metadata{}, fmt.Errorf("%s: %w", ref, err)
	}
	meta.DownloadedAt = time.Now().UTC()
	b, _ := json.Marshal(meta)
	if err := writeFile(filepath.Join(tmp, "metadata.json"), b); err != nil {
		return Metadata{}, err
	}
	if err := os.Rename(filepath.Join(tmp, "metadata.json"), filepath.Join(dir, "metadata.json")); err != nil {
		return Metadata{}, err
	}
	if err := os.Rename(filepath.Join(tmp, "trivy.db"), filepath.Join(dir, "trivy.db")); err != nil {
		return Metadata{}, err
	}
	return meta, nil
}

// extract writes trivy.db and metadata.json out of the layer's gzipped tar.
func extract(r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		base := path.Base(h.Name)
		if h.Typeflag != tar.TypeReg || (base != "trivy.db" && base != "metadata.json") {
			continue
		}
		if h.Size > maxDBFile {
			return fmt.Errorf("%s: %d bytes is too large", h.Name, h.Size)
		}
		f, err := os.OpenFile(filepath.Join(dir, base), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644) //nolint:gosec // G302: public vulnerability data, readable as trivy's own cache
		if err != nil {
			return err
		}
		_, err = io.CopyN(f, tr, h.Size) // h.Size is bounded by maxDBFile above
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	_, err = io.Copy(io.Discard, gz) //nolint:gosec // G110: nothing is kept; reading to the end checks the gzip trailer
	return err
}

// check opens what was pulled as Open would and returns its metadata.
func check(dir string) (Metadata, error) {
	dbPath := filepath.Join(dir, "trivy.db")
	if _, err := os.Stat(dbPath); err != nil {
		return Metadata{}, errors.New("the artifact holds no trivy.db")
	}
	meta, err := readMetadata(filepath.Join(dir, "metadata.json"))
	if err != nil {
		return Metadata{}, fmt.Errorf("the artifact's metadata.json: %w", err)
	}
	if meta.Version != SchemaVersion {
		return Metadata{}, fmt.Errorf("trivy-db schema %d, want %d", meta.Version, SchemaVersion)
	}
	b, err := bolt.Open(dbPath, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return Metadata{}, fmt.Errorf("trivy.db: %w", err)
	}
	defer b.Close()
	err = b.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(vulnerabilityBucket)) == nil {
			return fmt.Errorf("trivy.db has no %q bucket", vulnerabilityBucket)
		}
		return nil
	})
	return meta, err
}

func writeFile(p string, b []byte) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	if _, err = f.Write(b); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// DefaultDir is where gatekeep keeps its copy of the database: gatekeep/db
// under the user cache directory (~/.cache/gatekeep/db on Linux).
func DefaultDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "gatekeep", "db")
}
