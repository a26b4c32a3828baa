package manifest

import (
	"strings"
	"testing"
)

func TestParseBadBytesAreReportedAtTheirLine(t *testing.T) {
	const before = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ok\n---\n"
	for _, tc := range []struct {
		name, data string
		line       int
		want       string
	}{
		{"invalid UTF-8 on line 4", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n", 4, "invalid UTF-8 (byte 0xe9)"},
		{"NUL on line 4", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\x00b\n", 4, "NUL byte"},
		{"in a second document", before + "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  k: \xff\n", 11, "invalid UTF-8 (byte 0xff)"},
		{"NUL in a comment", before + "# \x00\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", 6, "NUL byte"},
		{"JSON", "{\n  \"apiVersion\": \"v1\",\n  \"kind\": \"ConfigMap\",\n  \"metadata\": {\"name\": \"\xc3\"}\n}\n", 4, "invalid UTF-8 (byte 0xc3)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			objs, errs := Parse("bad.yaml", []byte(tc.data))
			if len(errs) != 1 || errs[0].Line != tc.line || !strings.Contains(errs[0].Message, tc.want) {
				t.Fatalf("errors = %v, want bad.yaml:%d: …%s", errs, tc.line, tc.want)
			}
			if strings.HasPrefix(tc.data, before) && (len(objs) != 1 || objs[0].Name() != "ok") {
				t.Errorf("objects = %d, want the document before still read", len(objs))
			}
		})
	}
	// Valid UTF-8, a byte order mark included, still parses.
	if _, errs := Parse("ok.yaml", []byte("\ufeffapiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: café\n")); len(errs) != 0 {
		t.Errorf("errors = %v", errs)
	}
}
