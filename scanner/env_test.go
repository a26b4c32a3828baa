package scanner

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

// env is what the tests of this package share: a vulnerability database
// built by trivy-db's code with real advisories, and a registry on
// loopback holding images built here.
type env struct {
	dbDir  string
	db     *vulndb.DB
	reg    *fixture.Registry
	refs   map[string]string // name: full reference
	digest map[string]string // name: digest pushed
	goBin  []byte
}

var (
	envOnce sync.Once
	shared  *env
	envErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.db.Close()
		shared.reg.Close()
		os.RemoveAll(shared.dbDir)
	}
	os.Exit(code)
}

func testEnv(t testing.TB) *env {
	t.Helper()
	envOnce.Do(func() { shared, envErr = newEnv() })
	if envErr != nil {
		t.Fatal(envErr)
	}
	return shared
}

// The images, by name.
const (
	imgDebian     = "debian"
	imgClean      = "clean"
	imgDistroless = "distroless"
	imgAlpine     = "alpine"
	imgCentOS     = "centos"
	imgScratch    = "scratch"
	imgMulti      = "multi"
)

func newEnv() (*env, error) {
	e := &env{refs: map[string]string{}, digest: map[string]string{}}
	var err error
	if e.dbDir, err = os.MkdirTemp("", "gatekeep-scanner-db-"); err != nil {
		return nil, err
	}
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(e.dbDir, time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC), advs, details); err != nil {
		return nil, err
	}
	if e.db, err = vulndb.Open(e.dbDir); err != nil {
		return nil, err
	}
	bin, err := fixture.GoBinary()
	if err != nil {
		return nil, err
	}
	if e.goBin, err = os.ReadFile(bin); err != nil {
		return nil, err
	}
	e.reg = fixture.NewRegistry("", "")
	for name, img := range e.images() {
		e.refs[name], e.digest[name] = e.reg.Push("app/"+name+":1.2", img)
	}
	e.refs[imgMulti], e.digest[imgMulti] = e.reg.PushIndex("app/multi:1", fixture.Index(map[string]v1.Image{
		"linux/amd64": e.images()[imgDebian], "linux/arm64": e.images()[imgAlpine],
	}))
	return e, nil
}

var (
	imagesOnce sync.Once
	images     map[string]v1.Image
)

func (e *env) images() map[string]v1.Image {
	imagesOnce.Do(func() { images = e.buildImages() })
	return images
}

func (e *env) buildImages() map[string]v1.Image {
	debianBase := fixture.Layer(
		fixture.Reg("usr/lib/os-release", fixture.DebianOSRelease),
		fixture.Symlink("etc/os-release", "../usr/lib/os-release"),
		fixture.Reg("etc/debian_version", "12.5\n"),
		fixture.Reg("var/lib/dpkg/status", fixture.DpkgStatus(fixture.Bookworm...)),
		fixture.Exe("usr/bin/old-tool", e.goBin), // deleted by a later layer
	)
	// apt-get upgrade of glibc, and old-tool removed.
	upgraded := append([]fixture.DpkgEntry(nil), fixture.Bookworm...)
	for i := range upgraded {
		if upgraded[i].Source == "glibc" {
			upgraded[i].Version = "2.36-9+deb12u3"
		}
	}
	debianUpgrade := fixture.Layer(
		fixture.Reg("var/lib/dpkg/status", fixture.DpkgStatus(upgraded...)),
		fixture.Whiteout("usr/bin/old-tool"),
	)
	app := fixture.Layer(fixture.Exe("usr/local/bin/app", e.goBin))

	clean := append([]fixture.DpkgEntry(nil), upgraded...)
	for i := range clean {
		if clean[i].Package == "libssl3" || clean[i].Package == "openssl" {
			clean[i].Version = "3.0.13-1~deb12u1"
		}
	}

	distroless := fixture.Layer(
		fixture.Reg("etc/os-release", fixture.DistrolessOSRelease),
		fixture.Reg("etc/debian_version", "12.5\n"),
		fixture.Reg("var/lib/dpkg/status.d/libssl3", fixture.DpkgEntry{Package: "libssl3", Source: "openssl", Version: "3.0.11-1~deb12u2"}.Stanza(false)),
		fixture.Reg("var/lib/dpkg/status.d/libssl3.md5sums", "d41d8cd98f00b204e9800998ecf8427e  usr/lib/x86_64-linux-gnu/libssl.so.3\n"),
		fixture.Reg("var/lib/dpkg/status.d/base-files", fixture.DpkgEntry{Package: "base-files", Version: "12.4+deb12u5"}.Stanza(false)),
	)
	alpine := fixture.Layer(
		fixture.Reg("etc/os-release", fixture.AlpineOSRelease),
		fixture.Reg("etc/alpine-release", "3.19.1\n"),
		fixture.Reg("etc/apk/repositories", fixture.AlpineRepositories),
		fixture.Reg("lib/apk/db/installed", fixture.APKInstalled(fixture.Alpine319...)),
	)
	out := map[string]v1.Image{
		imgDebian:     fixture.Image("linux/amd64", debianBase, debianUpgrade, app),
		imgClean:      fixture.Image("linux/amd64", debianBase, fixture.Layer(fixture.Reg("var/lib/dpkg/status", fixture.DpkgStatus(clean...)), fixture.Whiteout("usr/bin/old-tool"))),
		imgDistroless: fixture.Image("linux/amd64", distroless, app),
		imgAlpine:     fixture.Image("linux/arm64", alpine),
		imgScratch:    fixture.Image("linux/amd64", app),
	}
	if p, err := fixture.RPMDB(); err == nil {
		if b, err := os.ReadFile(filepath.Clean(p)); err == nil {
			out[imgCentOS] = fixture.Image("linux/amd64", fixture.Layer(
				fixture.Reg("etc/os-release", fixture.CentOSOSRelease),
				fixture.File{Name: "var/lib/rpm/Packages", Body: b},
			))
		}
	}
	return out
}
