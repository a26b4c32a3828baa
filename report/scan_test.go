package report

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatekeep-dev/gatekeep/internal/sarif/sariftest"
	"github.com/gatekeep-dev/gatekeep/scanner"
)

// scanReport is what gatekeep scan reports for a failing image (OS and Go
// module findings, one allowed), a passing one, one left out and one that
// could not be read.
func scanReport() *scanner.Report {
	return &scanner.Report{
		DB: scanner.DBInfo{Path: "/var/cache/gatekeep/trivy.db", UpdatedAt: time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC)},
		Images: []*scanner.ImageReport{
			{
				Image: "registry.example/app/debian:1.2", Digest: "sha256:1111", Platform: "linux/amd64",
				OS: &scanner.OS{Family: "debian", Version: "12.5"}, Packages: 92,
				Vulnerabilities: []scanner.Vulnerability{
					{ID: "CVE-2024-0727", Package: "openssl", SourcePackage: "openssl", InstalledVersion: "3.0.11-1~deb12u2", FixedVersion: "3.0.13-1~deb12u1", Severity: "MEDIUM", Status: "fixed", Type: "deb", Title: "openssl: denial of service via null dereference"},
					{ID: "CVE-2023-45853", Package: "zlib1g", SourcePackage: "zlib", InstalledVersion: "1:1.2.13.dfsg-1", Severity: "CRITICAL", Status: "will_not_fix", Type: "deb"},
					{ID: "CVE-2022-32149", Package: "golang.org/x/text", InstalledVersion: "v0.3.7", FixedVersion: "0.3.8", Severity: "HIGH", Status: "fixed", Type: "gobinary", Target: "usr/local/bin/app"},
					{ID: "GHSA-69ch-w2m2-3vjp", Package: "golang.org/x/text", InstalledVersion: "v0.3.7", FixedVersion: "0.3.8", Severity: "HIGH", Status: "fixed", Type: "gobinary", Target: "usr/local/bin/app", Allowed: true},
					{ID: "GO-2022-1059", Package: "golang.org/x/text", InstalledVersion: "v0.3.7", FixedVersion: "0.3.8", Severity: "LOW", Status: "fixed", Type: "gobinary", Target: "usr/local/bin/app"},
					{ID: "TEMP-0000000-A", Package: "bash", SourcePackage: "bash", InstalledVersion: "5.2.15-2+b2", Severity: "UNKNOWN", Status: "affected", Type: "deb"},
				},
				Verdict: scanner.VerdictFail, Reasons: []string{"1 HIGH or worse with a fix available"},
				Warnings: []string{"allowance for CVE-2023-1 expired on 2024-05-01"},
			},
			{Image: "registry.example/app/clean:1.2", Digest: "sha256:2222", OS: &scanner.OS{Family: "alpine", Version: "3.19.1"}, Packages: 14,
				Vulnerabilities: []scanner.Vulnerability{}, Verdict: scanner.VerdictPass, Reasons: []string{}},
			{Image: "docker.io/library/busybox:latest", Vulnerabilities: []scanner.Vulnerability{}, Verdict: scanner.VerdictSkipped, Reasons: []string{"excluded by docker.io/library/*"}},
			{Image: "registry.example/app/missing:1", Vulnerabilities: []scanner.Vulnerability{}, Verdict: scanner.VerdictError, Reasons: []string{}, Error: "registry.example/app/missing:1: MANIFEST_UNKNOWN"},
		},
	}
}

func renderScan(t *testing.T, format string, r *scanner.Report) []byte {
	t.Helper()
	f, err := NewScan(format)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.WriteScan(&b, r); err != nil {
		t.Fatalf("%s: WriteScan: %v", format, err)
	}
	return b.Bytes()
}

func TestScanGolden(t *testing.T) {
	for _, tc := range []struct {
		format, golden string
		report         *scanner.Report
	}{
		{"table", "scan-table", scanReport()},
		{"json", "scan-json", scanReport()},
		{"sarif", "scan-sarif", scanReport()},
		{"table", "scan-table-empty", &scanner.Report{Images: []*scanner.ImageReport{}}},
		{"json", "scan-json-empty", &scanner.Report{Images: []*scanner.ImageReport{}}},
		{"sarif", "scan-sarif-empty", &scanner.Report{Images: []*scanner.ImageReport{}}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			got := renderScan(t, tc.format, tc.report)
			path := filepath.Join("testdata", tc.golden+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // G306: -update rewrites a golden file committed to the repository
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./report -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
			if tc.format == "sarif" {
				if err := sariftest.Validate(got); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestNewScan(t *testing.T) {
	for _, name := range append(ScanNames(), "text", "") {
		if _, err := NewScan(name); err != nil {
			t.Errorf("%q: %v", name, err)
		}
	}
	if _, err := NewScan("junit"); err == nil || err.Error() != `unknown format "junit": want table, json or sarif` {
		t.Errorf("junit: %v", err)
	}
}
