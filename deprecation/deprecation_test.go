package deprecation_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/deprecation"
	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/schema"
)

func builtin(t testing.TB) *deprecation.Table {
	t.Helper()
	raw, err := os.ReadFile("../policies/deprecations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tab, err := deprecation.Load(raw)
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func v(t testing.TB, s string) kubeversion.Version {
	t.Helper()
	ver, err := kubeversion.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return ver
}

// TestBuiltinTableCoversTheKnownRemovals lists the APIs the table must have.
func TestBuiltinTableCoversTheKnownRemovals(t *testing.T) {
	tab := builtin(t)
	want := map[string]string{ // "apiVersion Kind" -> removedIn
		"extensions/v1beta1 DaemonSet": "1.16", "extensions/v1beta1 Deployment": "1.16", "extensions/v1beta1 ReplicaSet": "1.16",
		"extensions/v1beta1 NetworkPolicy": "1.16", "extensions/v1beta1 PodSecurityPolicy": "1.16", "extensions/v1beta1 Ingress": "1.22",
		"apps/v1beta1 Deployment": "1.16", "apps/v1beta1 StatefulSet": "1.16", "apps/v1beta2 DaemonSet": "1.16",
		"apps/v1beta2 Deployment": "1.16", "apps/v1beta2 ReplicaSet": "1.16", "apps/v1beta2 StatefulSet": "1.16",
		"networking.k8s.io/v1beta1 Ingress": "1.22", "networking.k8s.io/v1beta1 IngressClass": "1.22",
		"policy/v1beta1 PodDisruptionBudget": "1.25", "policy/v1beta1 PodSecurityPolicy": "1.25",
		"batch/v1beta1 CronJob": "1.25", "autoscaling/v2beta1 HorizontalPodAutoscaler": "1.25",
		"autoscaling/v2beta2 HorizontalPodAutoscaler": "1.26", "discovery.k8s.io/v1beta1 EndpointSlice": "1.25",
		"events.k8s.io/v1beta1 Event": "1.25", "rbac.authorization.k8s.io/v1beta1 ClusterRole": "1.22",
		"rbac.authorization.k8s.io/v1beta1 RoleBinding":                       "1.22",
		"admissionregistration.k8s.io/v1beta1 MutatingWebhookConfiguration":   "1.22",
		"admissionregistration.k8s.io/v1beta1 ValidatingWebhookConfiguration": "1.22",
		"apiextensions.k8s.io/v1beta1 CustomResourceDefinition":               "1.22",
		"apiregistration.k8s.io/v1beta1 APIService":                           "1.22",
		"authentication.k8s.io/v1beta1 TokenReview":                           "1.22",
		"authorization.k8s.io/v1beta1 SubjectAccessReview":                    "1.22",
		"certificates.k8s.io/v1beta1 CertificateSigningRequest":               "1.22",
		"coordination.k8s.io/v1beta1 Lease":                                   "1.22",
		"scheduling.k8s.io/v1beta1 PriorityClass":                             "1.22",
		"storage.k8s.io/v1beta1 CSIDriver":                                    "1.22", "storage.k8s.io/v1beta1 CSINode": "1.22",
		"storage.k8s.io/v1beta1 StorageClass": "1.22", "storage.k8s.io/v1beta1 VolumeAttachment": "1.22",
		"storage.k8s.io/v1beta1 CSIStorageCapacity":                       "1.27",
		"flowcontrol.apiserver.k8s.io/v1beta1 FlowSchema":                 "1.26",
		"flowcontrol.apiserver.k8s.io/v1beta2 PriorityLevelConfiguration": "1.29",
		"flowcontrol.apiserver.k8s.io/v1beta3 FlowSchema":                 "1.32",
		"node.k8s.io/v1beta1 RuntimeClass":                                "1.25",
		"resource.k8s.io/v1alpha2 ResourceClaim":                          "1.31",
		"resource.k8s.io/v1alpha3 ResourceClaim":                          "1.34",
	}
	have := map[string]deprecation.Entry{}
	for _, e := range tab.Entries() {
		have[e.APIVersion()+" "+e.Kind] = e
	}
	for api, removed := range want {
		e, ok := have[api]
		if !ok {
			t.Errorf("%s is missing", api)
			continue
		}
		if e.RemovedIn != removed {
			t.Errorf("%s: removedIn %q, want %q", api, e.RemovedIn, removed)
		}
	}
	for _, e := range tab.Entries() {
		if e.Replacement == "" && e.Note == "" {
			t.Errorf("%s %s: no replacement and no note saying what to do", e.APIVersion(), e.Kind)
		}
	}
}

// TestLookupEdges walks entries through the release before deprecation, the
// deprecation release, the last release serving them, and the removal.
func TestLookupEdges(t *testing.T) {
	tab := builtin(t)
	cases := []struct {
		apiVersion, kind, target string
		status                   deprecation.Status // 0: no verdict
		message                  string
	}{
		{"policy/v1beta1", "PodDisruptionBudget", "1.20", 0, ""},
		{"policy/v1beta1", "PodDisruptionBudget", "1.21", deprecation.Deprecated,
			"policy/v1beta1 PodDisruptionBudget is deprecated since Kubernetes 1.21 and removed in 1.25: migrate to policy/v1"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.24.9", deprecation.Deprecated,
			"policy/v1beta1 PodDisruptionBudget is deprecated since Kubernetes 1.21 and removed in 1.25: migrate to policy/v1"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.25", deprecation.Removed,
			"policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25: use policy/v1"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.35", deprecation.Removed,
			"policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.25: use policy/v1"},

		{"batch/v1beta1", "CronJob", "1.20", 0, ""},
		{"batch/v1beta1", "CronJob", "1.21", deprecation.Deprecated,
			"batch/v1beta1 CronJob is deprecated since Kubernetes 1.21 and removed in 1.25: migrate to batch/v1"},
		{"batch/v1beta1", "CronJob", "1.25.0", deprecation.Removed,
			"batch/v1beta1 CronJob was removed in Kubernetes 1.25: use batch/v1"},

		// Replacements that are deprecated themselves lead on.
		{"extensions/v1beta1", "Ingress", "1.13", 0, ""},
		{"extensions/v1beta1", "Ingress", "1.14", deprecation.Deprecated,
			"extensions/v1beta1 Ingress is deprecated since Kubernetes 1.14 and removed in 1.22: migrate to networking.k8s.io/v1beta1"},
		{"extensions/v1beta1", "Ingress", "1.19", deprecation.Deprecated,
			"extensions/v1beta1 Ingress is deprecated since Kubernetes 1.14 and removed in 1.22: migrate to networking.k8s.io/v1"},
		{"extensions/v1beta1", "Ingress", "1.22", deprecation.Removed,
			"extensions/v1beta1 Ingress was removed in Kubernetes 1.22: use networking.k8s.io/v1"},
		{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.21", 0, ""},
		{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.22", deprecation.Deprecated,
			"autoscaling/v2beta1 HorizontalPodAutoscaler is deprecated since Kubernetes 1.22 and removed in 1.25: migrate to autoscaling/v2beta2"},
		{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.23", deprecation.Deprecated,
			"autoscaling/v2beta1 HorizontalPodAutoscaler is deprecated since Kubernetes 1.22 and removed in 1.25: migrate to autoscaling/v2"},
		{"autoscaling/v2beta1", "HorizontalPodAutoscaler", "1.25", deprecation.Removed,
			"autoscaling/v2beta1 HorizontalPodAutoscaler was removed in Kubernetes 1.25: use autoscaling/v2"},
		{"flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "1.35", deprecation.Removed,
			"flowcontrol.apiserver.k8s.io/v1beta1 FlowSchema was removed in Kubernetes 1.26: use flowcontrol.apiserver.k8s.io/v1"},
		{"flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "1.27", deprecation.Removed,
			"flowcontrol.apiserver.k8s.io/v1beta1 FlowSchema was removed in Kubernetes 1.26: use flowcontrol.apiserver.k8s.io/v1beta3"},

		// Replacement not yet available in the target.
		{"apps/v1beta1", "Deployment", "1.7", 0, ""},
		{"apps/v1beta1", "Deployment", "1.8", deprecation.Deprecated,
			"apps/v1beta1 Deployment is deprecated since Kubernetes 1.8 and removed in 1.16: migrate to apps/v1; the replacement is not available until Kubernetes 1.9"},
		{"apps/v1beta1", "Deployment", "1.9", deprecation.Deprecated,
			"apps/v1beta1 Deployment is deprecated since Kubernetes 1.8 and removed in 1.16: migrate to apps/v1"},
		{"apps/v1beta1", "Deployment", "1.16", deprecation.Removed,
			"apps/v1beta1 Deployment was removed in Kubernetes 1.16: use apps/v1"},

		// No replacement.
		{"policy/v1beta1", "PodSecurityPolicy", "1.25", deprecation.Removed,
			"policy/v1beta1 PodSecurityPolicy was removed in Kubernetes 1.25: it has no replacement; enforce pod security with Pod Security Admission (pod-security.kubernetes.io namespace labels) or a policy engine"},
		{"extensions/v1beta1", "PodSecurityPolicy", "1.30", deprecation.Removed,
			"extensions/v1beta1 PodSecurityPolicy was removed in Kubernetes 1.16: use policy/v1beta1, which was removed in 1.25 too; it has no replacement; enforce pod security with Pod Security Admission (pod-security.kubernetes.io namespace labels) or a policy engine"},

		// Kind changes; no removal scheduled.
		{"v1", "Endpoints", "1.32", 0, ""},
		{"v1", "Endpoints", "1.33", deprecation.Deprecated,
			"v1 Endpoints is deprecated since Kubernetes 1.33: migrate to discovery.k8s.io/v1 EndpointSlice"},
		{"resource.k8s.io/v1alpha2", "ResourceClass", "1.31", deprecation.Removed,
			"resource.k8s.io/v1alpha2 ResourceClass was removed in Kubernetes 1.31: use resource.k8s.io/v1alpha3 DeviceClass"},

		// Removed without a deprecation period (alpha).
		{"resource.k8s.io/v1alpha3", "ResourceClaim", "1.33", 0, ""},
		{"resource.k8s.io/v1alpha3", "ResourceClaim", "1.34", deprecation.Removed,
			"resource.k8s.io/v1alpha3 ResourceClaim was removed in Kubernetes 1.34: use resource.k8s.io/v1"},

		// Not in the table.
		{"apps/v1", "Deployment", "1.35", 0, ""},
		{"example.com/v1", "Widget", "1.35", 0, ""},
	}
	for _, tc := range cases {
		got, ok := tab.Lookup(tc.apiVersion, tc.kind, v(t, tc.target))
		name := tc.apiVersion + " " + tc.kind + " @" + tc.target
		if ok != (tc.status != 0) {
			t.Errorf("%s: found=%v, want %v (%+v)", name, ok, tc.status != 0, got)
			continue
		}
		if !ok {
			continue
		}
		if got.Status != tc.status {
			t.Errorf("%s: status %v, want %v", name, got.Status, tc.status)
		}
		if got.Message != tc.message {
			t.Errorf("%s:\n got %q\nwant %q", name, got.Message, tc.message)
		}
	}
	// The verdict names the replacement for callers that want it apart.
	got, _ := tab.Lookup("apps/v1beta1", "Deployment", v(t, "1.8"))
	if got.Replacement != "apps/v1 Deployment" || got.ReplacementAvailableIn != "1.9" {
		t.Errorf("replacement %q available in %q", got.Replacement, got.ReplacementAvailableIn)
	}
}

func TestExtend(t *testing.T) {
	base := builtin(t)
	var cfg struct {
		Deprecations []deprecation.Entry `yaml:"deprecations"`
	}
	// What a gatekeep.yaml says, with every field.
	const gatekeepYAML = `
deprecations:
- group: cert-manager.io
  version: v1alpha2
  kind: Certificate
  deprecatedIn: 1.30
  removedIn: "1.33"
  replacement: cert-manager.io/v1
  replacementAvailableIn: "1.29"
  note: run cmctl upgrade migrate-api-version
- group: networking.istio.io
  version: v1alpha3
  kind: Gateway
  deprecatedIn: "1.31"
  replacement: gateway.networking.k8s.io/v1
  replacementKind: Gateway
  replacementAvailableIn: "1.33"
- {group: policy, version: v1beta1, kind: PodDisruptionBudget, deprecatedIn: "1.20", removedIn: "1.24", replacement: policy/v1, replacementAvailableIn: "1.21"}
`
	if err := yaml.Unmarshal([]byte(gatekeepYAML), &cfg); err != nil {
		t.Fatal(err)
	}
	ext, err := base.Extend(cfg.Deprecations...)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		apiVersion, kind, target string
		status                   deprecation.Status
		message                  string
	}{
		{"cert-manager.io/v1alpha2", "Certificate", "1.29", 0, ""},
		{"cert-manager.io/v1alpha2", "Certificate", "1.30", deprecation.Deprecated,
			"cert-manager.io/v1alpha2 Certificate is deprecated since Kubernetes 1.30 and removed in 1.33: migrate to cert-manager.io/v1; run cmctl upgrade migrate-api-version"},
		{"cert-manager.io/v1alpha2", "Certificate", "1.33", deprecation.Removed,
			"cert-manager.io/v1alpha2 Certificate was removed in Kubernetes 1.33: use cert-manager.io/v1; run cmctl upgrade migrate-api-version"},
		{"networking.istio.io/v1alpha3", "Gateway", "1.31", deprecation.Deprecated,
			"networking.istio.io/v1alpha3 Gateway is deprecated since Kubernetes 1.31: migrate to gateway.networking.k8s.io/v1; the replacement is not available until Kubernetes 1.33"},
		{"networking.istio.io/v1alpha3", "Gateway", "1.33", deprecation.Deprecated,
			"networking.istio.io/v1alpha3 Gateway is deprecated since Kubernetes 1.31: migrate to gateway.networking.k8s.io/v1"},
		// A user entry replaces the built-in one.
		{"policy/v1beta1", "PodDisruptionBudget", "1.20", deprecation.Deprecated,
			"policy/v1beta1 PodDisruptionBudget is deprecated since Kubernetes 1.20 and removed in 1.24: migrate to policy/v1; the replacement is not available until Kubernetes 1.21"},
		{"policy/v1beta1", "PodDisruptionBudget", "1.24", deprecation.Removed,
			"policy/v1beta1 PodDisruptionBudget was removed in Kubernetes 1.24: use policy/v1"},
		// Built-in entries stay.
		{"batch/v1beta1", "CronJob", "1.25", deprecation.Removed, "batch/v1beta1 CronJob was removed in Kubernetes 1.25: use batch/v1"},
	} {
		got, ok := ext.Lookup(tc.apiVersion, tc.kind, v(t, tc.target))
		if ok != (tc.status != 0) || got.Status != tc.status || got.Message != tc.message {
			t.Errorf("%s %s @%s:\n got %v %v %q\nwant %v %q", tc.apiVersion, tc.kind, tc.target, ok, got.Status, got.Message, tc.status, tc.message)
		}
	}
	if len(ext.Entries()) != len(base.Entries())+2 {
		t.Errorf("extended table has %d entries, want %d", len(ext.Entries()), len(base.Entries())+2)
	}
	// The base table is unchanged.
	if got, _ := base.Lookup("policy/v1beta1", "PodDisruptionBudget", v(t, "1.24")); got.Status != deprecation.Deprecated {
		t.Errorf("base table changed: %+v", got)
	}
	if _, ok := base.Lookup("cert-manager.io/v1alpha2", "Certificate", v(t, "1.35")); ok {
		t.Error("base table changed: it knows cert-manager")
	}
	var nilTable *deprecation.Table
	if only, err := nilTable.Extend(cfg.Deprecations[0]); err != nil || len(only.Entries()) != 1 {
		t.Errorf("extending no table: %v", err)
	}
}

func TestInvalidEntries(t *testing.T) {
	base := builtin(t)
	for _, tc := range []struct {
		entries []deprecation.Entry
		err     string
	}{
		{[]deprecation.Entry{{Group: "x.io", Kind: "A", RemovedIn: "1.20"}}, "deprecations[0]: version and kind are required"},
		{[]deprecation.Entry{{Group: "x.io", Version: "v1"}}, "deprecations[0]: version and kind are required"},
		{[]deprecation.Entry{{Group: "x.io", Version: "v1", Kind: "A"}}, "deprecatedIn or removedIn is required"},
		{[]deprecation.Entry{{Group: "x.io", Version: "v1", Kind: "A", RemovedIn: "soon"}}, `x.io/v1 A: removedIn: kubernetes version "soon"`},
		{[]deprecation.Entry{{Group: "x.io", Version: "v1", Kind: "A", DeprecatedIn: "1.30", RemovedIn: "1.29"}}, "removedIn 1.29 is before deprecatedIn 1.30"},
		{[]deprecation.Entry{{Group: "x.io", Version: "v1", Kind: "A", RemovedIn: "1.29", ReplacementKind: "B"}}, "need replacement"},
		{[]deprecation.Entry{{Group: "x.io", Version: "v1", Kind: "A", RemovedIn: "1.29", Replacement: "x.io/v2 B"}}, "is not an apiVersion"},
		{[]deprecation.Entry{{Group: "x.io/v1", Version: "v1", Kind: "A", RemovedIn: "1.29"}}, "group and version are separate fields"},
		{[]deprecation.Entry{
			{Group: "x.io", Version: "v1", Kind: "A", RemovedIn: "1.29"},
			{Group: "x.io", Version: "v1", Kind: "A", RemovedIn: "1.30"},
		}, "deprecations[1]: x.io/v1 A is listed twice"},
	} {
		_, err := base.Extend(tc.entries...)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: error %v, want %q", tc.entries, err, tc.err)
		}
	}
	for _, tc := range []struct{ doc, err string }{
		{"deprecations:\n- {version: v1, kind: A, removedIn: \"1.2\", removed: \"1.3\"}\n", "field removed not found"},
		{"deprecations:\n- {version: v1, kind: A, removedIn: \"1.2\"}\n- {version: v1, kind: A, removedIn: \"1.3\"}\n", "listed twice"},
		{"deprecations: [\n", "deprecations:"},
	} {
		if _, err := deprecation.Load([]byte(tc.doc)); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Load(%q): error %v, want %q", tc.doc, err, tc.err)
		}
	}
	if tab, err := deprecation.Load(nil); err != nil || len(tab.Entries()) != 0 {
		t.Errorf("Load(nothing): %v", err)
	}
}

// specGaps are APIs that releases served (as alpha APIs a cluster could
// switch on) but whose OpenAPI documents leave out, by minor: the table
// follows the release notes, the schema check the documents.
var specGaps = map[string][]string{
	// CHANGELOG-1.20: deprecated, removed in 1.21 (CHANGELOG-1.21); the
	// API server's discovery storage kept v1alpha1 until then.
	"discovery.k8s.io/v1alpha1 EndpointSlice": {"1.17", "1.18", "1.19", "1.20"},
}

// TestTableAgainstEmbeddedSpecs holds the table to the OpenAPI specs of
// every release the schema check embeds (every minor from 1.16): an API a
// release stops serving must be listed as removed in that release, a
// listed removal must not be served, a deprecated API must still be
// served, and a replacement must be served once available.
func TestTableAgainstEmbeddedSpecs(t *testing.T) {
	tab := builtin(t)
	type gvk struct{ apiVersion, kind string }
	versions := schema.Versions()
	if len(versions) == 0 || versions[0].MinorString() != "1.16" || versions[len(versions)-1] != kubeversion.Latest {
		t.Fatalf("embedded versions %v, want 1.16 to %s", versions, kubeversion.Latest)
	}
	served := map[string]map[gvk]bool{}
	for _, ver := range versions {
		m := map[gvk]bool{}
		for _, g := range schema.Served(ver) {
			m[gvk{g.APIVersion(), g.Kind}] = true
		}
		for api, minors := range specGaps {
			av, kind, _ := strings.Cut(api, " ")
			if slices.Contains(minors, ver.MinorString()) {
				if m[gvk{av, kind}] {
					t.Errorf("%s: Kubernetes %s's OpenAPI documents have it now: drop it from specGaps", api, ver.MinorString())
				}
				m[gvk{av, kind}] = true
			}
		}
		if len(m) == 0 {
			t.Fatalf("%s serves nothing", ver)
		}
		served[ver.MinorString()] = m
	}
	for i, ver := range versions {
		now := served[ver.MinorString()]
		if i > 0 {
			prev := versions[i-1]
			for api := range served[prev.MinorString()] {
				if now[api] {
					continue
				}
				verdict, ok := tab.Lookup(api.apiVersion, api.kind, ver)
				switch {
				case !ok || verdict.Status != deprecation.Removed:
					t.Errorf("Kubernetes %s stops serving %s %s, which the table does not list as removed in %s", ver.MinorString(), api.apiVersion, api.kind, ver.MinorString())
				case verdict.Entry.RemovedIn != ver.MinorString():
					t.Errorf("Kubernetes %s stops serving %s %s; the table says removedIn %s", ver.MinorString(), api.apiVersion, api.kind, verdict.Entry.RemovedIn)
				}
			}
		}
		for _, e := range tab.Entries() {
			api := gvk{e.APIVersion(), e.Kind}
			verdict, ok := tab.Lookup(api.apiVersion, api.kind, ver)
			switch {
			case ok && verdict.Status == deprecation.Removed && now[api]:
				t.Errorf("%s %s: the table says removed in %s, but Kubernetes %s serves it", api.apiVersion, api.kind, e.RemovedIn, ver.MinorString())
			case ok && verdict.Status == deprecated && !now[api]:
				t.Errorf("%s %s: the table says deprecated (not removed) in %s, but Kubernetes %s does not serve it", api.apiVersion, api.kind, ver.MinorString(), ver.MinorString())
			}
			if !ok || e.Replacement == "" {
				continue
			}
			rep := gvk{e.Replacement, e.ReplacementKind}
			if rep.kind == "" {
				rep.kind = e.Kind
			}
			avail, err := kubeversion.Parse(e.ReplacementAvailableIn)
			if err != nil {
				t.Errorf("%s %s: replacementAvailableIn %q: %v", api.apiVersion, api.kind, e.ReplacementAvailableIn, err)
				continue
			}
			if ver.Less(avail) {
				if now[rep] {
					t.Errorf("%s %s: replacement %s %s available in %s, but Kubernetes %s serves it already", api.apiVersion, api.kind, rep.apiVersion, rep.kind, e.ReplacementAvailableIn, ver.MinorString())
				}
				continue
			}
			if !now[rep] {
				if rv, gone := tab.Lookup(rep.apiVersion, rep.kind, ver); !gone || rv.Status != deprecation.Removed {
					t.Errorf("%s %s: replacement %s %s is not served by Kubernetes %s, nor listed as removed", api.apiVersion, api.kind, rep.apiVersion, rep.kind, ver.MinorString())
				}
			}
		}
	}
}

const deprecated = deprecation.Deprecated
