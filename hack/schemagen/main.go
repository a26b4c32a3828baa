// Command schemagen writes the schemas gatekeep embeds: for each pinned
// Kubernetes release it reads the OpenAPI documents of the k8s.io/kubernetes
// module (fetched with `go mod download`): api/openapi-spec/v3 where the
// release has it (1.23 on), else the OpenAPI v2 api/openapi-spec/swagger.json.
// It writes schema/data/kubernetes.json.gz, the form package schema loads.
//
// Usage (from the repository root, as `make schemas` does):
//
//	go run ./hack/schemagen -out schema/data
//
// The stored form is one table of schema nodes shared by every release, in
// which every reference is an index: descriptions and defaults are dropped,
// Quantity and IntOrString become node types of their own, and nodes that
// accept the same documents (the same type, fields and children, whatever
// release or definition they came from) are stored once, so that a release
// costs little more than what it changed. Each release has a kinds index
// mapping "group/version/Kind" (group empty for the core group) to its node,
// taken from the x-kubernetes-group-version-kind extensions, less the kinds
// the release's API server keeps switched off by default as deprecated (see
// deprecatedOff).
package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gatekeep-dev/gatekeep/internal/moddownload"
)

// Releases are the pinned k8s.io/kubernetes versions, one per minor, oldest
// first: every minor gatekeep supports, with no gaps. Patch releases do not
// change APIs; the older pins are each minor's last patch release.
var Releases = []string{
	"v1.16.15",
	"v1.17.17",
	"v1.18.20",
	"v1.19.16",
	"v1.20.15",
	"v1.21.14",
	"v1.22.17",
	"v1.23.17",
	"v1.24.17",
	"v1.25.16",
	"v1.26.15",
	"v1.27.16",
	"v1.28.15",
	"v1.29.6",
	"v1.30.14",
	"v1.31.14",
	"v1.32.13",
	"v1.33.13",
	"v1.34.4",
	"v1.35.4",
	"v1.36.3",
	"v1.37.1",
}

// DataFile is the name of the file written under -out.
const DataFile = "kubernetes.json.gz"

func main() {
	out := flag.String("out", "schema/data", "directory to write "+DataFile+" to")
	flag.Parse()

	data, err := generateAll(Releases, os.Stdout)
	if err != nil {
		fatal(err)
	}
	if err := os.MkdirAll(*out, 0o755); err != nil { //nolint:gosec // G301: generated schemas are committed to the repository
		fatal(err)
	}
	if err := os.WriteFile(filepath.Join(*out, DataFile), data, 0o644); err != nil { //nolint:gosec // G306: generated schemas are committed to the repository
		fatal(err)
	}
	// One file per minor was the earlier form: drop any left over.
	old, _ := filepath.Glob(filepath.Join(*out, "v1.*.json.gz"))
	for _, p := range old {
		fmt.Printf("removing %s\n", p)
		if err := os.Remove(p); err != nil {
			fatal(err)
		}
	}
	fmt.Printf("%s: %d releases, %d bytes\n", DataFile, len(Releases), len(data))
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "schemagen:", err)
	os.Exit(1)
}

// generateAll reads every release and returns the encoded file; progress
// goes to log.
func generateAll(releases []string, log interface{ Write([]byte) (int, error) }) ([]byte, error) {
	var parts []*release
	for _, rel := range releases {
		dir, err := moduleDir("k8s.io/kubernetes", rel)
		if err != nil {
			return nil, err
		}
		r, err := generate(rel, dir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", rel, err)
		}
		fmt.Fprintf(log, "%s: %s, %d kinds, %d nodes", rel, r.source, len(r.kinds), len(r.nodes))
		if len(r.notObjects) > 0 {
			fmt.Fprintf(log, ", %d no objects", len(r.notObjects))
		}
		if len(r.off) > 0 {
			fmt.Fprintf(log, ", off by default as deprecated: %s", strings.Join(r.off, " "))
		}
		fmt.Fprintln(log)
		parts = append(parts, r)
	}
	f := merge(parts)
	fmt.Fprintf(log, "%d nodes shared by %d releases\n", len(f.Nodes), len(f.Releases))
	return encode(f)
}

// moduleDir downloads a module version (a no-op when it is in the module
// cache) and returns its directory.
func moduleDir(path, version string) (string, error) {
	m, err := moddownload.Download(path, version)
	return m.Dir, err
}

// file is the stored form; package schema reads the same JSON.
type file struct {
	Releases []wireRelease `json:"releases"` // oldest first
	Nodes    []node        `json:"nodes"`
}

type wireRelease struct {
	Kubernetes string         `json:"kubernetes"` // the release it was generated from, v1.35.4
	Groups     []string       `json:"groups"`     // every built-in API group the release knows of, served or not
	Kinds      map[string]int `json:"kinds"`      // "group/version/Kind" -> node
}

// node is one schema. T is its type: o object, a array, s string, i integer,
// n number, b boolean, q quantity (string or number), x int-or-string, * any.
type node struct {
	T string         `json:"t"`
	F string         `json:"f,omitempty"` // format: int32, int64, double, date-time, byte
	P map[string]int `json:"p,omitempty"` // properties
	R []string       `json:"r,omitempty"` // required properties
	A int            `json:"a,omitempty"` // additionalProperties node + 1
	I int            `json:"i,omitempty"` // items node + 1
	U bool           `json:"u,omitempty"` // x-kubernetes-preserve-unknown-fields
	E bool           `json:"e,omitempty"` // x-kubernetes-embedded-resource
}

// encode writes f as gzip-compressed JSON, deterministically (maps are
// written in key order, the gzip header carries no time or name).
func encode(f *file) ([]byte, error) {
	raw, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(raw); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
