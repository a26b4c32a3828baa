package webhook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/controlplanetest"
	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
	"github.com/gatekeep-dev/gatekeep/scanner"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

// TestImageGate: the image-vulnerability check through the API server, with
// a loopback registry and a trivy-db built in the test.
func TestImageGate(t *testing.T) {
	c := startControlPlane(t)
	ctx := context.Background()
	dbDir := t.TempDir()
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(dbDir, time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC), advs, details); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(dbDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bin, err := fixture.GoBinary()
	if err != nil {
		t.Fatal(err)
	}
	goBin, _ := os.ReadFile(bin)
	images := fixture.Images(goBin)
	reg := fixture.NewRegistry("", "")
	defer reg.Close()
	vulnerable, _ := reg.Push("app/debian:1.2", images[fixture.ImgDebian])
	clean, _ := reg.Push("app/clean:1.2", images[fixture.ImgClean])
	// Another digest, so that nothing of it is cached.
	coldImage, err := mutate.AppendLayers(images[fixture.ImgClean], fixture.Layer(fixture.Reg("etc/motd", "cold\n")))
	if err != nil {
		t.Fatal(err)
	}
	cold, _ := reg.Push("app/clean-cold:1.0", coldImage)
	// A registry that goes away, for onError.
	gone := fixture.NewRegistry("", "")
	lost, _ := gone.Push("app/clean:1.2", images[fixture.ImgClean])
	gone.Close()

	dir := t.TempDir()
	policy := fmt.Sprintf(`images:
  failOn: HIGH
  fixableOnly: true
  include: [%q, %q]
  scanBudget: 10s
  onPending: deny
  onError: deny
  namespaces:
    img-pending-*: {scanBudget: 100ms}
    img-warn-*: {onError: warn}
    img-allow-*: {onError: allow}
`, reg.Host+"/*", strings.Split(lost, "/")[0]+"/*")
	if err := os.WriteFile(filepath.Join(dir, bundle.ConfigFile), []byte(policy), 0o600); err != nil { //nolint:gosec // G703: a path under the test's temp dir
		t.Fatal(err)
	}
	cache := scanner.NewCache(scanner.New(db))
	eng, err := loadEngine(dir, engine.ImageScans(cache))
	if err != nil {
		t.Fatal(err)
	}
	prev := c.server.Engines().Get()
	defer c.server.Engines().Set(prev)
	c.server.Engines().Set(eng)

	podWith := func(name, image string) *corev1.Pod {
		p := controlplanetest.Pod(name, false)
		p.Spec.Containers[0].Image = image
		return p
	}
	ns := c.namespace(t, "img-")
	_, err = c.kube.CoreV1().Pods(ns).Create(ctx, podWith("vulnerable", vulnerable), metav1.CreateOptions{})
	denied(t, err, "[image-vulnerability]")
	if !strings.Contains(err.Error(), vulnerable) || !strings.Contains(err.Error(), "sha256:") {
		t.Errorf("the denial must name the image and its digest: %v", err)
	}
	if _, err := c.kube.CoreV1().Pods(ns).Create(ctx, podWith("clean", clean), metav1.CreateOptions{}); err != nil {
		t.Errorf("a clean image was refused: %v", err)
	}

	// A cold image past its budget is refused while the scan goes on; the
	// controller's retry gets the real verdict.
	pending := c.namespace(t, "img-pending-")
	reg.SetDelay(700 * time.Millisecond)
	_, err = c.kube.CoreV1().Pods(pending).Create(ctx, podWith("cold", cold), metav1.CreateOptions{})
	denied(t, err, "scan in progress")
	reg.SetDelay(0)
	waitFor(t, "the retry to be admitted", func() bool {
		_, err := c.kube.CoreV1().Pods(pending).Create(ctx, podWith("cold", cold), metav1.CreateOptions{})
		return err == nil
	})

	// The registry down: onError decides.
	_, err = c.kube.CoreV1().Pods(ns).Create(ctx, podWith("lost", lost), metav1.CreateOptions{})
	denied(t, err, "[image-vulnerability]")
	c.takeWarnings()
	if _, err := c.kube.CoreV1().Pods(c.namespace(t, "img-warn-")).Create(ctx, podWith("lost", lost), metav1.CreateOptions{}); err != nil {
		t.Errorf("onError: warn refused the Pod: %v", err)
	}
	if w := strings.Join(c.takeWarnings(), "\n"); !strings.Contains(w, "[image-vulnerability]") {
		t.Errorf("onError: warn gave no warning: %q", w)
	}
	if _, err := c.kube.CoreV1().Pods(c.namespace(t, "img-allow-")).Create(ctx, podWith("lost", lost), metav1.CreateOptions{}); err != nil {
		t.Errorf("onError: allow refused the Pod: %v", err)
	}
}
