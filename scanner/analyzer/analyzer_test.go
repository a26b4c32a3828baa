package analyzer

import (
	"archive/tar"
	"bytes"
	"debug/buildinfo"
	"os"
	"strings"
	"testing"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
)

func hdr(mode int64, size int) *tar.Header {
	return &tar.Header{Typeflag: tar.TypeReg, Mode: mode, Size: int64(size)}
}

func read(t *testing.T, name string, mode int64, body []byte) *Result {
	t.Helper()
	h := hdr(mode, len(body))
	if !Wants(name, h) {
		t.Fatalf("Wants(%s) = false", name)
	}
	r, err := Read(name, h, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("Read(%s): %v", name, err)
	}
	return r
}

func TestOS(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  *OS
	}{
		{"debian point release", map[string]string{"usr/lib/os-release": fixture.DebianOSRelease, "etc/debian_version": "12.5\n"}, &OS{Family: "debian", Version: "12.5"}},
		{"debian testing", map[string]string{"etc/os-release": fixture.DebianOSRelease, "etc/debian_version": "trixie/sid\n"}, &OS{Family: "debian", Version: "12"}},
		{"distroless", map[string]string{"etc/os-release": fixture.DistrolessOSRelease}, &OS{Family: "debian", Version: "12"}},
		{"alpine", map[string]string{"etc/os-release": fixture.AlpineOSRelease, "etc/alpine-release": "3.19.1\n", "etc/apk/repositories": fixture.AlpineRepositories},
			&OS{Family: "alpine", Version: "3.19.1", Repository: "3.19"}},
		{"alpine edge repository", map[string]string{"etc/alpine-release": "3.20_alpha20240315\n", "etc/apk/repositories": "https://dl-cdn.alpinelinux.org/alpine/edge/main\n"},
			&OS{Family: "alpine", Version: "3.20_alpha20240315", Repository: "edge"}},
		{"ubuntu", map[string]string{"etc/os-release": "NAME=\"Ubuntu\"\nVERSION_ID=\"22.04\"\nID=ubuntu\nID_LIKE=debian\n", "etc/debian_version": "bookworm/sid\n"}, &OS{Family: "ubuntu", Version: "22.04"}},
		{"centos", map[string]string{"etc/os-release": fixture.CentOSOSRelease}, &OS{Family: "centos", Version: "7"}},
		{"rocky", map[string]string{"etc/os-release": "NAME=\"Rocky Linux\"\nVERSION_ID=\"8.9\"\nID=\"rocky\"\n"}, &OS{Family: "rocky", Version: "8.9"}},
		{"amazon", map[string]string{"etc/os-release": "NAME=\"Amazon Linux\"\nVERSION_ID=\"2023\"\nID=\"amzn\"\n"}, &OS{Family: "amazon", Version: "2023"}},
		{"none", map[string]string{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]*Result{}
			for n, body := range tc.files {
				files[n] = read(t, n, 0o644, []byte(body))
			}
			got := Merge(files).OS
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("OS = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDpkg(t *testing.T) {
	r := read(t, "var/lib/dpkg/status", 0o644, []byte(fixture.DpkgStatus(fixture.Bookworm...)))
	got := map[string]Package{}
	for _, p := range r.packages {
		got[p.Name] = p
	}
	if len(got) != len(fixture.Bookworm)-1 {
		t.Fatalf("%d packages, want %d (config-files only is not installed): %v", len(got), len(fixture.Bookworm)-1, got)
	}
	if _, ok := got["libssl1.1"]; ok {
		t.Error("libssl1.1 (deinstall ok config-files) listed")
	}
	want := map[string]Package{
		"libssl3": {Type: TypeDeb, Name: "libssl3", Version: "3.0.11-1~deb12u2", SrcName: "openssl", SrcVersion: "3.0.11-1~deb12u2", Arch: "amd64"},
		"openssl": {Type: TypeDeb, Name: "openssl", Version: "3.0.11-1~deb12u2", SrcName: "openssl", SrcVersion: "3.0.11-1~deb12u2", Arch: "amd64"},
		"zlib1g":  {Type: TypeDeb, Name: "zlib1g", Version: "1:1.2.13.dfsg-1", SrcName: "zlib", SrcVersion: "1:1.2.13.dfsg-1", Arch: "amd64"},
	}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s = %+v, want %+v", n, got[n], w)
		}
	}
	// A source with its own version; distroless status.d has no Status.
	e := fixture.DpkgEntry{Package: "libssl3", Source: "openssl (3.0.11-1~deb12u2)", Version: "3.0.11-1~deb12u2+b1"}
	r = read(t, "var/lib/dpkg/status.d/libssl3", 0o644, []byte(e.Stanza(false)))
	if len(r.packages) != 1 || r.packages[0].SrcName != "openssl" || r.packages[0].SrcVersion != "3.0.11-1~deb12u2" || r.packages[0].Version != "3.0.11-1~deb12u2+b1" {
		t.Errorf("status.d: %+v", r.packages)
	}
	if Wants("var/lib/dpkg/status.d/libssl3.md5sums", hdr(0o644, 10)) {
		t.Error("md5sums wanted")
	}
}

func TestAPK(t *testing.T) {
	r := read(t, "lib/apk/db/installed", 0o644, []byte(fixture.APKInstalled(fixture.Alpine319...)))
	if len(r.packages) != len(fixture.Alpine319) {
		t.Fatalf("%d packages: %+v", len(r.packages), r.packages)
	}
	p := r.packages[2]
	if p != (Package{Type: TypeAPK, Name: "libcrypto3", Version: "3.1.4-r4", SrcName: "openssl", SrcVersion: "3.1.4-r4", Arch: "x86_64"}) {
		t.Errorf("libcrypto3 = %+v", p)
	}
}

func TestRPM(t *testing.T) {
	path, err := fixture.RPMDB()
	if err != nil {
		t.Skipf("no rpm database to read: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := read(t, "var/lib/rpm/Packages", 0o644, b)
	if r.warning != "" {
		t.Fatal(r.warning)
	}
	var openssl *Package
	for i, p := range r.packages {
		if p.Name == "openssl-libs" {
			openssl = &r.packages[i]
		}
		if p.Name == "gpg-pubkey" {
			t.Error("gpg-pubkey listed")
		}
	}
	if len(r.packages) < 100 || openssl == nil {
		t.Fatalf("%d packages, openssl-libs %v", len(r.packages), openssl)
	}
	// CentOS 7's openssl carries epoch 1 and comes from the openssl source rpm.
	if !strings.HasPrefix(openssl.Version, "1:1.0.2k-") || openssl.SrcName != "openssl" || openssl.Arch != "x86_64" {
		t.Errorf("openssl-libs = %+v", *openssl)
	}
	r = read(t, "var/lib/rpm/rpmdb.sqlite", 0o644, []byte("SQLite format 3\x00"))
	if r.warning == "" || len(r.packages) != 0 {
		t.Errorf("sqlite rpmdb: %+v", r)
	}
}

// The streaming reader finds what debug/buildinfo finds, for a program
// built with a module requirement and for this test binary.
func TestGoBinary(t *testing.T) {
	app, err := fixture.GoBinary()
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, bin := range []string{app, self} {
		b, err := os.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		r := read(t, "usr/local/bin/app", 0o755, b)
		if r == nil || r.warning != "" {
			t.Fatalf("%s: %+v", bin, r)
		}
		bi, err := buildinfo.ReadFile(bin)
		if err != nil {
			t.Fatal(err)
		}
		want := goPackages("usr/local/bin/app", bi)
		if len(r.packages) != len(want) || len(want) == 0 || (bin == app && len(want) < 2) {
			t.Fatalf("%s: %d modules, debug/buildinfo %d", bin, len(r.packages), len(want))
		}
		for i := range want {
			if r.packages[i] != want[i] {
				t.Errorf("%s: module %d = %+v, debug/buildinfo %+v", bin, i, r.packages[i], want[i])
			}
		}
	}
	b, _ := os.ReadFile(app)
	r := read(t, "app", 0o755, b)
	found := false
	for _, p := range r.packages {
		if p.Name == "golang.org/x/text" && p.Version == "v0.3.7" {
			found = true
		}
		if p.Name == "stdlib" && !strings.HasPrefix(p.Version, "v1.") {
			t.Errorf("stdlib version %q", p.Version)
		}
	}
	if !found {
		t.Errorf("golang.org/x/text v0.3.7 not found: %+v", r.packages)
	}
	// Executables that are not Go: nothing, no error.
	for _, bin := range []string{"/bin/sh", "/usr/bin/dpkg"} {
		if b, err := os.ReadFile(bin); err == nil {
			if r := read(t, "bin/x", 0o755, b); r != nil {
				t.Errorf("%s read as Go: %+v", bin, r)
			}
		}
	}
	if r := read(t, "bin/script", 0o755, []byte("#!/bin/sh\n"+strings.Repeat("echo hi\n", 200))); r != nil {
		t.Errorf("script read as Go: %+v", r)
	}
}
