package registry

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Whiteout markers (the OCI image layer spec, as overlayfs and docker use).
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// layerIndex is what one layer holds, as far as visibility needs.
type layerIndex[T any] struct {
	entries   map[string]bool // path: is a directory
	whiteouts map[string]bool // paths the layer deletes below it
	opaque    map[string]bool // directories whose lower contents it hides
	found     map[string]T    // results of the files read
}

// Files streams every layer of img (jobs at a time, each decompressed as it
// arrives), hands each regular file want accepts to read, and returns the
// results for the files the flattened filesystem still shows: a file later
// layers replace, delete (.wh.name), hide (an opaque directory) or shadow
// (a parent turned into a file or symlink) is dropped. Paths are slash paths
// without a leading slash ("etc/os-release").
func Files[T any](ctx context.Context, img v1.Image, jobs int,
	want func(name string, h *tar.Header) bool,
	read func(name string, h *tar.Header, r io.Reader) (T, error)) (map[string]T, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if jobs < 1 {
		jobs = 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	idx := make([]*layerIndex[T], len(layers))
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		sem      = make(chan struct{}, jobs)
	)
	for i, l := range layers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			li, err := readLayer(ctx, l, want, read)
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					d, _ := l.Digest()
					firstErr = fmt.Errorf("layer %d (%s): %w", i+1, d, err)
				}
				mu.Unlock()
				cancel()
				return
			}
			idx[i] = li
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := map[string]T{}
	for i := len(idx) - 1; i >= 0; i-- {
		for name, v := range idx[i].found {
			if _, done := out[name]; !done && visible(idx[i+1:], name) {
				out[name] = v
			}
		}
	}
	return out, nil
}

// visible reports whether a file of a layer survives the layers above it.
func visible[T any](upper []*layerIndex[T], name string) bool {
	for _, l := range upper {
		if _, ok := l.entries[name]; ok || l.whiteouts[name] {
			return false
		}
		for dir := path.Dir(name); dir != "."; dir = path.Dir(dir) {
			if isDir, ok := l.entries[dir]; (ok && !isDir) || l.whiteouts[dir] || l.opaque[dir] {
				return false
			}
		}
	}
	return true
}

func readLayer[T any](ctx context.Context, l v1.Layer,
	want func(string, *tar.Header) bool,
	read func(string, *tar.Header, io.Reader) (T, error)) (*layerIndex[T], error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	li := &layerIndex[T]{entries: map[string]bool{}, whiteouts: map[string]bool{}, opaque: map[string]bool{}, found: map[string]T{}}
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		name, ok := clean(h.Name)
		if !ok {
			continue
		}
		dir, base := path.Split(name)
		dir = strings.TrimSuffix(dir, "/")
		if dir == "" {
			dir = "."
		}
		if base == opaqueMarker {
			li.opaque[dir] = true
			continue
		}
		if strings.HasPrefix(base, whiteoutPrefix) {
			li.whiteouts[path.Join(dir, base[len(whiteoutPrefix):])] = true
			continue
		}
		li.entries[name] = h.Typeflag == tar.TypeDir
		if h.Typeflag != tar.TypeReg { // (tar.Reader reports old TypeRegA as TypeReg)
			delete(li.found, name) // replaced within the layer
			continue
		}
		if !want(name, h) {
			delete(li.found, name)
			continue
		}
		v, err := read(name, h, tr)
		if err != nil {
			return nil, err
		}
		li.found[name] = v
	}
	// Read to the end so the blob's digest is verified.
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, err
	}
	return li, nil
}

// clean turns a tar entry name into a slash path without a leading slash;
// ".." stops at the root, as container runtimes extract it.
func clean(name string) (string, bool) {
	name = path.Clean("/" + strings.TrimPrefix(name, "./"))
	if name == "/" {
		return "", false
	}
	return name[1:], true
}
