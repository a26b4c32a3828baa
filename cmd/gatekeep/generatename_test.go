package main

import (
	"os"
	"strings"
	"testing"
)

// hookJob is an Argo CD (or Helm) hook Job: the API server names it from
// generateName when it is created.
const hookJob = `apiVersion: batch/v1
kind: Job
metadata:
  generateName: migrate-
  namespace: default
  annotations:
    argocd.argoproj.io/hook: PreSync
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: registry.example.com/migrate:1.0
`

// TestCheckGenerateName: with Gatekeeper templates in the bundle, an
// object with only metadata.generateName is reviewed by them like any
// other, and reports call it generateName+"*".
func TestCheckGenerateName(t *testing.T) {
	template, err := os.ReadFile("../../gatekeeper/testdata/policies/templates/requiredlabels.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := tree(t, map[string]string{
		"policy/templates/requiredlabels.yaml": string(template),
		"policy/constraints/jobs.yaml": `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: AcmeRequiredLabels
metadata:
  name: jobs-have-owner
spec:
  match:
    kinds: [{apiGroups: [batch], kinds: [Job]}]
  parameters:
    labels: [{key: owner}]
`,
		"apps/hook.yaml": hookJob,
	})
	got, code := findings(t, dir, "--bundle", "policy", "apps")
	if code != exitDenied {
		t.Errorf("exit %d, want %d", code, exitDenied)
	}
	expect(t, got, "AcmeRequiredLabels/jobs-have-owner deny apps/hook.yaml:1 /metadata/labels: required labels: Job migrate-* lacks owner")
	out, _, _ := run(t, "", "", "check", "--bundle", "policy", "apps")
	if want := "Job default/migrate-*: required labels"; !strings.Contains(out, want) {
		t.Errorf("text report does not name the Job %q:\n%s", want, out)
	}
}
