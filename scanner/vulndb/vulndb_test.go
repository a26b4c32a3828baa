package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aquasecurity/trivy-db/pkg/db"
	"github.com/aquasecurity/trivy-db/pkg/types"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	gcrtypes "github.com/google/go-containerregistry/pkg/v1/types"
	bolt "go.etcd.io/bbolt"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
	"github.com/gatekeep-dev/gatekeep/scanner/analyzer"
)

// Debian's order, checked against dpkg itself: tildes sort before
// anything, epochs before all else, revisions compared numerically.
func TestDebianOrderAgainstDpkg(t *testing.T) {
	pairs := [][2]string{
		{"3.0.11-1~deb12u2", "3.0.13-1~deb12u1"},
		{"3.0.13-1~deb12u1", "3.0.13-1"},
		{"1.0~rc1", "1.0"},
		{"1.0~~", "1.0~"},
		{"1.0~", "1.0"},
		{"1.0", "1.0+b1"},
		{"1.0", "1.0-0"},
		{"1.0a", "1.0b"},
		{"1.0", "1.0a"},
		{"2.36-9+deb12u1", "2.36-9+deb12u3"},
		{"2.36-9+deb12u9", "2.36-9+deb12u10"},
		{"1:1.2.13.dfsg-1", "1.2.13.dfsg-2"},
		{"1:2.0", "2:1.0"},
		{"0:1.0", "1.0"},
		{"1.2.13.dfsg-1", "1:1.2.12.dfsg-1"},
		{"3.0.2-0ubuntu1.10", "3.0.2-0ubuntu1.14"},
		{"2.6.1", "2.6.1"},
		{"7.88.1-10+deb12u5", "7.88.1-10+deb12u12"},
		{"1.10", "1.9"},
	}
	dpkg, err := exec.LookPath("dpkg")
	if err != nil {
		t.Skip("dpkg is not installed")
	}
	for _, p := range pairs {
		for _, ab := range [][2]string{p, {p[1], p[0]}} {
			want := exec.Command(dpkg, "--compare-versions", ab[0], "lt", ab[1]).Run() == nil //nolint:gosec // G204: dpkg from PATH, versions from the table above
			got, err := Less("deb", ab[0], ab[1])
			if err != nil {
				t.Fatalf("%s < %s: %v", ab[0], ab[1], err)
			}
			if got != want {
				t.Errorf("%s < %s: %v, dpkg says %v", ab[0], ab[1], got, want)
			}
		}
	}
}

func TestAPKAndRPMOrder(t *testing.T) {
	for _, tc := range []struct {
		eco, a, b string
		less      bool
	}{
		{"apk", "1.36.1-r15", "1.36.1-r16", true},
		{"apk", "1.36.1-r9", "1.36.1-r10", true},
		{"apk", "3.1.4-r5", "3.1.4-r4", false},
		{"apk", "3.1.4-r4", "3.1.4-r4", false},
		{"apk", "1.2.3_rc1-r0", "1.2.3-r0", true},
		{"apk", "1.2.3-r0", "1.2.3_p1-r0", true},
		{"apk", "1.2.3_alpha-r0", "1.2.3_beta-r0", true},
		{"apk", "1.2.9-r0", "1.2.10-r0", true},
		{"apk", "1.2.4-r5", "1.2.4_git20230717-r4", true}, // _git sorts after the release
		// rpm: epoch first, then version, then release, segment by segment.
		{"rpm", "1:1.1.1k-4.el8", "1:1.1.1k-5.el8_5", true},
		{"rpm", "1.1.1k-5.el8", "1:1.0.0-1.el8", true}, // no epoch is epoch 0
		{"rpm", "1:1.1.1k-5.el8_5", "1:1.1.1k-5.el8_5", false},
		{"rpm", "1:1.1.1k-5.el8", "1:1.1.1k-5.el8_5", true},
		{"rpm", "1.0~rc1-1", "1.0-1", true}, // rpm's tilde sorts first too
		{"rpm", "1.0.10-1", "1.0.9-1", false},
		{"rpm", "2.17-326.el7_9", "2.17-326.el7_9.3", true},
	} {
		got, err := Less(tc.eco, tc.a, tc.b)
		if err != nil || got != tc.less {
			t.Errorf("%s: %s < %s = %v, %v; want %v", tc.eco, tc.a, tc.b, got, err, tc.less)
		}
	}
}

func TestGoRanges(t *testing.T) {
	text := types.Advisory{VulnerableVersions: []string{"< 0.3.8"}, PatchedVersions: []string{"0.3.8"}}
	stdlib := types.Advisory{VulnerableVersions: []string{">=0, <1.21.9", ">=1.22.0-0, <1.22.2"}, PatchedVersions: []string{"1.21.9", "1.22.2"}}
	onlyVuln := types.Advisory{VulnerableVersions: []string{">= 1.0.0, < 1.4.2", ">= 2.0.0, <= 2.1.0"}}
	for _, tc := range []struct {
		adv  types.Advisory
		ver  string
		want bool
	}{
		{text, "v0.3.7", true}, {text, "v0.3.8", false}, {text, "v0.14.0", false},
		{text, "v0.0.0-20210226172049-e18ecbb05110", true}, // a pseudo-version before 0.3.8
		{stdlib, "v1.21.8", true}, {stdlib, "v1.21.9", false}, {stdlib, "v1.22.1", true}, {stdlib, "v1.22.2", false}, {stdlib, "v1.26.8", false},
		{onlyVuln, "v1.4.1", true}, {onlyVuln, "v1.4.2", false}, {onlyVuln, "v2.1.0", true}, {onlyVuln, "v2.1.1", false},
	} {
		if got := vulnerableGo(tc.ver, tc.adv); got != tc.want {
			t.Errorf("%s in %v: %v, want %v", tc.ver, tc.adv.VulnerableVersions, got, tc.want)
		}
	}
	if got := fixedGo(onlyVuln); got != "1.4.2" {
		t.Errorf("fixed from ranges = %q", got)
	}
	if got := fixedGo(stdlib); got != "1.21.9, 1.22.2" {
		t.Errorf("fixed = %q", got)
	}
}

func writeFixture(t testing.TB, dir string, updated time.Time) {
	t.Helper()
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(dir, updated, advs, details); err != nil {
		t.Fatal(err)
	}
}

func openFixture(t *testing.T) (*DB, string) {
	dir := t.TempDir()
	writeFixture(t, dir, time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC))
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d, dir
}

type short struct{ ID, Pkg, Fixed, Sev, SevSrc, Status string }

func shorten(fs []Finding) []short {
	var out []short
	for _, f := range fs {
		out = append(out, short{f.ID, f.Package, f.Fixed, f.Severity, f.SeveritySource, f.Status})
	}
	return out
}

func TestDetect(t *testing.T) {
	d, _ := openFixture(t)
	if d.Metadata().UpdatedAt.IsZero() || d.Metadata().Version != 2 {
		t.Errorf("metadata %+v", d.Metadata())
	}
	deb := func(name, src, ver string) analyzer.Package {
		return analyzer.Package{Type: analyzer.TypeDeb, Name: name, Version: ver, SrcName: src, SrcVersion: ver}
	}
	for _, tc := range []struct {
		name string
		os   *analyzer.OS
		pkgs []analyzer.Package
		want []short
		warn string
	}{
		{"debian: fixed, unfixed and will_not_fix; package-specific, vendor and NVD severity",
			&analyzer.OS{Family: "debian", Version: "12.5"},
			[]analyzer.Package{deb("libssl3", "openssl", "3.0.11-1~deb12u2"), deb("libc6", "glibc", "2.36-9+deb12u1"),
				deb("apt", "apt", "2.6.1"), deb("zlib1g", "zlib", "1:1.2.13.dfsg-1"), deb("base-files", "base-files", "12.4+deb12u5")},
			[]short{
				{"CVE-2011-3374", "apt", "", "LOW", "debian", "affected"},
				{"CVE-2023-4911", "libc6", "2.36-9+deb12u3", "HIGH", "debian", "fixed"},
				{"CVE-2023-5678", "libssl3", "3.0.13-1~deb12u1", "MEDIUM", "nvd", "fixed"},
				{"CVE-2024-0727", "libssl3", "3.0.13-1~deb12u1", "MEDIUM", "nvd", "fixed"},
				{"CVE-2023-45853", "zlib1g", "", "CRITICAL", "nvd", "will_not_fix"},
			}, ""},
		{"debian: fixed versions installed", &analyzer.OS{Family: "debian", Version: "12"},
			[]analyzer.Package{deb("libssl3", "openssl", "3.0.13-1~deb12u1"), deb("libc6", "glibc", "2.36-9+deb12u10")}, nil, ""},
		{"debian: compared at the source version", &analyzer.OS{Family: "debian", Version: "12"},
			[]analyzer.Package{{Type: analyzer.TypeDeb, Name: "libssl3", Version: "3.0.13-1~deb12u1+b1", SrcName: "openssl", SrcVersion: "3.0.11-1~deb12u2"}},
			[]short{{"CVE-2023-5678", "libssl3", "3.0.13-1~deb12u1", "MEDIUM", "nvd", "fixed"}, {"CVE-2024-0727", "libssl3", "3.0.13-1~deb12u1", "MEDIUM", "nvd", "fixed"}}, ""},
		{"ubuntu: the vendor's severity first", &analyzer.OS{Family: "ubuntu", Version: "22.04"},
			[]analyzer.Package{deb("libssl3", "openssl", "3.0.2-0ubuntu1.10")},
			[]short{{"CVE-2024-0727", "libssl3", "3.0.2-0ubuntu1.14", "LOW", "ubuntu", "fixed"}}, ""},
		{"alpine: by origin, release from the repositories", &analyzer.OS{Family: "alpine", Version: "3.19.1", Repository: "3.19"},
			[]analyzer.Package{{Type: analyzer.TypeAPK, Name: "libcrypto3", Version: "3.1.4-r4", SrcName: "openssl", SrcVersion: "3.1.4-r4"},
				{Type: analyzer.TypeAPK, Name: "libssl3", Version: "3.1.4-r5", SrcName: "openssl", SrcVersion: "3.1.4-r5"},
				{Type: analyzer.TypeAPK, Name: "busybox", Version: "1.36.1-r15", SrcName: "busybox", SrcVersion: "1.36.1-r15"}},
			[]short{{"CVE-2023-42363", "busybox", "1.36.1-r16", "MEDIUM", "nvd", "fixed"}, {"CVE-2024-0727", "libcrypto3", "3.1.4-r5", "MEDIUM", "nvd", "fixed"}}, ""},
		{"rocky: epochs, arches, the vendor's severity over NVD's", &analyzer.OS{Family: "rocky", Version: "8.4"},
			[]analyzer.Package{{Type: analyzer.TypeRPM, Name: "openssl-libs", Version: "1:1.1.1k-4.el8", SrcName: "openssl", Arch: "x86_64"},
				{Type: analyzer.TypeRPM, Name: "openssl-libs", Version: "1:1.1.1k-4.el8", SrcName: "openssl", Arch: "s390x"},
				{Type: analyzer.TypeRPM, Name: "openssl-libs", Version: "2:1.0.0-1.el8", SrcName: "openssl", Arch: "x86_64"}},
			[]short{{"CVE-2021-3711", "openssl-libs", "1:1.1.1k-5.el8_5", "HIGH", "rocky", "fixed"}}, ""},
		{"go modules in any image", nil,
			[]analyzer.Package{{Type: analyzer.TypeGoBinary, Name: "golang.org/x/text", Version: "v0.3.7", Path: "app"},
				{Type: analyzer.TypeGoBinary, Name: "stdlib", Version: "v1.22.1", Path: "app"},
				{Type: analyzer.TypeGoBinary, Name: "stdlib", Version: "v1.26.8", Path: "other"}},
			[]short{{"CVE-2022-32149", "golang.org/x/text", "0.3.8", "HIGH", "ghsa", "fixed"}, {"CVE-2023-45288", "stdlib", "1.21.9, 1.22.2", "HIGH", "nvd", "fixed"}}, ""},
		{"an OS without advisories here", &analyzer.OS{Family: "centos", Version: "7"},
			[]analyzer.Package{{Type: analyzer.TypeRPM, Name: "openssl-libs", Version: "1:1.0.2k-19.el7"}}, nil, "no advisories are matched for centos 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := d.Detect(tc.os, tc.pkgs)
			if err != nil {
				t.Fatal(err)
			}
			got := shorten(res.Findings)
			sortShort(got)
			sortShort(tc.want)
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("got %+v\nwant %+v", got[i], tc.want[i])
				}
			}
			if tc.warn != "" && (len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], tc.warn)) {
				t.Errorf("warnings %v", res.Warnings)
			}
		})
	}
}

func sortShort(s []short) {
	sort.Slice(s, func(i, j int) bool { return s[i].ID+s[i].Pkg < s[j].ID+s[j].Pkg })
}

// What this package reads out of the file is what trivy-db's own reader
// returns for the same bucket and package.
func TestSameAdvisoriesAsTrivyDB(t *testing.T) {
	d, dir := openFixture(t)
	advs, _ := fixture.Advisories()
	err := fixture.WithTrivyDB(dir, func(dbc db.Config) error {
		for _, a := range advs {
			theirs, err := dbc.GetAdvisories(a.Bucket, a.Package)
			if err != nil {
				return err
			}
			s, err := d.acquire()
			if err != nil {
				return err
			}
			var ours []types.Advisory
			err = s.bolt.View(func(tx *bolt.Tx) error {
				m := &matcher{tx: tx, sources: map[string]types.DataSource{}}
				return m.advisories(a.Bucket, a.Package, func(id string, adv types.Advisory, ds types.DataSource) error {
					adv.DataSource = &ds
					ours = append(ours, adv)
					return nil
				})
			})
			s.release()
			if err != nil {
				return err
			}
			a1, _ := json.Marshal(sorted(theirs))
			a2, _ := json.Marshal(sorted(ours))
			if !bytes.Equal(a1, a2) {
				t.Errorf("%s/%s:\ntrivy-db %s\nours     %s", a.Bucket, a.Package, a1, a2)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sorted(a []types.Advisory) []types.Advisory {
	sort.Slice(a, func(i, j int) bool { return a[i].VulnerabilityID < a[j].VulnerabilityID })
	return a
}

// trivyArtifact is the database as trivy publishes it.
func trivyArtifact(t *testing.T, dir string) v1.Image {
	img, err := fixture.DBArtifact(dir)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// gatekeep db update against a registry on loopback holding the artifact;
// a DB open on the directory picks up the new file on Reload.
func TestUpdate(t *testing.T) {
	reg := fixture.NewRegistry("", "")
	defer reg.Close()
	src := t.TempDir()
	writeFixture(t, src, time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC))
	reg.Push("aquasecurity/trivy-db:2", trivyArtifact(t, src))

	dir := filepath.Join(t.TempDir(), "db")
	ctx := context.Background()
	meta, err := Update(ctx, reg.Host+"/aquasecurity/trivy-db", dir) // :2 implied
	if err != nil {
		t.Fatal(err)
	}
	if meta.Version != 2 || !meta.UpdatedAt.Equal(time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC)) || meta.DownloadedAt.IsZero() {
		t.Errorf("metadata %+v", meta)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	gen := d.Generation()
	libc := []analyzer.Package{{Type: analyzer.TypeDeb, Name: "libc6", Version: "2.36-9+deb12u1", SrcName: "glibc", SrcVersion: "2.36-9+deb12u1"}}
	debian := &analyzer.OS{Family: "debian", Version: "12"}
	if res, err := d.Detect(debian, libc); err != nil || len(res.Findings) != 1 {
		t.Fatalf("before: %v %v", res, err)
	}

	// A newer database without the glibc advisory.
	advs, details := fixture.Advisories()
	var kept []fixture.Advisory
	for _, a := range advs {
		if a.ID != "CVE-2023-4911" {
			kept = append(kept, a)
		}
	}
	src2 := t.TempDir()
	if err := fixture.WriteDB(src2, time.Date(2024, 6, 2, 6, 0, 0, 0, time.UTC), kept, details); err != nil {
		t.Fatal(err)
	}
	reg.Push("aquasecurity/trivy-db:2", trivyArtifact(t, src2))
	if _, err := Update(ctx, reg.Host+"/aquasecurity/trivy-db:2", dir); err != nil {
		t.Fatal(err)
	}
	if changed, err := d.Reload(); err != nil || !changed {
		t.Fatalf("Reload = %v, %v", changed, err)
	}
	if d.Generation() == gen || !d.Metadata().UpdatedAt.Equal(time.Date(2024, 6, 2, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("generation %d → %d, metadata %+v", gen, d.Generation(), d.Metadata())
	}
	if res, err := d.Detect(debian, libc); err != nil || len(res.Findings) != 0 {
		t.Errorf("after: %+v %v", res, err)
	}
	if changed, _ := d.Reload(); changed {
		t.Error("Reload without a change reported one")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("left behind: %v", entries)
	}

	// Not a trivy database: refused, the local copy untouched.
	reg.Push("not/trivy-db:2", mutate.MediaType(empty.Image, gcrtypes.OCIManifestSchema1))
	if _, err := Update(ctx, reg.Host+"/not/trivy-db", dir); err == nil || !strings.Contains(err.Error(), LayerMediaType) {
		t.Errorf("update from a plain image: %v", err)
	}
	if res, err := d.Detect(debian, libc); err != nil || len(res.Findings) != 0 {
		t.Errorf("after a failed update: %+v %v", res, err)
	}
}
