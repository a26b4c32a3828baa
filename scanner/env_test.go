package scanner

import (
	"fmt"
	"os"
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
		if err := shared.db.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "closing the test database:", err)
		}
		shared.reg.Close()
		if err := os.RemoveAll(shared.dbDir); err != nil {
			fmt.Fprintln(os.Stderr, "removing the test database:", err)
		}
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
	imgDebian     = fixture.ImgDebian
	imgClean      = fixture.ImgClean
	imgDistroless = fixture.ImgDistroless
	imgAlpine     = fixture.ImgAlpine
	imgCentOS     = fixture.ImgCentOS
	imgScratch    = fixture.ImgScratch
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

func (e *env) buildImages() map[string]v1.Image { return fixture.Images(e.goBin) }
