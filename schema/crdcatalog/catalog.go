// Package crdcatalog holds the CustomResourceDefinitions of the projects
// infra repositories use most (Argo CD, Flux, cert-manager, Gateway API,
// ...), embedded so that their custom resources are validated offline like
// built-in kinds. hack/crdgen (`make schemas`) writes catalog.json.gz from
// the CRD YAML each project ships in its Go module, at a pinned version.
//
// Only what validation needs is kept: per CRD its group, kind and scope,
// and per version whether it is served and its openAPIV3Schema without
// descriptions, examples or CEL rules (which gatekeep does not evaluate).
// Identical schemas are stored once.
package crdcatalog

import (
	"bytes"
	"compress/gzip"
	_ "embed" // the catalog
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"sync"
)

// File is the catalog's name in this package, for the generator and tests.
const File = "catalog.json.gz"

//go:embed catalog.json.gz
var embedded []byte

// Catalog is the stored form.
type Catalog struct {
	// Sources are the modules the CRDs come from, in the order of the
	// generator's table.
	Sources []Source `json:"sources"`
	// CRDs are ordered by group, then kind.
	CRDs []CRD `json:"crds"`
	// Schemas are the distinct openAPIV3Schemas; Version.Schema points in.
	// They stay JSON until a kind is used (Schema decodes them): decoded,
	// the whole catalog would hold some 18 MB of a run's heap.
	Schemas []json.RawMessage `json:"schemas"`
}

// Source is one project's module at a pinned version.
type Source struct {
	Project string `json:"project"`
	Module  string `json:"module"`
	Version string `json:"version"`
	// Files are the paths in the module the CRDs were read from.
	Files []string `json:"files"`
	// Release names the project's release the CRDs are from, as messages
	// say it: "Argo CD v3.5.8".
	Release string `json:"release"`
	// Note says why the module is not the obvious one, when it is not.
	Note string `json:"note,omitempty"`
}

// CRD is one CustomResourceDefinition, reduced.
type CRD struct {
	Group    string    `json:"group"`
	Kind     string    `json:"kind"`
	Scope    string    `json:"scope"`
	Versions []Version `json:"versions"`
}

// Version is one version of a CRD.
type Version struct {
	Name   string `json:"name"`
	Served bool   `json:"served"`
	// Source indexes Catalog.Sources: the module this version came from
	// (Gateway API's experimental channel adds versions to its standard
	// CRDs).
	Source int `json:"source"`
	// Schema is 1 + the index of the version's openAPIV3Schema in
	// Catalog.Schemas; 0 for a version that is not served.
	Schema int `json:"schema,omitempty"`
}

// APIVersion gives group/version.
func (c *CRD) APIVersion(v Version) string { return c.Group + "/" + v.Name }

// Served lists the apiVersions the CRD serves, in its order.
func (c *CRD) Served() []string {
	var out []string
	for _, v := range c.Versions {
		if v.Served {
			out = append(out, c.APIVersion(v))
		}
	}
	return out
}

var (
	loadOnce sync.Once
	loaded   *Catalog
	loadErr  error
)

// Load returns the embedded catalog, decoded on first use. The result is
// shared: do not change it.
func Load() (*Catalog, error) {
	loadOnce.Do(func() { loaded, loadErr = Decode(embedded) })
	return loaded, loadErr
}

// Embedded is the catalog's stored bytes, as the binary holds them.
func Embedded() []byte { return embedded }

// Decode reads a catalog in its stored form (gzip'd JSON).
func Decode(gz []byte) (*Catalog, error) {
	js, err := Unzip(gz)
	if err != nil {
		return nil, err
	}
	var c Catalog
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, fmt.Errorf("crd catalog: %w", err)
	}
	for i := range c.CRDs {
		crd := &c.CRDs[i]
		for _, v := range crd.Versions {
			if v.Source < 0 || v.Source >= len(c.Sources) || v.Schema < 0 || v.Schema > len(c.Schemas) || (v.Served && v.Schema == 0) {
				return nil, fmt.Errorf("crd catalog: %s %s: bad version %+v", crd.APIVersion(v), crd.Kind, v)
			}
		}
	}
	return &c, nil
}

// Unzip returns the JSON of a stored catalog.
func Unzip(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, fmt.Errorf("crd catalog: %w", err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("crd catalog: %w", err)
	}
	return js, nil
}

// Encode gives the stored form: JSON (map keys sorted, so the same catalog
// gives the same bytes), gzip'd without a name or time.
func Encode(c *Catalog) ([]byte, error) {
	js, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("crd catalog: %w", err)
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(js); err != nil {
		return nil, fmt.Errorf("crd catalog: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("crd catalog: %w", err)
	}
	return buf.Bytes(), nil
}

// Schema decodes a version's openAPIV3Schema (nil when it is not served);
// each call decodes it anew, for the caller to keep.
func (c *Catalog) Schema(v Version) (map[string]any, error) {
	if v.Schema == 0 {
		return nil, nil
	}
	var s map[string]any
	if err := json.Unmarshal(c.Schemas[v.Schema-1], &s); err != nil {
		return nil, fmt.Errorf("crd catalog: schema %d: %w", v.Schema, err)
	}
	return s, nil
}

// Table is the README's table of the catalog: per source its project,
// module, version and kinds with the apiVersions served.
func (c *Catalog) Table() string {
	kinds := make([][]string, len(c.Sources))
	crds := slices.Clone(c.CRDs)
	sort.SliceStable(crds, func(i, j int) bool { return crds[i].Kind < crds[j].Kind })
	for _, crd := range crds {
		bySource := map[int][]string{}
		for _, v := range crd.Versions {
			if v.Served {
				bySource[v.Source] = append(bySource[v.Source], v.Name)
			}
		}
		for src, vs := range bySource {
			kinds[src] = append(kinds[src], fmt.Sprintf("`%s` (%s/%s)", crd.Kind, crd.Group, strings.Join(vs, ", ")))
		}
	}
	var b strings.Builder
	b.WriteString("| project | module | version | kinds (group/served versions) |\n|---|---|---|---|\n")
	for i, s := range c.Sources {
		ks := kinds[i]
		module := "`" + s.Module + "`"
		if s.Note != "" {
			module += " (" + s.Note + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.Project, module, s.Version, strings.Join(ks, ", "))
	}
	return b.String()
}

// The README's catalog table sits between these lines.
const (
	tableStart = "<!-- crd catalog: written by hack/crdgen (make schemas) -->\n"
	tableEnd   = "<!-- end of crd catalog -->\n"
)

// READMETable returns the catalog table of a README: what lies between
// its markers.
func READMETable(readme string) (string, error) {
	_, table, _, err := splitREADME(readme)
	return table, err
}

// WithREADMETable replaces the catalog table of a README.
func WithREADMETable(readme, table string) (string, error) {
	before, _, after, err := splitREADME(readme)
	if err != nil {
		return "", err
	}
	return before + tableStart + table + tableEnd + after, nil
}

// splitREADME cuts a README at the table's markers.
func splitREADME(readme string) (before, table, after string, err error) {
	before, rest, ok := strings.Cut(readme, tableStart)
	if !ok {
		return "", "", "", fmt.Errorf("no line %q", strings.TrimSpace(tableStart))
	}
	table, after, ok = strings.Cut(rest, tableEnd)
	if !ok {
		return "", "", "", fmt.Errorf("no line %q", strings.TrimSpace(tableEnd))
	}
	return before, table, after, nil
}
