package regoeval

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

func TestSchemaRefs(t *testing.T) {
	for _, c := range []struct {
		schema  string
		network bool
		refused bool
	}{
		{`{"type": "object"}`, false, false},
		{`{"definitions": {"a": {"type": "string"}}, "properties": {"x": {"$ref": "#/definitions/a"}}}`, false, false},
		{`{"$id": "http://example.com/root.json", "definitions": {"a": {}}, "properties": {"x": {"$ref": "http://example.com/root.json#/definitions/a"}}}`, false, false},
		{`{"$ref": "http://json-schema.org/draft-07/schema#"}`, false, false},
		{`{"const": {"$ref": "file:///etc/hostname"}}`, false, false},
		{`{"$ref": "http://127.0.0.1:1/x.json"}`, false, true},
		{`{"$ref": "http://127.0.0.1:1/x.json"}`, true, false},
		{`{"$id": "http://127.0.0.1:1/a.json", "properties": {"x": {"$ref": "b.json"}}}`, false, true},
		{`{"$ref": "file:///etc/hostname"}`, false, true},
		{`{"$ref": "file:///etc/hostname"}`, true, true},
		{`{"$ref": "/etc/hostname"}`, true, true},
		{`{"$ref": "hostname"}`, true, true},
		{`{"$id": "file:///etc/", "properties": {"x": {"$ref": "hostname"}}}`, true, true},
		{`{"$id": "file:///etc/hostname", "$ref": "#"}`, true, true},
		{`{"items": [{"$ref": "file:///dev/zero"}]}`, true, true},
	} {
		v, err := ast.ParseTerm(c.schema)
		if err != nil {
			t.Fatal(err)
		}
		for _, val := range []ast.Value{v.Value, ast.String(c.schema)} {
			err := SchemaRefs(val, c.network)
			if (err != nil) != c.refused {
				t.Errorf("%s (network %v): %v, refused %v wanted", c.schema, c.network, err, c.refused)
			}
		}
	}
}

// The built-ins refuse, with an error that stops the evaluation whatever
// the strictness of built-in errors, to read a file.
func TestSchemaBuiltinsRefuseFiles(t *testing.T) {
	for _, q := range []string{
		`x := json.match_schema({}, {"$ref": "file:///etc/hostname"})`,
		`x := json.match_schema({}, "{\"$ref\": \"file:///dev/zero\"}")`,
		`x := json.verify_schema({"$ref": "file:///dev/zero"})`,
	} {
		pq, err := rego.New(rego.Query(q), rego.Capabilities(Capabilities())).PrepareForEval(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		_, err = pq.Eval(context.Background())
		var te *topdown.Error
		if !errors.As(err, &te) || !strings.Contains(te.Message, "refused") {
			t.Errorf("%s: %v, want a refusal", q, err)
		}
	}
}
