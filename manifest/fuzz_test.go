package manifest

import (
	"bytes"
	"sort"
	"testing"
)

// FuzzParse parses YAML and JSON files and asks every object for the
// lines of a few fields: nothing may panic, and every line must be in the
// file. Seeds: testdata/fuzz/FuzzParse (manifests, a List, anchors and
// merge keys, JSON).
func FuzzParse(f *testing.F) {
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata:\n  k: v\n"))
	f.Add([]byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "j"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte{'\n'}) + 1
		objs, errs := Parse("fuzz.yaml", data)
		for _, e := range errs {
			if e.Line < 0 || e.Line > lines {
				t.Fatalf("error at line %d of a file of %d: %v", e.Line, lines, e)
			}
		}
		for _, o := range objs {
			if o.Source.Line < 0 || o.Source.Line > lines {
				t.Fatalf("object at line %d of a file of %d", o.Source.Line, lines)
			}
			ptrs := fuzzPointers(o.Data)
			for i, l := range o.Lines(ptrs...) {
				if l < 0 || l > lines {
					t.Fatalf("%s at line %d of a file of %d", ptrs[i], l, lines)
				}
			}
		}
		ParseValue("fuzz.yaml", data)
	})
}

// fuzzPointers picks some pointers of an object: fixed ones, those of
// its top-level fields and the first levels below, and one that is absent.
func fuzzPointers(m map[string]any) []string {
	out := []string{"", "/metadata/name", "/spec/template/spec/containers/0/image", "/nope", "/items/0", "/metadata/01"}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := "/" + Escape(k)
		out = append(out, p)
		switch v := m[k].(type) {
		case map[string]any:
			for k2 := range v {
				out = append(out, p+"/"+Escape(k2))
				break
			}
		case []any:
			if len(v) > 0 {
				out = append(out, p+"/0", p+"/"+itoa(len(v)-1))
			}
		}
	}
	return out
}

// TestParseLinesWithLoneCarriageReturns: the YAML parser breaks lines at a
// lone "\r", the file's lines are broken by "\n" only; lines reported stay
// in the file (found by FuzzParse: testdata/fuzz/FuzzParse/0bc0cac45e72aa62).
func TestParseLinesWithLoneCarriageReturns(t *testing.T) {
	for _, tc := range []struct {
		data string
		line int // of the error, or of /data/b
	}{
		{"\"0\r0", 1},
		{"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cr}\ndata:\r  a: x\r  b: y\n", 4},
	} {
		objs, errs := Parse("cr.yaml", []byte(tc.data))
		switch {
		case len(errs) > 0:
			if errs[0].Line != tc.line {
				t.Errorf("%q: error at line %d, want %d", tc.data, errs[0].Line, tc.line)
			}
		case len(objs) == 1:
			if l := objs[0].Line("/data/b"); l != tc.line {
				t.Errorf("%q: /data/b at line %d, want %d", tc.data, l, tc.line)
			}
		default:
			t.Errorf("%q: no object and no error", tc.data)
		}
	}
}
