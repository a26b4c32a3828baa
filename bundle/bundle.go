// Package bundle loads policy bundles: a directory or .tar.gz (or the
// built-in one) holding gatekeep.yaml, Rego modules and tests, data files and
// Gatekeeper ConstraintTemplates and Constraints. Its digest names exactly
// what was loaded, so CI and cluster can be shown to agree.
package bundle

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gatekeep-dev/gatekeep/deprecation"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/policies"
)

// ConfigFile is the name of a bundle's settings file.
const ConfigFile = "gatekeep.yaml"

// File is one policy file: its name as messages show it, and its content.
type File struct {
	Name    string
	Content []byte
}

// Bundle is a loaded policy bundle.
type Bundle struct {
	Name   string
	Digest string // "sha256:<hex>"
	Config Config

	// Rego holds the Rego modules, RegoTests the *_test.rego files.
	Rego      []File
	RegoTests []File
	// Data is the merged content of the data/ files, as Rego's data.
	Data map[string]any
	// Objects are the Kubernetes-shaped YAML documents of the bundle:
	// ConstraintTemplates, Constraints and Gatekeeper test Suites.
	Objects []*manifest.Object

	// config names gatekeep.yaml in messages; lines says where its keys are.
	config string
	lines  lines
	// deprecations are the deprecated-API table's layers, in order: a later
	// one's entry replaces an earlier one's for the same API.
	deprecations [][]deprecation.Entry
	// builtin: the built-in bundle, whose gatekeep.yaml names every
	// check at its default; named are the checks a gatekeep.yaml of
	// another bundle names.
	builtin bool
	named   map[string]bool
}

// NamesCheck reports whether a bundle of the user's (not the built-in
// one, which names every check) sets check id in its gatekeep.yaml.
func (b *Bundle) NamesCheck(id string) bool {
	if b.named != nil {
		return b.named[id]
	}
	_, set := b.Config.Checks[id]
	return set && !b.builtin
}

// DeprecationsFile is the deprecated-API table of a bundle (the built-in one
// ships every Kubernetes API); gatekeep.yaml's deprecations: add to it.
const DeprecationsFile = "deprecations.yaml"

// Deprecations returns the deprecated-API table of the bundle.
func (b *Bundle) Deprecations() (*deprecation.Table, error) {
	var t *deprecation.Table
	for _, layer := range b.deprecations {
		var err error
		if t, err = t.Extend(layer...); err != nil {
			return nil, fmt.Errorf("bundle %s: %w", b.Name, err)
		}
	}
	return t, nil
}

// Builtin loads the bundle embedded in the binary.
func Builtin() (*Bundle, error) {
	files := map[string][]byte{}
	err := fs.WalkDir(policies.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p], err = fs.ReadFile(policies.FS, p)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("load built-in bundle: %w", err)
	}
	b, err := fromFiles("builtin", "policies", files)
	if b != nil {
		b.builtin = true
	}
	return b, err
}

// LoadPath loads a bundle from a directory or a .tar.gz of one.
func LoadPath(p string) (*Bundle, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", p, err)
	}
	var files map[string][]byte
	name := filepath.Base(filepath.Clean(p))
	switch {
	case st.IsDir():
		files, err = readDir(p)
	case strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz"):
		files, err = readTarGz(p)
		name = strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".tar")
		name = strings.TrimSuffix(name, ".tgz")
	default:
		return nil, fmt.Errorf("load bundle %s: not a directory or a .tar.gz", p)
	}
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", p, err)
	}
	return fromFiles(name, filepath.ToSlash(filepath.Clean(p)), files)
}

// fromFiles sorts a bundle's files by kind. prefix is prepended to file
// names in messages, so that they name a path the user can open.
func fromFiles(name, prefix string, files map[string][]byte) (*Bundle, error) {
	b := &Bundle{Name: name, Digest: digest(files), Data: map[string]any{}, config: path.Join(prefix, ConfigFile)}
	var errs []error
	for _, p := range sortedPaths(files) {
		shown := path.Join(prefix, p)
		data := files[p]
		ext := strings.ToLower(path.Ext(p))
		switch {
		case p == ConfigFile:
			if err := b.decode(data); err != nil {
				errs = append(errs, err)
			}
		case p == DeprecationsFile:
			t, err := deprecation.Load(data)
			if err != nil {
				errs = append(errs, manifest.Error{File: shown, Message: err.Error()})
				continue
			}
			b.deprecations = append([][]deprecation.Entry{t.Entries()}, b.deprecations...)
		case strings.HasSuffix(p, "_test.rego"):
			b.RegoTests = append(b.RegoTests, File{Name: shown, Content: data})
		case ext == ".rego":
			b.Rego = append(b.Rego, File{Name: shown, Content: data})
		case strings.HasPrefix(p, "data/") && (ext == ".json" || ext == ".yaml" || ext == ".yml"):
			if err := mergeData(b.Data, shown, data); err != nil {
				errs = append(errs, err)
			}
		case ext == ".yaml" || ext == ".yml" || ext == ".json":
			objs, perrs := manifest.Parse(shown, data)
			b.Objects = append(b.Objects, objs...)
			for _, e := range perrs {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return b, nil
}

// mergeData lays a data file's top-level keys into data, as conftest and
// opa eval --data do; a key two files define is an error.
func mergeData(data map[string]any, name string, content []byte) error {
	objs, errs := manifest.ParseValue(name, content)
	if len(errs) > 0 {
		return errs[0]
	}
	for _, v := range objs {
		m, ok := v.(map[string]any)
		if !ok {
			return manifest.Error{File: name, Line: 1, Message: "a data file must hold a mapping at its top"}
		}
		for k, val := range m {
			if _, dup := data[k]; dup {
				return manifest.Error{File: name, Line: 1, Message: fmt.Sprintf("data key %q is defined by another data file too", k)}
			}
			data[k] = val
		}
	}
	return nil
}

// CheckError is an error about the checks: entry of id, with file and line.
func (b *Bundle) CheckError(id, format string, args ...any) error {
	return manifest.Error{File: b.config, Line: b.lines.checks[id], Message: fmt.Sprintf(format, args...)}
}

// Merge lays bundles over each other, later ones overriding earlier ones'
// settings; policies are added together. The digest covers all of them.
func Merge(bs ...*Bundle) *Bundle {
	if len(bs) == 1 {
		return bs[0]
	}
	out := &Bundle{Data: map[string]any{}, lines: lines{checks: map[string]int{}}, named: map[string]bool{}}
	var names []string
	h := sha256.New()
	for _, b := range bs {
		names = append(names, b.Name)
		fmt.Fprintf(h, "%s\n", b.Digest)
		out.Config.merge(b.Config)
		for id := range b.Config.Checks {
			if b.NamesCheck(id) {
				out.named[id] = true
			}
		}
		for id, l := range b.lines.checks {
			out.lines.checks[id] = l
		}
		out.Rego = append(out.Rego, b.Rego...)
		out.RegoTests = append(out.RegoTests, b.RegoTests...)
		out.Objects = append(out.Objects, b.Objects...)
		out.deprecations = append(out.deprecations, b.deprecations...)
		for k, v := range b.Data {
			out.Data[k] = v
		}
		out.config = b.config
	}
	out.Name = strings.Join(names, "+")
	out.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return out
}

func readDir(dir string) (map[string][]byte, error) {
	// A ConfigMap volume holds symlinks into a timestamped snapshot that
	// ..data points at: read the snapshot, whole, as it is now.
	if snapshot, err := filepath.EvalSymlinks(filepath.Join(dir, "..data")); err == nil {
		dir = snapshot
	}
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != dir {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(p) //nolint:gosec // G122: the bundle directory is the user's own, like G304's paths; a symlink swapped in mid-walk reads a file the user could name anyway
		return err
	})
	return files, err
}

// Bounds of what an archive may expand to: one file, all of its files
// together, and its entries (of any type). A bundle is policy text; a
// gzip stream of zeros is not.
const (
	maxBundleFile    = 64 << 20
	maxBundleSize    = 256 << 20
	maxBundleEntries = 10000
)

func readTarGz(p string) (map[string][]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	files, err := readTarGzFrom(f)
	if err != nil {
		return nil, err
	}
	return stripTopDir(files), nil
}

// readTarGzFrom reads the files of a .tar.gz as they are named in it.
func readTarGzFrom(r io.Reader) (map[string][]byte, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	files := map[string][]byte{}
	var total int64
	for entries := 1; ; entries++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if entries > maxBundleEntries {
			return nil, fmt.Errorf("archive has more than %d entries, the most a bundle may have", maxBundleEntries)
		}
		// Every entry counts, those skipped too: skipping one reads it.
		if h.Size < 0 || total+h.Size > maxBundleSize {
			return nil, fmt.Errorf("archive expands to more than %d bytes, the most a bundle may hold (at entry %q)", maxBundleSize, h.Name)
		}
		total += h.Size
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if strings.HasPrefix(name, "../") || path.IsAbs(name) {
			return nil, fmt.Errorf("archive entry %q leaves the bundle", h.Name)
		}
		if h.Size > maxBundleFile {
			return nil, fmt.Errorf("archive entry %q is larger than %d bytes", h.Name, maxBundleFile)
		}
		data, err := io.ReadAll(io.LimitReader(tr, maxBundleFile+1))
		if err != nil {
			return nil, err
		}
		if len(data) > maxBundleFile {
			return nil, fmt.Errorf("archive entry %q is larger than %d bytes", h.Name, maxBundleFile)
		}
		files[name] = data
	}
	return files, nil
}

// stripTopDir removes a folder every entry shares (tar czf b.tar.gz policy/).
func stripTopDir(files map[string][]byte) map[string][]byte {
	top := ""
	for p := range files {
		i := strings.IndexByte(p, '/')
		if i < 0 {
			return files
		}
		if top == "" {
			top = p[:i+1]
		} else if !strings.HasPrefix(p, top) {
			return files
		}
	}
	out := make(map[string][]byte, len(files))
	for p, d := range files {
		out[strings.TrimPrefix(p, top)] = d
	}
	return out
}

func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		if base := path.Base(p); strings.HasPrefix(base, ".") {
			continue
		}
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// digest hashes a bundle's canonical content: every file, by path in
// order, whatever the file system's own order, modes or time stamps.
func digest(files map[string][]byte) string {
	h := sha256.New()
	for _, p := range sortedPaths(files) {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
		h.Write(files[p])
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// Archive is the canonical .tar.gz of the bundle at p (a directory or a
// .tar.gz): its files in path order, with fixed modes and times, so that
// the same content gives the same bytes; and the bundle's digest.
func Archive(p string) (archive []byte, bundleDigest string, err error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, "", fmt.Errorf("archive bundle %s: %w", p, err)
	}
	var files map[string][]byte
	switch {
	case st.IsDir():
		files, err = readDir(p)
	case strings.HasSuffix(p, ".tar.gz") || strings.HasSuffix(p, ".tgz"):
		files, err = readTarGz(p)
	default:
		return nil, "", fmt.Errorf("archive bundle %s: not a directory or a .tar.gz", p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("archive bundle %s: %w", p, err)
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, name := range sortedPaths(files) {
		h := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(h); err != nil {
			return nil, "", err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	if err := gz.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), digest(files), nil
}

// LoadArchive loads a bundle from a .tar.gz held in memory that Archive
// made (one pulled from a registry): its files are the bundle's, as named,
// so the bundle has the digest Archive gave. name names it and source is
// where it came from, for messages.
func LoadArchive(name, source string, archive []byte) (*Bundle, error) {
	files, err := readTarGzFrom(bytes.NewReader(archive))
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", source, err)
	}
	return fromFiles(name, source, files)
}

// ArchiveDigest is the digest of the bundle in a .tar.gz that Archive made,
// read without loading the bundle.
func ArchiveDigest(archive []byte) (string, error) {
	files, err := readTarGzFrom(bytes.NewReader(archive))
	if err != nil {
		return "", fmt.Errorf("bundle archive: %w", err)
	}
	return digest(files), nil
}

// Extract writes the files of a bundle's .tar.gz into dir, which must not
// exist or be empty.
func Extract(archive []byte, dir string) error {
	files, err := readTarGzFrom(bytes.NewReader(archive))
	if err != nil {
		return fmt.Errorf("extract bundle: %w", err)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("extract bundle: %s is not empty", dir)
	}
	for _, name := range sortedPaths(files) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			return fmt.Errorf("extract bundle: %w", err)
		}
		if err := os.WriteFile(p, files[name], 0o600); err != nil {
			return fmt.Errorf("extract bundle: %w", err)
		}
	}
	return nil
}

// LoadOverBuiltin loads the bundles at paths and lays them, in order, over
// the built-in bundle: what gatekeep check and serve run.
func LoadOverBuiltin(paths ...string) (*Bundle, error) {
	builtin, err := Builtin()
	if err != nil {
		return nil, err
	}
	all := []*Bundle{builtin}
	for _, p := range paths {
		b, err := LoadPath(p)
		if err != nil {
			return nil, err
		}
		all = append(all, b)
	}
	return Merge(all...), nil
}
