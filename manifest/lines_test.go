package manifest

import (
	"context"
	"strconv"
	"testing"
)

// reparsed is o with its document's line index dropped: Lines then parses
// the document again, the way every look-up used to.
func reparsed(o *Object) *Object {
	c := *o
	if o.doc != nil {
		d := *o.doc
		d.lines = nil
		c.doc = &d
	}
	return &c
}

// pointers lists the JSON pointer of every value under v, and a few that
// are not there.
func pointers(v any, at string, out *[]string) {
	*out = append(*out, at)
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			pointers(e, at+"/"+Escape(k), out)
		}
		*out = append(*out, at+"/not-there")
	case []any:
		for i, e := range x {
			pointers(e, at+"/"+strconv.Itoa(i), out)
		}
		*out = append(*out, at+"/"+strconv.Itoa(len(x)))
	}
}

func TestLineIndexAgreesWithParsing(t *testing.T) {
	set := Load(context.Background(), []string{"../testdata/infra-repo"})
	objs := set.Objects
	extra, errs := Parse("extra.yaml", []byte(`apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata:
      name: a
      annotations:
        example.com/a~b: "1"
        "": empty key
    data: {"01": x, "+1": y}
  - apiVersion: v1
    kind: Pod
    metadata: {name: b}
    spec:
      containers:
      - name: c
        args: [a, b, c, d, e, f, g, h, i, j, k, l]
---
apiVersion: v1
kind: ConfigMap
metadata: &m
  name: anchored
data:
  <<: {k: v}
  own: value
`))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	objs = append(objs, extra...)
	indexed, checked := 0, 0
	for _, o := range objs {
		if o.doc != nil && o.doc.lines != nil && !o.rendered {
			indexed++
		}
		var ps []string
		pointers(o.Data, "", &ps)
		// Spellings the index leaves to parsing, asked apart: one in a
		// call sends the whole call there.
		odd := []string{"/metadata/annotations/example.com~1a~0b", "/data/01", "/data/+1", "/spec/containers/0/args/011",
			"/spec/containers/+0/name", "/metadata/annotations/", "/a~2b", "/metadata/name/x"}
		for _, call := range [][]string{ps, odd} {
			want := reparsed(o).Lines(call...)
			got := o.Lines(call...)
			for i := range call {
				checked++
				if got[i] != want[i] {
					t.Errorf("%s:%d %s: Lines(%q) = %d, parsing again gives %d", o.Source.File, o.Source.Line, o.Ref(), call[i], got[i], want[i])
				}
			}
		}
	}
	// The List's items are answered by the index, the anchored document
	// by parsing again.
	for i, wantIndex := range []bool{true, true, false} {
		if has := extra[i].doc.lines != nil; has != wantIndex {
			t.Errorf("%s: line index %v, want %v", extra[i].Ref(), has, wantIndex)
		}
	}
	t.Logf("%d look-ups on %d objects, %d with a line index", checked, len(objs), indexed)
}
