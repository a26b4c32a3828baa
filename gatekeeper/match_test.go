package gatekeeper

import (
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func toUnstructured(m map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: m}
}

// TestMatch covers Gatekeeper's match fields one by one.
func TestMatch(t *testing.T) {
	ns := func(name, labels string) map[string]any {
		return obj(t, `{apiVersion: v1, kind: Namespace, metadata: {name: `+name+`, labels: {`+labels+`}}}`)
	}
	pod := obj(t, `{apiVersion: v1, kind: Pod, metadata: {name: web-1, namespace: team-a, labels: {tier: front}}}`)
	genPod := obj(t, `{apiVersion: v1, kind: Pod, metadata: {generateName: web-, namespace: team-a}}`)
	crole := obj(t, `{apiVersion: rbac.authorization.k8s.io/v1, kind: ClusterRole, metadata: {name: admin}}`)
	deploy := obj(t, `{apiVersion: apps/v1, kind: Deployment, metadata: {name: api, namespace: kube-system}}`)
	nsTeamA := ns("team-a", "env: prod")

	cases := []struct {
		name  string
		match string
		obj   map[string]any
		old   map[string]any
		ns    map[string]any
		src   string
		want  bool
		err   string
	}{
		{name: "no match block", match: ``, obj: pod, want: true},
		{name: "kinds: core Pod", match: `kinds: [{apiGroups: [""], kinds: [Pod]}]`, obj: pod, want: true},
		{name: "kinds: wrong group", match: `kinds: [{apiGroups: [apps], kinds: [Pod]}]`, obj: pod, want: false},
		{name: "kinds: wildcards", match: `kinds: [{apiGroups: ["*"], kinds: ["*"]}]`, obj: crole, want: true},
		{name: "kinds: empty lists match all", match: `kinds: [{}]`, obj: deploy, want: true},
		{name: "namespaces: exact", match: `namespaces: [team-a]`, obj: pod, want: true},
		{name: "namespaces: prefix", match: `namespaces: ["team-*"]`, obj: pod, want: true},
		{name: "namespaces: suffix", match: `namespaces: ["*-a"]`, obj: pod, want: true},
		{name: "namespaces: contains", match: `namespaces: ["*eam*"]`, obj: pod, want: true},
		{name: "namespaces: other", match: `namespaces: ["kube-*"]`, obj: pod, want: false},
		{name: "namespaces: cluster-scoped objects pass", match: `namespaces: ["kube-*"]`, obj: crole, want: true},
		{name: "namespaces: a Namespace is its own namespace", match: `namespaces: ["kube-*"]`, obj: ns("team-a", ""), want: false},
		{name: "excludedNamespaces: suffix", match: `excludedNamespaces: ["*-system"]`, obj: deploy, want: false},
		{name: "excludedNamespaces: other", match: `excludedNamespaces: ["*-system"]`, obj: pod, want: true},
		{name: "labelSelector: matchLabels", match: `labelSelector: {matchLabels: {tier: front}}`, obj: pod, want: true},
		{name: "labelSelector: Exists on missing", match: `labelSelector: {matchExpressions: [{key: owner, operator: Exists}]}`, obj: pod, want: false},
		{name: "labelSelector: DoesNotExist", match: `labelSelector: {matchExpressions: [{key: owner, operator: DoesNotExist}]}`, obj: pod, want: true},
		{name: "namespaceSelector: given Namespace", match: `namespaceSelector: {matchLabels: {env: prod}}`, obj: pod, ns: nsTeamA, want: true},
		{name: "namespaceSelector: not matching", match: `namespaceSelector: {matchLabels: {env: dev}}`, obj: pod, ns: nsTeamA, want: false},
		{name: "namespaceSelector: a Namespace judges itself", match: `namespaceSelector: {matchLabels: {env: prod}}`, obj: ns("x", "env: prod"), want: true},
		{name: "namespaceSelector: cluster-scoped objects pass", match: `namespaceSelector: {matchLabels: {env: prod}}`, obj: crole, want: true},
		{name: "namespaceSelector: unknown Namespace is an error", match: `namespaceSelector: {matchLabels: {env: prod}}`, obj: pod, err: `missing Namespace "team-a"`},
		{name: "scope: Cluster", match: `scope: Cluster`, obj: crole, want: true},
		{name: "scope: Cluster skips namespaced", match: `scope: Cluster`, obj: pod, want: false},
		{name: "scope: Cluster takes Namespaces", match: `scope: Cluster`, obj: nsTeamA, want: true},
		{name: "scope: Namespaced", match: `scope: Namespaced`, obj: pod, want: true},
		{name: "scope: Namespaced skips Namespaces", match: `scope: Namespaced`, obj: nsTeamA, want: false},
		{name: "scope: star", match: `scope: "*"`, obj: crole, want: true},
		{name: "name: exact", match: `name: web-1`, obj: pod, want: true},
		{name: "name: prefix", match: `name: "web-*"`, obj: pod, want: true},
		{name: "name: suffix", match: `name: "*-1"`, obj: pod, want: true},
		{name: "name: other", match: `name: "api-*"`, obj: pod, want: false},
		{name: "name: generateName", match: `name: "web-*"`, obj: genPod, want: true},
		{name: "name: suffix does not use generateName", match: `name: "*-"`, obj: genPod, want: false},
		{name: "source: Original", match: `source: Original`, obj: pod, want: true},
		{name: "source: Generated skips originals", match: `source: Generated`, obj: pod, want: false},
		{name: "source: Generated", match: `source: Generated`, obj: pod, src: sourceGenerated, want: true},
		{name: "oldObject matches when object does not", match: `namespaces: [team-a]`,
			obj: obj(t, `{apiVersion: v1, kind: Pod, metadata: {name: p, namespace: other}}`), old: pod, want: true},
		{name: "all fields together", match: `{kinds: [{apiGroups: [""], kinds: [Pod]}], namespaces: ["team-*"], excludedNamespaces: [team-b], labelSelector: {matchLabels: {tier: front}}, namespaceSelector: {matchLabels: {env: prod}}, scope: Namespaced, name: "web-*"}`,
			obj: pod, ns: nsTeamA, want: true},
	}
	target := newTarget()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := obj(t, `{apiVersion: constraints.gatekeeper.sh/v1beta1, kind: X, metadata: {name: x}, spec: {}}`)
			if c.match != "" {
				y := c.match
				if !strings.HasPrefix(y, "{") {
					y = "{" + y + "}"
				}
				m := obj(t, `{apiVersion: v1, kind: M, match: `+y+`}`)["match"]
				u["spec"].(map[string]any)["match"] = m
			}
			matcher, err := target.ToMatcher(toUnstructured(u))
			if err != nil {
				t.Fatal(err)
			}
			src := c.src
			if src == "" {
				src = sourceOriginal
			}
			rv, err := newReview(&Request{Object: c.obj, OldObject: c.old, Namespace: c.ns}, src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := matcher.Match(rv)
			// The reviewer's first look must never turn away what Match
			// takes, nor an error Match reports.
			if m, ours := matcher.(interface{ mayMatch(*review) bool }); ours && !m.mayMatch(rv) && (got || err != nil) {
				t.Fatalf("mayMatch = false, Match = %v, %v", got, err)
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("Match = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}
