package schema_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/schema"
)

// benchObjects is a realistic mix: the objects of one app (Deployment,
// Service, ConfigMap, ServiceAccount, HPA, Ingress, PDB, CronJob) and one
// custom resource.
func benchObjects(tb testing.TB) []testObject {
	const app = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  labels: {app: web, team: shop}
  annotations: {owner: shop@example.com}
spec:
  replicas: 3
  revisionHistoryLimit: 5
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web}}
    spec:
      serviceAccountName: web
      securityContext: {runAsNonRoot: true, runAsUser: 1000, fsGroup: 2000}
      containers:
      - name: web
        image: registry.example.com/web:1.2.3
        imagePullPolicy: IfNotPresent
        args: ["--port=8080", "--log-level=info"]
        ports: [{name: http, containerPort: 8080, protocol: TCP}]
        env:
        - {name: APP_NAME, value: web}
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        envFrom: [{configMapRef: {name: web-config}}]
        resources:
          requests: {cpu: 100m, memory: 128Mi}
          limits: {cpu: "1", memory: 512Mi}
        readinessProbe: {httpGet: {path: /healthz, port: http}, initialDelaySeconds: 5, periodSeconds: 10}
        livenessProbe: {httpGet: {path: /healthz, port: 8080}, failureThreshold: 3}
        securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
        volumeMounts: [{name: tmp, mountPath: /tmp}]
      volumes: [{name: tmp, emptyDir: {sizeLimit: 1Gi}}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  type: ClusterIP
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http, protocol: TCP}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web-config, namespace: shop}
data: {LOG_LEVEL: info, FEATURE_X: "true", TIMEOUT: 30s}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web, namespace: shop}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 70}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, namespace: shop}
spec:
  ingressClassName: nginx
  tls: [{hosts: [web.example.com], secretName: web-tls}]
  rules:
  - host: web.example.com
    http:
      paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: cleanup, namespace: shop}
spec:
  schedule: "0 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: cleanup, image: registry.example.com/cleanup:1.0, command: [/bin/cleanup, --older-than=7d]}]
---
` + widget + `  size: 3
  mode: fast
  tags: [a, b, c]
  ports: [{name: a, number: 1}, {name: b, number: 2}]
`
	return parseManifests(tb, []byte(app))
}

func benchValidate(b *testing.B, opts ...schema.Option) {
	crd := one(b, widgetCRD("example.com")).Data
	v := newValidator(b, "1.35", append(opts, schema.WithCRDs(crd))...)
	objs := benchObjects(b)
	for _, o := range objs {
		if r := v.Validate(o.Data); len(r.Problems) != 0 || r.NoSchema {
			b.Fatalf("%v: %+v", o.Data["kind"], r)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, o := range objs {
			v.Validate(o.Data)
		}
	}
	b.ReportMetric(float64(b.N*len(objs))/b.Elapsed().Seconds(), "objects/s")
}

func BenchmarkValidate(b *testing.B)       { benchValidate(b) }
func BenchmarkValidateStrict(b *testing.B) { benchValidate(b, schema.Strict(true)) }

func BenchmarkValidateParallel(b *testing.B) {
	v := newValidator(b, "1.35", schema.Strict(true), schema.WithCRDs(one(b, widgetCRD("example.com")).Data))
	objs := benchObjects(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for _, o := range objs {
				v.Validate(o.Data)
			}
		}
	})
	b.ReportMetric(float64(b.N*len(objs))/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkValidateInvalid measures objects with problems to report.
func BenchmarkValidateInvalid(b *testing.B) {
	v := newValidator(b, "1.35", schema.Strict(true))
	o := one(b, strings.Replace(deployment("  replicas: two\n  replica: 3\n"), "image: nginx", "image: 5", 1))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := v.Validate(o.Data); len(r.Problems) != 3 {
			b.Fatal(fmt.Sprint(r.Problems))
		}
	}
}
