package fastyaml

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// compare parses src with Parse and with yaml.v3 and returns what differs
// when Parse accepts it ("" when it does not, or when both agree).
func compare(src []byte) (accepted bool, diff string) {
	got, ok := Parse(src)
	if !ok {
		if got != nil {
			return false, "refused, with a node"
		}
		return false, ""
	}
	var want yaml.Node
	if err := yaml.Unmarshal(src, &want); err != nil {
		return true, fmt.Sprintf("accepted, yaml.v3 fails: %v", err)
	}
	if !reflect.DeepEqual(got, &want) {
		return true, firstDiff("", got, &want)
	}
	return true, ""
}

// firstDiff describes the first difference of two node trees.
func firstDiff(path string, a, b *yaml.Node) string {
	if a == nil || b == nil {
		return fmt.Sprintf("%s: %v vs %v", path, a, b)
	}
	sa, sb := *a, *b
	sa.Content, sb.Content = nil, nil
	if !reflect.DeepEqual(sa, sb) {
		return fmt.Sprintf("%s:\n got  %+v\n want %+v", path, sa, sb)
	}
	if (a.Content == nil) != (b.Content == nil) || len(a.Content) != len(b.Content) {
		return fmt.Sprintf("%s: %d children (nil %v) vs %d (nil %v)", path, len(a.Content), a.Content == nil, len(b.Content), b.Content == nil)
	}
	for i := range a.Content {
		if d := firstDiff(fmt.Sprintf("%s/%d", path, i), a.Content[i], b.Content[i]); d != "" {
			return d
		}
	}
	return ""
}

// tricky are inputs at the edges of the fast path, and whether Parse
// takes them.
var tricky = []struct {
	src    string
	accept bool
}{
	{"a: b\n", true},
	{"a: b", true},
	{"---\na: b\n", true},
	{"\n\n---\n\na: b\n", true},
	{"--- \na: b\n", false},
	{"--- # c\na: b\n", false},
	{"a: b\n---\nc: d\n", false},
	{"a: b\n...\n", false},
	{"  a: b\n  c: d\n", true},
	{"a:\n", true},
	{"a:", true},
	{"a:   \n\n", true},
	{"a:\nb: c\n", true},
	{"x:\n  a:\ny: 1\n", true},
	{"- a:\n- b\n", true},
	{"a:\n- x\n- y\nb: z\n", true},
	{"a:\n  - x\n  - y\nb: z\n", true},
	{"- a: 1\n  b: 2\n- c: 3\n", true},
	{"- a:\n  - x\n", true},
	{"- a:\n    - x\n", true},
	{"-\n  a: b\n-\n  - c\n", true},
	{"a: b\na: c\n", true}, // duplicate keys are kept
	{"a: {}\nb: []\nc: [x, \"y\", 'z']\nd: {k: v, \"q\": 'r'}\n", true},
	{"a: [x,]\n", false},
	{"a: [x, [y]]\n", false},
	{"a: [x\n  , y]\n", false},
	{"a: [a:b]\n", false},
	{"a: {k: }\n", false},
	{"a: [x] y\n", false},
	{"a: 'it''s'\nb: \"\\x41\\u00e9\\U0001F600\\N\\_\\L\\P\\0\\a\\e\\ \"\n", true},
	{"a: \"\\/\"\n", false},
	{"a: \"\\q\"\n", false},
	{"a: \"\\uD800\"\n", false},
	{"a: \"x\n  y\"\n", false},
	{"a: 'x\n  y'\n", false},
	{"a: x\n  y\n", false},
	{"a: x\n y: z\n", false},
	{"- x\n  y\n", false},
	{"a: b # comment\n", false},
	{"# comment\na: b\n", false},
	{"a: b#not-a-comment\n", true},
	{"a: \"b # quoted\"\n", true},
	{"a: &x b\n", false},
	{"a: *x\n", false},
	{"a: !!str b\n", false},
	{"a: |\n  text\n", false},
	{"a: >\n  text\n", false},
	{"? a\n: b\n", false},
	{"%YAML 1.2\n---\na: b\n", false},
	{"\ufeffa: b\n", false},
	{"a: b\r\n", false},
	{"a:\tb\n", false},
	{"a: \xff\n", false},
	{"a: \u0085\n", false},
	{"a: b: c\n", false},
	{"a: - b\n", false},
	{"- - a\n", false},
	{"a: b\n- c\n", false},
	{"- a\nb: c\n", false},
	{"a:\n    b: c\n  d: e\n", false},
	{"a:\n  b\n", false},
	{"", false},
	{"---\n", false},
	{"a\n", false},
	{"\"a\"\n", false},
	{"[a, b]\n", false},
	{"a: 1\nb: -2\nc: 0x1F\nd: 1_000\ne: 1.5e3\nf: .inf\ng: -.Inf\nh: .nan\ni: true\nj: False\nk: ~\nl: null\nm: 2024-01-02\nn: yes\no: 0b11\np: -0b11\nq: 0o17\nr: 99999999999999999999\ns: +1\nt: -\n", false},
	{"a: 1\nb: -2\nc: 0x1F\nd: 1_000\ne: 1.5e3\nf: .inf\ng: -.Inf\nh: .nan\ni: true\nj: False\nk: ~\nl: null\nm: 2024-01-02\nn: yes\no: 0b11\np: -0b11\nq: 0o17\nr: 99999999999999999999\ns: +1\nt: -x\n", true},
	{"<<: a\n\"<<\": b\nc: <<\nd: [<<, {<<: <<}]\n- <<\n", false},
	{"<<: a\n\"<<\": b\nc: <<\nd: [<<]\nf: {<<: <<}\ne:\n- <<\n", true},
	{"1: a\ntrue: b\n~: c\n", true},
	{"a: é\nnaïve: café\n\"ключ\": [значение, x]\n", true},
	{"a  : b\n\"q\" : c\n", true},
	{"a:b: c\n", true},
	{"a: b:c\n", true},
	{"a: http://x:80/y\n", true},
	{"-x: y\n", true},
	{"a: -x\n", true},
	{"- -x\n", true},
	{"a: ?x\n", false},
	{"a: :x\n", false},
	{"a: @x\n", false},
	{"a: `x\n", false},
	{"a: %x\n", false},
	{"a:\n  ---\n", false},
	{"a: [-1, -x]\n", true},
	{"a: [b c, d  ]\n", true},
	{"a: [ ]\nb: { }\n", true},
	{"a: ['it''s', \"\\\"\"]\n", true},
	{"a: {k: v}x\n", false},
	{"a: \"b\" c\n", false},
	{"\"a\"b: c\n", false},
	{"\"a\":b\n", false},
	{strings.Repeat("k", 1100) + ": v\n", false},
	{"a:\n\n\n  b: c\n\n\nd: e\n\n", true},
	{"a: b   \nc: d  \n", true},
	{"a: '  spaced  '\n", true},
	{"a: \"\\\\\"\n", true},
	{"a: \"\\\n\"\n", false},
	{"a: 'unterminated\n", false},
	{"a: \"unterminated\n", false},
	{"a: \"x\"\"y\"\n", false},
	{"a: 'x''\n", false},
	{"a: b\n  # indented comment\n", false},
	{"a: b\n\x00", false},
	{"a: b\x7f\n", false},
}

func TestParse(t *testing.T) {
	for _, tt := range tricky {
		accepted, diff := compare([]byte(tt.src))
		if diff != "" {
			t.Errorf("%q: %s", tt.src, diff)
		}
		if accepted != tt.accept {
			t.Errorf("%q: accepted %v, want %v", tt.src, accepted, tt.accept)
		}
	}
}

// splitDocuments cuts a file at its "---" lines as manifest's
// splitDocuments does: the separator line stays with the document it
// opens.
func splitDocuments(data []byte) [][]byte {
	var docs [][]byte
	start := 0
	for off := 0; off < len(data); {
		next := len(data)
		if end := bytes.IndexByte(data[off:], '\n'); end >= 0 {
			next = off + end + 1
		}
		if off > start && isSeparator(data[off:next]) {
			docs = append(docs, data[start:off])
			start = off
		}
		off = next
	}
	if start < len(data) {
		docs = append(docs, data[start:])
	}
	return docs
}

func isSeparator(line []byte) bool {
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte{'\n'}), []byte{'\r'})
	return bytes.HasPrefix(line, []byte("---")) && (len(line) == 3 || line[3] == ' ' || line[3] == '\t')
}

// documents returns every document of the YAML files under dir.
func documents(tb testing.TB, dir string) [][]byte {
	tb.Helper()
	var docs [][]byte
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		data, err := os.ReadFile(path) //nolint:gosec // test input
		if err != nil {
			return err
		}
		docs = append(docs, splitDocuments(data)...)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return docs
}

// checkDocuments compares Parse with yaml.v3 on every document, and
// returns how many Parse accepted.
func checkDocuments(t *testing.T, docs [][]byte) int {
	t.Helper()
	accepted := 0
	for _, doc := range docs {
		ok, diff := compare(doc)
		if diff != "" {
			t.Errorf("%q:\n%s", doc, diff)
		}
		if ok {
			accepted++
			// scan's bound lets Parse allocate its nodes at once.
			n, _ := Parse(doc)
			if bound, _, _ := scan(doc); countNodes(n) > bound {
				t.Errorf("%q: %d nodes, more than scan's bound %d", doc, countNodes(n), bound)
			}
		}
	}
	return accepted
}

// TestDocuments compares Parse with yaml.v3 on every document of
// testdata, and of the real repositories and the generated one when this
// machine has them.
func TestDocuments(t *testing.T) {
	docs := documents(t, "testdata")
	if len(docs) < 5 {
		t.Fatalf("testdata holds %d documents", len(docs))
	}
	accepted := checkDocuments(t, docs)
	t.Logf("testdata: %d of %d documents accepted", accepted, len(docs))
	if accepted != len(docs) {
		t.Errorf("testdata: only %d of %d documents accepted", accepted, len(docs))
	}
	for _, dir := range []string{"/work/repos/argocd-example-apps", "/work/repos/podinfo", "/work/repos/microservices-demo", "/work/repos/gatekeeper-library", "/tmp/repo2000"} {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			if _, err := os.Stat(dir); err != nil {
				t.Logf("%s: not on this machine, only testdata compared", dir)
				return
			}
			docs := documents(t, dir)
			accepted := checkDocuments(t, docs)
			t.Logf("%s: %d of %d documents accepted (%.1f%%)", dir, accepted, len(docs), 100*float64(accepted)/float64(max(len(docs), 1)))
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, doc := range documents(f, "testdata") {
		f.Add(doc)
	}
	for _, tt := range tricky {
		f.Add([]byte(tt.src))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if _, diff := compare(src); diff != "" {
			t.Errorf("%q:\n%s", src, diff)
		}
	})
}

func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}
