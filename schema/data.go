package schema

import (
	"bytes"
	"compress/gzip"
	_ "embed" // the embedded schemas
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// The schemas of every supported Kubernetes minor, written by
// hack/schemagen (`make schemas`) from the OpenAPI documents of
// k8s.io/kubernetes: one table of nodes, shared by the releases.
//
//go:embed data/kubernetes.json.gz
var kubernetesData []byte

// wireFile, wireRelease and wireNode are the stored form hack/schemagen
// writes.
type wireFile struct {
	Releases []wireRelease `json:"releases"`
	Nodes    []wireNode    `json:"nodes"`
}

type wireRelease struct {
	Kubernetes string   `json:"kubernetes"`
	Groups     []string `json:"groups"`
	// Kinds maps "group/version/Kind" to its node; it is decoded when the
	// release is first used, as a run uses one release of 22.
	Kinds json.RawMessage `json:"kinds"`
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
	nodes      []*node // every node of the table, shared by the releases

	once     sync.Once
	kindsRaw json.RawMessage
	err      error
}

var (
	dataOnce sync.Once
	releases []*builtin // oldest first
	dataErr  error
)

// builtins returns the schemas of every embedded minor, oldest first,
// decoding them on first use: all at once, as they share their nodes.
func builtins() ([]*builtin, error) {
	dataOnce.Do(func() { releases, dataErr = decode(kubernetesData) })
	return releases, dataErr
}

func decode(raw []byte) ([]*builtin, error) {
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("embedded Kubernetes schemas: %w", err)
	}
	js, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("embedded Kubernetes schemas: %w", err)
	}
	var wf wireFile
	if err := json.Unmarshal(js, &wf); err != nil {
		return nil, fmt.Errorf("embedded Kubernetes schemas: %w", err)
	}
	nodes, err := decodeNodes(wf.Nodes)
	if err != nil {
		return nil, fmt.Errorf("embedded Kubernetes schemas: %w", err)
	}
	all := make([]*node, len(nodes))
	for i := range nodes {
		all[i] = &nodes[i]
	}
	out := make([]*builtin, 0, len(wf.Releases))
	for _, wr := range wf.Releases {
		b, err := decodeRelease(wr, all)
		if err != nil {
			return nil, fmt.Errorf("embedded Kubernetes schemas: %s: %w", wr.Kubernetes, err)
		}
		if len(out) > 0 && !out[len(out)-1].version.Less(b.version) {
			return nil, fmt.Errorf("embedded Kubernetes schemas: %s is out of order", wr.Kubernetes)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("embedded Kubernetes schemas: no releases")
	}
	return out, nil
}

func decodeRelease(wr wireRelease, nodes []*node) (*builtin, error) {
	v, err := kubeversion.Parse(wr.Kubernetes)
	if err != nil {
		return nil, err
	}
	v = kubeversion.Version{Major: v.Major, Minor: v.Minor}
	b := &builtin{version: v, release: wr.Kubernetes, groups: map[string]bool{}, nodes: nodes, kindsRaw: wr.Kinds}
	for _, g := range wr.Groups {
		b.groups[g] = true
	}
	return b, nil
}

// load decodes the release's kinds on first use.
func (b *builtin) load() error {
	b.once.Do(func() {
		b.err = b.decodeKinds()
		b.kindsRaw = nil
		if b.err != nil {
			b.err = fmt.Errorf("embedded Kubernetes schemas: %s: %w", b.release, b.err)
		}
	})
	return b.err
}

func (b *builtin) decodeKinds() error {
	var kinds map[string]int
	if err := json.Unmarshal(b.kindsRaw, &kinds); err != nil {
		return err
	}
	b.kinds = make(map[gvKey]*node, len(kinds))
	for k, idx := range kinds {
		parts := strings.SplitN(k, "/", 3)
		if len(parts) != 3 {
			return fmt.Errorf("bad kind %q", k)
		}
		if idx < 0 || idx >= len(b.nodes) {
			return fmt.Errorf("kind %s: node %d out of range", k, idx)
		}
		b.kinds[gvKey{apiVersion(parts[0], parts[1]), parts[2]}] = b.nodes[idx]
	}
	if cm := b.kinds[gvKey{"v1", "ConfigMap"}]; cm != nil {
		b.objectMeta = cm.props["metadata"]
	}
	if b.objectMeta == nil {
		return fmt.Errorf("no ObjectMeta")
	}
	return nil
}

// decodeNodes builds the node table; references become pointers.
func decodeNodes(wire []wireNode) ([]node, error) {
	nodes := make([]node, len(wire))
	at := func(i int) (*node, error) {
		if i < 0 || i >= len(nodes) {
			return nil, fmt.Errorf("node %d out of range", i)
		}
		return &nodes[i], nil
	}
	for i, w := range wire {
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
			return nil, fmt.Errorf("node %d has unknown type %q", i, w.T)
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
	return nodes, nil
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

// release returns the schemas of v's minor, or an error naming the
// supported range when none are embedded: no other minor's schemas stand
// in, as what a release serves is part of what is checked.
func release(v kubeversion.Version) (*builtin, error) {
	all, err := builtins()
	if err != nil {
		return nil, err
	}
	for _, b := range all {
		if b.version.Major == v.Major && b.version.Minor == v.Minor {
			return b, b.load()
		}
	}
	return nil, fmt.Errorf("Kubernetes %s is not supported: gatekeep knows %s to %s", //nolint:staticcheck // ST1005: Kubernetes is a name
		v.MinorString(), all[0].version.MinorString(), all[len(all)-1].version.MinorString())
}

// Supported returns nil when gatekeep has the schemas of v's minor, else an
// error naming the supported range: "Kubernetes 1.15 is not supported:
// gatekeep knows 1.16 to 1.37".
func Supported(v kubeversion.Version) error {
	_, err := release(v)
	return err
}
