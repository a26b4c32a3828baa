package gatekeeper

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// bundle is a directory of templates, constraints and expansion templates,
// sorted the way a bundle loader would.
type bundle struct {
	templates, constraints, expansions []Document
}

func loadBundle(t testing.TB, dir string) bundle {
	t.Helper()
	var b bundle
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error { //nolint:gosec // G703: the test's own testdata
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		data, err := os.ReadFile(path) //nolint:gosec // G122: walks the test's own testdata
		if err != nil {
			return err
		}
		objs, errs := manifest.Parse(path, data)
		if len(errs) > 0 {
			t.Fatalf("%v", errs)
		}
		for _, o := range objs {
			switch {
			case IsTemplate(o.Data):
				b.templates = append(b.templates, DocumentOf(o))
			case IsConstraint(o.Data):
				b.constraints = append(b.constraints, DocumentOf(o))
			case IsExpansionTemplate(o.Data):
				b.expansions = append(b.expansions, DocumentOf(o))
			default:
				t.Fatalf("%s:%d: unexpected %s", path, o.Source.Line, o.Kind())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (b bundle) policy(t testing.TB, opts ...Option) *Policy {
	t.Helper()
	opts = append([]Option{WithExpansionTemplates(b.expansions...)}, opts...)
	p, err := New(context.Background(), b.templates, b.constraints, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// obj parses one YAML object.
func obj(t testing.TB, y string) map[string]any {
	t.Helper()
	objs, errs := manifest.Parse("test.yaml", []byte(strings.TrimSpace(y)+"\n"))
	if len(errs) > 0 || len(objs) != 1 {
		t.Fatalf("bad test object: %v (%d objects)", errs, len(objs))
	}
	return objs[0].Data
}

func TestChecks(t *testing.T) {
	p := loadBundle(t, "testdata/policies").policy(t)
	got := map[string]string{}
	for _, c := range p.Checks() {
		got[c.ID] = c.Action
		if c.Summary == "" || c.Source.File == "" || c.Template.File == "" {
			t.Errorf("%s: missing summary or sources: %+v", c.ID, c)
		}
	}
	want := map[string]string{
		"AcmeRequiredLabels/deployments-have-owner":           Deny,
		"AcmeRequiredLabels/namespaces-have-cost-center":      Warn,
		"AcmeAllowedRepos/team-images-from-internal-registry": Deny,
		"AcmeContainerLimits/containers-have-limits":          DryRun,
		"AcmeBlockNodePort/no-nodeport":                       Deny, // scoped: deny at gator
		"AcmeUniqueSelector/unique-service-selectors":         "deny", "AcmeUniqueIngressHost/unique-ingress-hosts": Deny,
		"AcmeIngressTLS/ingress-hosts-have-tls":           Deny,
		"AcmeDisallowedTags/prod-no-latest":               Warn,
		"AcmeReplicaLimits/web-replicas":                  Deny,
		"AcmeImmutableLabels/team-label-is-immutable":     Deny,
		"AcmeRequiredProbes/workload-pods-have-readiness": Deny,
		"AcmeHostNamespaces/no-host-namespaces":           Deny,
		"AcmeHostPaths/host-paths-under-var-log":          Deny,
		"AcmePullPolicy/pull-always-or-ifnotpresent":      "deny", "AcmePullPolicy/pull-default": "deny", "AcmePVCSize/claims-up-to-50gi": Warn,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("checks:\n got %v\nwant %v", got, want)
	}
	pw := loadBundle(t, "testdata/policies").policy(t, WithEnforcementPoint(WebhookEnforcementPoint))
	if c, _ := pw.Check("AcmeBlockNodePort/no-nodeport"); c.Action != Warn {
		t.Errorf("scoped action at the webhook = %q, want warn", c.Action)
	}
	pa := loadBundle(t, "testdata/policies").policy(t, WithEnforcementPoint(AuditEnforcementPoint))
	if c, _ := pa.Check("AcmeBlockNodePort/no-nodeport"); c.Action != Off {
		t.Errorf("scoped action at audit = %q, want off", c.Action)
	}
}

const (
	nsProd = `
apiVersion: v1
kind: Namespace
metadata:
  name: team-shop
  labels: {env: prod, exposure: public, cost-center: "42"}
`
	goodDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-shop
  namespace: team-shop
  labels: {owner: team-shop, app.kubernetes.io/name: shop}
spec:
  replicas: 3
  template:
    metadata:
      labels: {app: shop}
    spec:
      containers:
        - name: main
          image: registry.example.com/shop:1.2.3
          readinessProbe: {httpGet: {path: /healthz, port: 8080}}
          resources: {limits: {cpu: 500m, memory: 512Mi}}
`
)

func TestReview(t *testing.T) {
	ctx := context.Background()
	b := loadBundle(t, "testdata/policies")
	p := b.policy(t)

	type tc struct {
		name      string
		object    string
		old       string
		operation string
		namespace string // Namespace object passed with the request
		// noNamespace passes no Namespace; otherwise namespaced objects
		// get a plain Namespace, as in a cluster.
		noNamespace bool
		inventory   []string
		want        []string // "Check action" pairs, sorted
		wantPaths   []string // JSON pointers of the violations, in order (optional)
	}
	cases := []tc{
		{name: "compliant deployment", object: goodDeployment, namespace: nsProd},
		{
			name:      "parameters: missing label and regex mismatch",
			namespace: nsProd,
			object: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: team-shop, labels: {owner: Shop}}
spec:
  template:
    spec:
      containers: [{name: main, image: registry.example.com/api:2.0, resources: {limits: {cpu: "1", memory: 1Gi}}}]
`,
			want: []string{
				"AcmeRequiredLabels/deployments-have-owner deny",
				"AcmeRequiredLabels/deployments-have-owner deny",
				"AcmeRequiredProbes/workload-pods-have-readiness deny", // via expansion
			},
			wantPaths: []string{"/metadata/labels", "/metadata/labels/owner", "/spec/template/spec/containers/0"},
		},
		{
			name:      "excludedNamespaces wildcard prefix",
			namespace: ``,
			object: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: dns, namespace: kube-system}
spec:
  template:
    spec:
      containers: [{name: main, image: k8s.gcr.io/dns:1, readinessProbe: {exec: {command: [true]}}, resources: {limits: {cpu: "1", memory: 1Gi}}}]
`,
		},
		{
			name: "namespaces wildcard: allowed repos in team-*, libs give the field path",
			object: `
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: team-blue}
spec:
  initContainers: [{name: init, image: docker.io/busybox:1.36}]
  containers: [{name: main, image: mirror.example.com/library/nginx:1.25}]
`,
			want:      []string{"AcmeAllowedRepos/team-images-from-internal-registry deny"},
			wantPaths: []string{"/spec/initContainers/0/image"},
		},
		{
			name: "namespaces: other namespaces are not matched",
			object: `
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: sandbox}
spec:
  containers: [{name: main, image: docker.io/nginx:1.25}]
`,
		},
		{
			name:      "dryrun and labelSelector: limits on non-batch deployments",
			namespace: nsProd,
			object: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: worker, namespace: team-shop, labels: {owner: team-shop, app.kubernetes.io/name: worker, tier: backend}}
spec:
  template:
    spec:
      containers: [{name: main, image: registry.example.com/worker:1.0, readinessProbe: {exec: {command: [true]}}, resources: {limits: {memory: 4Gi}}}]
`,
			want: []string{
				"AcmeContainerLimits/containers-have-limits dryrun",
				"AcmeContainerLimits/containers-have-limits dryrun",
			},
			wantPaths: []string{"/spec/template/spec/containers/0/resources", "/spec/template/spec/containers/0/resources/limits/memory"},
		},
		{
			name:      "labelSelector NotIn excludes batch",
			namespace: nsProd,
			object: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: cron, namespace: team-shop, labels: {owner: team-shop, app.kubernetes.io/name: cron, tier: batch}}
spec:
  template:
    spec:
      containers: [{name: main, image: registry.example.com/cron:1.0, readinessProbe: {exec: {command: [true]}}}]
`,
		},
		{
			name: "scoped action and scope: Namespaced",
			object: `
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: team-shop}
spec: {type: NodePort, ports: [{port: 80}]}
`,
			want:      []string{"AcmeBlockNodePort/no-nodeport deny"},
			wantPaths: []string{"/spec/type"},
		},
		{
			name: "scope: Namespaced skips cluster-scoped objects",
			object: `
apiVersion: v1
kind: Service
metadata: {name: odd}
spec: {type: NodePort}
`,
		},
		{
			name:      "namespaceSelector and warn: latest tag in prod",
			namespace: nsProd,
			object: `
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: team-shop}
spec:
  containers: [{name: main, image: registry.example.com/tool:latest}, {name: side, image: registry.example.com/side}]
`,
			want: []string{"AcmeDisallowedTags/prod-no-latest warn", "AcmeDisallowedTags/prod-no-latest warn"},
		},
		{
			name:        "namespaceSelector: the Namespace comes from the inventory",
			noNamespace: true,
			inventory: []string{`
apiVersion: v1
kind: Namespace
metadata: {name: team-red, labels: {env: production}}
`},
			object: `
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: team-red}
spec:
  containers: [{name: main, image: registry.example.com/tool:main}]
`,
			want: []string{"AcmeDisallowedTags/prod-no-latest warn"},
		},
		{
			name:        "namespaceSelector without the Namespace: Gatekeeper rejects",
			noNamespace: true,
			object: `
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: team-unknown}
spec:
  containers: [{name: main, image: registry.example.com/tool:1}]
`,
			want: []string{"AcmeDisallowedTags/prod-no-latest warn"},
		},
		{
			name: "name wildcard",
			object: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web-front, namespace: kube-public}
spec:
  replicas: 1
  template: {spec: {containers: [{name: main, image: x/y:1, readinessProbe: {exec: {command: [true]}}, resources: {limits: {cpu: "1", memory: 1Gi}}}]}}
`,
			want:      []string{"AcmeReplicaLimits/web-replicas deny"},
			wantPaths: []string{"/spec/replicas"},
		},
		{
			name: "name wildcard does not match other names",
			object: `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-front, namespace: kube-public}
spec:
  replicas: 1
  template: {spec: {containers: [{name: main, image: x/y:1, readinessProbe: {exec: {command: [true]}}, resources: {limits: {cpu: "1", memory: 1Gi}}}]}}
`,
		},
		{
			name: "warn on a Namespace, excludedNamespaces applies to the Namespace itself",
			object: `
apiVersion: v1
kind: Namespace
metadata: {name: team-green}
`,
			want: []string{"AcmeRequiredLabels/namespaces-have-cost-center warn"},
		},
		{
			name: "Namespace excluded by suffix wildcard",
			object: `
apiVersion: v1
kind: Namespace
metadata: {name: gatekeeper-system}
`,
		},
		{
			name: "inventory: duplicate ingress host",
			inventory: []string{`
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: old-shop, namespace: team-old}
spec: {rules: [{host: shop.example.com}]}
`, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: team-shop}
spec: {rules: [{host: shop.example.com}]}
`},
			object: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: team-shop}
spec: {rules: [{host: other.example.com}, {host: shop.example.com}]}
`,
			want:      []string{"AcmeUniqueIngressHost/unique-ingress-hosts deny"},
			wantPaths: []string{"/spec/rules/1/host"},
		},
		{
			name: "inventory: the object itself does not conflict",
			inventory: []string{`
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: team-shop}
spec: {rules: [{host: shop.example.com}]}
`},
			object: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: team-shop}
spec: {rules: [{host: shop.example.com}]}
`,
		},
		{
			name:      "namespaceSelector with a public Namespace: TLS required",
			namespace: nsProd,
			object: `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: shop, namespace: team-shop}
spec: {rules: [{host: shop.example.com}]}
`,
			want: []string{"AcmeIngressTLS/ingress-hosts-have-tls deny"},
		},
		{
			name:      "UPDATE with oldObject: immutable label changed",
			operation: "UPDATE",
			old: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: sandbox, labels: {team: blue}}
`,
			object: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: sandbox, labels: {team: red}}
`,
			want: []string{"AcmeImmutableLabels/team-label-is-immutable deny"},
		},
		{
			name: "no operation (CI): the UPDATE-only template does not judge",
			object: `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: sandbox, labels: {team: red}}
`,
		},
		{
			name: "source: Generated ignores bare Pods",
			object: `
apiVersion: v1
kind: Pod
metadata: {name: bare, namespace: sandbox}
spec:
  containers: [{name: main, image: x/y:1}]
`,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := p.ClearInventory(ctx); err != nil {
				t.Fatal(err)
			}
			for _, inv := range c.inventory {
				if err := p.AddInventory(ctx, obj(t, inv)); err != nil {
					t.Fatal(err)
				}
			}
			r := Request{Object: obj(t, c.object), Operation: c.operation}
			if c.old != "" {
				r.OldObject = obj(t, c.old)
			}
			if c.namespace != "" {
				r.Namespace = obj(t, c.namespace)
			} else if ns := metaOf(r.Object)["namespace"]; ns != nil && !c.noNamespace {
				r.Namespace = map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}
			}
			vs, err := p.Review(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			var got, paths []string
			for _, v := range vs {
				got = append(got, v.Check+" "+v.Action)
				paths = append(paths, v.Path)
			}
			sort.Strings(got)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("violations:\n got %q\nwant %q\n%s", got, c.want, dump(vs))
			}
			if c.wantPaths != nil && !reflect.DeepEqual(paths, c.wantPaths) {
				t.Errorf("paths: got %q, want %q", paths, c.wantPaths)
			}
		})
	}
}

func dump(vs []Violation) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString("  " + v.Check + " [" + v.Action + "] " + v.Message + " " + v.Path + "\n")
	}
	return b.String()
}

func TestReviewMessages(t *testing.T) {
	ctx := context.Background()
	p := loadBundle(t, "testdata/policies").policy(t)
	vs, err := p.Review(ctx, Request{
		Object: obj(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: team-shop, labels: {owner: team-shop, app.kubernetes.io/name: api}}
spec:
  template:
    spec:
      containers: [{name: main, image: registry.example.com/api:2.0, resources: {limits: {cpu: "1", memory: 1Gi}}}]
`),
		Namespace: obj(t, nsProd),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("want 1 violation, got\n%s", dump(vs))
	}
	want := "[Implied by expand-workloads] container main of pod api-pod has no readinessProbe"
	if vs[0].Message != want {
		t.Errorf("message %q, want %q", vs[0].Message, want)
	}
}

func TestWebhookEnforcementPoint(t *testing.T) {
	ctx := context.Background()
	p := loadBundle(t, "testdata/policies").policy(t, WithEnforcementPoint(WebhookEnforcementPoint))
	svc := obj(t, `
apiVersion: v1
kind: Service
metadata: {name: shop, namespace: team-shop}
spec: {type: NodePort}
`)
	vs, err := p.Review(ctx, Request{Object: svc, Operation: "CREATE"})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 || vs[0].Action != Warn {
		t.Errorf("scoped constraint at the webhook: want one warn, got\n%s", dump(vs))
	}
	// The UPDATE-only template is skipped for CREATE at the webhook.
	cm := func(team string) map[string]any {
		return obj(t, `
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg, namespace: sandbox, labels: {team: `+team+`}}
`)
	}
	vs, err = p.Review(ctx, Request{Object: cm("red"), OldObject: cm("blue"), Operation: "CREATE"})
	if err != nil || len(vs) != 0 {
		t.Errorf("CREATE: got %v, %v", vs, err)
	}
	vs, err = p.Review(ctx, Request{Object: cm("red"), OldObject: cm("blue"), Operation: "UPDATE"})
	if err != nil || len(vs) != 1 {
		t.Errorf("UPDATE: got %v, %v", vs, err)
	}
	// DELETE reviews the old object as the object.
	vs, err = p.Review(ctx, Request{OldObject: svc, Operation: "DELETE"})
	if err != nil || len(vs) != 1 {
		t.Errorf("DELETE: got %v, %v", vs, err)
	}
}

func TestInventoryAddRemove(t *testing.T) {
	ctx := context.Background()
	p := loadBundle(t, "testdata/policies").policy(t)
	ing := func(ns, name string) map[string]any {
		return obj(t, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: `+name+`, namespace: `+ns+`}
spec: {rules: [{host: a.example.com}]}
`)
	}
	review := func() int {
		vs, err := p.Review(ctx, Request{Object: ing("x", "one"), Namespace: obj(t, "{apiVersion: v1, kind: Namespace, metadata: {name: x}}")})
		if err != nil {
			t.Fatal(err)
		}
		return len(vs)
	}
	if n := review(); n != 0 {
		t.Fatalf("empty inventory: %d violations", n)
	}
	if err := p.AddInventory(ctx, ing("x", "one"), ing("y", "two")); err != nil {
		t.Fatal(err)
	}
	if n := review(); n != 1 {
		t.Fatalf("with a conflicting ingress: %d violations, want 1", n)
	}
	if err := p.RemoveInventory(ctx, ing("y", "two")); err != nil {
		t.Fatal(err)
	}
	if n := review(); n != 0 {
		t.Fatalf("after removal: %d violations, want 0", n)
	}
	if err := p.AddInventory(ctx, map[string]any{"kind": "Ingress"}); err == nil {
		t.Error("an object without apiVersion and name must be an error")
	}
}

// TestConcurrentReviews reviews from several goroutines while the
// inventory changes (run with -race).
func TestConcurrentReviews(t *testing.T) {
	ctx := context.Background()
	p := loadBundle(t, "testdata/policies").policy(t)
	ing := func(ns, name, host string) map[string]any {
		return obj(t, `
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: `+name+`, namespace: `+ns+`}
spec: {rules: [{host: `+host+`}], tls: [{hosts: [`+host+`]}]}
`)
	}
	nsX := obj(t, "{apiVersion: v1, kind: Namespace, metadata: {name: x}}")
	done := make(chan struct{})
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		go func(w int) {
			for i := 0; ; i++ {
				select {
				case <-done:
					errs <- nil
					return
				default:
				}
				vs, err := p.Review(ctx, Request{Object: ing("x", "mine", "shared.example.com"), Namespace: nsX})
				if err != nil {
					errs <- err
					return
				}
				for _, v := range vs {
					if v.Check != "AcmeUniqueIngressHost/unique-ingress-hosts" || !strings.HasPrefix(v.Message, "host shared.example.com is already routed by ingress ns-") {
						errs <- fmt.Errorf("worker %d: unexpected %s", w, dump(vs))
						return
					}
				}
			}
		}(w)
	}
	for i := 0; i < 200; i++ {
		o := ing(fmt.Sprintf("ns-%d", i%7), fmt.Sprintf("other-%d", i), "shared.example.com")
		if err := p.AddInventory(ctx, o); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if err := p.RemoveInventory(ctx, o); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(done)
	for w := 0; w < 4; w++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	vs, err := p.Review(ctx, Request{Object: ing("x", "mine", "shared.example.com"), Namespace: nsX})
	if err != nil || len(vs) != 133 { // 200 added, 67 removed
		t.Fatalf("after the writes: %d violations, %v", len(vs), err)
	}
}
