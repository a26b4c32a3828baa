// Package vulndb matches packages against trivy's vulnerability database:
// the bbolt file trivy-db builds (trivy.db) with its metadata.json, read in
// trivy-db's bucket layout with trivy-db's types, and compared as trivy
// compares each ecosystem's versions.
//
// trivy-db's own pkg/db keeps one process-wide handle opened read-write;
// this package opens the file read-only (so trivy's own cache can be shared
// while trivy runs) and can swap a newer file in while matches run: a DB is
// a handle on whichever trivy.db its path holds, reloaded when the file
// changes, with a generation number that says which one answered.
package vulndb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/metadata"
	bolt "go.etcd.io/bbolt"
)

// Metadata is trivy-db's metadata.json.
type Metadata = metadata.Metadata

// SchemaVersion is the trivy-db schema read here.
const SchemaVersion = 2

// DB is a trivy.db file, reopened when it changes.
type DB struct {
	path   string
	mu     sync.Mutex // serializes reloads
	cur    atomic.Pointer[snapshot]
	nextID atomic.Uint64
}

type snapshot struct {
	mu     sync.RWMutex // held for reading while a match runs
	closed bool
	bolt   *bolt.DB
	meta   Metadata
	gen    uint64
	id     fileID
	goBkts []string // the go:: buckets
}

type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

// Open opens path: a trivy.db file or a directory holding one (trivy's
// cache directory, say, ~/.cache/trivy/db), with metadata.json beside it.
func Open(path string) (*DB, error) {
	d := &DB{path: dbFile(path)}
	if _, err := d.Reload(); err != nil {
		return nil, err
	}
	return d, nil
}

// OpenPending is Open for a process that may start before its database is
// there (the webhook, with gatekeep db update run beside it): while the
// file is missing, matches fail saying so, and the first Reload that finds
// it (see Watch) puts it in use. A file that is there but unusable is
// still an error.
func OpenPending(path string) (*DB, error) {
	d := &DB{path: dbFile(path)}
	if _, err := d.Reload(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	return d, nil
}

// dbFile is the trivy.db file of path: path itself, or trivy.db in it when
// it is a directory (or, not there yet, has no .db extension).
func dbFile(path string) string {
	fi, err := os.Stat(path)
	if (err == nil && fi.IsDir()) || (errors.Is(err, fs.ErrNotExist) && filepath.Ext(path) != ".db") {
		return filepath.Join(path, "trivy.db")
	}
	return path
}

// Path returns the trivy.db file's path.
func (d *DB) Path() string { return d.path }

// Metadata returns the metadata.json of the file in use (zero when absent,
// or no file is in use yet).
func (d *DB) Metadata() Metadata {
	if s := d.cur.Load(); s != nil {
		return s.meta
	}
	return Metadata{}
}

// Generation identifies the file in use: it changes whenever Reload swaps
// in a new one (0: none yet).
func (d *DB) Generation() uint64 {
	if s := d.cur.Load(); s != nil {
		return s.gen
	}
	return 0
}

// Reload opens the file again if it changed since it was opened (an update
// renamed a new one into place) and reports whether it did. Matches under
// way finish on the old file, which is closed after them.
func (d *DB) Reload() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	id, err := identify(d.path)
	if err != nil {
		return false, err
	}
	old := d.cur.Load()
	if old != nil && old.id == id {
		return false, nil
	}
	s, err := open(d.path, id)
	if err != nil {
		return false, err
	}
	s.gen = d.nextID.Add(1)
	d.cur.Store(s)
	if old != nil {
		go old.close()
	}
	return true, nil
}

// Close closes the file in use.
func (d *DB) Close() error {
	if s := d.cur.Load(); s != nil {
		return s.close()
	}
	return nil
}

// acquire returns the snapshot in use, held open until release.
func (d *DB) acquire() (*snapshot, error) {
	for range 100 {
		s := d.cur.Load()
		if s == nil {
			return nil, fmt.Errorf("vulnerability database %s is not there yet (gatekeep db update writes it)", d.path)
		}
		s.mu.RLock()
		if !s.closed {
			return s, nil
		}
		s.mu.RUnlock()
		if d.cur.Load() == s {
			return nil, errors.New("vulnerability database is closed")
		}
	}
	return nil, errors.New("vulnerability database keeps changing")
}

func (s *snapshot) release() { s.mu.RUnlock() }

func (s *snapshot) close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.bolt.Close()
}

func identify(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, fmt.Errorf("vulnerability database: %w", err)
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), uint64(st.Ino)
	}
	return id, nil
}

func open(path string, id fileID) (*snapshot, error) {
	b, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open vulnerability database %s: %w", path, err)
	}
	s := &snapshot{bolt: b, id: id}
	err = b.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte(vulnerabilityBucket)) == nil {
			return fmt.Errorf("%s is not a trivy database (no %q bucket)", path, vulnerabilityBucket)
		}
		c := tx.Cursor()
		for k, _ := c.Seek([]byte(goPrefix)); k != nil && len(k) >= len(goPrefix) && string(k[:len(goPrefix)]) == goPrefix; k, _ = c.Next() {
			s.goBkts = append(s.goBkts, string(k))
		}
		return nil
	})
	if err != nil {
		_ = b.Close() // read-only: err is what went wrong
		return nil, err
	}
	if m, err := readMetadata(filepath.Join(filepath.Dir(path), "metadata.json")); err == nil {
		if m.Version != 0 && m.Version != SchemaVersion {
			_ = b.Close() // read-only: the schema is what went wrong
			return nil, fmt.Errorf("%s: trivy-db schema %d, want %d", path, m.Version, SchemaVersion)
		}
		s.meta = m
	}
	return s, nil
}

func readMetadata(path string) (Metadata, error) {
	var m Metadata
	b, err := os.ReadFile(path)
	if err != nil {
		return m, err
	}
	err = json.Unmarshal(b, &m)
	return m, err
}

// Watch calls Reload every interval until ctx ends, so a long-running
// process (the webhook) picks up what gatekeep db update writes; onErr,
// when set, hears of failures (the file in use stays in use).
func (d *DB) Watch(ctx context.Context, every time.Duration, onErr func(error)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := d.Reload(); err != nil && onErr != nil {
				onErr(err)
			}
		}
	}
}
