package regoeval

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// OPA's json.match_schema and json.verify_schema resolve the $refs of a
// schema themselves: remote ones over HTTP, limited only by the
// capabilities' AllowNet (and, refused, they fail quietly: the call is
// undefined and a rule using it simply does not fire), and file: ones
// from any path of the machine, with no limit at all (file:///dev/zero
// reads until memory runs out). A policy bundle's Rego must reach neither,
// so gatekeep replaces both built-ins, for every evaluation of the
// process, by ones that look at the schema's references first:
//
//   - a reference into the schema itself (#/definitions/x, or a URI one of
//     its $ids names) and the JSON Schema meta-schemas OPA carries are
//     resolved as before;
//   - an http: or https: reference is fetched only if the evaluation's
//     capabilities allow the network (allowNetwork: true), and then by OPA,
//     within its AllowNet;
//   - any other reference, file: ones and relative ones with no http base
//     among them, is refused: a bundle is not a directory of the machine
//     (it may be a .tar.gz, or a ConfigMap), so there is nothing of it a
//     file: URI could name safely.
//
// A refused reference stops the evaluation with an error (topdown.Halt),
// whatever the strictness of built-in errors: a conftest policy's review
// fails (an error, exit 2), a ConstraintTemplate's evaluation gives the
// violation Gatekeeper gives for a template that fails on an object, with
// the error as its message. It never passes silently.
func init() {
	wrap := func(b *ast.Builtin, schemaArg int) {
		orig := topdown.GetBuiltin(b.Name)
		if orig == nil {
			panic("regoeval: no built-in " + b.Name)
		}
		topdown.RegisterBuiltinFunc(b.Name, func(bctx topdown.BuiltinContext, args []*ast.Term, iter func(*ast.Term) error) error {
			if schemaArg < len(args) {
				if err := SchemaRefs(args[schemaArg].Value, NetworkAllowed(bctx.Capabilities)); err != nil {
					return topdown.Halt{Err: &topdown.Error{Code: topdown.BuiltinErr, Message: b.Name + ": " + err.Error(), Location: bctx.Location}}
				}
			}
			return orig(bctx, args, iter)
		})
	}
	wrap(ast.JSONMatchSchema, 1)
	wrap(ast.JSONSchemaVerify, 0)
}

// SchemaRefs checks the references of a JSON schema (an object, or a
// string of JSON, as the built-ins take it) as described above: it returns
// an error naming the first reference refused. A schema it cannot read is
// left to the built-in to reject.
func SchemaRefs(schema ast.Value, network bool) error {
	var doc any
	switch s := schema.(type) {
	case ast.String:
		if err := json.Unmarshal([]byte(s), &doc); err != nil {
			return nil
		}
	case ast.Object, *ast.Array:
		var err error
		if doc, err = ast.JSON(s); err != nil {
			return nil
		}
	default:
		return nil
	}
	root := &url.URL{}
	ids := map[string]bool{}
	var err error
	walkSchema(doc, root, func(base *url.URL, key, v string) {
		if key != "$ref" {
			if u, err := base.Parse(v); err == nil {
				u.Fragment = ""
				ids[u.String()] = true
			}
		}
	})
	walkSchema(doc, root, func(base *url.URL, key, v string) {
		if err != nil {
			return
		}
		ref, perr := base.Parse(v)
		if perr != nil {
			err = fmt.Errorf("$ref %q: %v", v, perr)
			return
		}
		if key != "$ref" {
			if ref.Scheme != "" && ref.Scheme != "http" && ref.Scheme != "https" && ref.Scheme != "urn" && ref.Scheme != "tag" {
				err = fmt.Errorf("schema id %q refused: only http and https URIs may identify a schema", v)
			}
			return
		}
		doc := *ref
		doc.Fragment = ""
		switch {
		case strings.HasPrefix(v, "#"), ids[doc.String()], metaSchema(ref):
		case (ref.Scheme == "http" || ref.Scheme == "https") && ref.Host != "":
			if !network {
				err = fmt.Errorf("$ref %q refused: the bundle does not allow the network (allowNetwork in gatekeep.yaml)", v)
			}
		default:
			err = fmt.Errorf("$ref %q refused: only references within the schema and, with allowNetwork, http and https ones are resolved", v)
		}
	})
	return err
}

// walkSchema calls f for each $ref of a schema, and each $id (id, in
// draft 4), with the base URI it is resolved against. The values of
// const, enum, default and examples are data, not schemas.
func walkSchema(v any, base *url.URL, f func(base *url.URL, key, value string)) {
	switch x := v.(type) {
	case map[string]any:
		for _, k := range []string{"$id", "id"} {
			if id, ok := x[k].(string); ok {
				f(base, k, id)
				if u, err := base.Parse(id); err == nil {
					base = u
				}
				break
			}
		}
		if ref, ok := x["$ref"].(string); ok {
			f(base, "$ref", ref)
		}
		for k, e := range x {
			switch k {
			case "const", "enum", "default", "examples":
				continue
			}
			walkSchema(e, base, f)
		}
	case []any:
		for _, e := range x {
			walkSchema(e, base, f)
		}
	}
}

// metaSchema tells whether a reference is one of the JSON Schema drafts'
// meta-schemas, which OPA carries rather than fetches.
func metaSchema(u *url.URL) bool {
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host != "json-schema.org" {
		return false
	}
	switch strings.TrimSuffix(u.Path, "/") {
	case "/draft-04/schema", "/draft-06/schema", "/draft-07/schema":
		return true
	}
	return false
}
