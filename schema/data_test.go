package schema

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

func TestEmbeddedReleases(t *testing.T) {
	all := embeddedVersions()
	have := map[string]bool{}
	for _, e := range all {
		have[e.version.MinorString()] = true
		b, err := e.load()
		if err != nil {
			t.Fatalf("%s: %v", e.version, err)
		}
		if !strings.HasPrefix(b.release, "v"+e.version.MinorString()+".") {
			t.Errorf("%s: generated from %s", e.file, b.release)
		}
		for _, k := range []gvKey{{"v1", "Pod"}, {"apps/v1", "Deployment"}, {"networking.k8s.io/v1", "Ingress"},
			{"apiextensions.k8s.io/v1", "CustomResourceDefinition"}, {"v1", "PodList"}} {
			if b.kinds[k] == nil {
				t.Errorf("%s: no schema for %s %s", e.version, k.apiVersion, k.kind)
			}
		}
		for _, k := range []gvKey{{"v1", "DeleteOptions"}, {"apps/v1", "WatchEvent"}, {"v1", "Status"}} {
			if b.kinds[k] != nil {
				t.Errorf("%s: %s %s is no resource", e.version, k.apiVersion, k.kind)
			}
		}
	}
	for minor := 29; minor <= 35; minor++ {
		if v := "1." + string(rune('0'+minor/10)) + string(rune('0'+minor%10)); !have[v] {
			t.Errorf("no schemas for %s", v)
		}
	}
}

// TestKnownGroups keeps knownGroups a superset of the groups of the
// embedded releases, so that no built-in API is taken for a custom one.
func TestKnownGroups(t *testing.T) {
	known := map[string]bool{}
	for _, g := range knownGroups {
		known[g] = true
	}
	for _, e := range embeddedVersions() {
		b, err := e.load()
		if err != nil {
			t.Fatal(err)
		}
		for g := range builtinGroups(b) {
			if !known[g] {
				t.Errorf("Kubernetes %s knows group %q: add it to knownGroups", e.version, g)
			}
		}
	}
}

func TestEmbeddedSize(t *testing.T) {
	entries, err := dataFS.ReadDir("data")
	if err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for _, e := range entries {
		info, _ := e.Info()
		total += info.Size()
	}
	if total > 1<<20 {
		t.Errorf("embedded schemas take %d bytes; keep them under 1 MiB", total)
	}
	t.Logf("%d releases, %d bytes embedded", len(entries), total)
}

func TestIsQuantity(t *testing.T) {
	for s, want := range map[string]bool{
		"1": true, "0": true, "500m": true, "1.5": true, ".5": true, "1.": true, "+1": true, "-1": true,
		"128Mi": true, "2Gi": true, "1Ei": true, "100k": true, "1M": true, "1e3": true, "1E-3": true, "5n": true, "3u": true,
		" 2Gi ": true, "": false, "Mi": false, "1 Gi": false, "2gi": false, "1K": false, "1KB": false, "1e": false,
		"1e+": false, "abc": false, "1.2.3": false, "--1": false, ".": false, "1Mi1": false,
	} {
		if got := isQuantity(s); got != want {
			t.Errorf("isQuantity(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		f    func(string) bool
		s    string
		want bool
	}{
		{isDateTime, "2024-01-02T03:04:05Z", true}, {isDateTime, "2024-01-02T03:04:05.123456+02:00", true},
		{isDateTime, "2024-01-02", false}, {isDateTime, "2024-01-02 03:04:05", false},
		{isDate, "2024-02-29", true}, {isDate, "2023-02-29", false},
		{isUUID, "123e4567-e89b-12d3-a456-426614174000", true}, {isUUID, "123e4567e89b12d3a456426614174000", true}, {isUUID, "123e4567", false},
		{isIPv4, "10.0.0.1", true}, {isIPv4, "010.000.000.001", true}, {isIPv4, "::1", false}, {isIPv4, "10.0.0", false},
		{isIPv6, "fe80::1", true}, {isIPv6, "10.0.0.1", false},
		{isCIDR, "10.0.0.0/8", true}, {isCIDR, "fd00::/64", true}, {isCIDR, "10.0.0.0/33", false}, {isCIDR, "10.0.0.0", false},
		{isMAC, "00:1a:2b:3c:4d:5e", true}, {isMAC, "00:1a:2b", false},
	} {
		if got := tc.f(tc.s); got != tc.want {
			t.Errorf("%q: %v, want %v", tc.s, got, tc.want)
		}
	}
}

func TestWriteJSONSchemas(t *testing.T) {
	dir := t.TempDir()
	n, err := WriteJSONSchemas(kubeversion.Latest, dir, true)
	if err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Errorf("%d files", n)
	}
	for _, name := range []string{"deployment-apps-v1.json", "pod-v1.json", "ingress-networking-v1.json", "customresourcedefinition-apiextensions-v1.json"} {
		raw, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !strings.Contains(string(raw), `"additionalProperties":false`) {
			t.Errorf("%s: strict schemas must close objects", name)
		}
	}
}

// BenchmarkLoadRelease measures what the first validator of a run pays to
// decode one release's schemas.
func BenchmarkLoadRelease(b *testing.B) {
	all := embeddedVersions()
	e := all[len(all)-1]
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := decode(e.version, e.file); err != nil {
			b.Fatal(err)
		}
	}
}
