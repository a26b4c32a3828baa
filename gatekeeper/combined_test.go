package gatekeeper

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/open-policy-agent/frameworks/constraint/pkg/client/drivers"
)

// combinedTemplates exercise the combined program and the reviewer: shared
// and unshared libs, several constraints per template, templates that
// cannot be units (input read whole, input replaced with "with", a
// nondeterministic builtin), runtime errors, results that are not objects,
// details that rego cannot turn into JSON, v1 Rego, operations, scoped
// actions, constraints with the same parameters, a CEL template and a
// namespaceSelector that cannot judge.
var combinedTemplates = []string{`
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmblabels}
spec:
  crd:
    spec:
      names: {kind: CmbLabels}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            labels: {type: array, items: {type: string}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmblabels
        import data.lib.cmb.util
        violation[{"msg": msg, "details": {"missing": missing}}] {
          provided := {k | input.review.object.metadata.labels[k]}
          required := {l | l := input.parameters.labels[_]}
          missing := required - provided
          count(missing) > 0
          msg := sprintf("%v is missing %v", [util.name, sort(missing)])
        }
      libs:
        - |
          package lib.cmb.util
          name = n { n := input.review.object.metadata.name }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbname}
spec:
  crd:
    spec:
      names: {kind: CmbName}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmbname
        import data.lib.cmb.util
        violation[{"msg": sprintf("%v has a short name", [util.name])}] {
          count(util.name) < 3
        }
      libs:
        - |
          package lib.cmb.util
          name = n { n := input.review.object.metadata.name }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbparamlib}
spec:
  crd:
    spec:
      names: {kind: CmbParamLib}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            prefix: {type: string}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmbparamlib
        import data.lib.cmb.prefix
        violation[{"msg": msg}] {
          not prefix.ok
          msg := sprintf("name %v does not start with %v", [input.review.object.metadata.name, input.parameters.prefix])
        }
      libs:
        - |
          package lib.cmb.prefix
          ok { startswith(input.review.object.metadata.name, input.parameters.prefix) }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbimports}
spec:
  crd:
    spec:
      names: {kind: CmbImports}
      validation:
        openAPIV3Schema:
          type: object
          properties:
            max: {type: integer}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmbimports
        violation[{"msg": msg, "details": {"path": "/spec/replicas"}}] {
          o := input.review.object
          o.spec.replicas > input.parameters.max
          p := input.parameters
          msg := sprintf("%v replicas, at most %v", [o.spec.replicas, p.max])
        }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbwhole}
spec:
  crd:
    spec:
      names: {kind: CmbWhole}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmbwhole
        violation[{"msg": msg}] {
          x := input
          count(x) != 2
          msg := sprintf("input has %v keys", [count(x)])
        }
        violation[{"msg": "a Secret"}] {
          input.review.object.kind == "Secret"
        }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbwith}
spec:
  crd:
    spec:
      names: {kind: CmbWith}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmbwith
        named(n) { input.review.object.metadata.name == n }
        violation[{"msg": "named web"}] {
          named("web") with input.review.object.metadata.name as input.review.object.metadata.name
        }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbtime}
spec:
  crd:
    spec:
      names: {kind: CmbTime}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmbtime
        violation[{"msg": sprintf("%v is from the future", [input.review.object.metadata.name])}] {
          time.now_ns() < 0
        }
        violation[{"msg": "named web"}] { input.review.object.metadata.name == "web" }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbboom}
spec:
  crd:
    spec:
      names: {kind: CmbBoom}
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package cmbboom
        v = 1 { input.review.object.metadata.name == "boom" }
        v = 2 { input.review.object.metadata.name == "boom" }
        violation[{"msg": sprintf("v is %v", [v])}] { v > 0 }
        violation[{"msg": "odd details", "details": {1: "one"}}] { input.review.object.metadata.name == "odd" }
        violation[{"no": "msg"}] { true }
        violation["not an object"] { input.review.object.metadata.name == "notobj" }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbv1}
spec:
  crd:
    spec:
      names: {kind: CmbV1}
  targets:
    - target: admission.k8s.gatekeeper.sh
      operations: ["CREATE", "UPDATE"]
      code:
        - engine: Rego
          source:
            version: v1
            rego: |
              package cmbv1
              violation contains {"msg": msg} if {
                some c in input.review.object.spec.containers
                endswith(c.image, ":latest")
                msg := sprintf("%v uses latest", [c.name])
              }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbdelete}
spec:
  crd:
    spec:
      names: {kind: CmbDelete}
  targets:
    - target: admission.k8s.gatekeeper.sh
      operations: ["DELETE"]
      rego: |
        package cmbdelete
        violation[{"msg": "deleting a protected object"}] {
          input.review.object.metadata.labels.protected == "true"
        }
`, `
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: cmbcel}
spec:
  crd:
    spec:
      names: {kind: CmbCEL}
  targets:
    - target: admission.k8s.gatekeeper.sh
      code:
        - engine: K8sNativeValidation
          source:
            validations:
              - expression: "!has(object.metadata.labels) || !('cel' in object.metadata.labels)"
                message: "the cel label is taken"
`}

var combinedConstraints = []string{`
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbLabels
metadata: {name: owner}
spec:
  parameters: {labels: [owner]}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbLabels
metadata: {name: app-team}
spec:
  enforcementAction: warn
  parameters: {labels: [app, team]}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbLabels
metadata: {name: scoped}
spec:
  enforcementAction: scoped
  scopedEnforcementActions:
    - action: warn
      enforcementPoints: [{name: validation.gatekeeper.sh}]
    - action: deny
      enforcementPoints: [{name: gator.gatekeeper.sh}]
  parameters: {labels: [cost-center]}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbLabels
metadata: {name: audit-only}
spec:
  enforcementAction: scoped
  scopedEnforcementActions:
    - action: deny
      enforcementPoints: [{name: audit.gatekeeper.sh}]
  parameters: {labels: [never]}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbLabels
metadata: {name: a-dup}
spec:
  match: {namespaces: ["prod-*"]}
  parameters: {labels: [dup]}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbLabels
metadata: {name: b-dup}
spec:
  enforcementAction: dryrun
  parameters: {labels: [dup]}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbName
metadata: {name: short}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbParamLib
metadata: {name: web}
spec:
  parameters: {prefix: web}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbParamLib
metadata: {name: api}
spec:
  enforcementAction: dryrun
  parameters: {prefix: api}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbImports
metadata: {name: three}
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
  parameters: {max: 3}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbImports
metadata: {name: ten}
spec:
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
    namespaces: ["team-*"]
  parameters: {max: 10}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbWhole
metadata: {name: whole}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbWith
metadata: {name: with}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbTime
metadata: {name: time}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbBoom
metadata: {name: boom}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbV1
metadata: {name: latest}
spec:
  match:
    namespaceSelector:
      matchLabels: {env: prod}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbV1
metadata: {name: latest-anywhere}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbDelete
metadata: {name: protected}
`, `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: CmbCEL
metadata: {name: cel}
`}

func constraintKey(kind, name string) drivers.ConstraintKey {
	return drivers.ConstraintKey{Kind: kind, Name: name}
}

// TestCombinedKeepsVerdicts reviews requests with the optimizations on (the
// reviewer, the combined program) and off (the frameworks client, one query
// per constraint): violations and errors must be the same, at the webhook
// and in CI.
func TestCombinedKeepsVerdicts(t *testing.T) {
	ctx := context.Background()
	var b bundle
	for _, y := range combinedTemplates {
		b.templates = append(b.templates, Document{Object: obj(t, y)})
	}
	for _, y := range combinedConstraints {
		b.constraints = append(b.constraints, Document{Object: obj(t, y)})
	}
	dir := t.TempDir()
	if _, err := genWrite(dir, 50); err != nil {
		t.Fatal(err)
	}
	g := loadBundle(t, dir)
	b.templates = append(b.templates, g.templates...)
	b.constraints = append(b.constraints, g.constraints...)

	pod := func(ns, name, image string, labels string) map[string]any {
		return obj(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: %s, namespace: %s, labels: {%s}}
spec:
  containers:
    - name: main
      image: %s
      resources: {limits: {memory: 2Gi, cpu: "3"}}
      securityContext: {privileged: true}
`, name, ns, labels, image))
	}
	deploy := func(ns, name string, replicas int) map[string]any {
		return obj(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s, labels: {app: x, team: y, owner: z}}
spec:
  replicas: %d
  template:
    spec:
      containers: [{name: main, image: "registry.example.com/x:1"}]
`, name, ns, replicas))
	}
	prod := obj(t, `{apiVersion: v1, kind: Namespace, metadata: {name: prod-1, labels: {env: prod}}}`)
	var reqs []Request
	for _, op := range []string{"", "CREATE", "UPDATE"} {
		reqs = append(reqs,
			Request{Object: pod("team-1", "web-1", "nginx:latest", "app: web"), Operation: op},
			Request{Object: pod("team-1", "ab", "registry.example.com/team-1/ab:1", "owner: me, cel: x"), Operation: op},
			Request{Object: pod("prod-1", "api-1", "nginx:latest", "cost-center: '1'"), Operation: op, Namespace: prod},
			Request{Object: pod("prod-2", "api-2", "nginx:latest", ""), Operation: op}, // namespaceSelector cannot judge
			Request{Object: pod("team-2", "boom", "nginx", ""), Operation: op},
			Request{Object: pod("team-2", "odd", "nginx", ""), Operation: op},
			Request{Object: pod("team-2", "notobj", "nginx", ""), Operation: op},
			Request{Object: pod("team-2", "web", "nginx", ""), Operation: op},
			Request{Object: deploy("team-3", "shop", 5), Operation: op},
			Request{Object: deploy("other", "shop", 20), Operation: op},
			Request{Object: obj(t, `{apiVersion: v1, kind: Secret, metadata: {name: s, namespace: team-1}}`), Operation: op},
		)
	}
	reqs = append(reqs,
		Request{OldObject: obj(t, `{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: team-1, labels: {protected: "true"}}}`), Operation: "DELETE"},
		Request{Admission: map[string]any{
			"uid": "1", "operation": "CREATE", "namespace": "team-1",
			"kind":     map[string]any{"group": "", "version": "v1", "kind": "Pod"},
			"userInfo": map[string]any{"username": "alice"},
			"object":   pod("team-1", "web-2", "nginx:latest", "app: web"),
		}},
	)

	review := func(p *Policy) []string {
		var out []string
		for i, r := range reqs {
			vs, err := p.Review(ctx, r)
			if err != nil {
				out = append(out, fmt.Sprintf("%d: error %v", i, err))
				continue
			}
			for _, v := range vs {
				out = append(out, fmt.Sprintf("%d: %s %s: %s %s %v", i, v.Check, v.Action, v.Message, v.Path, v.Details))
			}
		}
		return out
	}
	for _, ep := range []string{WebhookEnforcementPoint, GatorEnforcementPoint} {
		t.Run(ep, func(t *testing.T) {
			plain := b.policy(t, WithEnforcementPoint(ep), WithOptimizations(false))
			fast := b.policy(t, WithEnforcementPoint(ep))
			if plain.reviewer != nil || fast.reviewer == nil {
				t.Fatal("the reviewer is used with the optimizations only")
			}
			fast.driver.mu.RLock()
			prog := fast.driver.combined(ctx)
			fast.driver.mu.RUnlock()
			var units []string
			for k := range prog.units {
				if strings.HasPrefix(k.Kind, "Cmb") {
					units = append(units, k.Kind+"/"+k.Name)
				}
			}
			sort.Strings(units)
			if a, b := prog.units[constraintKey("CmbLabels", "b-dup")], prog.units[constraintKey("CmbLabels", "a-dup")]; a == nil || a.eval != b {
				t.Error("constraints of a template with the same parameters do not share their unit")
			}
			want := []string{"CmbBoom/boom", "CmbDelete/protected", "CmbImports/ten", "CmbImports/three", "CmbLabels/a-dup", "CmbLabels/app-team",
				"CmbLabels/audit-only", "CmbLabels/b-dup", "CmbLabels/owner", "CmbLabels/scoped", "CmbName/short", "CmbParamLib/api", "CmbParamLib/web",
				"CmbV1/latest", "CmbV1/latest-anywhere"}
			if !reflect.DeepEqual(units, want) {
				t.Errorf("units:\n got %v\nwant %v", units, want)
			}
			for _, p := range []*Policy{plain, fast} {
				if err := p.AddInventory(ctx, obj(t, `{apiVersion: v1, kind: Namespace, metadata: {name: team-1}}`)); err != nil {
					t.Fatal(err)
				}
			}
			a, f := review(plain), review(fast)
			for _, want := range []string{": error ", "eval_conflict_error", "unable to match constraints", "CmbWhole/whole", "CmbWith/with", "CmbTime/time", "odd details",
				"CmbCEL/cel", `is missing ["owner"]`, "CmbLabels/a-dup", "CmbLabels/b-dup", "CmbDelete/protected", "CmbV1/latest deny", "CmbLabels/scoped"} {
				found := false
				for _, s := range a {
					found = found || strings.Contains(s, want)
				}
				if !found {
					t.Errorf("no %q among the verdicts: the test does not test it", want)
				}
			}
			if !reflect.DeepEqual(a, f) {
				for i := range a {
					if i >= len(f) || a[i] != f[i] {
						t.Fatalf("first difference at %d:\n plain %s\n fast  %s", i, a[i], at(f, i))
					}
				}
				t.Fatalf("fast has %d more: %v", len(f)-len(a), f[len(a):])
			}
			t.Logf("%d verdicts, identical", len(a))
		})
	}
}
