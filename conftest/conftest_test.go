package conftest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

func obj(t testing.TB, src string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(src), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// badDeployment breaks most rules of testdata/policy.
const badDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
  labels:
    app.kubernetes.io/name: api
spec:
  replicas: 1
  selector:
    matchLabels:
      tier: backend
  template:
    spec:
      hostNetwork: true
      containers:
        - name: api
          image: docker.io/shop/api:latest
          securityContext:
            privileged: true
            allowPrivilegeEscalation: true
`

func withLabel(src, label string) string {
	return strings.Replace(src, "    app.kubernetes.io/name: api\n", "    app.kubernetes.io/name: api\n    "+label+"\n", 1)
}

var badFailures = []Finding{
	{Check: "labels.deny", Message: `Deployment api is missing labels ["app.kubernetes.io/owner"]`},
	{Check: "main.deny", Message: "Deployment api must provide an app label for its pod selector"},
	{Check: "main.deny", Message: "Deployment api: containers must not run as root"},
	{Check: "main.deny", Message: "container api has no memory limit", Metadata: map[string]any{"severity": "high", "container": "api"}},
	{Check: "main.deny_host_network", Message: "Deployment api uses the host network"},
	{Check: "main.deny_latest_tag", Message: "container api uses the latest tag (docker.io/shop/api:latest)"},
	{Check: "main.violation", Message: "container api allows privilege escalation", Metadata: map[string]any{"details": map[string]any{"container": "api"}}},
	{Check: "main.violation", Message: "container api is privileged", Metadata: map[string]any{"details": map[string]any{"container": "api"}}},
}

var badWarnings = []Finding{
	{Check: "main.warn", Message: "Deployment api has fewer than 2 replicas"},
	{Check: "main.warn_no_probe", Message: "container api has no readiness probe"},
	{Check: "main.warn_untrusted_registry", Message: "container api: image docker.io/shop/api:latest is not from a trusted registry"},
}

func without(fs []Finding, check string) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Check != check {
			out = append(out, f)
		}
	}
	return out
}

func only(fs []Finding, prefix string) []Finding {
	var out []Finding
	for _, f := range fs {
		if strings.HasPrefix(f.Check, prefix) {
			out = append(out, f)
		}
	}
	return out
}

func TestReview(t *testing.T) {
	ctx := context.Background()
	files := readFiles(t, "policy")
	data := readData(t)
	good := readObjects(t, "manifests/shop.yaml")[0].Data
	mainAndLabels := []Option{Namespaces("main", "labels")}
	tests := []struct {
		name  string
		opts  []Option
		input map[string]any
		want  Result
	}{
		{"good deployment", mainAndLabels, good, Result{}},
		{"bad deployment", mainAndLabels, obj(t, badDeployment), Result{Failures: badFailures, Warnings: badWarnings}},
		{
			"exception suppresses deny_latest_tag and is counted", mainAndLabels,
			obj(t, withLabel(badDeployment, `policy.example.com/allow-latest: "true"`)),
			Result{Failures: without(badFailures, "main.deny_latest_tag"), Warnings: badWarnings, Exceptions: 1},
		},
		{
			"exception counts for a rule that did not fire, as conftest", mainAndLabels,
			labelled(t, good, "policy.example.com/allow-latest", "true"),
			Result{Exceptions: 1},
		},
		{
			"exception suppresses warn_untrusted_registry", mainAndLabels,
			obj(t, strings.Replace(badDeployment, "namespace: shop", "namespace: sandbox", 1)),
			Result{Failures: badFailures, Warnings: without(badWarnings, "main.warn_untrusted_registry"), Exceptions: 1},
		},
		{"default namespace is main", nil, obj(t, badDeployment), Result{Failures: only(badFailures, "main."), Warnings: badWarnings}},
		{"one other namespace", []Option{Namespaces("labels")}, obj(t, badDeployment), Result{Failures: only(badFailures, "labels.")}},
		{"namespace pattern", []Option{Namespaces("lab*")}, obj(t, badDeployment), Result{Failures: only(badFailures, "labels.")}},
		{"all namespaces", []Option{AllNamespaces()}, obj(t, badDeployment), Result{Failures: badFailures, Warnings: badWarnings}},
		{
			"owner label format (v0 re_match)", []Option{Namespaces("labels")},
			obj(t, withLabel(badDeployment, "app.kubernetes.io/owner: Bob")),
			Result{Warnings: []Finding{{Check: "labels.warn_owner_format", Message: `owner "Bob" should look like team-<name>`}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load(ctx, files, data, tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Review(ctx, tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
			// The same input as a Rego value already.
			v, err := ast.InterfaceToValue(tt.input)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := p.ReviewValue(ctx, v); err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReviewValue: %v, got\n%s\nwant\n%s", err, dump(got), dump(tt.want))
			}
		})
	}
}

// labelled returns a copy of m with one more label.
func labelled(t testing.TB, m map[string]any, k, v string) map[string]any {
	t.Helper()
	b, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	c := obj(t, string(b))
	meta, _ := c["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		c["metadata"] = meta
	}
	labels, _ := meta["labels"].(map[string]any)
	if labels == nil {
		labels = map[string]any{}
		meta["labels"] = labels
	}
	labels[k] = v
	return c
}

func dump(r Result) string {
	var b strings.Builder
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "  failure %s: %s %v\n", f.Check, f.Message, f.Metadata)
	}
	for _, f := range r.Warnings {
		fmt.Fprintf(&b, "  warning %s: %s %v\n", f.Check, f.Message, f.Metadata)
	}
	fmt.Fprintf(&b, "  exceptions %d", r.Exceptions)
	return b.String()
}

func TestRules(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		opts []Option
		want []string
	}{
		{nil, []string{"main.deny", "main.deny_host_network", "main.deny_latest_tag", "main.violation", "main.warn", "main.warn_no_probe", "main.warn_untrusted_registry"}},
		{[]Option{Namespaces("labels")}, []string{"labels.deny", "labels.warn_owner_format"}},
		{[]Option{AllNamespaces()}, []string{"labels.deny", "labels.warn_owner_format", "main.deny", "main.deny_host_network", "main.deny_latest_tag", "main.violation", "main.warn", "main.warn_no_probe", "main.warn_untrusted_registry"}},
	}
	for _, tt := range tests {
		p, err := Load(ctx, readFiles(t, "policy"), readData(t), tt.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Rules(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Rules() = %q, want %q", got, tt.want)
		}
	}
}

func TestReviewCombined(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, readFiles(t, "combine"), nil, Namespaces("combine"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []Document
	// worker.yaml first: input is in path order whatever the order given.
	for _, o := range readObjects(t, "manifests/worker.yaml", "manifests/shop.yaml") {
		docs = append(docs, Document{Path: o.Source.File, Contents: o.Data})
	}
	got, err := p.ReviewCombined(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Failures: []Finding{{Check: "combine.deny", Message: "manifests/worker.yaml: Deployment shop/worker has no Service selecting its pods"}},
		Warnings: []Finding{{Check: "combine.warn_pdb", Message: "Deployment shop/worker has no PodDisruptionBudget", Metadata: map[string]any{"path": "manifests/worker.yaml"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}

	// The input is exactly conftest's: [{"path": ..., "contents": ...}],
	// sorted by path, documents of a file in their order.
	shape := File{Name: "shape.rego", Content: []byte(`package main
deny contains sprintf("%d %s %s/%s %d", [i, doc.path, doc.contents.kind, doc.contents.metadata.name, count(doc)]) if some i, doc in input
`)}
	p, err = Load(ctx, []File{shape}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err = p.ReviewCombined(ctx, docs)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, f := range got.Failures {
		msgs = append(msgs, f.Message)
	}
	wantMsgs := []string{
		"0 manifests/shop.yaml Deployment/web 2",
		"1 manifests/shop.yaml Service/web 2",
		"2 manifests/shop.yaml PodDisruptionBudget/web 2",
		"3 manifests/worker.yaml Deployment/worker 2",
		"4 manifests/worker.yaml Service/worker-metrics 2",
	}
	if !reflect.DeepEqual(msgs, wantMsgs) {
		t.Errorf("combined input:\n%s\nwant\n%s", strings.Join(msgs, "\n"), strings.Join(wantMsgs, "\n"))
	}
}

func TestMessages(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		policy  string
		want    Result
		wantErr string
	}{
		{
			name:   "strings and objects with msg",
			policy: "package main\ndeny contains \"plain\" if true\ndeny contains {\"msg\": \"rich\", \"n\": 1} if true\n",
			want:   Result{Failures: []Finding{{Check: "main.deny", Message: "plain"}, {Check: "main.deny", Message: "rich", Metadata: map[string]any{"n": json.Number("1")}}}},
		},
		{
			name:   "a complete rule holding an array",
			policy: "package main\nviolation := [{\"msg\": \"from an array\"}] if input.kind == \"Deployment\"\nwarn := [] if true\n",
			want:   Result{Failures: []Finding{{Check: "main.violation", Message: "from an array"}}},
		},
		{
			name:   "undefined complete rule",
			policy: "package main\ndeny := [\"never\"] if input.kind == \"Nothing\"\n",
			want:   Result{},
		},
		{
			name:    "object without msg is an error, other messages kept",
			policy:  "package main\ndeny contains {\"message\": \"typo\"} if true\ndeny contains \"kept\" if true\n",
			want:    Result{Failures: []Finding{{Check: "main.deny", Message: "kept"}}},
			wantErr: `main.deny: message object {"message": "typo"} has no string msg field`,
		},
		{
			name:    "number message is an error",
			policy:  "package main\nwarn contains 42 if true\n",
			wantErr: "main.warn: message number 42 is neither a string nor an object with msg",
		},
		{
			name:    "rule that is not a collection",
			policy:  "package main\ndeny := \"oops\" if true\n",
			wantErr: `main.deny is string "oops", not a set of messages`,
		},
		{
			name:    "evaluation error has file and line",
			policy:  "package main\nname := input.metadata.name\nname := \"other\" if true\ndeny contains name if true\n",
			wantErr: "p.rego:3: eval_conflict_error: rule data.main.name produced conflicting values:",
		},
		{
			name:   "exception with an empty name silences deny, warn and violation, as conftest",
			policy: "package main\ndeny contains \"d\" if true\nwarn contains \"w\" if true\ndeny_x contains \"x\" if true\nexception contains [\"\"] if true\n",
			want:   Result{Failures: []Finding{{Check: "main.deny_x", Message: "x"}}, Exceptions: 2},
		},
		{
			name:   "one exception name silences deny_x, warn_x and violation_x",
			policy: "package main\ndeny_x contains \"d\" if true\nwarn_x contains \"w\" if true\nviolation_x contains \"v\" if true\ndeny_y contains \"y\" if true\nexception contains [\"x\", \"z\"] if true\n",
			want:   Result{Failures: []Finding{{Check: "main.deny_y", Message: "y"}}, Exceptions: 3},
		},
		{
			name:   "names conftest does not read",
			policy: "package main\ndenied contains \"a\" if true\nwarning contains \"b\" if true\ndeny_ contains \"c\" if true\ndeny_x(y) := [y]\nwarn_a_b contains \"d\" if true\n",
			want:   Result{Warnings: []Finding{{Check: "main.warn_a_b", Message: "d"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load(ctx, []File{{Name: "p.rego", Content: []byte(tt.policy)}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.Review(ctx, obj(t, badDeployment))
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error = %v, want %q", err, tt.wantErr)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", dump(got), dump(tt.want))
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	ctx := context.Background()
	v1 := "package main\n\ndeny contains msg if {\n\tinput.kind == \"Pod\"\n\tmsg := \"pod\"\n}\n"
	tests := []struct {
		name  string
		files []File
		opts  []Option
		want  []string // each error, as file:line: message (a prefix of the message)
	}{
		{
			name:  "syntax error",
			files: []File{{Name: "policy/bad.rego", Content: []byte("package main\n\ndeny contains msg if {\n\tmsg := sprintf(\"%s\", [input.kind]\n}\n")}},
			want:  []string{"policy/bad.rego:5: rego_parse_error: unexpected } token"},
		},
		{
			name:  "v0 file with a syntax error is reported as v0",
			files: []File{{Name: "old.rego", Content: []byte("package main\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n\nwarn[msg] {\n\tmsg := = \"y\"\n}\n")}},
			want:  []string{"old.rego:8: rego_parse_error: unexpected eq token"},
		},
		{
			name:  "unsafe var",
			files: []File{{Name: "policy/unsafe.rego", Content: []byte("package main\n\ndeny contains msg if {\n\tinput.kind == \"Pod\"\n}\n")}},
			want:  []string{"policy/unsafe.rego:3: rego_unsafe_var_error: var msg is unsafe"},
		},
		{
			name: "compile errors of every file",
			files: []File{
				{Name: "b.rego", Content: []byte("package main\ndeny contains x if { true }\n")},
				{Name: "a.rego", Content: []byte("package main\n\nwarn contains y if { true }\n")},
			},
			want: []string{"a.rego:3: rego_unsafe_var_error: var y is unsafe", "b.rego:2: rego_unsafe_var_error: var x is unsafe"},
		},
		{
			name: "syntax errors of every file",
			files: []File{
				{Name: "d.rego", Content: []byte("package main\ndeny contains \"x\" if input.kind ==\n")},
				{Name: "ok.rego", Content: []byte("package main\ndeny contains 1 if true\n")},
				{Name: "c.rego", Content: []byte("package main\nwarn contains \"x\" if {\n")},
			},
			want: []string{"c.rego:3: rego_parse_error: unexpected eof token", "d.rego:3: rego_parse_error:"},
		},
		{
			name:  "http.send is refused",
			files: []File{{Name: "net.rego", Content: []byte("package main\n\ndeny contains msg if {\n\tresp := http.send({\"method\": \"GET\", \"url\": \"https://example.com\"})\n\tmsg := resp.body\n}\n")}},
			want:  []string{"net.rego:4: http.send is disabled: policies may not reach outside the machine"},
		},
		{
			name:  "net.lookup_ip_addr and opa.runtime are refused",
			files: []File{{Name: "net.rego", Content: []byte("package main\n\ndeny contains msg if {\n\taddrs := net.lookup_ip_addr(\"example.com\")\n\tmsg := sprintf(\"%v %v\", [addrs, opa.runtime().env])\n}\n")}},
			want:  []string{"net.rego:4: net.lookup_ip_addr is disabled", "net.rego:5: opa.runtime is disabled"},
		},
		{
			name:  "deny[msg] if builds an object conftest does not read",
			files: []File{{Name: "obj.rego", Content: []byte("package main\n\ndeny[msg] if {\n\tmsg := \"x\"\n}\n")}},
			want:  []string{"obj.rego:3: rule deny[msg] uses if without contains"},
		},
		{
			name:  "v0 deny[msg] if (future.keywords.if)",
			files: []File{{Name: "obj.rego", Content: []byte("package main\nimport future.keywords.if\n\nexception[rules] if {\n\trules := [\"x\"]\n}\n")}},
			want:  []string{"obj.rego:4: rule exception[rules] uses if without contains"},
		},
		{
			name:  "v1 asked for, v0 file",
			files: []File{{Name: "policy/legacy.rego", Content: []byte("package main\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n")}},
			opts:  []Option{RegoVersion("v1")},
			want:  []string{"policy/legacy.rego:3: rego_parse_error: `if` keyword is required before rule body", "policy/legacy.rego:3: rego_parse_error: `contains` keyword is required for partial set rules"},
		},
		{
			name:  "v0 asked for, v1 file",
			files: []File{{Name: "new.rego", Content: []byte(v1)}},
			opts:  []Option{RegoVersion("v0")},
			want:  []string{"new.rego:3: rego_parse_error: var cannot be used for rule name", "new.rego:3: rego_parse_error: var cannot be used for rule name"},
		},
		{
			name:  "v1 checks hold for v1 files",
			files: []File{{Name: "dep.rego", Content: []byte("package main\n\ndeny contains msg if {\n\tre_match(\"a\", input.kind)\n\tmsg := \"x\"\n}\n")}},
			want:  []string{"dep.rego:4: rego_type_error: deprecated built-in function calls in expression: re_match"},
		},
		{
			name:  "rule where data is",
			files: []File{{Name: "data.rego", Content: []byte("package registries\n\ntrusted := [\"x\"]\n")}, {Name: "main.rego", Content: []byte(v1)}},
			want:  []string{"data.rego:3: rego_compile_error: conflicting rule for data path registries/trusted found"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(ctx, tt.files, readData(t), tt.opts...)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error = %v (%T), want Errors", err, err)
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(errs), len(tt.want), err)
			}
			for i, e := range errs {
				if !strings.HasPrefix(e.Error(), tt.want[i]) {
					t.Errorf("error %d = %q, want %q...", i, e.Error(), tt.want[i])
				}
			}
			var one manifest.Error
			if !errors.As(err, &one) || one.File == "" || one.Line == 0 {
				t.Errorf("errors.As(manifest.Error) = %+v", one)
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	ctx := context.Background()
	v1 := File{Name: "p.rego", Content: []byte("package main\ndeny contains \"x\" if false\n")}
	tests := []struct {
		name  string
		files []File
		opts  []Option
		want  string
	}{
		{"no policies", []File{{Name: "p_test.rego", Content: []byte("package main\ntest_x if true\n")}}, nil, "no Rego policies"},
		{"unknown namespace", []File{v1}, []Option{Namespaces("kubernetes")}, `namespace "kubernetes": no policy has package kubernetes (packages: main)`},
		{"pattern matching nothing", []File{v1}, []Option{Namespaces("k8s.*")}, `namespace pattern "k8s.*" matches no package`},
		{"no main package", []File{{Name: "k.rego", Content: []byte("package k8s\ndeny contains \"x\" if false\n")}}, nil, `namespace "main": no policy has package main (packages: k8s)`},
		{"unknown version", []File{v1}, []Option{RegoVersion("v2")}, `unknown Rego version "v2"`},
		{"file twice", []File{v1, v1}, nil, "p.rego: file given twice"},
		{"empty file", []File{v1, {Name: "empty.rego"}}, nil, "empty.rego: rego_parse_error: empty module"},
		{"comments only", []File{v1, {Name: "c.rego", Content: []byte("# nothing\n")}}, nil, "c.rego: rego_parse_error: empty module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(ctx, tt.files, nil, tt.opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestRegoVersions mixes v0 and v1 files in one package and checks each is
// read at its version.
func TestRegoVersions(t *testing.T) {
	ctx := context.Background()
	files := []File{
		// v1: contains and if.
		{Name: "v1.rego", Content: []byte("package main\n\ndeny contains msg if {\n\tsome c in input.spec.template.spec.containers\n\tmsg := sprintf(\"v1 %s\", [c.name])\n}\n")},
		// v0 with future.keywords: deny[msg] if would be an object in v1 too,
		// but p[x] { } in a future.keywords file is a v0 partial set.
		{Name: "fk.rego", Content: []byte("package main\n\nimport future.keywords.in\n\ndeny[msg] {\n\tsome c in input.spec.template.spec.containers\n\tmsg := sprintf(\"future %s\", [c.name])\n}\n")},
		// plain v0, with a builtin deprecated in v1.
		{Name: "v0.rego", Content: []byte("package main\n\ndeny[msg] {\n\tre_match(\"^Deploy\", input.kind)\n\tmsg := \"v0\"\n}\n")},
		// rego.v1 import.
		{Name: "compat.rego", Content: []byte("package main\n\nimport rego.v1\n\ndeny contains \"compat\" if true\n")},
	}
	p, err := Load(ctx, files, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Review(ctx, obj(t, badDeployment))
	if err != nil {
		t.Fatal(err)
	}
	want := []Finding{{Check: "main.deny", Message: "compat"}, {Check: "main.deny", Message: "future api"}, {Check: "main.deny", Message: "v0"}, {Check: "main.deny", Message: "v1 api"}}
	if !reflect.DeepEqual(got.Failures, want) {
		t.Errorf("got\n%s", dump(got))
	}
	// All of them at v0: the v1 file does not parse.
	if _, err := Load(ctx, files, nil, RegoVersion("v0")); err == nil || !strings.Contains(err.Error(), "v1.rego:4:") {
		t.Errorf("v0: error = %v, want v1.rego:4", err)
	}
}

// TestNoNetwork checks evaluation makes no request: http.send is refused at
// load, and json.match_schema may not fetch a remote $ref.
func TestNoNetwork(t *testing.T) {
	ctx := context.Background()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type": "object", "required": ["nothing"]}`)) // a failed write shows up as the client's error
	}))
	defer srv.Close()
	policy := File{Name: "schema.rego", Content: []byte(`package main

deny contains msg if {
	[ok, errs] := json.match_schema(input, {"$ref": "` + srv.URL + `/schema.json"})
	not ok
	msg := sprintf("schema: %v", [errs])
}
`)}
	send := File{Name: "send.rego", Content: []byte(`package main

warn contains msg if {
	resp := http.send({"method": "GET", "url": "` + srv.URL + `/send"})
	msg := sprintf("%v", [resp.status_code])
}
`)}

	p, err := Load(ctx, []File{policy}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A $ref refused is an error, not a rule that silently does not fire.
	if _, err := p.Review(ctx, obj(t, badDeployment)); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("remote $ref without the network: error = %v, want a refusal", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the policy reached the network: %d requests", n)
	}
	if _, err := Load(ctx, []File{send}, nil); err == nil || !strings.Contains(err.Error(), "send.rego:4: http.send is disabled") {
		t.Errorf("http.send: error = %v", err)
	}

	// The bundle may allow the network: then both reach the server.
	p, err = Load(ctx, []File{policy, send}, nil, AllowNetwork(true))
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Review(ctx, obj(t, badDeployment))
	if err != nil {
		t.Fatal(err)
	}
	if n := hits.Load(); n != 2 || len(res.Failures) != 1 || len(res.Warnings) != 1 {
		t.Errorf("with AllowNetwork: %d requests, %s", n, dump(res))
	}
}

func TestConcurrentReview(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, readFiles(t, "policy"), readData(t), Namespaces("main", "labels"))
	if err != nil {
		t.Fatal(err)
	}
	bad := obj(t, badDeployment)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := p.Review(ctx, bad)
				if err != nil || len(got.Failures) != len(badFailures) || len(got.Warnings) != len(badWarnings) {
					t.Errorf("concurrent review: %v %s", err, dump(got))
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestReviewCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p, err := Load(ctx, readFiles(t, "policy"), readData(t))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := p.Review(ctx, obj(t, badDeployment)); !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want cancelled", err)
	}
}

// TestReviewGoTypes gives input built in Go rather than decoded from JSON.
func TestReviewGoTypes(t *testing.T) {
	ctx := context.Background()
	p, err := Load(ctx, readFiles(t, "bench"), nil)
	if err != nil {
		t.Fatal(err)
	}
	type limits struct {
		Memory string `json:"memory"`
	}
	in := map[string]any{
		"kind":     "Deployment",
		"metadata": map[string]any{"name": "go", "labels": map[string]string{"app.kubernetes.io/name": "go", "app.kubernetes.io/owner": "me"}},
		"spec": map[string]any{
			"replicas": int32(1),
			"selector": map[string]any{"matchLabels": map[string]any{"app": "go"}},
			"template": map[string]any{"spec": map[string]any{
				"securityContext": map[string]any{"runAsNonRoot": true},
				"containers":      []map[string]any{{"name": "c", "image": "x:latest", "resources": map[string]any{"limits": limits{"1Gi"}}}},
			}},
		},
	}
	got, err := p.Review(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	want := Result{
		Failures: []Finding{{Check: "main.deny_latest_tag", Message: "container c uses the latest tag"}},
		Warnings: []Finding{{Check: "main.warn", Message: "Deployment go has fewer than 2 replicas"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func TestReviewTimeout(t *testing.T) {
	slow := File{Name: "slow.rego", Content: []byte(`package main

deny contains "never" if {
	some i in numbers.range(1, 5000)
	some j in numbers.range(1, 5000)
	i + j < 0
}
`)}
	p, err := Load(context.Background(), []File{slow}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Review(ctx, obj(t, badDeployment))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("evaluation stopped after %v", d)
	}
}

func TestIfPresentAndExcept(t *testing.T) {
	mods := []File{
		{Name: "a.rego", Content: []byte("package gatekeep.checks.a\n\ndeny contains \"a\" if input.x\n")},
		{Name: "b.rego", Content: []byte("package gatekeep.checks.b\n\ndeny contains \"b\" if input.x\n")},
		{Name: "lib.rego", Content: []byte("package gatekeep.lib.util\n\nx := 1\n")},
	}
	ctx := context.Background()
	// No main package: asking for it by default is an error, IfPresent is not.
	if _, err := Load(ctx, mods, nil); err == nil {
		t.Errorf("default namespace main without a main package: no error")
	}
	p, err := Load(ctx, mods, nil, IfPresent("main", "gatekeep.checks.*"), Except("gatekeep.checks.b"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.Namespaces(), ","); got != "gatekeep.checks.a" {
		t.Errorf("namespaces = %s, want gatekeep.checks.a", got)
	}
	res, err := p.Review(ctx, map[string]any{"x": true})
	if err != nil || len(res.Failures) != 1 || res.Failures[0].Check != "gatekeep.checks.a.deny" {
		t.Errorf("review = %+v, %v", res, err)
	}
}
