package jsonptr

import (
	"reflect"
	"testing"
)

func TestGet(t *testing.T) {
	doc := map[string]any{
		"spec": map[string]any{"containers": []any{map[string]any{"name": "a"}, map[string]any{"name": "b"}}},
		"a/b":  "slash",
		"m~n":  "tilde",
	}
	cases := []struct {
		pointer string
		want    any
		ok      bool
	}{
		{"", doc, true},
		{"/spec/containers/1/name", "b", true},
		{"/a~1b", "slash", true},
		{"/m~0n", "tilde", true},
		{"/spec/containers/2", nil, false},
		{"/spec/containers/-1", nil, false},
		{"/spec/containers/x", nil, false},
		{"/spec/containers/0/name/deeper", nil, false},
		{"/nope", nil, false},
		{"spec", nil, false},
	}
	for _, c := range cases {
		got, ok := Get(doc, c.pointer)
		if ok != c.ok || !reflect.DeepEqual(got, c.want) {
			t.Errorf("Get(%q) = %v, %v; want %v, %v", c.pointer, got, ok, c.want, c.ok)
		}
	}
	for _, tok := range []string{"plain", "a/b", "m~n", "~/~1"} {
		if got := Unescape(Escape(tok)); got != tok {
			t.Errorf("Unescape(Escape(%q)) = %q", tok, got)
		}
	}
	if got := Tokens("/a~1b/0"); !reflect.DeepEqual(got, []string{"a/b", "0"}) {
		t.Errorf("Tokens = %q", got)
	}
}
