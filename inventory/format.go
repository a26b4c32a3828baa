// Package inventory is what gatekeep knows of a cluster's objects outside
// the cluster: the file `gatekeep inventory export` writes and `gatekeep
// check --inventory` reads, so that CI judges a pull request against what
// the cluster already holds (an Ingress host another repository claims),
// and the trimming the webhook's caches share with it.
//
// # The file
//
// One JSON document, versioned by apiVersion and kind:
//
//	{
//	  "apiVersion": "gatekeep.dev/v1alpha1",
//	  "kind": "Inventory",
//	  "bundleDigest": "sha256:…",       // the bundle the export was made for
//	  "exportedAt": "2026-12-06T10:00:00Z", // RFC 3339
//	  "server": "https://10.0.0.1:6443", // the API server read (informative)
//	  "ingresses": [ {Ingress}, … ],     // for ingress-host-collision
//	  "objects": [ {object}, … ]         // the bundle's sync: kinds, for data.inventory
//	}
//
// ingresses are Ingresses cut to what the host index reads (see
// SlimIngress): apiVersion, kind, metadata name, namespace, uid,
// resourceVersion, spec.rules[].host and .http.paths[].path, and
// spec.tls[].hosts. objects are the objects of the bundle's sync: kinds its
// Gatekeeper templates can read, cut to the fields they read (see Trim):
// apiVersion, kind and metadata name, namespace, labels and uid always,
// and never a Secret's data or stringData. Both lists are sorted by kind,
// namespace and name, one entry a line.
//
// A reader refuses another apiVersion or kind, unknown top-level fields,
// entries without apiVersion, kind or name, and Secrets that carry data.
package inventory

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"
)

// The file's apiVersion and kind.
const (
	APIVersion = "gatekeep.dev/v1alpha1"
	Kind       = "Inventory"
)

// MaxFileSize is the largest inventory file Read accepts (the file is
// untrusted input: a pull request's CI may be handed any file).
const MaxFileSize = 1 << 30

// File is an inventory export.
type File struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	// BundleDigest is the digest of the bundle the export was trimmed for
	// (bundle.Bundle.Digest).
	BundleDigest string `json:"bundleDigest"`
	// ExportedAt is when the cluster was read.
	ExportedAt time.Time `json:"exportedAt"`
	// Server is the API server the objects were read from, if known.
	Server string `json:"server,omitempty"`
	// Ingresses are the cluster's Ingresses as SlimIngress cuts them.
	Ingresses []map[string]any `json:"ingresses"`
	// Objects are the objects of the synced kinds, cut by Trim.
	Objects []map[string]any `json:"objects"`
}

// Read decodes and validates an inventory file.
func Read(r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileSize)
	}
	return Parse(data)
}

// ReadFile reads the inventory file at path; errors name it.
func ReadFile(path string) (*File, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the file the user names
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	defer f.Close()
	inv, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	return inv, nil
}

// Parse decodes and validates an inventory file's bytes.
func Parse(data []byte) (*File, error) {
	// The version first, so that another version is named as such rather
	// than as unknown fields.
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("not an inventory file: %w", err)
	}
	if head.APIVersion != APIVersion || head.Kind != Kind {
		return nil, fmt.Errorf("apiVersion %q, kind %q: want apiVersion %s, kind %s", head.APIVersion, head.Kind, APIVersion, Kind)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("not an inventory file: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("not an inventory file: data after the document")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// Validate says what makes the file unusable.
func (f *File) Validate() error {
	switch {
	case f.APIVersion != APIVersion || f.Kind != Kind:
		return fmt.Errorf("apiVersion %q, kind %q: want apiVersion %s, kind %s", f.APIVersion, f.Kind, APIVersion, Kind)
	case f.ExportedAt.IsZero():
		return errors.New("exportedAt is missing")
	case f.ExportedAt.UTC().Year() < 1 || f.ExportedAt.UTC().Year() > 9999:
		return fmt.Errorf("exportedAt %s is out of range", f.ExportedAt)
	case f.BundleDigest == "":
		return errors.New("bundleDigest is missing")
	}
	for i, o := range f.Ingresses {
		if err := validObject(o); err != nil {
			return fmt.Errorf("ingresses[%d]: %w", i, err)
		}
		if !IsIngress(o) {
			return fmt.Errorf("ingresses[%d]: %s %s is not an Ingress", i, str(o["apiVersion"]), str(o["kind"]))
		}
	}
	for i, o := range f.Objects {
		if err := validObject(o); err != nil {
			return fmt.Errorf("objects[%d]: %w", i, err)
		}
		if isSecret(o) && (o["data"] != nil || o["stringData"] != nil) {
			return fmt.Errorf("objects[%d]: Secret %s/%s carries data: an inventory never holds a Secret's data", i, namespace(o), name(o))
		}
	}
	return nil
}

func validObject(o map[string]any) error {
	switch {
	case o == nil:
		return errors.New("null")
	case str(o["apiVersion"]) == "":
		return errors.New("no apiVersion")
	case str(o["kind"]) == "":
		return errors.New("no kind")
	case name(o) == "":
		return fmt.Errorf("%s without metadata.name", str(o["kind"]))
	}
	if _, ok := o["metadata"].(map[string]any); !ok {
		return errors.New("metadata is not an object")
	}
	return nil
}

// Write encodes the file, its lists sorted, one entry a line.
func Write(w io.Writer, f *File) error {
	sortObjects(f.Ingresses)
	sortObjects(f.Objects)
	bw := bufio.NewWriter(w)
	head := struct {
		APIVersion   string `json:"apiVersion"`
		Kind         string `json:"kind"`
		BundleDigest string `json:"bundleDigest"`
		ExportedAt   string `json:"exportedAt"`
		Server       string `json:"server,omitempty"`
	}{f.APIVersion, f.Kind, f.BundleDigest, f.ExportedAt.UTC().Format(time.RFC3339), f.Server}
	h, err := json.Marshal(head)
	if err != nil {
		return err
	}
	// bufio.Writer keeps its first error for Flush: the writes below
	// need not each be checked.
	_, _ = bw.Write(h[:len(h)-1])
	for _, list := range []struct {
		key  string
		objs []map[string]any
	}{{"ingresses", f.Ingresses}, {"objects", f.Objects}} {
		fmt.Fprintf(bw, ",\n%q: [", list.key)
		for i, o := range list.objs {
			b, err := json.Marshal(o)
			if err != nil {
				return fmt.Errorf("%s[%d]: %w", list.key, i, err)
			}
			if i > 0 {
				_ = bw.WriteByte(',')
			}
			_, _ = bw.WriteString("\n  ")
			_, _ = bw.Write(b)
		}
		if len(list.objs) > 0 {
			_ = bw.WriteByte('\n')
		}
		_ = bw.WriteByte(']')
	}
	_, _ = bw.WriteString("\n}\n")
	return bw.Flush()
}

// sortObjects orders objects by apiVersion, kind, namespace and name.
func sortObjects(objs []map[string]any) {
	sort.SliceStable(objs, func(i, j int) bool {
		a, b := objs[i], objs[j]
		for _, k := range [][2]string{
			{str(a["kind"]), str(b["kind"])}, {str(a["apiVersion"]), str(b["apiVersion"])},
			{namespace(a), namespace(b)}, {name(a), name(b)},
		} {
			if k[0] != k[1] {
				return k[0] < k[1]
			}
		}
		return false
	})
}

func cutLast(s, sep string) (before, after string, found bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

func str(v any) string { s, _ := v.(string); return s }

func metadata(o map[string]any) map[string]any { m, _ := o["metadata"].(map[string]any); return m }

func name(o map[string]any) string { return str(metadata(o)["name"]) }

func namespace(o map[string]any) string { return str(metadata(o)["namespace"]) }
