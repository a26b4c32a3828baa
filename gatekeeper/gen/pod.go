package gen

import (
	"encoding/json"
	"fmt"
)

// PodReview is the AdmissionReview of a typical Pod create (two
// containers, resources, probes, created by a ReplicaSet) in namespace
// team-7, for the webhook's benchmarks. n is the Pod's name and the
// request's uid, new in every request as in a cluster; image is the proxy
// container's patch version: Pods of one ReplicaSet share it, Pods that
// differ in it share no verdict of a template that reads the images.
func PodReview(n, image int) []byte { return fmt.Appendf(nil, podReviewFormat, n, image) }

// A PodMix is the Pods a webhook benchmark run sends: Review(i) is the
// i-th request.
type PodMix struct {
	Name   string
	Review func(i int) []byte
}

// PodMixes are the benchmarks' mixes. Each request's Pod has a name and
// uid of its own, as every Pod has; "replicas" Pods are otherwise alike,
// as a ReplicaSet makes them (most Pod creates in a cluster); "distinct"
// Pods also differ in an image, so that no template's verdict repeats
// (the webhook's verdict cache never answers).
var PodMixes = []PodMix{
	{"replicas", func(i int) []byte { return PodReview(i, 1) }},
	{"distinct", func(i int) []byte { return PodReview(i, i) }},
}

// podReviewFormat is PodReview's request, with verbs for fmt: %[1]d is n,
// %[2]d image.
var podReviewFormat = func() string {
	pod := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "web-7d4b9c-%[1]d", "namespace": "team-7", "labels": map[string]any{"app": "web", "team": "team-7", "pod-template-hash": "7d4b9c"}},
		"spec": map[string]any{
			"serviceAccountName": "web",
			"containers": []any{
				map[string]any{"name": "web", "image": "registry.example.com/team-7/web:1.4.2",
					"ports":           []any{map[string]any{"containerPort": 8080}},
					"resources":       map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"memory": "256Mi"}},
					"readinessProbe":  map[string]any{"httpGet": map[string]any{"path": "/healthz", "port": 8080}},
					"securityContext": map[string]any{"runAsNonRoot": true, "allowPrivilegeEscalation": false}},
				map[string]any{"name": "proxy", "image": "registry.example.com/platform/envoy:1.30.%[2]d",
					"resources": map[string]any{"requests": map[string]any{"cpu": "50m", "memory": "64Mi"}}},
			},
		},
	}
	raw, _ := json.Marshal(pod)
	ar := map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": "0b7c5f2e-%[1]d", "operation": "CREATE", "namespace": "team-7", "name": "web-7d4b9c-%[1]d",
			"kind":     map[string]any{"group": "", "version": "v1", "kind": "Pod"},
			"resource": map[string]any{"group": "", "version": "v1", "resource": "pods"},
			"userInfo": map[string]any{"username": "system:serviceaccount:kube-system:replicaset-controller"},
			"object":   json.RawMessage(raw),
		},
	}
	b, _ := json.Marshal(ar)
	return string(b)
}()
