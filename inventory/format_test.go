package inventory

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func ingress(ns, name string, hosts ...string) map[string]any {
	var rules []any
	for _, h := range hosts {
		rules = append(rules, map[string]any{"host": h, "http": map[string]any{"paths": []any{map[string]any{"path": "/"}}}})
	}
	return map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
		"metadata": map[string]any{"name": name, "namespace": ns, "uid": "u-" + name},
		"spec":     map[string]any{"rules": rules},
	}
}

func TestRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 30, 0, 0, time.UTC)
	cases := []struct {
		name string
		file File
	}{
		{"empty", File{BundleDigest: "sha256:00", ExportedAt: at, Ingresses: []map[string]any{}, Objects: []map[string]any{}}},
		{"ingresses sorted", File{BundleDigest: "sha256:01", ExportedAt: at, Server: "https://127.0.0.1:6443",
			Ingresses: []map[string]any{ingress("team-b", "web", "b.example.com"), ingress("team-a", "web", "a.example.com", "*.a.example.com")},
			Objects:   []map[string]any{}}},
		{"objects", File{BundleDigest: "sha256:02", ExportedAt: at.In(time.FixedZone("CET", 3600)),
			Ingresses: []map[string]any{},
			Objects: []map[string]any{
				{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web", "namespace": "team-a", "labels": map[string]any{"app": "web"}}, "spec": map[string]any{"selector": map[string]any{"app": "web"}}},
				{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "creds", "namespace": "team-a"}, "type": "Opaque"},
				{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "team-a"}},
			}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.file
			f.APIVersion, f.Kind = APIVersion, Kind
			var buf bytes.Buffer
			if err := Write(&buf, &f); err != nil {
				t.Fatal(err)
			}
			if !json.Valid(buf.Bytes()) {
				t.Fatalf("not JSON:\n%s", buf.String())
			}
			if !strings.Contains(buf.String(), `"exportedAt":"2026-12-06T`) {
				t.Errorf("exportedAt is not RFC 3339 UTC:\n%s", buf.String())
			}
			got, err := Read(&buf)
			if err != nil {
				t.Fatalf("read back: %v\n%s", err, buf.String())
			}
			if !got.ExportedAt.Equal(f.ExportedAt) {
				t.Errorf("exportedAt %v, want %v", got.ExportedAt, f.ExportedAt)
			}
			got.ExportedAt = f.ExportedAt
			// Write sorted f's lists in place; JSON turns nothing else.
			want := roundJSON(t, f)
			if !reflect.DeepEqual(roundJSON(t, *got), want) {
				t.Errorf("read back\n%v\nwant\n%v", got, want)
			}
			for i := 1; i < len(got.Ingresses); i++ {
				if namespace(got.Ingresses[i-1]) > namespace(got.Ingresses[i]) {
					t.Errorf("ingresses not sorted: %v", got.Ingresses)
				}
			}
		})
	}
}

func roundJSON(t *testing.T, f File) any {
	t.Helper()
	f.ExportedAt = f.ExportedAt.UTC()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestParseRefuses(t *testing.T) {
	const head = `"apiVersion":"gatekeep.dev/v1alpha1","kind":"Inventory","bundleDigest":"sha256:00","exportedAt":"2026-12-06T10:00:00Z"`
	cases := []struct{ name, doc, want string }{
		{"not JSON", `apiVersion: x`, "not an inventory file"},
		{"another version", `{"apiVersion":"gatekeep.dev/v2","kind":"Inventory"}`, `want apiVersion gatekeep.dev/v1alpha1`},
		{"another kind", `{"apiVersion":"gatekeep.dev/v1alpha1","kind":"Report"}`, `kind "Report"`},
		{"unknown field", `{` + head + `,"extra":1}`, `unknown field "extra"`},
		{"trailing data", `{` + head + `} {}`, "not an inventory file"},
		{"no time", `{"apiVersion":"gatekeep.dev/v1alpha1","kind":"Inventory","bundleDigest":"sha256:00"}`, "exportedAt is missing"},
		{"bad time", `{"apiVersion":"gatekeep.dev/v1alpha1","kind":"Inventory","bundleDigest":"sha256:00","exportedAt":"yesterday"}`, "not an inventory file"},
		{"no digest", `{"apiVersion":"gatekeep.dev/v1alpha1","kind":"Inventory","exportedAt":"2026-12-06T10:00:00Z"}`, "bundleDigest is missing"},
		{"nameless ingress", `{` + head + `,"ingresses":[{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{}}]}`, "ingresses[0]: Ingress without metadata.name"},
		{"not an ingress", `{` + head + `,"ingresses":[{"apiVersion":"v1","kind":"Service","metadata":{"name":"a"}}]}`, "ingresses[0]: v1 Service is not an Ingress"},
		{"null object", `{` + head + `,"objects":[null]}`, "objects[0]: null"},
		{"secret data", `{` + head + `,"objects":[{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s","namespace":"a"},"data":{"k":"dg=="}}]}`, "never holds a Secret's data"},
		{"metadata not an object", `{` + head + `,"objects":[{"apiVersion":"v1","kind":"ConfigMap","metadata":"x"}]}`, "objects[0]: ConfigMap without metadata.name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse = %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestReadFileNamesTheFile(t *testing.T) {
	_, err := ReadFile("/nonexistent/inventory.json")
	if err == nil || !strings.Contains(err.Error(), "read inventory /nonexistent/inventory.json") {
		t.Errorf("ReadFile = %v", err)
	}
}

// FuzzParse: an inventory file is untrusted input. Parse never panics, and
// what it accepts writes and reads back the same.
func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, &File{APIVersion: APIVersion, Kind: Kind, BundleDigest: "sha256:00", ExportedAt: time.Unix(0, 0),
		Ingresses: []map[string]any{ingress("a", "web", "a.example.com")},
		Objects:   []map[string]any{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "c", "namespace": "a"}, "data": map[string]any{"k": "v"}}}})
	f.Add(buf.Bytes())
	f.Add([]byte(`{"apiVersion":"gatekeep.dev/v1alpha1","kind":"Inventory","bundleDigest":"x","exportedAt":"2026-12-06T10:00:00Z","ingresses":[{}]}`))
	f.Add([]byte(`{"apiVersion":"gatekeep.dev/v1alpha1","kind":"Inventory","objects":[{"metadata":null}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inv, err := Parse(data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := Write(&out, inv); err != nil {
			t.Fatalf("an accepted file does not write: %v", err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("an accepted file does not read back: %v\n%s", err, out.String())
		}
		if len(again.Ingresses) != len(inv.Ingresses) || len(again.Objects) != len(inv.Objects) || again.BundleDigest != inv.BundleDigest {
			t.Fatalf("read back differs: %+v, want %+v", again, inv)
		}
	})
}
