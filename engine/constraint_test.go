package engine

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

const replicaTemplate = `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: acmereplicas}
spec:
  crd:
    spec:
      names: {kind: AcmeReplicas}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max: {type: integer}
            teams:
              type: array
              items: {type: string}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package acmereplicas
        violation[{"msg": "too many"}] { input.review.object.spec.replicas > input.parameters.max }
`

const replicaConstraints = `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: AcmeReplicas
metadata: {name: good}
spec:
  parameters: {max: 3, teams: [a, b]}
---
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: AcmeReplicas
metadata: {name: bad}
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
  parameters:
    max: three
    teams: [a, 7]
`

// TestConstraintParametersValidated: a constraint among the inputs is
// validated against its template's openAPIV3Schema, as Gatekeeper's
// admission of it would be, whether the template is among the inputs or
// in the bundle; each wrong parameter is a schema finding at its line.
func TestConstraintParametersValidated(t *testing.T) {
	want := []Finding{
		{Check: "schema", Action: Deny, Message: `/spec/parameters/max: got string "three", want integer`, Path: "/spec/parameters/max", Line: 14},
		{Check: "schema", Action: Deny, Message: `/spec/parameters/teams/1: got number 7, want string`, Path: "/spec/parameters/teams/1", Line: 15},
	}
	for _, tc := range []struct {
		name             string
		inputs, inBundle string
	}{
		{"template among the inputs", replicaTemplate + "---\n", ""},
		{"template in the bundle", "", replicaTemplate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := bundle.Builtin()
			if err != nil {
				t.Fatal(err)
			}
			if tc.inBundle != "" {
				dir := filepath.Join(t.TempDir(), "team")
				if err := os.MkdirAll(dir, 0o750); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "template.yaml"), []byte(tc.inBundle), 0o600); err != nil {
					t.Fatal(err)
				}
				team, err := bundle.LoadPath(dir)
				if err != nil {
					t.Fatal(err)
				}
				b = bundle.Merge(b, team)
			}
			eng, err := New(b, Only("schema"))
			if err != nil {
				t.Fatal(err)
			}
			objs, errs := manifest.Parse("in.yaml", []byte(tc.inputs+replicaConstraints))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			r, err := eng.Check(context.Background(), &manifest.Set{Objects: objs, Files: 1})
			if err != nil {
				t.Fatal(err)
			}
			offset := strings.Count(tc.inputs, "\n") // the lines before the constraints
			var got []Finding
			for _, f := range r.Findings() {
				if f.Object.Kind != "AcmeReplicas" {
					continue // the template's own (its schema is the CRD catalog's)
				}
				if f.Object.Name == "bad" {
					got = append(got, Finding{Check: f.Check, Action: f.Action, Message: f.Message, Path: f.Path, Line: f.Line - offset})
				} else {
					t.Errorf("finding on %s: %+v", f.Object.Name, f)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("findings:\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}
