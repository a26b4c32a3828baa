package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/gitrepo"
	"github.com/gatekeep-dev/gatekeep/internal/sarif"
	"github.com/gatekeep-dev/gatekeep/internal/sarif/sariftest"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// sample is a small but complete result: three files of objects, deny, warn
// and dryrun findings, an object with none, a cluster-scoped object, a
// finding without a line, a message and a file name that need escaping,
// and an input error.
func sample() *engine.Result {
	app := manifest.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-1", Name: "app-1"}
	app2 := manifest.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "team-1", Name: "app-2"}
	svc := manifest.Ref{APIVersion: "v1", Kind: "Service", Namespace: "team-1", Name: "app-1"}
	ns := manifest.Ref{APIVersion: "v1", Kind: "Namespace", Name: "team-1"}
	secret := manifest.Ref{APIVersion: "v1", Kind: "Secret", Namespace: "team-1", Name: "db"}
	const appFile, nsFile, secretFile = "apps/team-1/app-1/resources.yaml", "cluster/namespaces.yaml", "secrets/db,prod.yaml" //nolint:gosec // G101: a file path named secretFile, not a credential
	return &engine.Result{
		BundleName:        "builtin",
		BundleDigest:      "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		KubernetesVersion: "1.34",
		Files:             4,
		Exceptions:        1,
		Objects: []engine.ObjectResult{
			{Object: ns, File: nsFile, Line: 1, Findings: []engine.Finding{
				{Check: "namespace-labels", Action: engine.DryRun, Message: `namespace has no "team" label`, Object: ns, Path: "/metadata/labels", File: nsFile, Line: 0},
			}},
			{Object: app, File: appFile, Line: 1, Findings: []engine.Finding{
				{Check: "privileged-container", Action: engine.Deny, Message: `container "main" is privileged`, Object: app, Path: "/spec/template/spec/containers/0/securityContext/privileged", File: appFile, Line: 27},
				{Check: "latest-tag", Action: engine.Warn, Message: `image "nginx:latest" uses the <latest> tag & will drift`, Object: app, Path: "/spec/template/spec/containers/0/image", File: appFile, Line: 21},
			}},
			{Object: svc, File: appFile, Line: 40},
			{Object: app2, File: appFile, Line: 52, Findings: []engine.Finding{
				{Check: "latest-tag", Action: engine.Warn, Message: `image "redis" has no tag`, Object: app2, Path: "/spec/template/spec/containers/0/image", File: appFile, Line: 70},
			}},
			{Object: secret, File: secretFile, Line: 1, Findings: []engine.Finding{
				{Check: "plaintext-secret", Action: engine.Deny, Message: "data.password: 100% plaintext, not sealed\nseal it with kubeseal", Object: secret, Path: "/data/password", File: secretFile, Line: 7},
			}},
		},
		Errors: []manifest.Error{
			{File: "broken.yaml", Line: 3, Message: "yaml: mapping values are not allowed in this context"},
		},
	}
}

func empty() *engine.Result {
	return &engine.Result{BundleName: "builtin", BundleDigest: "sha256:00", KubernetesVersion: "1.34"}
}

var sampleChecks = []engine.CheckInfo{
	{ID: "privileged-container", Summary: "containers must not run privileged (securityContext.privileged: true)", Action: engine.Deny},
	{ID: "plaintext-secret", Summary: "Secrets must not be committed with plaintext data", Action: engine.Deny},
	{ID: "latest-tag", Summary: "images must be pinned", Action: engine.Warn},
	{ID: "ingress-conflict", Summary: "an Ingress host belongs to one namespace", Action: engine.Deny},
}

// withCombined is sample with the findings of conftest --combine
// policies, which name no object.
func withCombined() *engine.Result {
	r := sample()
	r.Combined = []engine.Finding{
		{Check: "main.deny", Action: engine.Deny, Message: "two Services select the same Pods: team-1/app-1, team-1/app-1-canary"},
		{Check: "main.warn", Action: engine.Warn, Message: "no NetworkPolicy in namespace team-1"},
	}
	return r
}

// unnamed is a result whose objects have no name of their own: a hook Job
// with only metadata.generateName (its Ref says "migrate-*"), and
// documents without metadata.name, one namespaced and one not.
func unnamed() *engine.Result {
	job := manifest.Ref{APIVersion: "batch/v1", Kind: "Job", Namespace: "default", Name: "migrate-*"}
	cm := manifest.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default"}
	ns := manifest.Ref{APIVersion: "v1", Kind: "Namespace"}
	const file = "app/hooks.yaml"
	return &engine.Result{
		BundleName: "builtin", BundleDigest: "sha256:00", KubernetesVersion: "1.34", Files: 1,
		Objects: []engine.ObjectResult{
			{Object: job, File: file, Line: 1, Findings: []engine.Finding{
				{Check: "privileged-container", Action: engine.Deny, Message: `container "migrate" is privileged`, Object: job, Path: "/spec/template/spec/containers/0/securityContext/privileged", File: file, Line: 14},
			}},
			{Object: cm, File: file, Line: 17, Findings: []engine.Finding{
				{Check: "schema", Action: engine.Deny, Message: "metadata.name: Required value", Object: cm, Path: "/metadata", File: file, Line: 19},
			}},
			{Object: ns, File: file, Line: 23, Findings: []engine.Finding{
				{Check: "namespace-labels", Action: engine.Warn, Message: `namespace has no "team" label`, Object: ns, File: file, Line: 23},
			}},
		},
	}
}

// apiWide is a result with findings about objects' apiVersion as a whole,
// which JUnit bodies give without the field path, beside one about a field.
func apiWide() *engine.Result {
	pdb := manifest.Ref{APIVersion: "policy/v1beta1", Kind: "PodDisruptionBudget", Namespace: "staging", Name: "shop"}
	fs := manifest.Ref{APIVersion: "flowcontrol.apiserver.k8s.io/v1beta3", Kind: "FlowSchema", Name: "batch"}
	const pdbFile, fsFile = "app/overlays/staging/pdb.yaml", "platform/flowcontrol.yaml"
	return &engine.Result{
		BundleName: "builtin", BundleDigest: "sha256:00", KubernetesVersion: "1.31", Files: 2,
		Objects: []engine.ObjectResult{
			{Object: pdb, File: pdbFile, Line: 1, Findings: []engine.Finding{
				{Check: "deprecated-api", Action: engine.Deny, Message: "policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25: use policy/v1", Object: pdb, Path: "/apiVersion", File: pdbFile, Line: 1},
				{Check: "schema", Action: engine.Deny, Message: "spec.minAvailable: Invalid value: \"half\"", Object: pdb, Path: "/spec/minAvailable", File: pdbFile, Line: 7},
			}},
			{Object: fs, File: fsFile, Line: 1, Findings: []engine.Finding{
				{Check: "deprecated-api", Action: engine.Warn, Message: "flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema is deprecated and is removed in Kubernetes 1.32: use flowcontrol.apiserver.k8s.io/v1", Object: fs, Path: "/apiVersion", File: fsFile, Line: 1},
			}},
		},
	}
}

// unsupported is a result of a bundle holding policy kinds gatekeep does
// not run: a warning per bundle file (the engine's policy-unsupported
// findings, their messages the bundle's), about no object, beside an
// object a ConstraintTemplate of the same bundle denied.
func unsupported() *engine.Result {
	cm := manifest.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "team-1", Name: "settings"}
	const cmFile = "apps/settings.yaml"
	mutators := bundle.Unsupported{File: "policy/mutators.yaml", Line: 4, Kinds: []bundle.UnsupportedKind{
		{Group: "mutations.gatekeeper.sh", Kind: "AssignMetadata", Count: 1, Family: bundle.GatekeeperMutation},
		{Group: "mutations.gatekeeper.sh", Kind: "ModifySet", Count: 2, Family: bundle.GatekeeperMutation},
	}}
	mixed := bundle.Unsupported{File: "policy/third-party.yaml", Line: 1, Kinds: []bundle.UnsupportedKind{
		{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicy", Count: 1, Family: bundle.ValidatingAdmissionPolicy},
		{Group: "admissionregistration.k8s.io", Kind: "ValidatingAdmissionPolicyBinding", Count: 1, Family: bundle.ValidatingAdmissionPolicy},
		{Group: "kyverno.io", Kind: "ClusterPolicy", Count: 1, Family: bundle.Kyverno},
	}}
	r := &engine.Result{
		BundleName: "builtin+policy", BundleDigest: "sha256:00", KubernetesVersion: "1.34", Files: 1,
		Objects: []engine.ObjectResult{
			{Object: cm, File: cmFile, Line: 1, Findings: []engine.Finding{
				{Check: "K8sRequiredOwner/configmaps-have-owners", Action: engine.Deny, Message: "the object has no owner label", Object: cm, File: cmFile, Line: 1},
			}},
		},
	}
	for _, u := range []bundle.Unsupported{mutators, mixed} {
		r.Combined = append(r.Combined, engine.Finding{Check: engine.UnsupportedCheck, Action: engine.Warn, Message: u.Message(), File: u.File, Line: u.Line})
	}
	return r
}

// schemaMissing is a result with a kind no schema describes (a
// schema-missing warning) beside a custom resource the CRD catalog
// invalidates (a schema deny), and the two checks' rules.
func schemaMissing() *engine.Result {
	gadget := manifest.Ref{APIVersion: "example.com/v1", Kind: "Gadget", Namespace: "shop", Name: "g"}
	app := manifest.Ref{APIVersion: "argoproj.io/v1alpha1", Kind: "Application", Namespace: "argocd", Name: "web"}
	const gadgetFile, appFile = "apps/gadget.yaml", "argocd/web.yaml"
	return &engine.Result{
		BundleName: "builtin", BundleDigest: "sha256:00", KubernetesVersion: "1.35", Files: 2,
		Objects: []engine.ObjectResult{
			{Object: gadget, File: gadgetFile, Line: 1, Findings: []engine.Finding{
				{Check: "schema-missing", Action: engine.Warn, Message: "no schema for example.com/v1 Gadget: add its CustomResourceDefinition to the inputs, or give --schema-dir a directory holding it or gadget-example-v1.json", Object: gadget, File: gadgetFile, Line: 1},
			}},
			{Object: app, File: appFile, Line: 1, Findings: []engine.Finding{
				{Check: "schema", Action: engine.Deny, Message: `/spec/syncPolicy/automated/prune: got string "yes", want boolean`, Object: app, Path: "/spec/syncPolicy/automated/prune", File: appFile, Line: 12},
			}},
		},
	}
}

var schemaChecks = []engine.CheckInfo{
	{ID: "schema", Summary: "objects must be valid for the target Kubernetes version's API (types, required and, with --strict, unknown fields)", Action: engine.Deny},
	{ID: "schema-missing", Summary: "objects must be of a kind with a schema: built in, in the CRD catalog, or with its CRD among the inputs or in --schema-dir", Action: engine.Warn},
}

var goldens = []struct {
	golden string
	format string
	opts   []Option
	result func() *engine.Result
}{
	{"text", "text", nil, sample},
	{"text-color", "text", []Option{WithColor(true)}, sample},
	{"text-quiet", "text", []Option{Quiet(true)}, sample},
	{"text-empty", "text", nil, empty},
	{"text-quiet-empty", "text", []Option{Quiet(true)}, empty},
	{"json", "json", nil, sample},
	{"json-empty", "json", nil, empty},
	{"junit", "junit", nil, sample},
	{"junit-combined", "junit", nil, withCombined},
	{"json-combined", "json", nil, withCombined},
	{"junit-empty", "junit", nil, empty},
	{"sarif", "sarif", []Option{WithChecks(sampleChecks), WithVersion("v0.1.0"), withSARIFDirs("/srv/repo", "/srv/repo")}, sample},
	{"sarif-empty", "sarif", []Option{WithChecks(sampleChecks), WithVersion("v0.1.0"), withSARIFDirs("/srv/repo", "/srv/repo")}, empty},
	{"sarif-nochecks", "sarif", []Option{withSARIFDirs("/srv/repo", "/srv/repo")}, sample},
	{"sarif-subdir", "sarif", []Option{withSARIFDirs("/srv/repo/apps", "/srv/repo")}, subdir},
	{"sarif-nocheckout", "sarif", []Option{withSARIFDirs("/srv/loose/apps", "")}, subdir},
	{"github", "github", nil, sample},
	{"github-empty", "github", nil, empty},
	{"text-unnamed", "text", nil, unnamed},
	{"junit-unnamed", "junit", nil, unnamed},
	{"sarif-unnamed", "sarif", []Option{withSARIFDirs("/srv/repo", "/srv/repo")}, unnamed},
	{"github-unnamed", "github", nil, unnamed},
	{"junit-apiwide", "junit", nil, apiWide},
	{"text-unsupported", "text", nil, unsupported},
	{"text-quiet-unsupported", "text", []Option{Quiet(true)}, unsupported},
	{"json-unsupported", "json", nil, unsupported},
	{"junit-unsupported", "junit", nil, unsupported},
	{"sarif-unsupported", "sarif", []Option{withSARIFDirs("/srv/repo", "/srv/repo")}, unsupported},
	{"github-unsupported", "github", nil, unsupported},
	{"text-schemamissing", "text", nil, schemaMissing},
	{"json-schemamissing", "json", nil, schemaMissing},
	{"junit-schemamissing", "junit", nil, schemaMissing},
	{"sarif-schemamissing", "sarif", []Option{WithChecks(schemaChecks), WithVersion("v0.1.0"), withSARIFDirs("/srv/repo", "/srv/repo")}, schemaMissing},
	{"github-schemamissing", "github", nil, schemaMissing},
}

func render(t *testing.T, format string, r *engine.Result, opts ...Option) []byte {
	t.Helper()
	f, err := New(format, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := f.Write(&b, r); err != nil {
		t.Fatalf("%s: Write: %v", format, err)
	}
	return b.Bytes()
}

func TestGolden(t *testing.T) {
	for _, tc := range goldens {
		t.Run(tc.golden, func(t *testing.T) {
			got := render(t, tc.format, tc.result(), tc.opts...)
			path := filepath.Join("testdata", tc.golden+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // G306: -update rewrites a golden file committed to the repository
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./report -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run go test ./report -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
			}
		})
	}
}

func TestNew(t *testing.T) {
	if got, want := Names(), []string{"text", "json", "junit", "sarif", "github"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
	Names()[0] = "changed"
	if Names()[0] != "text" {
		t.Error("Names returns the package's own slice")
	}
	for _, name := range Names() {
		if f, err := New(name); err != nil || f == nil {
			t.Errorf("New(%q) = %v, %v", name, f, err)
		}
	}
	for _, name := range []string{"", "xml", "JSON", "sarif "} {
		_, err := New(name)
		if err == nil {
			t.Errorf("New(%q): no error", name)
			continue
		}
		if !strings.Contains(err.Error(), "text, json, junit, sarif, github") {
			t.Errorf("New(%q): error %q does not list the formats", name, err)
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteError(t *testing.T) {
	for _, name := range Names() {
		f, _ := New(name)
		if err := f.Write(failWriter{}, sample()); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("%s: Write to a failing writer = %v", name, err)
		}
	}
}

// many builds a result with the given counts of objects by verdict, spread
// over files.
func many(files, denied, warned, passed, exceptions, errs int) *engine.Result {
	r := &engine.Result{Files: files, Exceptions: exceptions}
	add := func(n int, a engine.Action) {
		for i := 0; i < n; i++ {
			ref := manifest.Ref{APIVersion: "v1", Kind: "ConfigMap", Namespace: "ns", Name: fmt.Sprintf("%s-%d", a, i)}
			file := fmt.Sprintf("f%d.yaml", i%max(files, 1))
			o := engine.ObjectResult{Object: ref, File: file, Line: 1}
			if a != "" {
				o.Findings = []engine.Finding{{Check: "c", Action: a, Message: "m", Object: ref, File: file, Line: 1}}
			}
			r.Objects = append(r.Objects, o)
		}
	}
	add(denied, engine.Deny)
	add(warned, engine.Warn)
	add(passed, "")
	for i := 0; i < errs; i++ {
		r.Errors = append(r.Errors, manifest.Error{File: "bad.yaml", Line: i + 1, Message: "bad"})
	}
	return r
}

func TestSummaryLine(t *testing.T) {
	for _, tc := range []struct {
		r    *engine.Result
		want string
	}{
		{many(300, 21, 4, 1541, 0, 0), "1,566 objects in 300 files: 21 denied, 4 warnings, 1,541 passed"},
		{many(1, 0, 1, 0, 0, 0), "1 object in 1 file: 0 denied, 1 warning, 0 passed"},
		{many(0, 0, 0, 0, 0, 0), "0 objects in 0 files: 0 denied, 0 warnings, 0 passed"},
		{many(2, 1, 0, 1, 1, 0), "2 objects in 2 files: 1 denied, 0 warnings, 1 passed, 1 exception"},
		{many(2, 0, 0, 2, 12, 1), "2 objects in 2 files: 0 denied, 0 warnings, 2 passed, 12 exceptions, 1 error"},
		{many(1234, 0, 0, 1000, 0, 2), "1,000 objects in 1,234 files: 0 denied, 0 warnings, 1,000 passed, 2 errors"},
	} {
		if got := summaryLine(tc.r); got != tc.want {
			t.Errorf("summaryLine = %q, want %q", got, tc.want)
		}
		// The text and github formats end with it.
		for _, format := range []string{"text", "github"} {
			if out := string(render(t, format, tc.r)); !strings.HasSuffix(out, "\n"+tc.want+"\n") && out != tc.want+"\n" {
				t.Errorf("%s output does not end with %q", format, tc.want)
			}
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 12345: "12,345", 123456: "123,456", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestTextColor(t *testing.T) {
	plain := string(render(t, "text", sample()))
	if strings.Contains(plain, "\x1b") {
		t.Errorf("uncoloured text has escapes:\n%s", plain)
	}
	colored := string(render(t, "text", sample(), WithColor(true)))
	for _, want := range []string{
		ansiBold + "apps/team-1/app-1/resources.yaml" + ansiReset,
		ansiRed + "deny" + ansiReset,
		ansiYellow + "warn" + ansiReset,
		ansiCyan + "dryrun" + ansiReset,
		ansiRed + "error" + ansiReset + ": broken.yaml:3:",
	} {
		if !strings.Contains(colored, want) {
			t.Errorf("coloured text lacks %q:\n%s", want, colored)
		}
	}
	// Without the escapes the coloured text is the plain one: alignment is
	// computed on the text, not on the escapes.
	stripped := strings.NewReplacer(ansiReset, "", ansiBold, "", ansiRed, "", ansiYellow, "", ansiCyan, "").Replace(colored)
	if stripped != plain {
		t.Errorf("coloured text without escapes differs from plain text:\n%s\n---\n%s", stripped, plain)
	}
}

func TestTextQuiet(t *testing.T) {
	out := string(render(t, "text", sample(), Quiet(true)))
	for _, bad := range []string{"warn", "dryrun", "latest-tag", "namespace-labels", "passed"} {
		if strings.Contains(out, bad) {
			t.Errorf("quiet text has %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"privileged-container", "plaintext-secret", "broken.yaml:3"} {
		if !strings.Contains(out, want) {
			t.Errorf("quiet text lacks %q:\n%s", want, out)
		}
	}
	if out := render(t, "text", many(3, 0, 2, 1, 0, 0), Quiet(true)); len(out) != 0 {
		t.Errorf("quiet text with nothing denied = %q, want nothing", out)
	}
}

// jsonKeys returns the keys of the JSON object in data, in order.
func jsonKeys(t *testing.T, data []byte) []string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %s", data)
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func TestJSONShape(t *testing.T) {
	for name, r := range map[string]*engine.Result{"sample": sample(), "empty": empty(), "no objects, nil slices": {}} {
		t.Run(name, func(t *testing.T) {
			out := render(t, "json", r)
			if !bytes.HasSuffix(out, []byte("}\n")) || !bytes.HasPrefix(out, []byte("{\n  \"bundle\"")) {
				t.Errorf("not indented JSON with a trailing newline:\n%s", out)
			}
			if got, want := jsonKeys(t, out), []string{"bundle", "kubernetesVersion", "summary", "findings", "errors"}; !reflect.DeepEqual(got, want) {
				t.Errorf("keys %v, want %v", got, want)
			}
			var doc map[string]json.RawMessage
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			if got, want := jsonKeys(t, doc["bundle"]), []string{"name", "digest"}; !reflect.DeepEqual(got, want) {
				t.Errorf("bundle keys %v, want %v", got, want)
			}
			if got, want := jsonKeys(t, doc["summary"]), []string{"files", "objects", "denied", "warned", "passed", "exceptions", "skipped", "skippedReasons", "rendered"}; !reflect.DeepEqual(got, want) {
				t.Errorf("summary keys %v, want %v", got, want)
			}
			var summary engine.Summary
			if err := json.Unmarshal(doc["summary"], &summary); err != nil || !reflect.DeepEqual(summary, r.Summary()) {
				t.Errorf("summary %+v (%v), want %+v", summary, err, r.Summary())
			}
			var findings, errs []json.RawMessage
			for key, v := range map[string]*[]json.RawMessage{"findings": &findings, "errors": &errs} {
				if !bytes.HasPrefix(doc[key], []byte("[")) {
					t.Errorf("%s is %s, want an array", key, doc[key])
				}
				if err := json.Unmarshal(doc[key], v); err != nil {
					t.Fatal(err)
				}
			}
			if len(findings) != len(r.Findings()) || len(errs) != len(r.Errors) {
				t.Errorf("%d findings and %d errors, want %d and %d", len(findings), len(errs), len(r.Findings()), len(r.Errors))
			}
			for _, f := range findings {
				if got, want := jsonKeys(t, f), []string{"check", "action", "message", "object", "path", "file", "line", "renders"}; !reflect.DeepEqual(got, want) {
					t.Errorf("finding keys %v, want %v", got, want)
				}
			}
			for _, e := range errs {
				if got, want := jsonKeys(t, e), []string{"file", "line", "message"}; !reflect.DeepEqual(got, want) {
					t.Errorf("error keys %v, want %v", got, want)
				}
			}
		})
	}
}

// The JUnit structures as the common JUnit XSD has them.
type xTestsuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Tests    *int         `xml:"tests,attr"`
	Failures *int         `xml:"failures,attr"`
	Errors   *int         `xml:"errors,attr"`
	Suites   []xTestsuite `xml:"testsuite"`
}

type xTestsuite struct {
	Name     *string     `xml:"name,attr"`
	Tests    *int        `xml:"tests,attr"`
	Failures *int        `xml:"failures,attr"`
	Errors   *int        `xml:"errors,attr"`
	Cases    []xTestcase `xml:"testcase"`
}

type xTestcase struct {
	Name      *string    `xml:"name,attr"`
	Classname *string    `xml:"classname,attr"`
	Failures  []xProblem `xml:"failure"`
	Errors    []xProblem `xml:"error"`
	SystemOut string     `xml:"system-out"`
}

type xProblem struct {
	Message *string `xml:"message,attr"`
	Type    *string `xml:"type,attr"`
	Text    string  `xml:",chardata"`
}

func TestJUnit(t *testing.T) {
	for name, r := range map[string]*engine.Result{"sample": sample(), "empty": empty(), "many": many(10, 3, 2, 5, 0, 2)} {
		t.Run(name, func(t *testing.T) {
			out := render(t, "junit", r)
			if !bytes.HasPrefix(out, []byte(xml.Header)) {
				t.Errorf("no XML declaration:\n%s", out)
			}
			var doc xTestsuites
			if err := xml.Unmarshal(out, &doc); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if len(doc.Suites) != 1 {
				t.Fatalf("%d testsuites, want 1", len(doc.Suites))
			}
			s := doc.Suites[0]
			if s.Name == nil || *s.Name != "gatekeep" || s.Tests == nil || s.Failures == nil || s.Errors == nil {
				t.Fatalf("testsuite lacks name, tests, failures or errors:\n%s", out)
			}
			sum := r.Summary()
			wantTests := sum.Objects + len(r.Errors)
			if *s.Tests != wantTests || *s.Failures != sum.Denied || *s.Errors != len(r.Errors) {
				t.Errorf("testsuite tests=%d failures=%d errors=%d, want %d %d %d", *s.Tests, *s.Failures, *s.Errors, wantTests, sum.Denied, len(r.Errors))
			}
			if doc.Tests == nil || *doc.Tests != wantTests || *doc.Failures != sum.Denied || *doc.Errors != len(r.Errors) {
				t.Errorf("testsuites counts do not agree with the result")
			}
			if len(s.Cases) != wantTests {
				t.Fatalf("%d testcases, want %d", len(s.Cases), wantTests)
			}
			failed, errored, failures := 0, 0, 0
			for _, c := range s.Cases {
				if c.Name == nil || *c.Name == "" || c.Classname == nil {
					t.Errorf("testcase without name or classname: %+v", c)
				}
				for _, p := range append(append([]xProblem(nil), c.Failures...), c.Errors...) {
					if p.Message == nil || p.Type == nil || *p.Type == "" {
						t.Errorf("failure or error without message or type in %s", *c.Name)
					}
				}
				if len(c.Failures) > 0 {
					failed++
				}
				if len(c.Errors) > 0 {
					errored++
				}
				failures += len(c.Failures)
			}
			denies := 0
			for _, f := range r.Findings() {
				if f.Action == engine.Deny {
					denies++
				}
			}
			if failed != sum.Denied || errored != len(r.Errors) || failures != denies {
				t.Errorf("%d failed and %d errored testcases with %d failures, want %d, %d and %d", failed, errored, failures, sum.Denied, len(r.Errors), denies)
			}
		})
	}

	// Warnings and messages survive the trip through XML.
	var doc xTestsuites
	if err := xml.Unmarshal(render(t, "junit", sample()), &doc); err != nil {
		t.Fatal(err)
	}
	var app, secret xTestcase
	for _, c := range doc.Suites[0].Cases {
		switch *c.Name {
		case "Deployment team-1/app-1":
			app = c
		case "Secret team-1/db":
			secret = c
		}
	}
	if !strings.Contains(app.SystemOut, `warn latest-tag apps/team-1/app-1/resources.yaml:21 /spec/template/spec/containers/0/image: image "nginx:latest" uses the <latest> tag & will drift`) {
		t.Errorf("warning not in system-out: %q", app.SystemOut)
	}
	if len(secret.Failures) != 1 || *secret.Failures[0].Message != sample().Objects[4].Findings[0].Message {
		t.Errorf("failure message not kept: %+v", secret.Failures)
	}
}

func TestJUnitLocation(t *testing.T) {
	for _, tc := range []struct {
		path string
		line int
		want string
	}{
		{"/spec/replicas", 7, "app.yaml:7 /spec/replicas"},
		{"/spec/replicas", 0, "app.yaml /spec/replicas"},
		{"", 3, "app.yaml:3"},
		// The object as a whole: the testcase names it already.
		{"/apiVersion", 1, "app.yaml:1"},
		{"/kind", 1, "app.yaml:1"},
		// Fields below them are fields.
		{"/metadata/name", 4, "app.yaml:4 /metadata/name"},
	} {
		f := engine.Finding{File: "app.yaml", Line: tc.line, Path: tc.path}
		if got := location(f); got != tc.want {
			t.Errorf("location(path %q, line %d) = %q, want %q", tc.path, tc.line, got, tc.want)
		}
	}
}

func TestSARIFSchema(t *testing.T) {
	for _, tc := range goldens {
		if tc.format != "sarif" {
			continue
		}
		t.Run(tc.golden, func(t *testing.T) {
			if err := sariftest.Validate(render(t, "sarif", tc.result(), tc.opts...)); err != nil {
				t.Error(err)
			}
		})
	}
	// The schema does catch what matters: a region at line 0.
	bad := strings.Replace(string(render(t, "sarif", sample())), `"startLine": 1`, `"startLine": 0`, 1)
	if sariftest.Validate([]byte(bad)) == nil {
		t.Error("the schema accepts startLine 0")
	}
}

// TestSARIFStructure checks what the schema cannot: rules and results agree,
// and GitHub code scanning finds what it needs.
func TestSARIFStructure(t *testing.T) {
	type result struct {
		RuleID    *string `json:"ruleId"`
		RuleIndex *int    `json:"ruleIndex"`
		Level     string  `json:"level"`
		Message   struct {
			Text *string `json:"text"`
		} `json:"message"`
		Locations []struct {
			PhysicalLocation struct {
				ArtifactLocation struct {
					URI       string `json:"uri"`
					URIBaseID string `json:"uriBaseId"`
				} `json:"artifactLocation"`
				Region struct {
					StartLine int `json:"startLine"`
				} `json:"region"`
			} `json:"physicalLocation"`
		} `json:"locations"`
	}
	var log struct {
		Schema  string `json:"$schema"`
		Version string `json:"version"`
		Runs    []struct {
			Tool struct {
				Driver struct {
					Name           string `json:"name"`
					InformationURI string `json:"informationUri"`
					Version        string `json:"version"`
					Rules          []struct {
						ID               string `json:"id"`
						ShortDescription struct {
							Text string `json:"text"`
						} `json:"shortDescription"`
						DefaultConfiguration struct {
							Level string `json:"level"`
						} `json:"defaultConfiguration"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []result `json:"results"`
		} `json:"runs"`
	}
	r := sample()
	if err := json.Unmarshal(render(t, "sarif", r, WithChecks(sampleChecks), WithVersion("v0.1.0")), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || log.Schema != "https://json.schemastore.org/sarif-2.1.0.json" || len(log.Runs) != 1 {
		t.Fatalf("version %q, $schema %q, %d runs", log.Version, log.Schema, len(log.Runs))
	}
	d := log.Runs[0].Tool.Driver
	if d.Name != "gatekeep" || d.InformationURI != "https://github.com/gatekeep-dev/gatekeep" || d.Version != "v0.1.0" {
		t.Errorf("driver %q %q %q", d.Name, d.InformationURI, d.Version)
	}
	var ids []string
	for _, rule := range d.Rules {
		ids = append(ids, rule.ID)
		if rule.ShortDescription.Text == "" || rule.DefaultConfiguration.Level == "" {
			t.Errorf("rule %s lacks a description or level", rule.ID)
		}
	}
	// The checks that ran, in order, then those only seen in findings, then
	// input-error.
	if want := []string{"privileged-container", "plaintext-secret", "latest-tag", "ingress-conflict", "namespace-labels", "input-error"}; !reflect.DeepEqual(ids, want) {
		t.Errorf("rules %v, want %v", ids, want)
	}
	results := log.Runs[0].Results
	if len(results) != len(r.Findings())+len(r.Errors) {
		t.Fatalf("%d results, want %d", len(results), len(r.Findings())+len(r.Errors))
	}
	levels := map[string]string{}
	for _, res := range results {
		if res.RuleID == nil || res.RuleIndex == nil || res.Message.Text == nil || *res.Message.Text == "" {
			t.Fatalf("result lacks ruleId, ruleIndex or message.text: %+v", res)
		}
		if *res.RuleIndex < 0 || *res.RuleIndex >= len(d.Rules) || d.Rules[*res.RuleIndex].ID != *res.RuleID {
			t.Errorf("result ruleIndex %d does not point at rule %s", *res.RuleIndex, *res.RuleID)
		}
		if len(res.Locations) != 1 {
			t.Fatalf("result for %s has %d locations", *res.RuleID, len(res.Locations))
		}
		loc := res.Locations[0].PhysicalLocation
		if loc.ArtifactLocation.URI == "" || loc.ArtifactLocation.URIBaseID != "%SRCROOT%" || loc.Region.StartLine < 1 {
			t.Errorf("result for %s at %+v", *res.RuleID, loc)
		}
		levels[*res.RuleID] = res.Level
	}
	if want := map[string]string{"privileged-container": "error", "plaintext-secret": "error", "latest-tag": "warning", "namespace-labels": "note", "input-error": "error"}; !reflect.DeepEqual(levels, want) {
		t.Errorf("levels %v, want %v", levels, want)
	}
	if got := *results[0].Message.Text; got != `Deployment team-1/app-1: image "nginx:latest" uses the <latest> tag & will drift` {
		t.Errorf("first result message %q", got)
	}
}

func TestArtifactLocation(t *testing.T) {
	// gatekeep run at the root of a checkout, in a subdirectory of one, and
	// outside any.
	atRoot := sarifPaths{wd: "/srv/repo", root: "/srv/repo", inCheckout: true}
	inApps := sarifPaths{wd: "/srv/repo/apps", root: "/srv/repo", inCheckout: true}
	noGit := sarifPaths{wd: "/srv/loose", root: "/srv/loose"}
	for _, tc := range []struct {
		name  string
		paths sarifPaths
		file  string
		want  sarif.ArtifactLocation
	}{
		{"at the root", atRoot, "apps/app.yaml", sarif.ArtifactLocation{URI: "apps/app.yaml", URIBaseID: "%SRCROOT%"}},
		{"escaped", atRoot, "apps/my app#1.yaml", sarif.ArtifactLocation{URI: "apps/my%20app%231.yaml", URIBaseID: "%SRCROOT%"}},
		{"colon in the first segment", atRoot, "a:b.yaml", sarif.ArtifactLocation{URI: "./a:b.yaml", URIBaseID: "%SRCROOT%"}},
		{"absolute, in the checkout", atRoot, "/srv/repo/apps.yaml", sarif.ArtifactLocation{URI: "apps.yaml", URIBaseID: "%SRCROOT%"}},
		{"absolute, outside", atRoot, "/etc/gatekeep/x.yaml", sarif.ArtifactLocation{URI: "file:///etc/gatekeep/x.yaml"}},
		{"subdirectory: its own file", inApps, "web.yaml", sarif.ArtifactLocation{URI: "apps/web.yaml", URIBaseID: "%SRCROOT%"}},
		{"subdirectory: a sibling", inApps, "../base/x.yaml", sarif.ArtifactLocation{URI: "base/x.yaml", URIBaseID: "%SRCROOT%"}},
		{"subdirectory: dot segments", inApps, "./../apps/./web.yaml", sarif.ArtifactLocation{URI: "apps/web.yaml", URIBaseID: "%SRCROOT%"}},
		{"subdirectory: outside the checkout", inApps, "../../other/y.yaml", sarif.ArtifactLocation{URI: "file:///srv/other/y.yaml"}},
		{"no checkout: below", noGit, "apps/app.yaml", sarif.ArtifactLocation{URI: "apps/app.yaml", URIBaseID: "%SRCROOT%"}},
		{"no checkout: above", noGit, "../base/x.yaml", sarif.ArtifactLocation{URI: "file:///srv/base/x.yaml"}},
	} {
		if got := tc.paths.artifact(tc.file); got != tc.want {
			t.Errorf("%s: artifact(%q) = %+v, want %+v", tc.name, tc.file, got, tc.want)
		}
	}
}

// withSARIFDirs makes SARIF take wd as the working directory and root as
// the checkout holding it ("" for none), for output that does not depend on
// where the tests run.
func withSARIFDirs(wd, root string) Option {
	return func(o *options) {
		p := sarifPaths{wd: wd, root: root, inCheckout: root != ""}
		if root == "" {
			p.root = wd
		}
		o.sarifDirs = &p
	}
}

// subdir is a result of "gatekeep check . ../base" run in the apps
// directory of a checkout, which also read a file outside it.
func subdir() *engine.Result {
	web := manifest.Ref{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web"}
	db := manifest.Ref{APIVersion: "v1", Kind: "Secret", Namespace: "shop", Name: "db"}
	return &engine.Result{
		BundleName: "builtin", BundleDigest: "sha256:00", KubernetesVersion: "1.34", Files: 3,
		Objects: []engine.ObjectResult{
			{Object: web, File: "web.yaml", Line: 1, Findings: []engine.Finding{
				{Check: "privileged-container", Action: engine.Deny, Message: `container "main" is privileged`, Object: web, File: "web.yaml", Line: 18},
			}},
			{Object: db, File: "../base/secret.yaml", Line: 1, Findings: []engine.Finding{
				{Check: "plaintext-secret", Action: engine.Deny, Message: "Secret \"db\" holds plaintext values", Object: db, File: "../base/secret.yaml", Line: 6},
			}},
		},
		Errors: []manifest.Error{{File: "../../shared/broken.yaml", Line: 2, Message: "yaml: did not find expected key"}},
	}
}

// TestSARIFCheckout runs the SARIF writer in directories of a real
// checkout (a .git directory, or the .git file of a worktree) and outside
// one: file names are relative to the checkout's root, never "../".
func TestSARIFCheckout(t *testing.T) {
	type location struct {
		PhysicalLocation struct {
			ArtifactLocation sarif.ArtifactLocation `json:"artifactLocation"`
		} `json:"physicalLocation"`
	}
	type sarifLog struct {
		Runs []struct {
			OriginalURIBaseIDs map[string]struct {
				URI string `json:"uri"`
			} `json:"originalUriBaseIds"`
			Results []struct {
				Locations []location `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	tmp := t.TempDir()
	if gitrepo.Root(tmp) != "" {
		t.Fatalf("the temporary directory %s is inside a git checkout: set TMPDIR elsewhere", tmp)
	}
	for _, dir := range []string{"repo/.git", "repo/apps", "worktree/apps", "loose/apps"} {
		if err := os.MkdirAll(filepath.Join(tmp, dir), 0o750); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "worktree/.git"), []byte("gitdir: ../repo/.git/worktrees/wt\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		wd, root string
		want     []string
	}{
		{"repo", "repo", []string{"%SRCROOT% web.yaml", "file://" + filepath.ToSlash(tmp) + "/base/secret.yaml", "file://" + filepath.ToSlash(filepath.Dir(tmp)) + "/shared/broken.yaml"}},
		{"repo/apps", "repo", []string{"%SRCROOT% apps/web.yaml", "%SRCROOT% base/secret.yaml", "file://" + filepath.ToSlash(tmp) + "/shared/broken.yaml"}},
		{"worktree/apps", "worktree", []string{"%SRCROOT% apps/web.yaml", "%SRCROOT% base/secret.yaml", "file://" + filepath.ToSlash(tmp) + "/shared/broken.yaml"}},
		{"loose/apps", "loose/apps", []string{"%SRCROOT% web.yaml", "file://" + filepath.ToSlash(tmp) + "/loose/base/secret.yaml", "file://" + filepath.ToSlash(tmp) + "/shared/broken.yaml"}},
	} {
		t.Run(tc.wd, func(t *testing.T) {
			t.Chdir(filepath.Join(tmp, tc.wd))
			out := render(t, "sarif", subdir())
			if err := sariftest.Validate(out); err != nil {
				t.Error(err)
			}
			var log sarifLog
			if err := json.Unmarshal(out, &log); err != nil {
				t.Fatal(err)
			}
			run := log.Runs[0]
			if got, want := run.OriginalURIBaseIDs["%SRCROOT%"].URI, "file://"+filepath.ToSlash(filepath.Join(tmp, tc.root))+"/"; got != want {
				t.Errorf("%%SRCROOT%% is %q, want %q", got, want)
			}
			var got []string
			for _, r := range run.Results {
				for _, l := range r.Locations {
					a := l.PhysicalLocation.ArtifactLocation
					got = append(got, strings.TrimPrefix(a.URIBaseID+" "+a.URI, " "))
				}
			}
			sort.Strings(got) // results come by file name
			sort.Strings(tc.want)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("locations\n got %q\nwant %q", got, tc.want)
			}
			if bytes.Contains(out, []byte("../")) {
				t.Errorf("a URI climbs out of %%SRCROOT%%:\n%s", out)
			}
		})
	}
}

func TestGitHubEscaping(t *testing.T) {
	for _, tc := range []struct{ in, data, property string }{
		{"plain text", "plain text", "plain text"},
		{"100%", "100%25", "100%25"},
		{"a\r\nb", "a%0D%0Ab", "a%0D%0Ab"},
		{"k: v, w", "k: v, w", "k%3A v%2C w"},
		{"%0A", "%250A", "%250A"},
	} {
		if got := escapeData(tc.in); got != tc.data {
			t.Errorf("escapeData(%q) = %q, want %q", tc.in, got, tc.data)
		}
		if got := escapeProperty(tc.in); got != tc.property {
			t.Errorf("escapeProperty(%q) = %q, want %q", tc.in, got, tc.property)
		}
	}
	out := string(render(t, "github", sample()))
	for _, want := range []string{
		"::error file=apps/team-1/app-1/resources.yaml,line=27,title=privileged-container::Deployment team-1/app-1: container \"main\" is privileged\n",
		"::warning file=apps/team-1/app-1/resources.yaml,line=21,title=latest-tag::",
		"::notice file=cluster/namespaces.yaml,title=namespace-labels::Namespace team-1: namespace has no \"team\" label\n",
		"::error file=secrets/db%2Cprod.yaml,line=7,title=plaintext-secret::Secret team-1/db: data.password: 100%25 plaintext, not sealed%0Aseal it with kubeseal\n",
		"::error file=broken.yaml,line=3,title=input error::yaml: mapping values are not allowed in this context\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("github output lacks %q:\n%s", want, out)
		}
	}
	// One command per line: every line but the summary is a command.
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	for _, l := range lines[:len(lines)-1] {
		if !strings.HasPrefix(l, "::") {
			t.Errorf("line %q is not a workflow command", l)
		}
	}
}

// TestJSONManyFindings writes more findings than the writer holds encoded
// at once: the document must be the one a single json.Encoder writes.
func TestJSONManyFindings(t *testing.T) {
	r := sample()
	base := r.Objects[1]
	for i := 0; i < 2*listWindow+3; i++ {
		o := base
		o.Object.Name = fmt.Sprintf("app-%d", i)
		o.Findings = []engine.Finding{{Check: "latest-tag", Action: engine.Warn, Message: fmt.Sprintf("image %d <drifts> & \u2028\x01\xff \"q\" \\", i), Path: "/spec/~1x", Object: o.Object, File: "f.yaml", Line: i}}
		r.Objects = append(r.Objects, o)
	}
	var got bytes.Buffer
	if err := (jsonFormat{}).Write(&got, r); err != nil {
		t.Fatal(err)
	}
	type document struct {
		Bundle            jsonBundle       `json:"bundle"`
		KubernetesVersion string           `json:"kubernetesVersion"`
		Summary           engine.Summary   `json:"summary"`
		Findings          []jsonFinding    `json:"findings"`
		Errors            []manifest.Error `json:"errors"`
	}
	doc := document{Bundle: jsonBundle{Name: r.BundleName, Digest: r.BundleDigest}, KubernetesVersion: r.KubernetesVersion, Summary: r.Summary(), Errors: r.Errors}
	for _, f := range r.Findings() {
		doc.Findings = append(doc.Findings, findingJSON(f))
	}
	var want bytes.Buffer
	enc := json.NewEncoder(&want)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		g, w := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
		for i := 0; i < min(len(g), len(w)); i++ {
			if g[i] != w[i] {
				t.Fatalf("line %d: got %q, want %q (%d and %d lines)", i+1, g[i], w[i], len(g), len(w))
			}
		}
		t.Fatalf("got %d lines, want %d", len(g), len(w))
	}
}

// TestFindingsAboutNoObject: findings about a file rather than an object
// (policy-unsupported, render) name no object in any format, and JUnit
// gives each file its testcase, apart from the --combine findings.
func TestFindingsAboutNoObject(t *testing.T) {
	r := unsupported()
	r.Combined = append(r.Combined,
		engine.Finding{Check: engine.RenderCheck, Action: engine.Warn, Message: "chart repository not fetched", File: "policy/mutators.yaml", Line: 9},
		engine.Finding{Check: "main.warn", Action: engine.Warn, Message: "no NetworkPolicy in namespace team-1"})
	for _, format := range Names() {
		out := string(render(t, format, r))
		if strings.Contains(out, "(unnamed)") {
			t.Errorf("%s output names an object for findings about none:\n%s", format, out)
		}
		if format == "json" {
			continue // the object is there, empty: the contract's shape
		}
		if !strings.Contains(out, "AssignMetadata, ModifySet (2): Gatekeeper mutators are not run by gatekeep") {
			t.Errorf("%s output lacks the policy-unsupported message:\n%s", format, out)
		}
	}
	var doc struct {
		Suites []struct {
			Cases []struct {
				Name      string `xml:"name,attr"`
				Classname string `xml:"classname,attr"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(render(t, "junit", r), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range doc.Suites[0].Cases {
		got = append(got, fmt.Sprintf("%s|%s|%d", c.Name, c.Classname, strings.Count(c.SystemOut, "\n")+1))
	}
	want := []string{
		"ConfigMap team-1/settings|apps/settings.yaml|1",
		"policy/mutators.yaml|policy/mutators.yaml|2", // the warning and the render finding
		"policy/third-party.yaml|policy/third-party.yaml|1",
		"all documents (--combine)||1",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("junit testcases (name|classname|findings)\n got %q\nwant %q", got, want)
	}
}

// TestAuditResult: an audit's findings are of the cluster, not of a file;
// JSON names each object's uid and counts the objects audited.
func TestAuditResult(t *testing.T) {
	r := &engine.Result{BundleName: "builtin", BundleDigest: "sha256:ab", KubernetesVersion: "1.37", Audited: 1200,
		Objects: []engine.ObjectResult{{
			Object: manifest.Ref{APIVersion: "v1", Kind: "Pod", Namespace: "team-a", Name: "debug", UID: "0b6e-uid"},
			Findings: []engine.Finding{{Check: "privileged-container", Action: engine.Deny, Message: `container "main" is privileged`,
				Object: manifest.Ref{APIVersion: "v1", Kind: "Pod", Namespace: "team-a", Name: "debug", UID: "0b6e-uid"}, Path: "/spec/containers/0/securityContext/privileged"}},
		}}}
	var text, js bytes.Buffer
	for f, w := range map[string]*bytes.Buffer{"text": &text, "json": &js} {
		out, err := New(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Write(w, r); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"(cluster)\n", "1,200 objects audited in the cluster: 1 denied, 0 warnings, 1,199 passed"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	var doc struct {
		Summary  map[string]any `json:"summary"`
		Findings []struct {
			Object map[string]string `json:"object"`
		} `json:"findings"`
	}
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary["audited"] != float64(1200) || doc.Summary["objects"] != float64(1200) || doc.Summary["passed"] != float64(1199) {
		t.Errorf("summary %v", doc.Summary)
	}
	if len(doc.Findings) != 1 || doc.Findings[0].Object["uid"] != "0b6e-uid" {
		t.Errorf("findings %+v, want the object's uid", doc.Findings)
	}
}
