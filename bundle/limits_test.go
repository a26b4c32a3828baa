package bundle

import (
	"archive/tar"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// zeros reads as n zero bytes.
type zeros struct{ n int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > z.n {
		p = p[:z.n]
	}
	clear(p)
	z.n -= int64(len(p))
	return len(p), nil
}

// zeroArchive writes, streaming, a .tar.gz of entries files of size zero
// bytes each; gzip keeps it small on disk.
func zeroArchive(t *testing.T, entries int, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "bomb.tar.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(gz)
	for i := range entries {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("data/f%05d.json", i), Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(tw, &zeros{size}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue 17, 10: an archive's files together are bounded, and so is the
// number of its entries.
func TestTarGzLimits(t *testing.T) {
	// Five entries within the per-file limit, 320 MiB together.
	p := zeroArchive(t, 5, maxBundleFile)
	if st, err := os.Stat(p); err == nil && st.Size() > 4<<20 {
		t.Logf("archive is %d bytes", st.Size())
	}
	_, err := LoadPath(p)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("archive expands to more than %d bytes", maxBundleSize)) {
		t.Errorf("320 MiB archive: error = %v, want the total limit", err)
	}

	// Empty entries, more than the entry limit.
	p = zeroArchive(t, maxBundleEntries+1, 0)
	_, err = LoadPath(p)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("more than %d entries", maxBundleEntries)) {
		t.Errorf("%d entries: error = %v, want the entry limit", maxBundleEntries+1, err)
	}

	// Within the limits, an archive loads.
	if _, err := LoadPath(zeroArchive(t, 3, 0)); err != nil {
		t.Errorf("small archive: %v", err)
	}
}
