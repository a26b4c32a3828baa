package schema

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// The schemas of every embedded Kubernetes minor, written by hack/schemagen
// (`make schemas`) from the OpenAPI v3 documents of k8s.io/kubernetes.
//
//go:embed data/*.json.gz
var dataFS embed.FS

// wireFile and wireNode are the stored form hack/schemagen writes.
type wireFile struct {
	Kubernetes string         `json:"kubernetes"`
	Groups     []string       `json:"groups"`
	Kinds      map[string]int `json:"kinds"` // "group/version/Kind"
	Nodes      []wireNode     `json:"nodes"`
}

type wireNode struct {
	T string         `json:"t"`
	F string         `json:"f,omitempty"`
	P map[string]int `json:"p,omitempty"`
	R []string       `json:"r,omitempty"`
	A int            `json:"a,omitempty"`
	I int            `json:"i,omitempty"`
	U bool           `json:"u,omitempty"`
	E bool           `json:"e,omitempty"`
}

// gvKey names a kind the way objects do: by apiVersion and kind.
type gvKey struct{ apiVersion, kind string }

// builtin is the loaded schemas of one Kubernetes minor.
type builtin struct {
	version    kubeversion.Version
	release    string // the k8s.io/kubernetes version they came from
	kinds      map[gvKey]*node
	groups     map[string]bool
	objectMeta *node
	nodes      []*node
}

type embedded struct {
	version kubeversion.Version
	file    string
	once    sync.Once
	b       *builtin
	err     error
}

var (
	catalogOnce sync.Once
	catalog     []*embedded // by version, oldest first
)

func embeddedVersions() []*embedded {
	catalogOnce.Do(func() {
		entries, _ := dataFS.ReadDir("data")
		for _, e := range entries {
			name := e.Name()
			v, err := kubeversion.Parse(strings.TrimSuffix(name, ".json.gz"))
			if err != nil {
				continue
			}
			catalog = append(catalog, &embedded{version: v, file: path.Join("data", name)})
		}
		sort.Slice(catalog, func(i, j int) bool { return catalog[i].version.Less(catalog[j].version) })
	})
	return catalog
}

// load returns the schemas of an embedded minor, decoding them on first use.
func (e *embedded) load() (*builtin, error) {
	e.once.Do(func() { e.b, e.err = decode(e.version, e.file) })
	return e.b, e.err
}

func decode(v kubeversion.Version, file string) (*builtin, error) {
	raw, err := dataFS.ReadFile(file)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schemas for Kubernetes %s: %w", v, err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("schemas for Kubernetes %s: %w", v, err)
	}
	var wf wireFile
	if err := json.Unmarshal(js, &wf); err != nil {
		return nil, fmt.Errorf("schemas for Kubernetes %s: %w", v, err)
	}
	b := &builtin{version: v, release: wf.Kubernetes, kinds: make(map[gvKey]*node, len(wf.Kinds)), groups: map[string]bool{}}
	for _, g := range wf.Groups {
		b.groups[g] = true
	}
	nodes := make([]node, len(wf.Nodes))
	b.nodes = make([]*node, len(wf.Nodes))
	for i := range nodes {
		b.nodes[i] = &nodes[i]
	}
	at := func(i int) (*node, error) {
		if i < 0 || i >= len(nodes) {
			return nil, fmt.Errorf("schemas for Kubernetes %s: node %d out of range", v, i)
		}
		return &nodes[i], nil
	}
	for i, w := range wf.Nodes {
		n := &nodes[i]
		n.nullable = true // the API server decodes null into the zero value
		switch w.T {
		case "o":
			n.types = tsObject
		case "a":
			n.types = tsArray
		case "s":
			n.types = tsString
			switch w.F {
			case "date-time":
				n.format = fmtDateTime
			case "byte":
				n.format = fmtByte
			}
		case "i":
			n.types = tsInteger
			switch w.F {
			case "int32":
				n.format = fmtInt32
			case "int64":
				n.format = fmtInt64
			}
		case "n":
			n.types = tsNumber
		case "b":
			n.types = tsBoolean
		case "q":
			n.types, n.format = tsString|tsNumber, fmtQuantity
		case "x":
			n.types, n.format = tsString|tsInteger, fmtIntOrStr
		case "*":
		default:
			return nil, fmt.Errorf("schemas for Kubernetes %s: node %d has unknown type %q", v, i, w.T)
		}
		if len(w.P) > 0 {
			n.props = make(map[string]*node, len(w.P))
			for name, idx := range w.P {
				p, err := at(idx)
				if err != nil {
					return nil, err
				}
				n.props[name] = p
			}
		}
		n.required = w.R
		if w.A > 0 {
			a, err := at(w.A - 1)
			if err != nil {
				return nil, err
			}
			n.additional = a
		}
		if w.I > 0 {
			it, err := at(w.I - 1)
			if err != nil {
				return nil, err
			}
			n.items = it
		}
		n.embedded = w.E
		// Objects that say nothing of their fields (RawExtension, FieldsV1)
		// hold anything; the others reject unknown fields in strict mode.
		n.open = w.U || (n.props == nil && n.additional == nil)
	}
	for k, idx := range wf.Kinds {
		parts := strings.SplitN(k, "/", 3)
		if len(parts) != 3 {
			return nil, fmt.Errorf("schemas for Kubernetes %s: bad kind %q", v, k)
		}
		n, err := at(idx)
		if err != nil {
			return nil, err
		}
		b.kinds[gvKey{apiVersion(parts[0], parts[1]), parts[2]}] = n
	}
	if cm := b.kinds[gvKey{"v1", "ConfigMap"}]; cm != nil {
		b.objectMeta = cm.props["metadata"]
	}
	if b.objectMeta == nil {
		return nil, fmt.Errorf("schemas for Kubernetes %s: no ObjectMeta", v)
	}
	return b, nil
}

func apiVersion(group, version string) string {
	if group == "" {
		return version
	}
	return group + "/" + version
}

// splitAPIVersion splits apps/v1 into apps and v1 (v1 into "" and v1).
func splitAPIVersion(av string) (group, version string) {
	if i := strings.LastIndexByte(av, '/'); i >= 0 {
		return av[:i], av[i+1:]
	}
	return "", av
}
