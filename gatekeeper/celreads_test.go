package gatekeeper

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestCELReads(t *testing.T) {
	for _, tc := range []struct {
		name             string
		source           string
		decide, messages []string // nil decide: not cacheable
	}{
		{"anyObject is object or oldObject", `{validations: [{expression: "variables.anyObject.spec.replicas < 3"}]}`,
			[]string{"operation", "object.spec.replicas", "oldObject.spec.replicas"}, nil},
		{"variables followed, messages apart",
			`{variables: [{name: cs, expression: "object.spec.containers"}, {name: unused, expression: "object.metadata.uid"}],
			  validations: [{expression: "variables.cs.all(c, has(c.image))", messageExpression: "'pod ' + object.metadata.name"}]}`,
			[]string{"operation", "object.spec.containers"}, []string{"object.metadata.name"}},
		{"request fields are the review's", `{matchCondition: [{name: m, expression: "request.userInfo.username != 'admin'"}], validations: [{expression: "has(namespaceObject.metadata.labels)"}]}`,
			[]string{"operation", "userInfo.username", "namespaceObject.metadata.labels"}, nil},
		{"shortest of nested paths", `{validations: [{expression: "object.spec.x == 1 && object.spec.x.y == 2 && has(object.spec)"}]}`,
			[]string{"operation", "object.spec"}, nil},
		{"params are the constraint's", `{validations: [{expression: "object.spec.n < variables.params.max && object.spec.n < params.spec.parameters.max"}]}`,
			[]string{"operation", "object.spec.n"}, nil},
		{"what a counted map makes is for messages",
			`{variables: [{name: vols, expression: "object.spec.volumes.filter(v, has(v.hostPath))"},
			              {name: bad, expression: "variables.vols.map(v, v.name + ' in ' + object.metadata.name)"},
			              {name: names, expression: "object.spec.containers.map(c, c.image)"}],
			  validations: [{expression: "size(variables.bad) == 0 && variables.names.size() < 5"}, {expression: "size(object.metadata.namespace) > 2"},
			                {expression: "size(object.spec.initContainers.map(c, c.name).map(n, n + object.kind)) == 0"}],
			  }`,
			[]string{"operation", "object.spec.volumes", "object.spec.containers", "object.metadata.namespace", "object.spec.initContainers"},
			[]string{"object.kind", "object.metadata.name"}},
		{"a counted variable read whole too", `{variables: [{name: bad, expression: "object.spec.volumes.map(v, v.name + object.metadata.name)"}],
			  validations: [{expression: "size(variables.bad) == 0 || variables.bad[0] == 'x'"}]}`,
			[]string{"operation", "object.spec.volumes", "object.metadata.name"}, nil},
		{"failure policy Ignore: an error admits, so transforms decide", `{failurePolicy: Ignore, variables: [{name: bad, expression: "object.spec.volumes.map(v, v.name + object.metadata.name)"}],
			  validations: [{expression: "size(variables.bad) == 0"}]}`,
			[]string{"operation", "object.spec.volumes", "object.metadata.name"}, nil},
		{"the whole request", `{validations: [{expression: "request != null"}]}`, nil, nil},
		{"the variables map", `{validations: [{expression: "size(variables) > 0"}]}`, nil, nil},
		{"the authorizer", `{validations: [{expression: "authorizer.group('').resource('pods').check('get').allowed()"}]}`, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := Document{Object: obj(t, fmt.Sprintf(`
apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata: {name: acmex}
spec:
  crd: {spec: {names: {kind: AcmeX}}}
  targets:
    - target: admission.k8s.gatekeeper.sh
      code: [{engine: K8sNativeValidation, source: %s}]
`, tc.source))}
			ct, _, err := toTemplate(&doc, []string{CELEngine})
			if err != nil {
				t.Fatal(err)
			}
			decide, messages, ok := celReads(ct)
			if tc.decide == nil {
				if ok {
					t.Fatalf("cacheable, reading %v %v", decide, messages)
				}
				return
			}
			str := func(rs []ast.Ref) []string {
				var out []string
				for _, r := range rs {
					var parts []string
					for _, x := range r {
						parts = append(parts, string(x.Value.(ast.String)))
					}
					out = append(out, strings.Join(parts, "."))
				}
				return out
			}
			if !ok || !reflect.DeepEqual(str(decide), tc.decide) || !reflect.DeepEqual(str(messages), tc.messages) {
				t.Fatalf("got %v %v %v, want %v %v", ok, str(decide), str(messages), tc.decide, tc.messages)
			}
		})
	}
}

// TestCELVerdictCacheAgrees reviews alike objects (as a ReplicaSet's Pods
// and claims of one size are) with the CEL templates of testdata, with and
// without the verdict cache: the violations must be the same, messages
// naming each object its own, and the cache must answer some.
func TestCELVerdictCacheAgrees(t *testing.T) {
	plain, cached := webhookPolicies(t, loadBundle(t, "testdata/policies"), 64)
	var reqs []Request
	for i := 0; i < 40; i++ {
		ns := []string{"shop", "pull", "kube-system"}[i%3]
		// Some Pods mount host paths, allowed or not; some have no name
		// yet (generateName), which acmehostpaths' messages need.
		name := fmt.Sprintf("name: web-%d", i)
		if i%10 == 7 || i%10 == 8 {
			name = "generateName: web-"
		}
		volumes := [][]string{nil, {"/var/log/web"}, {"/etc/ssl", "/var/log"}}[i%3]
		vs := []string{}
		for j, v := range volumes {
			vs = append(vs, fmt.Sprintf("{name: v%d, hostPath: {path: %s}}", j, v))
		}
		pod := obj(t, fmt.Sprintf(`{apiVersion: v1, kind: Pod, metadata: {%s, namespace: %s},
  spec: {hostPID: %v, volumes: [%s], containers: [{name: c0, image: nginx, imagePullPolicy: %s}]}}`, name, ns, i%4 == 0, strings.Join(vs, ", "), []string{"Always", "Never"}[i%2]))
		pvc := obj(t, fmt.Sprintf(`{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: data-%d, namespace: shop},
  spec: {resources: {requests: {storage: %s}}}}`, i, []string{"10Gi", "200Gi"}[i%2]))
		for _, o := range []map[string]any{pod, pvc} {
			ad := admissionOf(o, fmt.Sprint("uid-", i))
			nsObj := obj(t, fmt.Sprintf("{apiVersion: v1, kind: Namespace, metadata: {name: %s}}", o["metadata"].(map[string]any)["namespace"]))
			reqs = append(reqs, Request{Admission: ad, Namespace: nsObj})
			if i%5 == 0 {
				del := admissionOf(o, fmt.Sprint("uid-del-", i))
				del["operation"], del["oldObject"], del["object"] = "DELETE", o, nil
				reqs = append(reqs, Request{Admission: del, Namespace: nsObj})
			}
		}
	}
	violations := 0
	for _, r := range reqs {
		violations += len(sameReview(t, plain, cached, r))
	}
	var hits int
	for _, d := range cached.reviewer.drivers {
		if cd, ok := d.(*celDriver); ok {
			hits = cd.verdicts.hits
		}
	}
	if violations < 20 || hits < len(reqs)/3 {
		t.Fatalf("%d violations, %d cache hits in %d reviews: the test does not exercise the cache", violations, hits, len(reqs))
	}
	t.Logf("%d reviews, %d violations, %d answers from the cache", len(reqs), violations, hits)
}

// TestCELVerdictCacheKeepsNoInterruptedVerdict reviews with a context
// already done (a request past its timeout) a Pod whose many containers
// make CEL check for interruption mid-evaluation, then alike Pods: the
// verdict of the cut-short evaluation (an error, so a violation) must not
// answer the later reviews.
func TestCELVerdictCacheKeepsNoInterruptedVerdict(t *testing.T) {
	plain, cached := webhookPolicies(t, loadBundle(t, "testdata/policies"), 64)
	var cs []string
	for i := 0; i < 300; i++ {
		cs = append(cs, fmt.Sprintf("{name: c%d, image: nginx, imagePullPolicy: Always}", i))
	}
	pod := func(i int) Request {
		return Request{
			Admission: admissionOf(obj(t, fmt.Sprintf("{apiVersion: v1, kind: Pod, metadata: {name: p-%d, namespace: pull}, spec: {containers: [%s]}}", i, strings.Join(cs, ", "))), fmt.Sprint("uid-", i)),
			Namespace: obj(t, "{apiVersion: v1, kind: Namespace, metadata: {name: pull}}"),
		}
	}
	done, cancel := context.WithCancel(context.Background())
	cancel()
	interrupted := 0
	for i := 0; i < 3; i++ {
		vs, _ := cached.Review(done, pod(i))
		interrupted += len(vs)
	}
	if interrupted == 0 {
		t.Fatal("no evaluation was cut short: the test does not exercise what it means to")
	}
	for i := 3; i < 6; i++ {
		sameReview(t, plain, cached, pod(i))
	}
}
