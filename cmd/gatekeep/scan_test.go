package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"

	"github.com/gatekeep-dev/gatekeep/internal/testserver"
)

// scanEnv is a trivy-db file with real advisories and a loopback registry
// holding the fixture images.
type scanEnv struct {
	db   string
	reg  *fixture.Registry
	refs map[string]string
}

func newScanEnv(t *testing.T) *scanEnv {
	t.Helper()
	e := &scanEnv{db: t.TempDir(), refs: map[string]string{}}
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(e.db, time.Date(2024, 6, 1, 6, 0, 0, 0, time.UTC), advs, details); err != nil {
		t.Fatal(err)
	}
	bin, err := fixture.GoBinary()
	if err != nil {
		t.Fatal(err)
	}
	goBin, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	e.reg = fixture.NewRegistry("", "")
	t.Cleanup(e.reg.Close)
	for name, img := range fixture.Images(goBin) {
		e.refs[name], _ = e.reg.Push("app/"+name+":1.2", img)
	}
	return e
}

func TestScanCommand(t *testing.T) {
	e := newScanEnv(t)
	policy := t.TempDir()
	// Only what a fix exists for counts: the clean image's will_not_fix
	// zlib advisory does not.
	writeFile(t, policy, "gatekeep.yaml", "images:\n  failOn: HIGH\n  fixableOnly: true\n")
	out, code, msg := run(t, "", "", "scan", "-o", "json", "--bundle", policy, "--db-path", e.db, e.refs[fixture.ImgDebian], e.refs[fixture.ImgClean])
	if code != exitDenied {
		t.Fatalf("exit %d %s\n%s", code, msg, out)
	}
	var r struct {
		DB     map[string]any `json:"db"`
		Images []struct {
			Image           string `json:"image"`
			Digest          string `json:"digest"`
			OS              map[string]string
			Verdict         string   `json:"verdict"`
			Reasons         []string `json:"reasons"`
			Vulnerabilities []struct {
				ID, Package, Severity, Status string
			} `json:"vulnerabilities"`
		} `json:"images"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.DB["path"] == nil || len(r.Images) != 2 {
		t.Fatalf("report %s", out)
	}
	deb, clean := r.Images[0], r.Images[1]
	if deb.Verdict != "fail" || len(deb.Reasons) == 0 || !strings.HasPrefix(deb.Digest, "sha256:") || deb.OS["family"] != "debian" || len(deb.Vulnerabilities) == 0 {
		t.Errorf("debian image: %+v", deb)
	}
	if clean.Verdict != "pass" {
		t.Errorf("clean image: %+v", clean)
	}
	// The table and SARIF of the same scan.
	out, code, msg = run(t, "", "", "scan", "--bundle", policy, "--db-path", e.db, e.refs[fixture.ImgDebian], e.refs[fixture.ImgClean])
	for _, want := range []string{"FAIL: 1 HIGH or worse with a fix available", "CVE-2022-32149", "golang.org/x/text (usr/local/bin/app)", "3.0.13-1~deb12u1", "PASS"} {
		if code != exitDenied || !strings.Contains(out, want) {
			t.Errorf("table (exit %d %s) lacks %q:\n%s", code, msg, want, out)
		}
	}
	out, code, msg = run(t, "", "", "scan", "-o", "sarif", "--bundle", policy, "--db-path", e.db, e.refs[fixture.ImgDebian], e.refs[fixture.ImgClean])
	var sarif struct {
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Rules []struct{ ID string } `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID string `json:"ruleId"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(out), &sarif); err != nil || code != exitDenied || sarif.Version != "2.1.0" || len(sarif.Runs) != 1 ||
		len(sarif.Runs[0].Results) == 0 || len(sarif.Runs[0].Tool.Driver.Rules) == 0 {
		t.Errorf("sarif: exit %d %s %v %+v", code, msg, err, sarif)
	}
	if _, code, _ := run(t, "", "", "scan", "-o", "junit", "--db-path", e.db, e.refs[fixture.ImgClean]); code != exitUnusable {
		t.Errorf("-o junit: exit %d", code)
	}
	// An image that cannot be read is exit 2.
	if _, code, _ := run(t, "", "", "scan", "--db-path", e.db, e.reg.Host+"/app/missing:1"); code != exitUnusable {
		t.Errorf("missing image: exit %d", code)
	}
	// check --scan-images applies the same policy to the manifests' images.
	dir := t.TempDir()
	writeFile(t, dir, "pods.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec:\n  containers:\n    - name: app\n      image: "+e.refs[fixture.ImgDebian]+"\n")
	got, code := findings(t, dir, "--scan-images", "--bundle", policy, "--db-path", e.db, "pods.yaml")
	if code != exitDenied || len(got) != 1 || !strings.HasPrefix(got[0], "image-vulnerability deny pods.yaml:7 /spec/containers/0/image") {
		t.Errorf("check --scan-images: exit %d %v", code, got)
	}
}

func TestDBUpdate(t *testing.T) {
	e := newScanEnv(t)
	// Publish the database as trivy publishes it, then pull it.
	repo := e.reg.Host + "/aquasecurity/trivy-db:2"
	if err := fixture.PushDB(e.reg, "aquasecurity/trivy-db:2", e.db); err != nil {
		t.Fatalf("publish the database: %v", err)
	}
	dir := t.TempDir()
	out, code, msg := run(t, "", "", "db", "update", "--db-repository", repo, "--db-path", dir)
	if code != exitPass || !strings.Contains(out, "trivy.db") {
		t.Fatalf("db update: exit %d %s %s", code, msg, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "trivy.db")); err != nil {
		t.Errorf("no trivy.db after update: %v", err)
	}
}

// A registry that accepts and never answers: the scan ends, naming the
// image and the timeout (exit 2).
func TestScanRegistryTimeout(t *testing.T) {
	e := newScanEnv(t)
	image := testserver.Hanging(t) + "/app/hang:1"
	out, code, msg := run(t, "", "", "scan", "--registry-timeout", "100ms", "--db-path", e.db, image)
	if code != exitUnusable || !strings.Contains(out, "ERROR: "+image+": ") || !strings.Contains(out, "did not answer within 100ms") {
		t.Fatalf("exit %d %s\n%s", code, msg, out)
	}
}
