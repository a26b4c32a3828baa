package schema

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
)

// TestEmbeddedReleases wants the schemas of every minor from 1.16 to
// kubeversion.Latest, each generated from a release of its own minor.
func TestEmbeddedReleases(t *testing.T) {
	all, err := builtins()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range all {
		got = append(got, b.version.MinorString())
		if err := b.load(); err != nil {
			t.Fatal(err)
		}
		for k := range b.kinds {
			if g, _ := splitAPIVersion(k.apiVersion); !b.groups[g] {
				t.Errorf("%s: %s %s is not of its groups", b.version, k.apiVersion, k.kind)
			}
		}
		if !strings.HasPrefix(b.release, "v"+b.version.MinorString()+".") {
			t.Errorf("%s: generated from %s", b.version, b.release)
		}
		for _, k := range []gvKey{{"v1", "Pod"}, {"apps/v1", "Deployment"}, {"v1", "PodList"},
			{"apiextensions.k8s.io/v1", "CustomResourceDefinition"}, {"apiregistration.k8s.io/v1", "APIService"}} {
			if b.kinds[k] == nil {
				t.Errorf("%s: no schema for %s %s", b.version, k.apiVersion, k.kind)
			}
		}
		for _, k := range []gvKey{{"v1", "DeleteOptions"}, {"apps/v1", "WatchEvent"}, {"v1", "Status"}} {
			if b.kinds[k] != nil {
				t.Errorf("%s: %s %s is no resource", b.version, k.apiVersion, k.kind)
			}
		}
	}
	var want []string
	for minor := 16; minor <= kubeversion.Latest.Minor; minor++ {
		want = append(want, "1."+strconv.Itoa(minor))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("embedded minors %v, want %v", got, want)
	}
}

// TestEmbeddedSize keeps the shared node table small: 22 minors took
// 39,611 bytes when it was introduced, where one file per minor had taken
// 125,017 bytes for 1.29 to 1.37 alone.
func TestEmbeddedSize(t *testing.T) {
	if n := len(kubernetesData); n > 128<<10 {
		t.Errorf("embedded schemas take %d bytes; keep them under 128 KiB", n)
	}
	t.Logf("%d releases, %d bytes embedded", len(Versions()), len(kubernetesData))
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

// BenchmarkLoadSchemas measures what the first validator of a run pays to
// decode the embedded schemas: the node table the releases share, and the
// kinds of the one release it validates for.
func BenchmarkLoadSchemas(b *testing.B) {
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		all, err := decode(kubernetesData)
		if err != nil {
			b.Fatal(err)
		}
		if err := all[len(all)-1].load(); err != nil {
			b.Fatal(err)
		}
	}
}
