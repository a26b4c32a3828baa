package main

import (
	"strings"
	"testing"
)

func TestCheckMaxFileSizeStdin(t *testing.T) {
	big := strings.Repeat("# padding\n", 300) // 3,000 bytes
	for _, tc := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"over the flag's limit", []string{"check", "--max-file-size", "1KiB", "-"}, big, exitUnusable, "<stdin>: standard input is larger than 1 KiB"},
		{"under it", []string{"check", "--max-file-size", "4KiB", "-"}, big, exitPass, ""},
		{"in bytes", []string{"check", "--max-file-size", "2999", "-"}, big, exitUnusable, "larger than 2999 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code, msg := run(t, t.TempDir(), tc.stdin, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d (%s), want %d\n%s", code, msg, tc.code, out)
			}
			if tc.want != "" && !strings.Contains(out+msg, tc.want) {
				t.Errorf("output lacks %q:\n%s%s", tc.want, out, msg)
			}
		})
	}
}

func TestSizeFlag(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"67108864", 64 << 20, true},
		{"64MiB", 64 << 20, true},
		{"64Mi", 64 << 20, true},
		{"64MB", 64 << 20, true},
		{"512KiB", 512 << 10, true},
		{"1G", 1 << 30, true},
		{"0", 0, false},
		{"-1", 0, false},
		{"64XB", 0, false},
		{"MiB", 0, false},
	} {
		var s sizeFlag
		err := s.Set(tc.in)
		if (err == nil) != tc.ok || tc.ok && int64(s) != tc.want {
			t.Errorf("Set(%q) = %d, %v; want %d, ok %v", tc.in, s, err, tc.want, tc.ok)
		}
	}
	if s := sizeFlag(64 << 20); s.String() != "64 MiB" {
		t.Errorf("String() = %q", s.String())
	}
}
