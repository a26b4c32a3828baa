package main

import (
	"strings"
	"testing"
)

func TestCheckConftestBundle(t *testing.T) {
	got, code := findings(t, "../../testdata/bundles", "--bundle", "team", "team-manifests")
	if code != exitDenied {
		t.Errorf("exit %d, want 1", code)
	}
	expect(t, got,
		"main.deny deny team-manifests/apps.yaml:22 : Service shop: NodePort services are not allowed",
		"main.deny_untrusted_registry deny team-manifests/apps.yaml:1 : container sidecar: image docker.io/envoyproxy/envoy:latest is not from a trusted registry",
		"main.violation deny team-manifests/apps.yaml:7 /spec/replicas: Deployment shop runs 1 replica(s) in production",
		"main.warn warn team-manifests/apps.yaml:1 : container sidecar uses the latest tag",
	)
	out, _, _ := run(t, "", "", "check", "-o", "json", "--bundle", "team", "team-manifests")
	if s := decode(t, out).Summary; s["exceptions"] != 1 || s["denied"] != 2 || s["passed"] != 2 {
		t.Errorf("summary %v: want 2 denied, 2 passed (one exempt, one excepted), 1 exception", s)
	}
	// --namespace selects packages; a package that does not exist is an error.
	_, code, msg := run(t, "", "", "check", "--bundle", "team", "--namespace", "nope", "team-manifests")
	if code != exitUnusable || !strings.Contains(msg, `namespace "nope"`) {
		t.Errorf("unknown namespace: exit %d, %s", code, msg)
	}
	// Overrides by check ID, as for built-in checks.
	writeFile(t, ".", "strict-team/gatekeep.yaml", "checks:\n  main.warn: deny\n  main.deny: off\n")
	got, _ = findings(t, "", "--bundle", "team", "--bundle", "strict-team", "--only", "main.warn,main.deny", "team-manifests")
	expect(t, got, "main.warn deny team-manifests/apps.yaml:1 : container sidecar uses the latest tag")
}

func TestCheckCombine(t *testing.T) {
	out, code, _ := run(t, "../../testdata/bundles", "", "check", "-o", "json", "--bundle", "team-combine", "--namespace", "combine", "--combine", "team-manifests")
	r := decode(t, out)
	if code != exitDenied || r.Summary["denied"] != 2 {
		t.Errorf("exit %d, summary %v", code, r.Summary)
	}
	var msgs []string
	for _, f := range r.Findings {
		if f.Check == "combine.deny" {
			msgs = append(msgs, f.Message)
		}
	}
	want := "Deployment legacy/billing has no Service selecting its pods|Deployment monitoring/exporter has no Service selecting its pods"
	if strings.Join(msgs, "|") != want {
		t.Errorf("combined findings %q, want %q", msgs, want)
	}
	// Without --combine the same policy sees one object at a time: nothing
	// to pair, nothing found.
	out, _, _ = run(t, "", "", "check", "-o", "json", "--bundle", "team-combine", "--namespace", "combine", "team-manifests")
	if n := len(decode(t, out).Findings); n != 0 {
		t.Errorf("per-object run found %d", n)
	}
}

func TestCheckRegoErrors(t *testing.T) {
	dir := tree(t, map[string]string{
		"syntax/policy.rego": "package main\n\ndeny contains msg if {\n\tmsg := \n}\n",
		"unsafe/policy.rego": "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tinput.kind == \"Pod\"\n}\n",
		"net/policy.rego":    "package main\n\nimport rego.v1\n\ndeny contains msg if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1:1\"})\n\tmsg := r.body\n}\n",
		"cm.yaml":            cleanCM,
	})
	for _, tc := range []struct{ bundle, want string }{
		{"syntax", "syntax/policy.rego:"},
		{"unsafe", "unsafe/policy.rego:5"},
		{"net", "net/policy.rego:6: http.send is disabled"},
	} {
		_, code, msg := run(t, dir, "", "check", "--bundle", tc.bundle, "cm.yaml")
		if code != exitUnusable || !strings.Contains(msg, tc.want) {
			t.Errorf("bundle %s: exit %d, message %q; want exit 2 naming %s", tc.bundle, code, msg, tc.want)
		}
	}
	writeFile(t, dir, "net/gatekeep.yaml", "allowNetwork: true\n")
	if _, code, msg := run(t, dir, "", "check", "--bundle", "net", "--skip", "main.deny", "cm.yaml"); code != exitPass {
		t.Errorf("allowNetwork: true: exit %d %s", code, msg)
	}
}

func TestCheckGatekeeperErrors(t *testing.T) {
	dir := tree(t, map[string]string{
		"badrego/template.yaml": `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: broken
spec:
  crd:
    spec:
      names:
        kind: Broken
  targets:
    - target: admission.k8s.gatekeeper.sh
      rego: |
        package broken

        violation[{"msg": msg}] {
          msg := 
        }
`,
		"orphan/constraint.yaml": "apiVersion: constraints.gatekeeper.sh/v1beta1\nkind: NoSuchTemplate\nmetadata:\n  name: orphan\n",
		"cm.yaml":                cleanCM,
	})
	for _, tc := range []struct{ bundle, want string }{
		{"badrego", "badrego/template.yaml:17: ConstraintTemplate broken: rego:"},
		{"orphan", "orphan/constraint.yaml:2: constraint NoSuchTemplate/orphan: no ConstraintTemplate defines kind NoSuchTemplate"},
	} {
		_, code, msg := run(t, dir, "", "check", "--bundle", tc.bundle, "cm.yaml")
		if code != exitUnusable || !strings.Contains(msg, tc.want) {
			t.Errorf("bundle %s: exit %d, %q; want exit 2 naming %s", tc.bundle, code, msg, tc.want)
		}
	}
}
