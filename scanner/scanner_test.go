package scanner

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type finding struct{ ID, Pkg, Target, Status, Sev string }

func findings(r *ImageReport) []finding {
	var out []finding
	for _, v := range r.Vulnerabilities {
		out = append(out, finding{v.ID, v.Package, v.Target, v.Status, v.Severity})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].ID+out[i].Pkg+out[i].Target < out[j].ID+out[j].Pkg+out[j].Target
	})
	return out
}

// Each analyzer and ecosystem, end to end: images pulled from the loopback
// registry, matched against the trivy-db file.
func TestScan(t *testing.T) {
	e := testEnv(t)
	s := New(e.db)
	app := "usr/local/bin/app"
	text := finding{"CVE-2022-32149", "golang.org/x/text", app, "fixed", "HIGH"}
	for _, tc := range []struct {
		image    string
		os       *OS
		packages int
		want     []finding
		warning  string
	}{
		{imgDebian, &OS{"debian", "12.5"}, 7 + 2, []finding{
			{"CVE-2011-3374", "apt", "", "affected", "LOW"},
			text,
			{"CVE-2023-45853", "zlib1g", "", "will_not_fix", "CRITICAL"},
			{"CVE-2023-5678", "libssl3", "", "fixed", "MEDIUM"},
			{"CVE-2023-5678", "openssl", "", "fixed", "MEDIUM"},
			{"CVE-2024-0727", "libssl3", "", "fixed", "MEDIUM"},
			{"CVE-2024-0727", "openssl", "", "fixed", "MEDIUM"},
		}, ""},
		{imgClean, &OS{"debian", "12.5"}, 7, []finding{
			{"CVE-2011-3374", "apt", "", "affected", "LOW"},
			{"CVE-2023-45853", "zlib1g", "", "will_not_fix", "CRITICAL"},
		}, ""},
		{imgDistroless, &OS{"debian", "12.5"}, 2 + 2, []finding{
			text,
			{"CVE-2023-5678", "libssl3", "", "fixed", "MEDIUM"},
			{"CVE-2024-0727", "libssl3", "", "fixed", "MEDIUM"},
		}, ""},
		{imgAlpine, &OS{"alpine", "3.19.1"}, 5, []finding{
			{"CVE-2023-42363", "busybox", "", "fixed", "MEDIUM"},
			{"CVE-2024-0727", "libcrypto3", "", "fixed", "MEDIUM"},
			{"CVE-2024-0727", "libssl3", "", "fixed", "MEDIUM"},
		}, ""},
		{imgScratch, nil, 2, []finding{text}, ""},
		{imgCentOS, &OS{"centos", "7"}, -1, nil, "no advisories are matched for centos 7"},
	} {
		t.Run(tc.image, func(t *testing.T) {
			ref, ok := e.refs[tc.image]
			if !ok {
				t.Skip("no rpm database to build the image from")
			}
			r, err := s.Scan(context.Background(), ref)
			if err != nil {
				t.Fatal(err)
			}
			if r.Digest != e.digest[tc.image] || r.Image != ref {
				t.Errorf("image %s digest %s, want %s", r.Image, r.Digest, e.digest[tc.image])
			}
			if (r.OS == nil) != (tc.os == nil) || (r.OS != nil && *r.OS != *tc.os) {
				t.Errorf("os %+v, want %+v", r.OS, tc.os)
			}
			if tc.packages >= 0 && r.Packages != tc.packages {
				t.Errorf("%d packages, want %d", r.Packages, tc.packages)
			}
			if tc.packages < 0 && r.Packages < 100 {
				t.Errorf("%d rpm packages", r.Packages)
			}
			got := findings(r)
			if len(got) != len(tc.want) {
				t.Fatalf("findings:\n%v\nwant\n%v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("finding %d: %+v, want %+v", i, got[i], tc.want[i])
				}
			}
			if tc.warning != "" && !strings.Contains(strings.Join(r.Warnings, "\n"), tc.warning) {
				t.Errorf("warnings %v", r.Warnings)
			}
		})
	}
}

// A multi-platform image: the platform the cluster runs.
func TestScanPlatform(t *testing.T) {
	e := testEnv(t)
	for platform, family := range map[string]string{"": "debian", "linux/amd64": "debian", "linux/arm64": "alpine"} {
		var opts []Option
		if platform != "" {
			p, err := ParsePlatform(platform)
			if err != nil {
				t.Fatal(err)
			}
			opts = append(opts, Platform(p))
		}
		r, err := New(e.db, opts...).Scan(context.Background(), e.refs[imgMulti])
		if err != nil {
			t.Fatal(err)
		}
		if r.OS == nil || r.OS.Family != family || r.Digest != e.digest[imgMulti] {
			t.Errorf("%s: os %+v digest %s", platform, r.OS, r.Digest)
		}
		if want := strings.TrimPrefix(platform, ""); want != "" && r.Platform != want {
			t.Errorf("platform %s, want %s", r.Platform, want)
		}
	}
}

// The -o json contract and the exit codes (report/ writes the formats).
func TestReportContract(t *testing.T) {
	e := testEnv(t)
	s := New(e.db)
	var p Policy
	if err := yaml.Unmarshal([]byte("failOn: HIGH\nfixableOnly: true\n"), &p); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	missing := e.reg.Host + "/app/missing:1"
	rep := ScanAll(ctx, s, &p, []string{e.refs[imgDebian], e.refs[imgClean], missing})
	if rep.ExitCode() != 2 {
		t.Errorf("exit code %d with an unreadable image", rep.ExitCode())
	}
	// gatekeep scan -o json writes the report as it encodes (see
	// report.NewScan): its fields are the contract.
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(rep); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		DB struct {
			Path      string `json:"path"`
			UpdatedAt string `json:"updatedAt"`
		} `json:"db"`
		Images []map[string]json.RawMessage `json:"images"`
	}
	dec := json.NewDecoder(bytes.NewReader(buf.Bytes()))
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc.DB.Path == "" || doc.DB.UpdatedAt != "2024-06-01T06:00:00Z" || len(doc.Images) != 3 {
		t.Fatalf("db %+v, %d images", doc.DB, len(doc.Images))
	}
	img := doc.Images[0]
	for _, k := range []string{"image", "digest", "os", "packages", "vulnerabilities", "verdict", "reasons"} {
		if _, ok := img[k]; !ok {
			t.Errorf("image entry lacks %q", k)
		}
	}
	var verdict string
	var reasons []string
	var os OS
	var vulns []map[string]any
	for k, v := range map[string]any{"verdict": &verdict, "reasons": &reasons, "os": &os, "vulnerabilities": &vulns} {
		if err := json.Unmarshal(img[k], v); err != nil {
			t.Errorf("image entry %q: %v", k, err)
		}
	}
	if verdict != "fail" || len(reasons) != 1 || reasons[0] != "1 HIGH or worse with a fix available" || os != (OS{"debian", "12.5"}) {
		t.Errorf("verdict %q reasons %q os %+v", verdict, reasons, os)
	}
	var openssl map[string]any
	for _, v := range vulns {
		for _, k := range []string{"id", "package", "sourcePackage", "installedVersion", "fixedVersion", "severity", "status", "allowed"} {
			if _, ok := v[k]; !ok {
				t.Errorf("vulnerability lacks %q: %v", k, v)
			}
		}
		if v["id"] == "CVE-2024-0727" && v["package"] == "openssl" {
			openssl = v
		}
	}
	want := map[string]any{"id": "CVE-2024-0727", "package": "openssl", "sourcePackage": "openssl", "installedVersion": "3.0.11-1~deb12u2",
		"fixedVersion": "3.0.13-1~deb12u1", "severity": "MEDIUM", "status": "fixed", "allowed": false}
	for k, v := range want {
		if openssl[k] != v {
			t.Errorf("openssl %s = %v, want %v", k, openssl[k], v)
		}
	}
	var v2, v3, errText string
	for _, u := range []struct {
		raw json.RawMessage
		v   *string
	}{{doc.Images[1]["verdict"], &v2}, {doc.Images[2]["verdict"], &v3}, {doc.Images[2]["error"], &errText}} {
		if err := json.Unmarshal(u.raw, u.v); err != nil {
			t.Errorf("%s: %v", u.raw, err)
		}
	}
	if v2 != "pass" || v3 != "error" || errText == "" {
		t.Errorf("clean %q, missing %q (%s)", v2, v3, errText)
	}
	if code := ScanAll(ctx, s, &p, []string{e.refs[imgDebian], e.refs[imgClean]}).ExitCode(); code != 1 {
		t.Errorf("exit code %d with a failing image", code)
	}
	if code := ScanAll(ctx, s, &p, []string{e.refs[imgClean]}).ExitCode(); code != 0 {
		t.Errorf("exit code %d with a passing image", code)
	}

}
