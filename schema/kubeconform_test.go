package schema_test

import (
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/yannh/kubeconform/pkg/validator"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/schema"
)

// kubeconformFixtures finds the fixtures/ folder of the kubeconform module
// this module requires, downloading the module when it is not in the
// module cache.
func kubeconformFixtures(t testing.TB) string {
	t.Helper()
	var mod struct{ Dir, Version string }
	out, err := exec.Command("go", "list", "-m", "-json", "github.com/yannh/kubeconform").Output()
	if err == nil {
		err = json.Unmarshal(out, &mod)
	}
	if err != nil {
		t.Fatalf("go list -m github.com/yannh/kubeconform: %v", err)
	}
	if mod.Dir == "" {
		out, err := exec.Command("go", "mod", "download", "-json", "github.com/yannh/kubeconform@"+mod.Version).Output() //nolint:gosec // G204: the go tool downloading the version go.mod pins
		if err == nil {
			err = json.Unmarshal(out, &mod)
		}
		if err != nil || mod.Dir == "" {
			t.Fatalf("go mod download github.com/yannh/kubeconform@%s: %v", mod.Version, err)
		}
	}
	return filepath.Join(mod.Dir, "fixtures")
}

type verdict string

const (
	valid    verdict = "valid"
	invalid  verdict = "invalid"
	noSchema verdict = "no schema"
	unserved verdict = "unserved"
)

func verdictOf(r schema.Result) verdict {
	switch {
	case r.NoSchema:
		return noSchema
	case r.Unserved:
		return unserved
	case len(r.Problems) > 0:
		return invalid
	}
	return valid
}

// repeatValid returns n valid verdicts.
func repeatValid(n int) []verdict {
	out := make([]verdict, n)
	for i := range out {
		out[i] = valid
	}
	return out
}

// fixtureCase is what kubeconform's own tests (acceptance.bats and
// acceptance-nonetwork.bats of v0.8.0) say of a fixture: the verdict of
// each resource in order, without and with -strict (nil: not asserted).
type fixtureCase struct {
	files       []string
	schemaDirs  []string // relative to fixtures/, as -schema-location
	lax, strict []verdict
}

var fixtureCases = []fixtureCase{
	{files: []string{"valid.yaml"}, lax: []verdict{valid}},
	{files: []string{"folder"}, lax: repeatValid(7)},
	{files: []string{"int_or_string.yaml"}, lax: []verdict{valid}},
	{files: []string{"valid.json"}, lax: []verdict{valid}},
	{files: []string{"generate_name.yaml"}, lax: []verdict{valid}},
	{files: []string{"quantity.yaml"}, lax: []verdict{valid}},
	{files: []string{"null_string.yaml"}, lax: []verdict{valid}},
	{files: []string{"multi_valid.yaml"}, lax: repeatValid(6)},
	// "one invalid resource": the first Service's port is "sds".
	{files: []string{"multi_invalid.yaml"}, lax: append([]verdict{invalid}, repeatValid(5)...)},
	{files: []string{"invalid.yaml"}, lax: []verdict{invalid}},
	{files: []string{"blank.yaml", "comment.yaml", "list_empty_valid.yaml"}, lax: []verdict{}},
	{files: []string{"test_crd.yaml"}, lax: []verdict{noSchema}},
	{files: []string{"extra_property.yaml"}, lax: []verdict{valid}, strict: []verdict{invalid}},
	{files: []string{"duplicate_property.yaml"}, lax: []verdict{valid}, strict: []verdict{invalid}},
	{files: []string{"list_valid.yaml"}, lax: repeatValid(6)},
	{files: []string{"list_invalid.yaml"}, lax: []verdict{valid, invalid}},
	{files: []string{"multi_with_list.yaml"}, lax: []verdict{valid, valid}},
	{files: []string{"valid_large.yaml"}, lax: repeatValid(100000)},
	// acceptance-nonetwork.bats: a local registry with the CRD's schema.
	{files: []string{"test_crd.yaml"}, schemaDirs: []string{"json:registry/trainingjob-sagemaker-v1.json"}, lax: []verdict{valid}},
	// The same, from the CRD itself (gatekeep's --schema-dir takes CRDs).
	{files: []string{"test_crd.yaml"}, schemaDirs: []string{"crd:registry/sagemaker.aws.amazon.com_trainingjobs.yaml"}, lax: []verdict{valid}},
	// "passes when validating duration not in ISO8601".
	{files: []string{"grafana-alert-rule-group-sample.yaml"}, schemaDirs: []string{"json:grafanaalertrulegroup_v1beta1.json=grafanaalertrulegroup-grafana-v1beta1.json"}, lax: []verdict{valid}},
}

// skippedFixtures are fixtures neither test compares, and why.
var skippedFixtures = map[string]string{
	"missing_kind.yaml":                  "no kind: not a Kubernetes object, the manifest loader's matter",
	"missing_kind_value.yaml":            "no kind: not a Kubernetes object, the manifest loader's matter",
	"missing_apiversion.yaml":            "no apiVersion: not a Kubernetes object, the manifest loader's matter",
	"multi_invalid_resources.yaml":       "empty kinds: not Kubernetes objects, the manifest loader's matter",
	"httpproxy.yaml":                     "needs the CRDs-catalog schemas from the network",
	"grafanaalertrulegroup_v1beta1.json": "a schema, used by the grafana fixture",
	"junit.xsd":                          "not a manifest",
}

// schemaDirFor copies the named schema files into a directory of their own
// (as "src=dst" to rename them into kubeconform's layout).
func schemaDirFor(t *testing.T, fixtures string, specs []string) (dirs []string) {
	for _, spec := range specs {
		_, files, _ := strings.Cut(spec, ":")
		dir := t.TempDir()
		for _, f := range strings.Split(files, ",") {
			src, dst, renamed := strings.Cut(f, "=")
			if !renamed {
				dst = filepath.Base(src)
			}
			raw, err := os.ReadFile(filepath.Join(fixtures, src))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, dst), raw, 0o600); err != nil { //nolint:gosec // G703: copying kubeconform's fixtures into the test's TempDir
				t.Fatal(err)
			}
		}
		dirs = append(dirs, dir)
	}
	return dirs
}

// fixtureObjects reads the objects of fixture files and folders, in order.
func fixtureObjects(t *testing.T, fixtures string, files []string) []testObject {
	var objs []testObject
	for _, f := range files {
		p := filepath.Join(fixtures, f)
		paths := []string{p}
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			entries, _ := os.ReadDir(p)
			paths = nil
			for _, e := range entries {
				paths = append(paths, filepath.Join(p, e.Name()))
			}
		}
		for _, p := range paths {
			raw, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			objs = append(objs, parseManifests(t, raw)...)
		}
	}
	return objs
}

// TestKubeconformFixtures checks gatekeep against what kubeconform's own
// acceptance tests say of its fixtures, for every embedded version.
func TestKubeconformFixtures(t *testing.T) {
	fixtures := kubeconformFixtures(t)
	objects := make([][]testObject, len(fixtureCases))
	for i, fc := range fixtureCases {
		objects[i] = fixtureObjects(t, fixtures, fc.files)
	}
	for _, v := range schema.Versions() {
		t.Run(v.MinorString(), func(t *testing.T) {
			for ci, fc := range fixtureCases {
				// 100,000 copies of one ConfigMap: once is enough.
				if fc.files[0] == "valid_large.yaml" && (testing.Short() || v != kubeversion.Latest) {
					continue
				}
				objs := objects[ci]
				var opts []schema.Option
				for _, d := range schemaDirFor(t, fixtures, fc.schemaDirs) {
					opts = append(opts, schema.WithSchemaDir(d))
				}
				for _, mode := range []struct {
					strict bool
					want   []verdict
				}{{false, fc.lax}, {true, fc.strict}} {
					if mode.want == nil {
						continue
					}
					val, err := schema.New(v, append(opts, schema.Strict(mode.strict))...)
					if err != nil {
						t.Fatal(err)
					}
					if len(objs) != len(mode.want) {
						t.Errorf("%v strict=%v: %d resources, want %d", fc.files, mode.strict, len(objs), len(mode.want))
						continue
					}
					for i, o := range objs {
						r := val.ValidateWithDuplicates(o.Data, o.Duplicates)
						if got := verdictOf(r); got != mode.want[i] {
							t.Errorf("%v strict=%v resource %d (%v %v): %s, want %s; problems %v", fc.files, mode.strict, i,
								o.Data["kind"], o.Data["metadata"], got, mode.want[i], r.Problems)
						}
					}
				}
			}
		})
	}
}

// TestKubeconformAgreement runs kubeconform's validator library and
// gatekeep's on every fixture, with and without -strict, kubeconform using
// gatekeep's schemas written in its layout (plus the fixtures' own custom
// resource schemas), and wants the same verdict for every resource.
func TestKubeconformAgreement(t *testing.T) {
	fixtures := kubeconformFixtures(t)
	var files []string
	err := filepath.WalkDir(fixtures, func(p string, e os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(fixtures, p)
		if e.IsDir() {
			if rel == "cache" || rel == "registry" {
				return filepath.SkipDir
			}
			return nil
		}
		if _, skip := skippedFixtures[rel]; skip || rel == "valid_large.yaml" {
			return nil
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)

	customDir := schemaDirFor(t, fixtures, []string{
		"json:registry/trainingjob-sagemaker-v1.json,grafanaalertrulegroup_v1beta1.json=grafanaalertrulegroup-grafana-v1beta1.json",
	})[0]
	versions := schema.Versions()
	for _, v := range []kubeversion.Version{versions[0], kubeversion.Latest, versions[len(versions)-1]} {
		for _, strict := range []bool{false, true} {
			builtin := t.TempDir()
			if _, err := schema.WriteJSONSchemas(v, builtin, strict); err != nil {
				t.Fatal(err)
			}
			kc, err := validator.New([]string{
				filepath.Join(builtin, "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
				filepath.Join(customDir, "{{ .ResourceKind }}{{ .KindSuffix }}.json"),
			}, validator.Opts{Strict: strict, KubernetesVersion: v.MinorString() + ".0"})
			if err != nil {
				t.Fatal(err)
			}
			gk, err := schema.New(v, schema.Strict(strict), schema.WithSchemaDir(customDir))
			if err != nil {
				t.Fatal(err)
			}
			counts := map[string]int{}
			for _, f := range files {
				raw, err := os.ReadFile(filepath.Join(fixtures, f))
				if err != nil {
					t.Fatal(err)
				}
				var kcResults []validator.Result
				for _, r := range kc.Validate(f, io.NopCloser(bytes.NewReader(raw))) {
					if r.Status != validator.Empty {
						kcResults = append(kcResults, r)
					}
				}
				objs := parseManifests(t, raw)
				if len(objs) != len(kcResults) {
					t.Errorf("%s %s: gatekeep reads %d resources, kubeconform %d", v.MinorString(), f, len(objs), len(kcResults))
					continue
				}
				for i, o := range objs {
					r := gk.ValidateWithDuplicates(o.Data, o.Duplicates)
					mine := verdictOf(r)
					kr := kcResults[i]
					var theirs verdict
					switch {
					case kr.Status == validator.Valid:
						theirs = valid
					case kr.Status == validator.Invalid:
						theirs = invalid
					case kr.Status == validator.Error && kr.Err != nil && strings.Contains(kr.Err.Error(), "could not find schema"):
						theirs = noSchema
					case kr.Status == validator.Error && strict && kr.Err != nil && strings.Contains(kr.Err.Error(), "already set in map"):
						theirs = invalid // duplicate key, rejected by -strict
					default:
						t.Errorf("%s %s resource %d: kubeconform status %v: %v", v.MinorString(), f, i, kr.Status, kr.Err)
						continue
					}
					if theirs == noSchema && mine == unserved {
						counts["removed API (deprecated-api's)"]++
						continue // a built-in API this version does not serve
					}
					if mine != theirs {
						t.Errorf("%s strict=%v %s resource %d (%v %v): gatekeep %s %v, kubeconform %s %v",
							v.MinorString(), strict, f, i, o.Data["kind"], o.Data["metadata"], mine, r.Problems, theirs, kr.Err)
					}
					counts[string(mine)]++
				}
			}
			t.Logf("Kubernetes %s strict=%v: %d fixture files, verdicts %v", v.MinorString(), strict, len(files), counts)
		}
	}
}
