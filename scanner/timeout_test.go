package scanner

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gatekeep-dev/gatekeep/internal/testserver"
)

// hangingRegistry accepts requests on loopback and never answers them.
func hangingRegistry(t *testing.T) string { return testserver.Hanging(t) }

// A registry that never answers ends the scan with an error naming the
// image and the timeout.
func TestScanRegistryTimeout(t *testing.T) {
	e := testEnv(t)
	image := hangingRegistry(t) + "/app/hang:1"
	rep := ScanAll(context.Background(), New(e.db, RegistryTimeout(100*time.Millisecond)), nil, []string{image})
	img := rep.Images[0]
	if img.Verdict != VerdictError || !strings.HasPrefix(img.Error, image+": ") || !strings.Contains(img.Error, "did not answer within 100ms") {
		t.Fatalf("%+v", img)
	}
	if rep.ExitCode() != 2 {
		t.Errorf("exit code %d", rep.ExitCode())
	}
}

// ScanTimeout bounds a scan behind the gate even when the registry's
// requests are not bounded: onError decides.
func TestGateScanTimeout(t *testing.T) {
	e := testEnv(t)
	image := hangingRegistry(t) + "/app/hang:1"
	g := gate(t, NewCache(New(e.db), ScanTimeout(100*time.Millisecond)), Policy{OnError: "deny"}, WaitForScans())
	d := g.Check(context.Background(), image, "", nil)
	if d.Action != Deny || d.Err == nil || !strings.Contains(d.Message, image) {
		t.Fatalf("%+v", d)
	}
}
