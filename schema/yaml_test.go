package schema_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// testObject is one object of a test manifest with the JSON pointers of the
// keys its source repeats.
type testObject struct {
	Data       map[string]any
	Duplicates []string
}

// parseManifests reads every Kubernetes object of a YAML or JSON stream the
// way gatekeep's loader gives them to the schema check (integers int64,
// other numbers float64, keys as strings, kind: List expanded), and finds
// repeated keys, which the manifest package will report the same way.
func parseManifests(t testing.TB, data []byte) []testObject {
	t.Helper()
	var out []testObject
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		var dups []string
		v, err := fromNode(doc.Content[0], "", &dups)
		if err != nil {
			t.Fatalf("parse: %v", err)
		}
		m, ok := v.(map[string]any)
		if !ok || m["apiVersion"] == nil || m["kind"] == nil || m["kind"] == "" {
			continue
		}
		if items, ok := m["items"].([]any); ok && strings.HasSuffix(fmt.Sprint(m["kind"]), "List") {
			for i, it := range items {
				im, ok := it.(map[string]any)
				if !ok {
					continue
				}
				prefix := "/items/" + strconv.Itoa(i)
				var own []string
				for _, d := range dups {
					if strings.HasPrefix(d, prefix+"/") {
						own = append(own, strings.TrimPrefix(d, prefix))
					}
				}
				out = append(out, testObject{Data: im, Duplicates: own})
			}
			continue
		}
		out = append(out, testObject{Data: m, Duplicates: dups})
	}
}

func fromNode(n *yaml.Node, ptr string, dups *[]string) (any, error) {
	switch n.Kind {
	case yaml.AliasNode:
		return fromNode(n.Alias, ptr, dups)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			p := ptr + "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
			if _, dup := m[k]; dup {
				*dups = append(*dups, p)
			}
			v, err := fromNode(n.Content[i+1], p, dups)
			if err != nil {
				return nil, err
			}
			m[k] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			v, err := fromNode(c, ptr+"/"+strconv.Itoa(i), dups)
			if err != nil {
				return nil, err
			}
			s[i] = v
		}
		return s, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			var b bool
			err := n.Decode(&b)
			return b, err
		case "!!int":
			var i int64
			if err := n.Decode(&i); err != nil {
				var f float64
				err2 := n.Decode(&f)
				return f, err2
			}
			return i, nil
		case "!!float":
			var f float64
			err := n.Decode(&f)
			return f, err
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("unexpected YAML node kind %v", n.Kind)
}
