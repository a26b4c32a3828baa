// Package gen writes synthetic Gatekeeper policy bundles for benchmarks: N
// ConstraintTemplates, each with one Constraint, made from parameterised
// variants of a dozen policy shapes of the kind real bundles hold (required
// labels, allowed repositories, container limits, probes, security context,
// NodePort services, unique Ingress hosts through data.inventory, ...). The
// bundle suits both gatekeep and gator test; it judges the objects of
// internal/infragen repositories, several of them with findings.
package gen

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Write writes n policies into dir, one file per template and its
// constraint (NN-<shape>.yaml), and returns the files written.
func Write(dir string, n int) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil { //nolint:gosec // G301: a generated policy bundle, meant to be as readable as a checkout
		return nil, err
	}
	var files []string
	for i, p := range Policies(n) {
		f := filepath.Join(dir, fmt.Sprintf("%02d-%s.yaml", i, p.Shape))
		if err := os.WriteFile(f, []byte(p.Template+"---\n"+p.Constraint), 0o644); err != nil { //nolint:gosec // G306: as above, generated policy files
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

// Policy is one generated template and its constraint, as YAML.
type Policy struct {
	Shape      string
	Kind       string
	Template   string
	Constraint string
}

// Policies returns n policies. Shapes repeat with other parameters, match
// rules and enforcement actions; the referential shapes (which read
// data.inventory) appear once each, as in real bundles.
func Policies(n int) []Policy {
	var out []Policy
	round := 0
	for len(out) < n {
		for si, s := range shapes {
			if len(out) >= n {
				break
			}
			if s.once && round > 0 {
				continue
			}
			v := variant{round: round, index: len(out)}
			kind := fmt.Sprintf("Gen%s%02d", s.name, len(out))
			out = append(out, Policy{
				Shape:      strings.ToLower(s.name),
				Kind:       kind,
				Template:   template(kind, s, v),
				Constraint: constraint(kind, s, v, si),
			})
		}
		round++
	}
	return out
}

type variant struct{ round, index int }

func (v variant) pick(options ...string) string { return options[v.round%len(options)] }

type shape struct {
	name   string
	once   bool
	schema string // openAPIV3Schema properties, indented for the template
	rego   func(v variant) string
	libs   bool
	kinds  func(v variant) string // match kinds YAML
	params func(v variant) string // parameters YAML (may be empty)
}

const workloadsLib = `        - |
          package lib.gen.workloads

          pod_spec = [spec, "/spec"] {
            input.review.object.kind == "Pod"
            spec := input.review.object.spec
          }

          pod_spec = [spec, "/spec/template/spec"] {
            input.review.object.kind == {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}[_]
            spec := input.review.object.spec.template.spec
          }

          containers[c] {
            [spec, base] := pod_spec
            field := {"containers", "initContainers"}[_]
            container := spec[field][i]
            c := {"container": container, "field": field, "path": sprintf("%v/%v/%d", [base, field, i])}
          }
`

func kindsYAML(groups string, kinds ...string) string {
	return fmt.Sprintf("      - apiGroups: [%s]\n        kinds: [%s]\n", groups, `"`+strings.Join(kinds, `", "`)+`"`)
}

var workloadKinds = func(variant) string {
	return kindsYAML(`"apps"`, "Deployment", "StatefulSet", "DaemonSet") + kindsYAML(`""`, "Pod")
}

var shapes = []shape{
	{
		name: "RequiredLabels",
		schema: `            labels:
              type: array
              items:
                type: object
                properties:
                  key: {type: string}
                  allowedRegex: {type: string}
`,
		rego: func(variant) string {
			return `violation[{"msg": msg, "details": {"missing": missing}}] {
  provided := {k | input.review.object.metadata.labels[k]}
  required := {l.key | l := input.parameters.labels[_]}
  missing := required - provided
  count(missing) > 0
  msg := sprintf("%v %v is missing labels %v", [input.review.kind.kind, input.review.object.metadata.name, sort(missing)])
}

violation[{"msg": msg}] {
  l := input.parameters.labels[_]
  l.allowedRegex != ""
  value := input.review.object.metadata.labels[l.key]
  not regex.match(l.allowedRegex, value)
  msg := sprintf("label %v=%v does not match %v", [l.key, value, l.allowedRegex])
}
`
		},
		kinds: func(v variant) string {
			return v.pick(
				kindsYAML(`"apps"`, "Deployment"),
				kindsYAML(`""`, "Service", "ConfigMap"),
				kindsYAML(`"networking.k8s.io"`, "Ingress"),
				kindsYAML(`"autoscaling"`, "HorizontalPodAutoscaler"),
			)
		},
		params: func(v variant) string {
			return v.pick(
				"    labels:\n      - key: app.kubernetes.io/name\n        allowedRegex: \"^app-[0-9]+$\"\n      - key: app.kubernetes.io/part-of\n",
				"    labels:\n      - key: owner\n",
				"    labels:\n      - key: app.kubernetes.io/name\n",
				"    labels:\n      - key: cost-center\n        allowedRegex: \"^[0-9]{4}$\"\n",
			)
		},
	},
	{
		name: "AllowedRepos",
		schema: `            repos:
              type: array
              items: {type: string}
`,
		libs: true,
		rego: func(variant) string {
			return `import data.lib.gen.workloads

violation[{"msg": msg, "details": {"path": sprintf("%v/image", [c.path])}}] {
  c := workloads.containers[_]
  not startswith_any(c.container.image, input.parameters.repos)
  msg := sprintf("%v %v: image %v is not from %v", [c.field, c.container.name, c.container.image, input.parameters.repos])
}

startswith_any(s, prefixes) {
  startswith(s, prefixes[_])
}
`
		},
		kinds: workloadKinds,
		params: func(v variant) string {
			return v.pick(
				"    repos: [\"registry.example.com/\"]\n",
				"    repos: [\"registry.example.com/team-1/\", \"registry.example.com/team-2/\", \"mirror.example.com/\"]\n",
				"    repos: [\"gcr.io/acme/\", \"registry.example.com/\"]\n",
			)
		},
	},
	{
		name: "ContainerLimits",
		schema: `            cpu: {type: string}
            memory: {type: string}
`,
		libs: true,
		rego: func(variant) string {
			return `import data.lib.gen.workloads

violation[{"msg": msg}] {
  c := workloads.containers[_]
  not c.container.resources.limits.memory
  msg := sprintf("container %v has no memory limit", [c.container.name])
}

violation[{"msg": msg}] {
  c := workloads.containers[_]
  mem := c.container.resources.limits.memory
  units.parse_bytes(mem) > units.parse_bytes(input.parameters.memory)
  msg := sprintf("container %v memory limit %v exceeds %v", [c.container.name, mem, input.parameters.memory])
}

violation[{"msg": msg}] {
  c := workloads.containers[_]
  cpu := c.container.resources.limits.cpu
  units.parse(sprintf("%v", [cpu])) > units.parse(input.parameters.cpu)
  msg := sprintf("container %v cpu limit %v exceeds %v", [c.container.name, cpu, input.parameters.cpu])
}
`
		},
		kinds: workloadKinds,
		params: func(v variant) string {
			return v.pick("    cpu: \"2\"\n    memory: 1Gi\n", "    cpu: 500m\n    memory: 128Mi\n", "    cpu: \"4\"\n    memory: 4Gi\n")
		},
	},
	{
		name: "RequiredProbes",
		schema: `            probes:
              type: array
              items: {type: string}
`,
		libs: true,
		rego: func(variant) string {
			return `import data.lib.gen.workloads

violation[{"msg": msg}] {
  c := workloads.containers[_]
  c.field == "containers"
  probe := input.parameters.probes[_]
  not c.container[probe]
  msg := sprintf("container %v has no %v", [c.container.name, probe])
}
`
		},
		kinds: workloadKinds,
		params: func(v variant) string {
			return v.pick("    probes: [\"readinessProbe\"]\n", "    probes: [\"readinessProbe\", \"livenessProbe\"]\n")
		},
	},
	{
		name: "SecurityContext",
		schema: `            field: {type: string}
            want: {type: boolean}
`,
		libs: true,
		rego: func(variant) string {
			return `import data.lib.gen.workloads

violation[{"msg": msg}] {
  c := workloads.containers[_]
  got := object.get(object.get(c.container, "securityContext", {}), input.parameters.field, null)
  got != input.parameters.want
  msg := sprintf("container %v: securityContext.%v must be %v", [c.container.name, input.parameters.field, input.parameters.want])
}
`
		},
		kinds: workloadKinds,
		params: func(v variant) string {
			return v.pick(
				"    field: privileged\n    want: false\n",
				"    field: allowPrivilegeEscalation\n    want: false\n",
				"    field: readOnlyRootFilesystem\n    want: true\n",
				"    field: runAsNonRoot\n    want: true\n",
			)
		},
	},
	{
		name: "BlockServiceType",
		schema: `            types:
              type: array
              items: {type: string}
`,
		rego: func(variant) string {
			return `violation[{"msg": msg}] {
  t := object.get(input.review.object.spec, "type", "ClusterIP")
  t == input.parameters.types[_]
  msg := sprintf("service %v is of type %v", [input.review.object.metadata.name, t])
}
`
		},
		kinds: func(variant) string { return kindsYAML(`""`, "Service") },
		params: func(v variant) string {
			return v.pick("    types: [\"NodePort\"]\n", "    types: [\"LoadBalancer\", \"ExternalName\"]\n")
		},
	},
	{
		name: "UniqueIngressHost",
		once: true,
		rego: func(variant) string {
			return `identical(obj, review) {
  obj.metadata.namespace == review.object.metadata.namespace
  obj.metadata.name == review.object.metadata.name
}

violation[{"msg": msg}] {
  input.review.kind.kind == "Ingress"
  host := input.review.object.spec.rules[_].host
  other := data.inventory.namespace[ns][apiversion]["Ingress"][name]
  re_match("^(extensions|networking.k8s.io)/.+$", apiversion)
  other.spec.rules[_].host == host
  not identical(other, input.review)
  msg := sprintf("ingress host %v conflicts with ingress %v/%v", [host, ns, name])
}
`
		},
		kinds: func(variant) string { return kindsYAML(`"networking.k8s.io"`, "Ingress") },
	},
	{
		name: "ConfigMapRefs",
		once: true,
		libs: true,
		rego: func(variant) string {
			return `import data.lib.gen.workloads

violation[{"msg": msg}] {
  c := workloads.containers[_]
  name := c.container.envFrom[_].configMapRef.name
  ns := input.review.object.metadata.namespace
  not data.inventory.namespace[ns]["v1"]["ConfigMap"][name]
  msg := sprintf("container %v reads ConfigMap %v/%v, which does not exist", [c.container.name, ns, name])
}
`
		},
		kinds: func(variant) string { return kindsYAML(`"apps"`, "Deployment", "StatefulSet") },
	},
	{
		name: "ServiceSelectsPods",
		once: true,
		rego: func(variant) string {
			return `violation[{"msg": msg}] {
  sel := input.review.object.spec.selector
  count(sel) > 0
  ns := input.review.object.metadata.namespace
  not selects_workload(ns, sel)
  msg := sprintf("service %v selects no workload in %v", [input.review.object.metadata.name, ns])
}

selects_workload(ns, sel) {
  w := data.inventory.namespace[ns]["apps/v1"][_][_]
  labels := object.get(object.get(w.spec.template, "metadata", {}), "labels", {})
  every_matches(sel, labels)
}

every_matches(sel, labels) {
  mismatched := [k | v := sel[k]; object.get(labels, k, null) != v]
  count(mismatched) == 0
}
`
		},
		kinds: func(variant) string { return kindsYAML(`""`, "Service") },
	},
	{
		name: "ImageTags",
		schema: `            tags:
              type: array
              items: {type: string}
`,
		libs: true,
		rego: func(variant) string {
			return `import data.lib.gen.workloads

violation[{"msg": msg}] {
  c := workloads.containers[_]
  parts := split(c.container.image, ":")
  tag := parts[count(parts) - 1]
  tag == input.parameters.tags[_]
  msg := sprintf("container %v uses tag %v", [c.container.name, tag])
}

violation[{"msg": msg}] {
  c := workloads.containers[_]
  not contains(c.container.image, ":")
  msg := sprintf("container %v image has no tag", [c.container.name])
}
`
		},
		kinds: workloadKinds,
		params: func(v variant) string {
			return v.pick("    tags: [\"latest\"]\n", "    tags: [\"main\", \"master\", \"dev\"]\n")
		},
	},
	{
		name: "ReplicaLimits",
		schema: `            min: {type: integer}
            max: {type: integer}
`,
		rego: func(variant) string {
			return `violation[{"msg": msg}] {
  r := object.get(input.review.object.spec, "replicas", 1)
  not within(r)
  msg := sprintf("%v %v has %v replicas, want %v to %v", [input.review.kind.kind, input.review.object.metadata.name, r, input.parameters.min, input.parameters.max])
}

within(r) {
  r >= input.parameters.min
  r <= input.parameters.max
}
`
		},
		kinds:  func(variant) string { return kindsYAML(`"apps"`, "Deployment", "StatefulSet") },
		params: func(v variant) string { return v.pick("    min: 1\n    max: 10\n", "    min: 2\n    max: 50\n") },
	},
	{
		name: "IngressTLS",
		schema: `            requireClass: {type: boolean}
`,
		rego: func(variant) string {
			return `violation[{"msg": msg}] {
  host := input.review.object.spec.rules[_].host
  tls := {h | h := input.review.object.spec.tls[_].hosts[_]}
  not tls[host]
  msg := sprintf("host %v has no TLS", [host])
}

violation[{"msg": msg}] {
  input.parameters.requireClass
  not input.review.object.spec.ingressClassName
  msg := "ingressClassName is required"
}
`
		},
		kinds:  func(variant) string { return kindsYAML(`"networking.k8s.io"`, "Ingress") },
		params: func(v variant) string { return v.pick("    requireClass: true\n", "    requireClass: false\n") },
	},
	{
		name: "HPALimits",
		schema: `            maxReplicas: {type: integer}
            minUtilization: {type: integer}
`,
		rego: func(variant) string {
			return `violation[{"msg": msg}] {
  input.review.object.spec.maxReplicas > input.parameters.maxReplicas
  msg := sprintf("HPA %v allows %v replicas, more than %v", [input.review.object.metadata.name, input.review.object.spec.maxReplicas, input.parameters.maxReplicas])
}

violation[{"msg": msg}] {
  m := input.review.object.spec.metrics[_]
  m.resource.target.averageUtilization < input.parameters.minUtilization
  msg := sprintf("HPA %v targets %v%% utilization, less than %v%%", [input.review.object.metadata.name, m.resource.target.averageUtilization, input.parameters.minUtilization])
}
`
		},
		kinds: func(variant) string { return kindsYAML(`"autoscaling"`, "HorizontalPodAutoscaler") },
		params: func(v variant) string {
			return v.pick("    maxReplicas: 20\n    minUtilization: 50\n", "    maxReplicas: 8\n    minUtilization: 60\n")
		},
	},
	{
		name: "ConfigMapKeys",
		schema: `            forbidden:
              type: array
              items: {type: string}
`,
		rego: func(variant) string {
			return `violation[{"msg": msg}] {
  some key
  input.review.object.data[key]
  pattern := input.parameters.forbidden[_]
  regex.match(pattern, key)
  msg := sprintf("ConfigMap %v key %v looks like a secret (%v)", [input.review.object.metadata.name, key, pattern])
}
`
		},
		kinds: func(variant) string { return kindsYAML(`""`, "ConfigMap") },
		params: func(v variant) string {
			return v.pick("    forbidden: [\"(?i)password\", \"(?i)secret\", \"(?i)token\"]\n", "    forbidden: [\"(?i)_KEY$\", \"(?i)URL$\"]\n")
		},
	},
}

func template(kind string, s shape, v variant) string {
	var b strings.Builder
	name := strings.ToLower(kind)
	fmt.Fprintf(&b, `apiVersion: templates.gatekeeper.sh/v1
kind: ConstraintTemplate
metadata:
  name: %s
  annotations:
    metadata.gatekeeper.sh/title: "%s (variant %d)"
spec:
  crd:
    spec:
      names:
        kind: %s
`, name, s.name, v.round, kind)
	if s.schema != "" {
		b.WriteString("      validation:\n        openAPIV3Schema:\n          type: object\n          properties:\n")
		b.WriteString(s.schema)
	}
	b.WriteString("  targets:\n    - target: admission.k8s.gatekeeper.sh\n      rego: |\n")
	b.WriteString("        package " + name + "\n\n")
	for _, line := range strings.Split(strings.TrimRight(s.rego(v), "\n"), "\n") {
		if line == "" {
			b.WriteString("\n")
			continue
		}
		b.WriteString("        " + line + "\n")
	}
	if s.libs {
		b.WriteString("      libs:\n")
		b.WriteString(workloadsLib)
	}
	return b.String()
}

func constraint(kind string, s shape, v variant, si int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: constraints.gatekeeper.sh/v1beta1
kind: %s
metadata:
  name: %s-%d
spec:
`, kind, strings.ToLower(s.name), v.index)
	// Actions: mostly deny, some warn and dryrun.
	switch (v.index + si) % 5 {
	case 3:
		b.WriteString("  enforcementAction: warn\n")
	case 4:
		b.WriteString("  enforcementAction: dryrun\n")
	}
	b.WriteString("  match:\n    kinds:\n")
	b.WriteString(s.kinds(v))
	switch v.round % 3 {
	case 1:
		b.WriteString("    excludedNamespaces: [\"kube-*\", \"*-system\"]\n")
	case 2:
		b.WriteString("    namespaces: [\"team-*\"]\n    labelSelector:\n      matchExpressions:\n        - key: skip-policy\n          operator: DoesNotExist\n")
	}
	if s.params != nil {
		b.WriteString("  parameters:\n")
		b.WriteString(s.params(v))
	}
	return b.String()
}
