package conftest

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
)

// conftestCheck evaluates one input the way conftest v0.71.1 does
// (policy/engine.go, Engine.check and Engine.query): one query per rule
// name, and per rule the query data.<ns>.exception[_][_] == "<name>", whose
// every result is an exception that silences the whole rule.
func conftestCheck(ctx context.Context, c *ast.Compiler, store storage.Store, modules map[string]*ast.Module, input any, ns string) (Result, error) {
	var rules []string
	for _, m := range modules {
		if strings.Replace(m.Package.Path.String(), "data.", "", 1) != ns {
			continue
		}
		for _, r := range m.Rules {
			name := r.Head.Name.String()
			if !failureRule.MatchString(name) && !warningRule.MatchString(name) {
				continue
			}
			if !slices.Contains(rules, name) {
				rules = append(rules, name)
			}
		}
	}
	query := func(q string) (rego.ResultSet, error) {
		return rego.New(rego.Query(q), rego.Compiler(c), rego.Store(store), rego.Input(input)).Eval(ctx)
	}
	var res Result
	for _, rule := range rules {
		exc, err := query(fmt.Sprintf("data.%s.exception[_][_] == %q", ns, removeRulePrefix(rule)))
		if err != nil {
			return res, err
		}
		rs, err := query(fmt.Sprintf("data.%s.%s", ns, rule))
		if err != nil {
			return res, err
		}
		res.Exceptions += len(exc)
		if len(exc) > 0 {
			continue
		}
		for _, r := range rs {
			for _, e := range r.Expressions {
				vals, _ := e.Value.([]any)
				for _, v := range vals {
					var f Finding
					switch v := v.(type) {
					case string:
						f = Finding{Check: ns + "." + rule, Message: v}
					case map[string]any:
						msg, ok := v["msg"].(string)
						if !ok {
							return res, fmt.Errorf("%q field must be present and a string", "msg")
						}
						f = Finding{Check: ns + "." + rule, Message: msg}
						for k, x := range v {
							if k != "msg" {
								if f.Metadata == nil {
									f.Metadata = map[string]any{}
								}
								f.Metadata[k] = x
							}
						}
					default:
						continue
					}
					if failureRule.MatchString(rule) {
						res.Failures = append(res.Failures, f)
					} else {
						res.Warnings = append(res.Warnings, f)
					}
				}
			}
		}
	}
	return res, nil
}

// TestSameAsConftest checks that Review's single query gives what
// conftest's query per rule gives, over the testdata policies and objects
// and policies with odd exceptions.
func TestSameAsConftest(t *testing.T) {
	ctx := context.Background()
	bad := obj(t, badDeployment)
	inputs := []map[string]any{
		bad,
		labelled(t, bad, "policy.example.com/allow-latest", "true"),
		obj(t, strings.Replace(badDeployment, "namespace: shop", "namespace: sandbox", 1)),
		labelled(t, bad, "app.kubernetes.io/owner", "Bob"),
		{},
	}
	for _, o := range readObjects(t, "manifests/shop.yaml", "manifests/worker.yaml") {
		inputs = append(inputs, o.Data, labelled(t, o.Data, "policy.example.com/allow-latest", "true"))
	}
	odd := []File{{Name: "odd.rego", Content: []byte(`package main

deny contains "d" if input.kind == "Deployment"
deny_x contains "dx" if input.kind == "Deployment"
warn_x contains "wx" if true
violation_x_y contains {"msg": "vxy", "n": 1} if true
warn_y := ["wy"] if true
deny_z := {"msg": "not a set"} if false

exception contains ["x", "x"] if input.metadata.namespace == "shop"
exception contains ["x_y", ""] if input.metadata.labels["policy.example.com/allow-latest"]
exception contains "y" if true
exception contains [1, "nothing"] if true
`)}}
	noException := []File{{Name: "noexc.rego", Content: odd[0].Content[:strings.Index(string(odd[0].Content), "exception")]}}
	for _, set := range []struct {
		name  string
		files []File
		data  map[string]any
	}{
		{"testdata/policy", readFiles(t, "policy"), readData(t)},
		{"odd exceptions", odd, nil},
		// exceptions from the data document and from a package.
		{"exceptions in data", noException, map[string]any{"main": map[string]any{"exception": []any{[]any{"x"}}}}},
		{"exception package", []File{noException[0], {Name: "exc.rego", Content: []byte("package main.exception\n\nfirst := [\"x_y\"]\n")}}, nil},
	} {
		p, err := Load(ctx, set.files, set.data, AllNamespaces())
		if err != nil {
			t.Fatal(err)
		}
		// The same policies compiled for the reference.
		var policies []File
		for _, f := range set.files {
			if !isTestFile(f.Name) {
				policies = append(policies, f)
			}
		}
		modules, err := parseFiles(policies, "")
		if err != nil {
			t.Fatal(err)
		}
		store, _ := newStore(set.data)
		c := newCompiler(capabilities(false), false)
		if err := compile(ctx, c, store, modules); err != nil {
			t.Fatal(err)
		}
		for i, in := range inputs {
			got, err := p.Review(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			var want Result
			for _, ns := range p.Namespaces() {
				r, err := conftestCheck(ctx, c, store, modules, in, ns)
				if err != nil {
					t.Fatal(err)
				}
				want.Failures = append(want.Failures, r.Failures...)
				want.Warnings = append(want.Warnings, r.Warnings...)
				want.Exceptions += r.Exceptions
			}
			sortFindings(want.Failures)
			sortFindings(want.Warnings)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s, input %d: got\n%s\nconftest gives\n%s", set.name, i, dump(got), dump(want))
			}
		}
	}
}
