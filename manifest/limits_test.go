package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// zeros is an endless reader, as /dev/zero is.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestLoadStdinLimit(t *testing.T) {
	writeTree(t, nil)
	for _, tc := range []struct {
		name  string
		limit int64
		want  string
	}{
		{"flag", 1 << 20, "standard input is larger than 1 MiB"},
		{"default", 0, "standard input is larger than 64 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set := Load(context.Background(), []string{"-"}, WithStdin(zeros{}), WithMaxFileSize(tc.limit))
			if len(set.Errors) != 1 || set.Errors[0].File != StdinName || !strings.Contains(set.Errors[0].Message, tc.want) {
				t.Fatalf("errors = %v, want one for %s: %s", set.Errors, StdinName, tc.want)
			}
		})
	}
}

// mkfifo makes a FIFO: opening it for reading blocks until a writer comes,
// so a test that hangs here has a loader that opened it.
func mkfifo(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(path, 0o644); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
}

func TestLoadRefusesWhatIsNotARegularFile(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fifo  string            // made a FIFO
		files map[string]string // besides ok.yaml
		limit int64
		err   string // File of the error expected
		want  string
	}{
		{name: "FIFO manifest", fifo: "p.yaml", err: "p.yaml", want: "not a regular file"},
		{name: "FIFO explicit", fifo: "q.yaml", err: "q.yaml", want: "not a regular file"},
		{name: "FIFO kustomization", fifo: "k/kustomization.yaml", files: map[string]string{"k/cm.yaml": strings.ReplaceAll(cm, "%s", "k")},
			err: "k/kustomization.yaml", want: "not a regular file"},
		{name: "FIFO Chart.yaml", fifo: "c/Chart.yaml", files: map[string]string{"c/templates/cm.yaml": strings.ReplaceAll(cm, "%s", "c")},
			err: "c/Chart.yaml", want: "not a regular file"},
		{name: "over the size limit", files: map[string]string{"big.yaml": strings.ReplaceAll(cm, "%s", "big") + strings.Repeat("# pad\n", 400)},
			limit: 1 << 10, err: "big.yaml", want: "big.yaml is larger than 1 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"ok.yaml": strings.ReplaceAll(cm, "%s", "ok")}
			for p, c := range tc.files {
				files[p] = c
			}
			dir := writeTree(t, files)
			paths := []string{"."}
			if tc.fifo != "" {
				mkfifo(t, filepath.Join(dir, tc.fifo))
				if tc.name == "FIFO explicit" {
					paths = append(paths, tc.fifo)
				}
			}
			set := Load(context.Background(), paths, WithMaxFileSize(tc.limit))
			found := false
			for _, e := range set.Errors {
				found = found || e.File == tc.err && strings.Contains(e.Message, tc.want)
			}
			if !found {
				t.Errorf("errors = %v, want %s: %s", set.Errors, tc.err, tc.want)
			}
			if !strings.Contains(strings.Join(names(set), ","), "ConfigMap ok@ok.yaml") {
				t.Errorf("objects = %v, want ok.yaml's still read", names(set))
			}
		})
	}
}
