// Package bundle loads policy bundles: a directory (or the built-in one)
// holding gatekeep.yaml and, later, Rego and Gatekeeper templates. Its digest
// names exactly what was loaded, so CI and cluster can be shown to agree.
package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/policies"
)

// ConfigFile is the name of a bundle's settings file.
const ConfigFile = "gatekeep.yaml"

// Action is what a finding of a check does: deny, warn, dryrun, or off.
type Action string

// The actions a bundle may give a check.
const (
	Deny   Action = "deny"
	Warn   Action = "warn"
	DryRun Action = "dryrun"
	Off    Action = "off"
)

// Config is gatekeep.yaml.
type Config struct {
	// KubernetesVersion is the target cluster's version ("1.34").
	KubernetesVersion string `yaml:"kubernetesVersion,omitempty"`
	// Checks overrides the action of any check.
	Checks map[string]Action `yaml:"checks,omitempty"`
}

// Bundle is a loaded policy bundle.
type Bundle struct {
	Name   string
	Digest string // "sha256:<hex>"
	Config Config

	// file names gatekeep.yaml in messages; lines holds where each key of
	// checks: stands in it.
	file  string
	lines map[string]int
}

// Builtin loads the bundle embedded in the binary.
func Builtin() (*Bundle, error) { return Load("builtin", ConfigFile, policies.FS) }

// LoadDir loads a bundle from a directory.
func LoadDir(dir string) (*Bundle, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("load bundle %s: not a directory", dir)
	}
	return Load(path.Base(strings.TrimSuffix(dir, "/")), path.Join(dir, ConfigFile), os.DirFS(dir))
}

// Load reads a bundle from fsys; configName is how messages name its
// gatekeep.yaml.
func Load(name, configName string, fsys fs.FS) (*Bundle, error) {
	digest, err := digestFS(fsys)
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", name, err)
	}
	b := &Bundle{Name: name, Digest: digest, file: configName, lines: map[string]int{}}
	data, err := fs.ReadFile(fsys, ConfigFile)
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load bundle %s: %w", name, err)
	}
	if err := b.decode(data); err != nil {
		return nil, err
	}
	return b, nil
}

var fieldNotFound = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)
var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// decode reads gatekeep.yaml strictly: an unknown key is an error naming it.
func (b *Bundle) decode(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&b.Config); err != nil && err != io.EOF {
		msg := err.Error()
		if m := fieldNotFound.FindStringSubmatch(msg); m != nil {
			l, _ := strconv.Atoi(m[1])
			return manifest.Error{File: b.file, Line: l, Message: fmt.Sprintf("unknown key %q", m[2])}
		}
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			l, _ := strconv.Atoi(m[1])
			return manifest.Error{File: b.file, Line: l, Message: m[2]}
		}
		return manifest.Error{File: b.file, Message: strings.TrimPrefix(msg, "yaml: ")}
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	if len(root.Content) > 0 {
		for i := 0; i+1 < len(root.Content[0].Content); i += 2 {
			if root.Content[0].Content[i].Value != "checks" {
				continue
			}
			checks := root.Content[0].Content[i+1]
			for j := 0; j+1 < len(checks.Content); j += 2 {
				b.lines[checks.Content[j].Value] = checks.Content[j].Line
			}
		}
	}
	for id, a := range b.Config.Checks {
		switch a {
		case Deny, Warn, DryRun, Off:
		default:
			return manifest.Error{File: b.file, Line: b.lines[id], Message: fmt.Sprintf("checks: %s: action %q is not one of deny, warn, dryrun, off", id, a)}
		}
	}
	return nil
}

// CheckError is an error about the checks: entry of id, with file and line.
func (b *Bundle) CheckError(id, format string, args ...any) error {
	return manifest.Error{File: b.file, Line: b.lines[id], Message: fmt.Sprintf(format, args...)}
}

// Merge lays bundles over each other, later ones overriding earlier ones;
// the digest covers all of them in order.
func Merge(bs ...*Bundle) *Bundle {
	if len(bs) == 1 {
		return bs[0]
	}
	out := &Bundle{Config: Config{Checks: map[string]Action{}}, lines: map[string]int{}}
	var names []string
	h := sha256.New()
	for _, b := range bs {
		names = append(names, b.Name)
		fmt.Fprintf(h, "%s\n", b.Digest)
		if b.Config.KubernetesVersion != "" {
			out.Config.KubernetesVersion = b.Config.KubernetesVersion
		}
		for id, a := range b.Config.Checks {
			out.Config.Checks[id] = a
			out.lines[id] = b.lines[id]
		}
		out.file = b.file
	}
	out.Name = strings.Join(names, "+")
	out.Digest = "sha256:" + hex.EncodeToString(h.Sum(nil))
	return out
}

// digestFS hashes a bundle's canonical content: every regular file, by
// path in order, whatever the file system's own order or time stamps.
func digestFS(fsys fs.FS) (string, error) {
	var files []string
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".") && p != "." {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(files)
	h := sha256.New()
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(data))
		h.Write(data)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}
