// Package infragen writes synthetic GitOps repositories for benchmarks: N
// apps spread over teams, each a realistic set of objects, with a few
// deliberate problems so that every check has work to do.
package infragen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

// ObjectsPerApp is how many objects each generated app holds.
const ObjectsPerApp = 5

// Generate writes apps apps under dir (apps/team-T/app-N/resources.yaml)
// and returns the number of objects written.
func Generate(dir string, apps int) (int, error) {
	for i := 0; i < apps; i++ {
		team := i % 50
		d := filepath.Join(dir, "apps", fmt.Sprintf("team-%d", team), fmt.Sprintf("app-%d", i))
		if err := os.MkdirAll(d, 0o755); err != nil { //nolint:gosec // G301: a generated benchmark tree, as readable as a checkout
			return 0, err
		}
		var b strings.Builder
		host := fmt.Sprintf("app-%d.team-%d.example.com", i, team)
		if i%97 == 96 { // claims the host of another team's app
			host = fmt.Sprintf("app-%d.team-%d.example.com", i-1, (i-1)%50)
		}
		if err := appTemplate.Execute(&b, map[string]any{
			"App": fmt.Sprintf("app-%d", i), "Namespace": fmt.Sprintf("team-%d", team),
			"Host": host, "Privileged": i%100 == 42, "Replicas": 1 + i%3,
		}); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(d, "resources.yaml"), []byte(b.String()), 0o644); err != nil { //nolint:gosec // G306: a generated benchmark tree, as readable as a checkout
			return 0, err
		}
	}
	return apps * ObjectsPerApp, nil
}

var appTemplate = template.Must(template.New("app").Parse(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{.App}}
  namespace: {{.Namespace}}
  labels:
    app.kubernetes.io/name: {{.App}}
    app.kubernetes.io/part-of: {{.Namespace}}
spec:
  replicas: {{.Replicas}}
  selector:
    matchLabels:
      app.kubernetes.io/name: {{.App}}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: {{.App}}
    spec:
      serviceAccountName: {{.App}}
      initContainers:
        - name: migrate
          image: registry.example.com/{{.Namespace}}/{{.App}}-migrate:1.4.2
          args: ["--wait-for-db"]
      containers:
        - name: main
          image: registry.example.com/{{.Namespace}}/{{.App}}:1.4.2
          ports:
            - name: http
              containerPort: 8080
          env:
            - name: LOG_LEVEL
              value: info
          envFrom:
            - configMapRef:
                name: {{.App}}-config
          resources:
            requests:
              cpu: 100m
              memory: 128Mi
            limits:
              memory: 256Mi
          readinessProbe:
            httpGet:
              path: /healthz
              port: http
          securityContext:
            allowPrivilegeEscalation: false
            readOnlyRootFilesystem: true
{{- if .Privileged}}
            privileged: true
{{- end}}
---
apiVersion: v1
kind: Service
metadata:
  name: {{.App}}
  namespace: {{.Namespace}}
spec:
  selector:
    app.kubernetes.io/name: {{.App}}
  ports:
    - name: http
      port: 80
      targetPort: http
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{.App}}
  namespace: {{.Namespace}}
spec:
  ingressClassName: nginx
  rules:
    - host: {{.Host}}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{.App}}
                port:
                  name: http
  tls:
    - hosts: [{{.Host}}]
      secretName: {{.App}}-tls
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{.App}}-config
  namespace: {{.Namespace}}
data:
  FEATURE_FLAGS: "checkout,search"
  UPSTREAM_URL: http://{{.App}}-backend.{{.Namespace}}.svc:8080
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: {{.App}}
  namespace: {{.Namespace}}
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: {{.App}}
  minReplicas: {{.Replicas}}
  maxReplicas: 10
  metrics:
    - type: Resource
      resource:
        name: cpu
        target:
          type: Utilization
          averageUtilization: 75
`))
