package analyzer

import (
	"archive/tar"
	"bytes"
	"testing"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
)

// The analyzers read files out of images anyone may push: whatever the
// bytes, they return packages or an error, never panic or hang. Seeds are
// in testdata/fuzz/<Fuzz...>/ beside the ones added here.

// readAs reads body as the file name of an image, as Files hands it over.
func readAs(t *testing.T, name string, body []byte) *Result {
	h := &tar.Header{Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}
	if !Wants(name, h) {
		t.Fatalf("Wants(%s) = false", name)
	}
	r, err := Read(name, h, bytes.NewReader(body))
	if err != nil {
		return nil
	}
	return r
}

func checkPackages(t *testing.T, r *Result) {
	if r == nil {
		return
	}
	for _, p := range r.packages {
		if p.Name == "" || p.Type == "" {
			t.Errorf("package without name or type: %+v", p)
		}
	}
}

func FuzzDpkgStatus(f *testing.F) {
	f.Add([]byte(fixture.DpkgStatus(fixture.Bookworm...)), false)
	f.Add([]byte("Package: libssl3\nVersion: 3.0.11-1~deb12u2\nSource: openssl (3.0.11-1~deb12u2)\n"), true)
	f.Add([]byte("Package: a\nStatus: install ok installed\n\nPackage: b\n Version: 1\n"), false)
	f.Fuzz(func(t *testing.T, body []byte, statusD bool) {
		name := "var/lib/dpkg/status"
		if statusD {
			name = "var/lib/dpkg/status.d/pkg"
		}
		checkPackages(t, readAs(t, name, body))
	})
}

func FuzzAPKInstalled(f *testing.F) {
	f.Add([]byte(fixture.APKInstalled(fixture.Alpine319...)))
	f.Add([]byte("P:musl\nV:1.2.4-r2\no:musl\n\nP:\nV:\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		checkPackages(t, readAs(t, "lib/apk/db/installed", body))
	})
}

func FuzzOSRelease(f *testing.F) {
	for _, s := range []string{fixture.DebianOSRelease, fixture.AlpineOSRelease, fixture.CentOSOSRelease,
		"NAME=\"Rocky Linux\"\nVERSION_ID=\"8.9\"\nID=\"rocky\"\n", "ID='\nVERSION_ID=\"\\\n"} {
		f.Add([]byte(s))
	}
	f.Add([]byte(fixture.AlpineRepositories))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, name := range []string{"etc/os-release", "usr/lib/os-release", "etc/apk/repositories", "etc/alpine-release", "etc/debian_version"} {
			r := readAs(t, name, body)
			if r != nil && r.os != nil && (!osReleaseToken(r.os.Family) || !osReleaseToken(r.os.Version)) {
				t.Errorf("%s: %+v", name, r.os)
			}
		}
	})
}

func FuzzRPMDB(f *testing.F) {
	// Seeds in testdata: the head of a real Berkeley DB rpm database.
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		checkPackages(t, readAs(t, "var/lib/rpm/Packages", body))
	})
}

func FuzzGoBinary(f *testing.F) {
	// Seeds in testdata: an ELF header with a writable segment holding
	// build info.
	f.Add([]byte("\x7fELF"))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := readGoBinary("usr/local/bin/app", bytes.NewReader(body))
		if err == nil {
			checkPackages(t, r)
		}
	})
}
