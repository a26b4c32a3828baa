package schema_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/schema"
)

func ver(t testing.TB, s string) kubeversion.Version {
	t.Helper()
	v, err := kubeversion.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newValidator(t testing.TB, k8s string, opts ...schema.Option) *schema.Validator {
	t.Helper()
	v, err := schema.New(ver(t, k8s), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// one parses a manifest holding exactly one object.
func one(t testing.TB, doc string) testObject {
	t.Helper()
	objs := parseManifests(t, []byte(doc))
	if len(objs) != 1 {
		t.Fatalf("want 1 object, got %d in:\n%s", len(objs), doc)
	}
	return objs[0]
}

func problemStrings(r schema.Result) []string {
	var out []string
	for _, p := range r.Problems {
		out = append(out, p.String())
	}
	return out
}

// widgetCRD is a CRD exercising the API server's semantics for custom
// resources; group is example.com, or another group for copies.
func widgetCRD(group string) string {
	return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.` + group + `
spec:
  group: ` + group + `
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          apiVersion: {type: string}
          kind: {type: string}
          metadata: {type: object}
          spec:
            type: object
            required: [owner, flavour]
            properties:
              owner: {type: string, minLength: 2}
              flavour: {type: string, default: vanilla}
              size: {type: integer, minimum: 1, maximum: 10}
              mode: {type: string, enum: [fast, slow]}
              note: {type: string, nullable: true}
              tag: {type: string}
              port: {x-kubernetes-int-or-string: true}
              memory:
                anyOf: [{type: integer}, {type: string}]
                pattern: '^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$'
                x-kubernetes-int-or-string: true
              created: {type: string, format: date-time}
              config:
                type: object
                x-kubernetes-preserve-unknown-fields: true
                properties:
                  level: {type: integer}
              template:
                type: object
                x-kubernetes-embedded-resource: true
                x-kubernetes-preserve-unknown-fields: true
              tags:
                type: array
                x-kubernetes-list-type: set
                items: {type: string}
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    number: {type: integer}
              labels:
                type: object
                additionalProperties: {type: string}
          status:
            type: object
            properties:
              ready: {type: boolean}
  - name: v2
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              replicas: {type: integer}
`
}

const widget = `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  labels: {app: w}
spec:
  owner: team-a
`

type semanticsCase struct {
	name   string
	strict bool
	doc    string
	want   []string // "pointer: message" of every problem, in order
}

func runSemantics(t *testing.T, v, vStrict *schema.Validator, cases []semanticsCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			val := v
			if tc.strict {
				val = vStrict
			}
			o := one(t, tc.doc)
			r := val.ValidateWithDuplicates(o.Data, o.Duplicates)
			got := problemStrings(r)
			if len(got) != len(tc.want) {
				t.Fatalf("problems:\n got %q\nwant %q", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("problem %d:\n got %q\nwant %q", i, got[i], tc.want[i])
				}
			}
			if r.NoSchema || r.Unserved {
				t.Errorf("NoSchema=%v Unserved=%v, want a schema", r.NoSchema, r.Unserved)
			}
		})
	}
}

func deployment(spec string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
` + spec
}

func TestBuiltinSemantics(t *testing.T) {
	v := newValidator(t, "1.35")
	vs := newValidator(t, "1.35", schema.Strict(true))
	runSemantics(t, v, vs, []semanticsCase{
		{name: "valid deployment", doc: deployment("")},
		{name: "valid deployment strict", strict: true, doc: deployment("")},
		{name: "integer as string", doc: deployment("  replicas: two\n"),
			want: []string{`/spec/replicas: got string "two", want integer`}},
		{name: "integer as quoted digits", doc: deployment("  replicas: \"2\"\n"),
			want: []string{`/spec/replicas: got string "2", want integer`}},
		{name: "integer as whole float", doc: deployment("  replicas: 2.0\n")},
		{name: "integer as fraction", doc: deployment("  replicas: 2.5\n"),
			want: []string{`/spec/replicas: got number 2.5, want integer`}},
		{name: "int32 overflow", doc: deployment("  replicas: 3000000000\n"),
			want: []string{`/spec/replicas: got number 3000000000, want an integer from -2147483648 to 2147483647 (int32)`}},
		{name: "int64 field takes big numbers", doc: deployment("  template: {spec: {containers: [{name: a}], activeDeadlineSeconds: 3000000000}}\n")},
		{name: "boolean as string", doc: deployment("  paused: \"true\"\n"),
			want: []string{`/spec/paused: got string "true", want boolean`}},
		{name: "object as string", doc: deployment("  strategy: Recreate\n"),
			want: []string{`/spec/strategy: got string "Recreate", want object`}},
		{name: "array as object", doc: `apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers: {name: a, image: b}
`, want: []string{`/spec/containers: got object, want array`}},
		{name: "int-or-string number", doc: deployment("  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}\n")},
		{name: "int-or-string string", doc: deployment("  strategy: {rollingUpdate: {maxSurge: 25%, maxUnavailable: \"10%\"}}\n")},
		{name: "int-or-string fraction", doc: deployment("  strategy: {rollingUpdate: {maxSurge: 1.5}}\n"),
			want: []string{`/spec/strategy/rollingUpdate/maxSurge: got number 1.5, want integer or string`}},
		{name: "int-or-string boolean", doc: deployment("  strategy: {rollingUpdate: {maxSurge: true}}\n"),
			want: []string{`/spec/strategy/rollingUpdate/maxSurge: got boolean true, want integer or string`}},
		{name: "int-or-string out of int32", doc: deployment("  strategy: {rollingUpdate: {maxSurge: 4294967296}}\n"),
			want: []string{`/spec/strategy/rollingUpdate/maxSurge: got number 4294967296, want a string or an integer from -2147483648 to 2147483647`}},
		{name: "quantities", doc: `apiVersion: v1
kind: LimitRange
metadata: {name: l}
spec:
  limits:
  - type: Container
    default: {memory: 512Mi, cpu: 500m, ephemeral-storage: 1e9, example.com/gpu: "1"}
    defaultRequest: {memory: 256000, cpu: 0.5, ephemeral-storage: " 2Gi "}
`},
		{name: "bad quantities", doc: `apiVersion: v1
kind: LimitRange
metadata: {name: l}
spec:
  limits:
  - type: Container
    default: {memory: 512 Mi, cpu: two, storage: "", example.com/gpu: true}
`, want: []string{
			`/spec/limits/0/default/cpu: got string "two", want a quantity such as 500m, 128Mi, 2Gi or 1.5`,
			`/spec/limits/0/default/example.com~1gpu: got boolean true, want a quantity (a string such as 500m or 2Gi, or a number)`,
			`/spec/limits/0/default/memory: got string "512 Mi", want a quantity such as 500m, 128Mi, 2Gi or 1.5`,
			`/spec/limits/0/default/storage: got string "", want a quantity such as 500m, 128Mi, 2Gi or 1.5`,
		}},
		{name: "nulls are the zero value", doc: `apiVersion: v1
kind: Service
metadata:
  name: s
  creationTimestamp: null
  labels: null
spec:
  ports:
  - port: 80
    targetPort: null
  selector: {app: null}
status: {loadBalancer: {}}
`},
		{name: "null items", doc: deployment("        args:\n        command: [null]\n")},
		{name: "date-time", doc: `apiVersion: v1
kind: ConfigMap
metadata: {name: c, creationTimestamp: "2024-02-29T12:00:00Z", deletionTimestamp: "2024-02-29T12:00:00.123+01:00"}
`},
		{name: "bad date-time", doc: `apiVersion: v1
kind: ConfigMap
metadata: {name: c, creationTimestamp: yesterday}
`, want: []string{`/metadata/creationTimestamp: got string "yesterday", want an RFC 3339 date-time such as 2006-01-02T15:04:05Z`}},
		{name: "base64 data", doc: `apiVersion: v1
kind: Secret
metadata: {name: s}
data: {user: YWRtaW4=, empty: ""}
stringData: {plain: "not base64!"}
`},
		{name: "bad base64 data", doc: `apiVersion: v1
kind: Secret
metadata: {name: s}
data: {password: hunter2!}
`, want: []string{`/data/password: got string (value not shown), want base64-encoded data`}},
		{name: "map values", doc: `apiVersion: v1
kind: ConfigMap
metadata: {name: c, labels: {a: 1, b: "2"}}
data: {retries: 3, enabled: true, name: x}
`, want: []string{
			`/data/enabled: got boolean true, want string`,
			`/data/retries: got number 3, want string`,
			`/metadata/labels/a: got number 1, want string`,
		}},
		{name: "required", doc: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers:
      - image: nginx
`, want: []string{
			`/spec: missing required field "selector"`,
			`/spec/template/spec/containers/0: missing required field "name"`,
		}},
		{name: "required present as null", doc: deployment("        ports: [{containerPort: null}]\n")},
		{name: "unknown fields allowed", doc: deployment("  replica: 3\n  template2: {}\n")},
		{name: "unknown fields strict", strict: true, doc: strings.Replace(deployment("  replica: 3\n  Paused: true\n"), "metadata: {name: web}", "metadata: {name: web, label: {a: b}}", 1),
			want: []string{
				`/metadata/label: unknown field "label" (did you mean "labels"?)`,
				`/spec/Paused: unknown field "Paused" (did you mean "paused"?)`,
				`/spec/replica: unknown field "replica" (did you mean "replicas"?)`,
			}},
		{name: "unknown fields strict in lists", strict: true, doc: deployment("        imagePullPolicy: Always\n        port: 80\n"),
			want: []string{`/spec/template/spec/containers/0/port: unknown field "port" (did you mean "ports"?)`}},
		{name: "open objects strict", strict: true, doc: `apiVersion: apps/v1
kind: ControllerRevision
metadata:
  name: r
  managedFields:
  - manager: kubectl
    fieldsType: FieldsV1
    fieldsV1: {"f:spec": {"f:replicas": {}}}
data: {anything: {goes: [1, 2]}}
revision: 1
`},
		{name: "duplicates ignored", doc: deployment("  replicas: 1\n  replicas: 2\n")},
		{name: "duplicates strict", strict: true, doc: deployment("  replicas: 1\n  replicas: 2\n"),
			want: []string{`/spec/replicas: duplicate field "replicas"`}},
		{name: "CRD objects are built-in", strict: true, doc: widgetCRD("example.com")},
	})
}

func TestCustomResourceSemantics(t *testing.T) {
	crd := one(t, widgetCRD("example.com")).Data
	v := newValidator(t, "1.35", schema.WithCRDs(crd))
	vs := newValidator(t, "1.35", schema.Strict(true), schema.WithCRDs(crd))
	w := func(extra string) string { return widget + extra }
	runSemantics(t, v, vs, []semanticsCase{
		{name: "valid", doc: widget},
		{name: "valid strict", strict: true, doc: widget},
		{name: "all fields", strict: true, doc: w(`  size: 3
  mode: fast
  note: null
  port: http
  memory: 512Mi
  created: "2024-01-01T00:00:00Z"
  config: {level: 2, anything: {goes: here}}
  template:
    apiVersion: v1
    kind: Pod
    metadata: {name: p, labels: {a: b}}
    spec: {whatever: true}
  tags: [a, b]
  ports: [{name: a, number: 1}, {name: b, number: 1}]
  labels: {x: y}
status: {ready: true}
`)},
		{name: "type", doc: w("  size: big\n"), want: []string{`/spec/size: got string "big", want integer`}},
		{name: "minimum", doc: w("  size: 0\n  mode: fast\n"),
			want: []string{`/spec/size: got number 0, want at least 1`}},
		{name: "maximum", doc: w("  size: 11\n"), want: []string{`/spec/size: got number 11, want at most 10`}},
		{name: "enum", doc: w("  mode: medium\n"), want: []string{`/spec/mode: got string "medium", want one of "fast", "slow"`}},
		{name: "minLength", doc: strings.Replace(widget, "owner: team-a", "owner: a", 1),
			want: []string{`/spec/owner: got string "a" (1 characters), want at least 2`}},
		{name: "int-or-string", doc: w("  port: 8080\n")},
		{name: "int-or-string wrong type", doc: w("  port: [1]\n"), want: []string{`/spec/port: got array, want integer or string`}},
		{name: "quantity pattern", doc: w("  memory: lots\n"),
			want: []string{`/spec/memory: got string "lots", want a string matching ^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`}},
		{name: "quantity number", doc: w("  memory: 1024\n")},
		{name: "format", doc: w("  created: soon\n"),
			want: []string{`/spec/created: got string "soon", want an RFC 3339 date-time such as 2006-01-02T15:04:05Z`}},
		{name: "nullable", doc: w("  note: null\n")},
		{name: "non-nullable null is dropped", doc: w("  tag: null\n  size: null\n")},
		{name: "required null", doc: strings.Replace(widget, "owner: team-a", "owner: null", 1),
			want: []string{`/spec: missing required field "owner"`}},
		{name: "required missing", doc: strings.Replace(widget, "  owner: team-a\n", "  size: 1\n", 1),
			want: []string{`/spec: missing required field "owner"`}},
		{name: "null list item", doc: w("  tags: [a, null]\n"), want: []string{`/spec/tags/1: got null, want string`}},
		{name: "preserve unknown fields", strict: true, doc: w("  config: {level: 1, x: {y: z}}\n")},
		{name: "preserve unknown fields keeps types", doc: w("  config: {level: high}\n"),
			want: []string{`/spec/config/level: got string "high", want integer`}},
		{name: "unknown fields pruned, not an error", doc: w("  colour: red\nextra: 1\n")},
		{name: "unknown fields strict", strict: true, doc: w("  colour: red\nextra: 1\nstatus: {ready: true, since: now}\n"),
			want: []string{
				`/extra: unknown field "extra"`,
				`/spec/colour: unknown field "colour"`,
				`/status/since: unknown field "since"`,
			}},
		{name: "metadata is ObjectMeta", strict: true, doc: strings.Replace(widget, "labels: {app: w}", "labels: {app: 1}\n  lables: {}", 1),
			want: []string{
				`/metadata/labels/app: got number 1, want string`,
				`/metadata/lables: unknown field "lables" (did you mean "labels"?)`,
			}},
		{name: "embedded resource needs apiVersion and kind", doc: w("  template: {metadata: {name: p}}\n"),
			want: []string{
				`/spec/template: missing required field "apiVersion" (an embedded object needs apiVersion and kind)`,
				`/spec/template: missing required field "kind" (an embedded object needs apiVersion and kind)`,
			}},
		{name: "embedded resource metadata is ObjectMeta", doc: w("  template: {apiVersion: v1, kind: Pod, metadata: {name: 5}}\n"),
			want: []string{`/spec/template/metadata/name: got number 5, want string`}},
		{name: "embedded resource empty kind", doc: w("  template: {apiVersion: v1, kind: \"\"}\n"),
			want: []string{`/spec/template/kind: got an empty string, want kind of the embedded object`}},
		{name: "list-type set", doc: w("  tags: [a, b, a]\n"),
			want: []string{`/spec/tags/2: duplicate entry string "a": item 0 holds the same value, want unique items`}},
		{name: "list-type map", doc: w("  ports: [{name: a}, {name: b}, {name: a, number: 2}]\n"),
			want: []string{`/spec/ports/2: duplicate entry with name="a": item 0 has the same keys`}},
		{name: "additionalProperties", doc: w("  labels: {a: 1}\n"), want: []string{`/spec/labels/a: got number 1, want string`}},
		{name: "other version's schema", strict: true, doc: `apiVersion: example.com/v2
kind: Widget
metadata: {name: w}
spec: {replicas: 2}
`},
		{name: "other version's schema strict", strict: true, doc: `apiVersion: example.com/v2
kind: Widget
metadata: {name: w}
spec: {replicas: 2, owner: a}
`, want: []string{`/spec/owner: unknown field "owner"`}},
		{name: "duplicates strict", strict: true, doc: w("  size: 1\n  size: 2\n"),
			want: []string{`/spec/size: duplicate field "size"`}},
	})
}

func TestNoSchemaForCustomKind(t *testing.T) {
	crd := one(t, widgetCRD("example.com")).Data
	v := newValidator(t, "1.35", schema.Strict(true), schema.WithCRDs(crd))
	for _, doc := range []string{
		"apiVersion: example.org/v1\nkind: Gadget\nmetadata: {name: c}\n", // no CRD at all, nor in the catalog
	} {
		o := one(t, doc)
		r := v.Validate(o.Data)
		if !r.NoSchema || r.Unserved || len(r.Problems) != 0 {
			t.Errorf("%s: got %+v, want NoSchema and no problems", doc, r)
		}
		av, kind := o.Data["apiVersion"].(string), o.Data["kind"].(string)
		file := strings.ToLower(kind) + "-example-" + av[strings.LastIndex(av, "/")+1:] + ".json"
		if want := "no schema for " + av + " " + kind + ": add its CustomResourceDefinition to the inputs, or give --schema-dir a directory holding it or " + file; r.Message != want {
			t.Errorf("message %q, want %q", r.Message, want)
		}
	}
}

// TestServedByTarget: whether the target serves an apiVersion and kind
// is decided by the target's own minor, from 1.16 on; what it does not
// serve is denied at /apiVersion, naming what it serves for the kind.
func TestServedByTarget(t *testing.T) {
	const hpa = "metadata: {name: web}\nspec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, maxReplicas: 3}\n"
	const flowSchema = "metadata: {name: f}\nspec: {priorityLevelConfiguration: {name: global-default}}\n"
	const ingress = "metadata: {name: i}\nspec: {rules: [{host: a.example.com}]}\n"
	for _, tc := range []struct {
		target, apiVersion, kind, body string
		want                           string // the /apiVersion problem; "" when served
	}{
		{"1.22", "autoscaling/v2", "HorizontalPodAutoscaler", hpa,
			"autoscaling/v2 HorizontalPodAutoscaler is not served by Kubernetes 1.22; it serves autoscaling/v1, autoscaling/v2beta1, autoscaling/v2beta2"},
		{"1.23", "autoscaling/v2", "HorizontalPodAutoscaler", hpa, ""},
		{"1.25", "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", flowSchema,
			"flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema is not served by Kubernetes 1.25; it serves flowcontrol.apiserver.k8s.io/v1beta1, flowcontrol.apiserver.k8s.io/v1beta2"},
		{"1.26", "flowcontrol.apiserver.k8s.io/v1beta3", "FlowSchema", flowSchema, ""},
		{"1.28", "flowcontrol.apiserver.k8s.io/v1", "FlowSchema", flowSchema,
			"flowcontrol.apiserver.k8s.io/v1 FlowSchema is not served by Kubernetes 1.28; it serves flowcontrol.apiserver.k8s.io/v1beta2, flowcontrol.apiserver.k8s.io/v1beta3"},
		{"1.29", "flowcontrol.apiserver.k8s.io/v1", "FlowSchema", flowSchema, ""},
		// 1.16 stopped serving apps/v1beta1 and apps/v1beta2 whole, and
		// the workload kinds of extensions/v1beta1: kinds the group
		// version never had are denied as well.
		{"1.16", "apps/v1beta1", "Deployment", "metadata: {name: d}\n", "apps/v1beta1 Deployment is not served by Kubernetes 1.16; it serves apps/v1"},
		{"1.16", "apps/v1beta1", "StatefulSet", "metadata: {name: s}\n", "apps/v1beta1 StatefulSet is not served by Kubernetes 1.16; it serves apps/v1"},
		{"1.16", "apps/v1beta1", "ControllerRevision", "metadata: {name: c}\nrevision: 1\n", "apps/v1beta1 ControllerRevision is not served by Kubernetes 1.16; it serves apps/v1"},
		{"1.16", "apps/v1beta1", "ReplicaSet", "metadata: {name: r}\n", "apps/v1beta1 ReplicaSet is not served by Kubernetes 1.16; it serves apps/v1"},
		{"1.17", "apps/v1beta2", "DaemonSet", "metadata: {name: d}\n", "apps/v1beta2 DaemonSet is not served by Kubernetes 1.17; it serves apps/v1"},
		{"1.16", "extensions/v1beta1", "Deployment", "metadata: {name: d}\n", "extensions/v1beta1 Deployment is not served by Kubernetes 1.16; it serves apps/v1"},
		{"1.16", "extensions/v1beta1", "Ingress", ingress, ""},
		{"1.21", "extensions/v1beta1", "Ingress", ingress, ""},
		{"1.22", "extensions/v1beta1", "Ingress", ingress, "extensions/v1beta1 Ingress is not served by Kubernetes 1.22; it serves networking.k8s.io/v1"},
		{"1.16", "apps/v1", "Deployment", "metadata: {name: d}\nspec: {selector: {matchLabels: {a: b}}, template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}}\n", ""},
		// Misspelt kinds in a built-in group version.
		{"1.28", "apps/v1", "Deploymnet", "metadata: {name: d}\n", "apps/v1 Deploymnet is not served by Kubernetes 1.28"},
		{"1.16", "v1", "Deploymnet", "metadata: {name: d}\n", "v1 Deploymnet is not served by Kubernetes 1.16"},
		// Groups only some releases have are built-in in every one.
		{"1.37", "settings.k8s.io/v1alpha1", "PodPreset", "metadata: {name: p}\n", "settings.k8s.io/v1alpha1 PodPreset is not served by Kubernetes 1.37"},
		{"1.16", "storagemigration.k8s.io/v1alpha1", "StorageVersionMigration", "metadata: {name: m}\n",
			"storagemigration.k8s.io/v1alpha1 StorageVersionMigration is not served by Kubernetes 1.16"},
		{"1.35", "policy/v1beta1", "PodSecurityPolicy", "metadata: {name: p}\n", "policy/v1beta1 PodSecurityPolicy is not served by Kubernetes 1.35"},
		{"1.35", "apps/v1beta2", "Deployment", "metadata: {name: d}\n", "apps/v1beta2 Deployment is not served by Kubernetes 1.35; it serves apps/v1"},
	} {
		doc := "apiVersion: " + tc.apiVersion + "\nkind: " + tc.kind + "\n" + tc.body
		r := newValidator(t, tc.target).Validate(one(t, doc).Data)
		var want []string
		if tc.want != "" {
			want = []string{"/apiVersion: " + tc.want}
		}
		if got := problemStrings(r); !reflect.DeepEqual(got, want) || r.Unserved != (tc.want != "") || r.NoSchema {
			t.Errorf("%s %s %s: problems %q Unserved=%v NoSchema=%v, want %q", tc.target, tc.apiVersion, tc.kind, got, r.Unserved, r.NoSchema, want)
		}
	}
}

// TestUnsupportedVersions: a minor with no schemas of its own is refused,
// naming the range; no other minor stands in for it.
func TestUnsupportedVersions(t *testing.T) {
	versions := schema.Versions()
	if len(versions) == 0 || versions[0].MinorString() != "1.16" || versions[len(versions)-1] != kubeversion.Latest {
		t.Fatalf("embedded versions %v, want 1.16 to %s", versions, kubeversion.Latest)
	}
	for _, target := range []string{"1.15", "1.99", "1.0", "1." + strconv.Itoa(kubeversion.Latest.Minor+1) + ".2"} {
		v := ver(t, target)
		want := "Kubernetes " + v.MinorString() + " is not supported: gatekeep knows 1.16 to " + kubeversion.Latest.MinorString()
		if _, err := schema.New(v); err == nil || err.Error() != want {
			t.Errorf("New(%s): error %v, want %q", target, err, want)
		}
		if err := schema.Supported(v); err == nil || err.Error() != want {
			t.Errorf("Supported(%s): %v, want %q", target, err, want)
		}
		if _, err := schema.WriteJSONSchemas(v, t.TempDir(), false); err == nil || err.Error() != want {
			t.Errorf("WriteJSONSchemas(%s): %v, want %q", target, err, want)
		}
		if got := schema.Served(v); got != nil {
			t.Errorf("Served(%s): %d kinds, want none", target, len(got))
		}
	}
	for _, target := range []string{"1.16", "1.16.3", "1.28.15", kubeversion.Latest.String() + ".9"} {
		if err := schema.Supported(ver(t, target)); err != nil {
			t.Errorf("Supported(%s): %v", target, err)
		}
	}
	// The zero version is the newest.
	if _, err := schema.New(kubeversion.Version{}); err != nil {
		t.Errorf("New(zero): %v", err)
	}
}

// gadgetCRDs serves example.com/v1 Gadget, defines v2 but does not serve
// it, and knows no v3; a v1beta1 CRD with spec.version alone serves that.
const gadgetCRDs = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  names: {kind: Gadget, plural: gadgets}
  scope: Namespaced
  versions:
  - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, properties: {spec: {type: object, properties: {size: {type: integer}}}}}}}
  - {name: v2, served: false, storage: false, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gizmos.example.com}
spec:
  group: example.com
  names: {kind: Gizmo, plural: gizmos}
  scope: Namespaced
  versions:
  - {name: v1, served: false, storage: true, schema: {openAPIV3Schema: {type: object}}}
---
apiVersion: apiextensions.k8s.io/v1beta1
kind: CustomResourceDefinition
metadata: {name: doodads.example.com}
spec:
  group: example.com
  version: v1alpha1
  names: {kind: Doodad, plural: doodads}
  scope: Namespaced
`

// TestCRDServedVersions: a CRD among the inputs that defines an object's
// kind but does not serve its version (absent, or served: false) denies
// it, naming what it serves, as the API server would refuse it; a schema
// directory does not stand in for it.
func TestCRDServedVersions(t *testing.T) {
	var crds []map[string]any
	for _, o := range parseManifests(t, []byte(gadgetCRDs)) {
		crds = append(crds, o.Data)
	}
	// Among the inputs, a CRD wins over a schema directory's JSON Schema
	// of a version it does not serve; in a schema directory, it says
	// alike what is served.
	dir := writeFiles(t, map[string]string{"gadget-example-v3.json": `{"type": "object"}`})
	inDir := writeFiles(t, map[string]string{"crds/gadgets.yaml": gadgetCRDs})
	for name, v := range map[string]*schema.Validator{
		"among the inputs":      newValidator(t, "1.35", schema.WithCRDs(crds...), schema.WithSchemaDir(dir)),
		"in a schema directory": newValidator(t, "1.35", schema.WithSchemaDir(inDir)),
	} {
		t.Run(name, func(t *testing.T) { servedVersionsCases(t, v) })
	}
}

func servedVersionsCases(t *testing.T, v *schema.Validator) {
	for _, tc := range []struct{ doc, want string }{
		{"apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: 2}\n", ""},
		{"apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\nspec: {size: two}\n", `/spec/size: got string "two", want integer`},
		{"apiVersion: example.com/v2\nkind: Gadget\nmetadata: {name: g}\n",
			"/apiVersion: example.com/v2 Gadget is not served: its CustomResourceDefinition gadgets.example.com serves example.com/v1"},
		{"apiVersion: example.com/v3\nkind: Gadget\nmetadata: {name: g}\n",
			"/apiVersion: example.com/v3 Gadget is not served: its CustomResourceDefinition gadgets.example.com serves example.com/v1"},
		{"apiVersion: example.com/v1\nkind: Gizmo\nmetadata: {name: g}\n",
			"/apiVersion: example.com/v1 Gizmo is not served: its CustomResourceDefinition gizmos.example.com serves no version"},
		{"apiVersion: example.com/v1alpha1\nkind: Doodad\nmetadata: {name: d}\n", ""},
		{"apiVersion: example.com/v1\nkind: Doodad\nmetadata: {name: d}\n",
			"/apiVersion: example.com/v1 Doodad is not served: its CustomResourceDefinition doodads.example.com serves example.com/v1alpha1"},
	} {
		r := v.Validate(one(t, tc.doc).Data)
		var want []string
		if tc.want != "" {
			want = []string{tc.want}
		}
		unserved := strings.HasPrefix(tc.want, "/apiVersion")
		if got := problemStrings(r); !reflect.DeepEqual(got, want) || r.Unserved != unserved || r.NoSchema {
			t.Errorf("%s: problems %q Unserved=%v NoSchema=%v, want %q", tc.doc, got, r.Unserved, r.NoSchema, want)
		}
	}
}

// writeFiles writes name -> content under a new temporary directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const gadgetJSONSchema = `{
  "$schema": "http://json-schema.org/draft-04/schema#",
  "type": "object",
  "required": ["spec"],
  "properties": {
    "apiVersion": {"type": "string"},
    "kind": {"type": "string"},
    "metadata": {"type": "object"},
    "spec": {"$ref": "#/definitions/spec"}
  },
  "definitions": {
    "spec": {
      "type": "object",
      "additionalProperties": false,
      "required": ["color"],
      "properties": {
        "color": {"type": "string", "enum": ["red", "blue"]},
        "count": {"type": ["integer", "null"], "minimum": 0},
        "parts": {"type": "array", "items": {"$ref": "#/definitions/spec"}},
        "shared": {"$ref": "_definitions.json#/definitions/shared"}
      }
    }
  }
}`

const sharedDefinitions = `{"definitions": {"shared": {"type": "object", "properties": {"id": {"type": "string", "format": "uuid"}}}}}`

func TestSchemaDir(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"crds/widgets.yaml":            "# a comment\n---\n" + widgetCRD("example.org") + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: not-a-crd}\n",
		"gadget-example-v1.json":       gadgetJSONSchema,
		"_definitions.json":            sharedDefinitions,
		"thing-things.acme.io-v2.json": `{"type": "object", "properties": {"spec": {"type": "object", "properties": {"n": {"type": "integer"}}}}}`,
		"README.md":                    "not a schema",
	})
	v := newValidator(t, "1.35", schema.WithSchemaDir(dir))
	vs := newValidator(t, "1.35", schema.Strict(true), schema.WithSchemaDir(dir))
	org := strings.Replace(widget, "example.com", "example.org", 1)
	gadget := "apiVersion: example.io/v1\nkind: Gadget\nmetadata: {name: g}\nspec:\n  color: red\n"
	runSemantics(t, v, vs, []semanticsCase{
		{name: "CRD YAML", strict: true, doc: org},
		{name: "CRD YAML type", doc: org + "  size: x\n", want: []string{`/spec/size: got string "x", want integer`}},
		{name: "CRD YAML strict", strict: true, doc: org + "  colour: red\n", want: []string{`/spec/colour: unknown field "colour"`}},
		{name: "JSON Schema", strict: true, doc: gadget + "  count: null\n  parts: [{color: blue}]\n  shared: {id: 123e4567-e89b-12d3-a456-426614174000}\n"},
		{name: "JSON Schema enum", doc: gadget + "  parts: [{color: green}]\n",
			want: []string{`/spec/parts/0/color: got string "green", want one of "red", "blue"`}},
		{name: "JSON Schema additionalProperties false", doc: gadget + "  size: 1\n",
			want: []string{`/spec/size: unknown field "size"`}},
		{name: "JSON Schema required", doc: "apiVersion: example.io/v1\nkind: Gadget\nmetadata: {name: g}\n",
			want: []string{`missing required field "spec"`}},
		{name: "JSON Schema reference to another file", doc: gadget + "  shared: {id: nope}\n",
			want: []string{`/spec/shared/id: got string "nope", want a UUID`}},
		{name: "JSON Schema null", doc: gadget + "  color: null\n",
			want: []string{`/spec/color: got null, want string`}},
		{name: "JSON Schema metadata is ObjectMeta", doc: strings.Replace(gadget, "{name: g}", "{name: g, labels: {a: 1}}", 1),
			want: []string{`/metadata/labels/a: got number 1, want string`}},
		{name: "JSON Schema by full group", strict: true, doc: "apiVersion: things.acme.io/v2\nkind: Thing\nmetadata: {name: t}\nspec: {n: 1}\n"},
		{name: "JSON Schema by full group strict", strict: true, doc: "apiVersion: things.acme.io/v2\nkind: Thing\nmetadata: {name: t}\nspec: {m: 1}\n",
			want: []string{`/spec/m: unknown field "m"`}},
	})

	// CRDs among the inputs win over the directory's.
	inputs := strings.Replace(widgetCRD("example.org"), "minimum: 1, maximum: 10", "minimum: 5", 1)
	vi := newValidator(t, "1.35", schema.WithSchemaDir(dir), schema.WithCRDs(one(t, inputs).Data))
	r := vi.Validate(one(t, org+"  size: 3\n").Data)
	if got := problemStrings(r); !reflect.DeepEqual(got, []string{"/spec/size: got number 3, want at least 5"}) {
		t.Errorf("inputs over dir: %q", got)
	}

	if _, err := schema.New(ver(t, "1.35"), schema.WithSchemaDir(filepath.Join(dir, "missing"))); err == nil {
		t.Error("a missing schema dir: no error")
	}
	bad := writeFiles(t, map[string]string{"bad.yaml": "a: [\n"})
	if _, err := schema.New(ver(t, "1.35"), schema.WithSchemaDir(bad)); err == nil || !strings.Contains(err.Error(), "bad.yaml") {
		t.Errorf("a broken YAML file: error %v, want one naming it", err)
	}
	broken := writeFiles(t, map[string]string{"gadget-example-v1.json": "{"})
	r = newValidator(t, "1.35", schema.WithSchemaDir(broken)).Validate(one(t, gadget).Data)
	if !r.NoSchema || !strings.Contains(r.Message, "gadget-example-v1.json") || len(r.Problems) != 0 {
		t.Errorf("a broken JSON Schema: got %+v, want NoSchema naming the file", r)
	}
}

func TestConcurrentUse(t *testing.T) {
	crd := one(t, widgetCRD("example.com")).Data
	v := newValidator(t, "1.35", schema.Strict(true), schema.WithCRDs(crd))
	docs := []testObject{one(t, deployment("  replicas: two\n")), one(t, widget+"  size: big\n")}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				for _, d := range docs {
					if r := v.Validate(d.Data); len(r.Problems) != 1 {
						t.Errorf("got %v", r.Problems)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}

func TestGoNumberTypes(t *testing.T) {
	v := newValidator(t, "1.35")
	for _, n := range []any{2, int32(2), int64(2), uint8(2), float32(2), float64(2)} {
		obj := one(t, deployment("")).Data
		obj["spec"].(map[string]any)["replicas"] = n
		if r := v.Validate(obj); len(r.Problems) != 0 {
			t.Errorf("%T: %v", n, r.Problems)
		}
	}
	obj := one(t, deployment("")).Data
	obj["spec"].(map[string]any)["replicas"] = 2.5
	if r := v.Validate(obj); len(r.Problems) != 1 {
		t.Errorf("2.5: %v", r.Problems)
	}
}

func TestMissingAPIVersionAndKind(t *testing.T) {
	v := newValidator(t, "1.35")
	r := v.Validate(map[string]any{"kind": "Pod"})
	if got := problemStrings(r); !reflect.DeepEqual(got, []string{"missing apiVersion"}) {
		t.Errorf("got %q", got)
	}
}
