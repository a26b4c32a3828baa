package charts

import (
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestLint lints the chart as helm lint does, with the values of every
// scenario: no warnings, no errors.
func TestLint(t *testing.T) {
	for _, s := range scenarios(t) {
		t.Run(s.name, func(t *testing.T) {
			l := lint.AllWithKubeVersion(chartDir, values(t, s.values), releaseNamespace, &kubeVersion)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("%s", m)
				} else {
					t.Logf("%s", m)
				}
			}
		})
	}
}

// TestDefaults renders the chart's defaults and checks what the issue asks
// of a safe, highly available install.
func TestDefaults(t *testing.T) {
	r := mustRender(t, nil)
	for _, o := range r.objects {
		if o.GetKind() == "CustomResourceDefinition" || strings.HasSuffix(o.GetName(), "-audit") {
			t.Errorf("audit is off by default, yet %s %s is rendered", o.GetKind(), o.GetName())
		}
	}

	var d appsv1.Deployment
	r.typed(t, "Deployment", releaseName, &d)
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d, want 3", *d.Spec.Replicas)
	}
	if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update must keep every replica until its replacement is ready: %+v", s)
	}
	pod := d.Spec.Template.Spec
	if pod.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priorityClassName = %q", pod.PriorityClassName)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not match its pods %v", d.Spec.Selector, podLabels)
	}
	spread := map[string]corev1.UnsatisfiableConstraintAction{}
	for _, c := range pod.TopologySpreadConstraints {
		spread[c.TopologyKey] = c.WhenUnsatisfiable
		if s, _ := metav1.LabelSelectorAsSelector(c.LabelSelector); s == nil || !s.Matches(podLabels) {
			t.Errorf("spread on %s does not select gatekeep's pods", c.TopologyKey)
		}
	}
	if spread["kubernetes.io/hostname"] != corev1.DoNotSchedule {
		t.Errorf("pods are not spread across nodes: %v", spread)
	}
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot ||
		pod.SecurityContext.SeccompProfile == nil || pod.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext = %+v", pod.SecurityContext)
	}
	if pod.ServiceAccountName != releaseName {
		t.Errorf("serviceAccountName = %q", pod.ServiceAccountName)
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container may run as root")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("root filesystem is writable")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("privilege escalation allowed")
	case sc.Privileged != nil && *sc.Privileged:
		t.Error("privileged")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0:
		t.Errorf("capabilities = %+v, want all dropped", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("no RuntimeDefault seccomp profile")
	}
	for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[res]; !ok {
			t.Errorf("no %s request", res)
		}
		if _, ok := c.Resources.Limits[res]; !ok {
			t.Errorf("no %s limit", res)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	probe := func(name string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || ports[p.HTTPGet.Port.String()] != 8081 {
			t.Errorf("%s probe = %+v, want GET %s on the health port 8081", name, p, path)
		}
	}
	probe("liveness", c.LivenessProbe, "/healthz")
	probe("readiness", c.ReadinessProbe, "/readyz")
	for _, want := range []string{"serve", "--listen=:8443", "--health-listen=:8081", "--metrics-listen=:8080",
		"--tls-cert-file=/certs/tls.crt", "--tls-private-key-file=/certs/tls.key", "--bundle=/etc/gatekeep/bundle",
		"--sealed-secrets-namespace=kube-system",
		// Built-in certificates: gatekeep makes them, for the Service's names.
		"--cert-secret=gatekeep-certs", "--webhook-configuration=gatekeep",
		"--cert-dns-name=gatekeep.gatekeep-system.svc", "--cert-dns-name=gatekeep.gatekeep-system.svc.cluster.local",
		"--ca-validity=87600h", "--cert-validity=8760h", "--cert-renew-before=2160h"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	if !hasEnvFromField(c.Env, "POD_NAMESPACE", "metadata.namespace") {
		t.Error("POD_NAMESPACE is not the pod's namespace (gatekeep serve --namespace defaults to it)")
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	mounts := map[string]corev1.VolumeMount{}
	for _, m := range c.VolumeMounts {
		mounts[m.Name] = m
		if m.SubPath != "" {
			t.Errorf("volume %s is mounted with subPath: the kubelet would never update it", m.Name)
		}
	}
	// The root filesystem is read-only: gatekeep writes its certificate to
	// an emptyDir, in memory.
	if v := vols["certs"]; v.EmptyDir == nil || v.EmptyDir.Medium != corev1.StorageMediumMemory || mounts["certs"].MountPath != "/certs" || mounts["certs"].ReadOnly {
		t.Errorf("certs volume %+v mounted at %q (read-only %v), want a writable emptyDir in memory", v, mounts["certs"].MountPath, mounts["certs"].ReadOnly)
	}
	if v := vols["bundle"]; v.ConfigMap == nil || v.ConfigMap.Name != "gatekeep-bundle" || v.ConfigMap.Optional == nil || !*v.ConfigMap.Optional ||
		mounts["bundle"].MountPath != "/etc/gatekeep/bundle" {
		t.Errorf("bundle volume %+v mounted at %q", v, mounts["bundle"].MountPath)
	}

	var svc corev1.Service
	r.typed(t, "Service", releaseName, &svc)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) {
		t.Errorf("Service selector %v does not match the pods", svc.Spec.Selector)
	}
	if len(svc.Spec.Ports) == 0 || svc.Spec.Ports[0].Port != 443 || ports[svc.Spec.Ports[0].TargetPort.String()] != 8443 {
		t.Errorf("Service ports %+v: want 443 to the webhook port 8443", svc.Spec.Ports)
	}

	var pdb policyv1.PodDisruptionBudget
	r.typed(t, "PodDisruptionBudget", releaseName, &pdb)
	if s, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); s == nil || !s.Matches(podLabels) {
		t.Error("PodDisruptionBudget does not select the pods")
	}
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable = %v", pdb.Spec.MaxUnavailable)
	}

	checkRBAC(t, r, "kube-system", nil)
	checkCertRBAC(t, r)
	checkWebhooks(t, r, webhookExpectations{
		validate: admissionregistrationv1.Fail, mutate: admissionregistrationv1.Ignore,
		validateTimeout: 5, mutateTimeout: 3,
		exempt: []string{"kube-system", "kube-node-lease", releaseNamespace},
	})

	for _, want := range []string{"failurePolicy Fail means", "EMERGENCY", "kubectl patch validatingwebhookconfiguration gatekeep",
		"gatekeep makes a CA and a serving certificate itself", "gatekeep-system/gatekeep-certs",
		`jqPathExpressions: [".webhooks[]?.clientConfig.caBundle"]`, "gatekeep-system/gatekeep-bundle"} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("NOTES.txt does not say %q", want)
		}
	}
}

func hasEnvFromField(env []corev1.EnvVar, name, field string) bool {
	for _, e := range env {
		if e.Name == name && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == field {
			return true
		}
	}
	return false
}

// checkRBAC: read-only access to Namespaces, Ingresses and the sync rules,
// cluster-wide; Secrets only through a Role in the sealed-secrets namespace.
func checkRBAC(t *testing.T, r *rendered, sealedNS string, sync []rbacv1.PolicyRule) {
	t.Helper()
	var cr rbacv1.ClusterRole
	r.typed(t, "ClusterRole", releaseName, &cr)
	want := append([]rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"ingresses"}, Verbs: []string{"get", "list", "watch"}},
	}, sync...)
	if len(cr.Rules) != len(want) {
		t.Errorf("ClusterRole rules = %+v, want %+v", cr.Rules, want)
	}
	for i, rule := range cr.Rules {
		if i < len(want) && (!slices.Equal(rule.APIGroups, want[i].APIGroups) || !slices.Equal(rule.Resources, want[i].Resources) || !slices.Equal(rule.Verbs, want[i].Verbs)) {
			t.Errorf("ClusterRole rule %d = %+v, want %+v", i, rule, want[i])
		}
		if slices.Contains(rule.Resources, "secrets") || slices.Contains(rule.Resources, "*") {
			t.Errorf("the ClusterRole reaches Secrets: %+v", rule)
		}
	}
	var crb rbacv1.ClusterRoleBinding
	r.typed(t, "ClusterRoleBinding", releaseName, &crb)
	checkSubject(t, "ClusterRoleBinding", crb.RoleRef, crb.Subjects, "ClusterRole")

	var ro rbacv1.Role
	r.typed(t, "Role", "gatekeep-sealed-secrets", &ro)
	if ro.Namespace != sealedNS || len(ro.Rules) != 1 || !slices.Equal(ro.Rules[0].Resources, []string{"secrets"}) ||
		!slices.Equal(ro.Rules[0].Verbs, []string{"get", "list", "watch"}) {
		t.Errorf("sealed-secrets Role = %+v in %s", ro.Rules, ro.Namespace)
	}
	var rb rbacv1.RoleBinding
	r.typed(t, "RoleBinding", "gatekeep-sealed-secrets", &rb)
	if rb.Namespace != sealedNS {
		t.Errorf("RoleBinding in %s", rb.Namespace)
	}
	checkSubject(t, "RoleBinding", rb.RoleRef, rb.Subjects, "Role")
}

// checkCertRBAC: with built-in certificates gatekeep may read and update
// its own Secret and no other (and create Secrets in its namespace, which
// RBAC cannot limit by name), and update its own two webhook
// configurations and no others.
func checkCertRBAC(t *testing.T, r *rendered) {
	t.Helper()
	var ro rbacv1.Role
	r.typed(t, "Role", "gatekeep-certs", &ro)
	if ro.Namespace != releaseNamespace || len(ro.Rules) != 2 ||
		!slices.Equal(ro.Rules[0].Resources, []string{"secrets"}) || !slices.Equal(ro.Rules[0].ResourceNames, []string{"gatekeep-certs"}) ||
		!slices.Equal(ro.Rules[0].Verbs, []string{"get", "list", "watch", "update"}) ||
		!slices.Equal(ro.Rules[1].Resources, []string{"secrets"}) || !slices.Equal(ro.Rules[1].Verbs, []string{"create"}) {
		t.Errorf("certificate Role = %+v in %s", ro.Rules, ro.Namespace)
	}
	var rb rbacv1.RoleBinding
	r.typed(t, "RoleBinding", "gatekeep-certs", &rb)
	if rb.Namespace != releaseNamespace || rb.RoleRef.Name != "gatekeep-certs" {
		t.Errorf("certificate RoleBinding %+v in %s", rb.RoleRef, rb.Namespace)
	}
	checkSubject(t, "RoleBinding", rb.RoleRef, rb.Subjects, "Role")
	var cr rbacv1.ClusterRole
	r.typed(t, "ClusterRole", "gatekeep-certs", &cr)
	if len(cr.Rules) != 1 || !slices.Equal(cr.Rules[0].APIGroups, []string{"admissionregistration.k8s.io"}) ||
		!slices.Equal(cr.Rules[0].Resources, []string{"validatingwebhookconfigurations", "mutatingwebhookconfigurations"}) ||
		!slices.Equal(cr.Rules[0].ResourceNames, []string{releaseName}) || !slices.Equal(cr.Rules[0].Verbs, []string{"get", "list", "watch", "update"}) {
		t.Errorf("certificate ClusterRole = %+v", cr.Rules)
	}
	var crb rbacv1.ClusterRoleBinding
	r.typed(t, "ClusterRoleBinding", "gatekeep-certs", &crb)
	if crb.RoleRef.Name != "gatekeep-certs" {
		t.Errorf("certificate ClusterRoleBinding %+v", crb.RoleRef)
	}
	checkSubject(t, "ClusterRoleBinding", crb.RoleRef, crb.Subjects, "ClusterRole")
}

// noCertRotation: with cert-manager or a Secret of yours, gatekeep makes no
// certificate and has no rights to.
func noCertRotation(t *testing.T, r *rendered) {
	t.Helper()
	for _, kind := range []string{"Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding"} {
		if r.find(kind, "gatekeep-certs") != nil {
			t.Errorf("%s gatekeep-certs is rendered", kind)
		}
	}
	var d appsv1.Deployment
	r.typed(t, "Deployment", releaseName, &d)
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		if strings.HasPrefix(a, "--cert-") || strings.HasPrefix(a, "--webhook-configuration") {
			t.Errorf("gatekeep is passed %s", a)
		}
	}
}

func checkSubject(t *testing.T, what string, ref rbacv1.RoleRef, subjects []rbacv1.Subject, kind string) {
	t.Helper()
	if ref.Kind != kind || len(subjects) != 1 || subjects[0].Kind != "ServiceAccount" ||
		subjects[0].Name != releaseName || subjects[0].Namespace != releaseNamespace {
		t.Errorf("%s binds %+v to %+v", what, ref, subjects)
	}
}

type webhookExpectations struct {
	validate, mutate               admissionregistrationv1.FailurePolicyType
	validateTimeout, mutateTimeout int32
	exempt                         []string
}

// checkWebhooks checks both webhook configurations against the issue.
func checkWebhooks(t *testing.T, r *rendered, want webhookExpectations) (*admissionregistrationv1.ValidatingWebhookConfiguration, *admissionregistrationv1.MutatingWebhookConfiguration) {
	t.Helper()
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	r.typed(t, "ValidatingWebhookConfiguration", releaseName, &vwc)
	r.typed(t, "MutatingWebhookConfiguration", releaseName, &mwc)
	if len(vwc.Webhooks) != 1 || len(mwc.Webhooks) != 1 {
		t.Fatalf("%d validating and %d mutating webhooks, want one each", len(vwc.Webhooks), len(mwc.Webhooks))
	}
	v, m := vwc.Webhooks[0], mwc.Webhooks[0]
	type common struct {
		name          string
		cc            admissionregistrationv1.WebhookClientConfig
		rules         []admissionregistrationv1.RuleWithOperations
		failure       *admissionregistrationv1.FailurePolicyType
		match         *admissionregistrationv1.MatchPolicyType
		sideEffects   *admissionregistrationv1.SideEffectClass
		timeout       *int32
		versions      []string
		nsSel, objSel *metav1.LabelSelector
		path          string
		wantFailure   admissionregistrationv1.FailurePolicyType
		wantTimeout   int32
	}
	for _, w := range []common{
		{v.Name, v.ClientConfig, v.Rules, v.FailurePolicy, v.MatchPolicy, v.SideEffects, v.TimeoutSeconds, v.AdmissionReviewVersions, v.NamespaceSelector, v.ObjectSelector, "/validate", want.validate, want.validateTimeout},
		{m.Name, m.ClientConfig, m.Rules, m.FailurePolicy, m.MatchPolicy, m.SideEffects, m.TimeoutSeconds, m.AdmissionReviewVersions, m.NamespaceSelector, m.ObjectSelector, "/mutate", want.mutate, want.mutateTimeout},
	} {
		if s := w.cc.Service; s == nil || s.Name != releaseName || s.Namespace != releaseNamespace || s.Path == nil || *s.Path != w.path || s.Port == nil || *s.Port != 443 {
			t.Errorf("%s calls %+v, want the Service %s/%s:443%s", w.name, w.cc.Service, releaseNamespace, releaseName, w.path)
		}
		if w.sideEffects == nil || *w.sideEffects != admissionregistrationv1.SideEffectClassNone {
			t.Errorf("%s sideEffects = %v", w.name, w.sideEffects)
		}
		if w.match == nil || *w.match != admissionregistrationv1.Equivalent {
			t.Errorf("%s matchPolicy = %v", w.name, w.match)
		}
		if !slices.Equal(w.versions, []string{"v1"}) {
			t.Errorf("%s admissionReviewVersions = %v", w.name, w.versions)
		}
		if w.failure == nil || *w.failure != w.wantFailure {
			t.Errorf("%s failurePolicy = %v, want %s", w.name, w.failure, w.wantFailure)
		}
		if w.timeout == nil || *w.timeout != w.wantTimeout {
			t.Errorf("%s timeoutSeconds = %v, want %d", w.name, w.timeout, w.wantTimeout)
		}
		if w.objSel != nil && (len(w.objSel.MatchLabels) > 0 || len(w.objSel.MatchExpressions) > 0) {
			t.Errorf("%s has an objectSelector: %+v", w.name, w.objSel)
		}
		if len(w.rules) != 1 || !slices.Equal(w.rules[0].Operations, []admissionregistrationv1.OperationType{"CREATE", "UPDATE"}) ||
			!slices.Equal(w.rules[0].APIGroups, []string{"*"}) || !slices.Equal(w.rules[0].APIVersions, []string{"*"}) ||
			!slices.Equal(w.rules[0].Resources, []string{"*"}) || w.rules[0].Scope == nil || *w.rules[0].Scope != admissionregistrationv1.AllScopes {
			t.Errorf("%s rules = %+v, want CREATE and UPDATE of */*/* at every scope", w.name, w.rules)
		}
		sel, err := metav1.LabelSelectorAsSelector(w.nsSel)
		if err != nil {
			t.Fatalf("%s namespaceSelector: %v", w.name, err)
		}
		for _, ns := range want.exempt {
			if sel.Matches(labels.Set{"kubernetes.io/metadata.name": ns}) {
				t.Errorf("%s is called for namespace %s", w.name, ns)
			}
		}
		if sel.Matches(labels.Set{"kubernetes.io/metadata.name": "team-a", "gatekeep.dev/ignore": ""}) {
			t.Errorf("%s is called for a namespace labelled gatekeep.dev/ignore", w.name)
		}
		if !sel.Matches(labels.Set{"kubernetes.io/metadata.name": "team-a"}) {
			t.Errorf("%s is not called for an ordinary namespace", w.name)
		}
	}
	if !slices.Equal(v.ClientConfig.CABundle, m.ClientConfig.CABundle) {
		t.Error("the two webhook configurations trust different CAs")
	}
	return &vwc, &mwc
}

// TestCertificateModes renders each way of getting the serving certificate
// and follows it from the Secret the pods mount to the caBundle the API
// server trusts.
func TestCertificateModes(t *testing.T) {
	dnsName := releaseName + "." + releaseNamespace + ".svc"

	t.Run("built in", func(t *testing.T) {
		r := mustRender(t, nil)
		// Nothing secret and nothing random is rendered: helm template and
		// Argo CD render the same every time, and the manifests may be
		// committed.
		if s := r.find("Secret", ""); s != nil {
			t.Errorf("a Secret is rendered: %s", s.GetName())
		}
		if strings.Contains(r.manifest, "PRIVATE KEY") || strings.Contains(r.manifest, "caBundle:") {
			t.Error("a key or a caBundle is rendered")
		}
		if again := mustRender(t, nil); again.manifest != r.manifest {
			t.Error("two renderings differ")
		}
		vwc, mwc := checkWebhooks(t, r, webhookExpectations{validate: "Fail", mutate: "Ignore", validateTimeout: 5, mutateTimeout: 3})
		if len(vwc.Webhooks[0].ClientConfig.CABundle)+len(mwc.Webhooks[0].ClientConfig.CABundle) > 0 {
			t.Error("caBundle is set: gatekeep injects it")
		}
		if vwc.Annotations["cert-manager.io/inject-ca-from"] != "" {
			t.Error("cert-manager is asked to inject the CA")
		}
		var d appsv1.Deployment
		r.typed(t, "Deployment", releaseName, &d)
		args := d.Spec.Template.Spec.Containers[0].Args
		// gatekeep's certificate names what the API server calls, and its
		// CA goes into the configurations the chart renders.
		for _, want := range []string{"--cert-dns-name=" + dnsName, "--webhook-configuration=" + vwc.Name, "--webhook-configuration=" + mwc.Name} {
			if !slices.Contains(args, want) {
				t.Errorf("args %v lack %s", args, want)
			}
		}
		checkCertRBAC(t, r)

		// certs.builtin become gatekeep's flags.
		r = mustRender(t, values(t, "certs: {builtin: {validityDays: 30, caValidityDays: 400, renewBeforeDays: 10}}"))
		r.typed(t, "Deployment", releaseName, &d)
		for _, want := range []string{"--cert-validity=720h", "--ca-validity=9600h", "--cert-renew-before=240h"} {
			if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, want) {
				t.Errorf("args %v lack %s", d.Spec.Template.Spec.Containers[0].Args, want)
			}
		}
	})

	t.Run("cert-manager", func(t *testing.T) {
		r := mustRender(t, values(t, "certManager: {enabled: true}"))
		if s := r.find("Secret", ""); s != nil {
			t.Errorf("a Secret is rendered: %s", s.GetName())
		}
		cert := r.find("Certificate", "gatekeep-serving")
		if cert == nil {
			t.Fatalf("no Certificate gatekeep-serving: %v", r.kinds())
		}
		spec, _ := cert.Object["spec"].(map[string]any)
		if spec["secretName"] != "gatekeep-tls" {
			t.Errorf("Certificate secretName = %v, want the Secret the pods mount", spec["secretName"])
		}
		if names, _ := spec["dnsNames"].([]any); !slices.Contains(names, any(dnsName)) {
			t.Errorf("Certificate dnsNames %v lack %s", names, dnsName)
		}
		if ref, _ := spec["issuerRef"].(map[string]any); ref["name"] != "gatekeep-ca" || ref["kind"] != "Issuer" {
			t.Errorf("serving Certificate issued by %v, want the chart's CA Issuer", ref)
		}
		caCert := r.find("Certificate", "gatekeep-ca")
		if caCert == nil || caCert.Object["spec"].(map[string]any)["isCA"] != true {
			t.Error("no CA Certificate")
		}
		for _, kind := range []string{"ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
			o := r.find(kind, releaseName)
			if got := o.GetAnnotations()["cert-manager.io/inject-ca-from"]; got != releaseNamespace+"/gatekeep-serving" {
				t.Errorf("%s inject-ca-from = %q", kind, got)
			}
		}
		vwc, mwc := checkWebhooks(t, r, webhookExpectations{validate: "Fail", mutate: "Ignore", validateTimeout: 5, mutateTimeout: 3})
		if len(vwc.Webhooks[0].ClientConfig.CABundle)+len(mwc.Webhooks[0].ClientConfig.CABundle) > 0 {
			t.Error("caBundle is set: cainjector fills it")
		}
		var d appsv1.Deployment
		r.typed(t, "Deployment", releaseName, &d)
		if v := d.Spec.Template.Spec.Volumes[0]; v.Name != "certs" || v.Secret.SecretName != "gatekeep-tls" {
			t.Errorf("certs volume %+v", v)
		}
		noCertRotation(t, r)
	})

	t.Run("cert-manager with an issuer of yours", func(t *testing.T) {
		r := mustRender(t, values(t, "certManager: {enabled: true, issuerRef: {name: corp-ca, kind: ClusterIssuer}}"))
		if r.find("Issuer", "") != nil || r.find("Certificate", "gatekeep-ca") != nil {
			t.Errorf("the chart's own CA is rendered too: %v", r.kinds())
		}
		ref := r.find("Certificate", "gatekeep-serving").Object["spec"].(map[string]any)["issuerRef"].(map[string]any)
		if ref["name"] != "corp-ca" || ref["kind"] != "ClusterIssuer" || ref["group"] != "cert-manager.io" {
			t.Errorf("issuerRef = %v", ref)
		}
	})

	t.Run("own Secret", func(t *testing.T) {
		ca := testCA(t)
		r := mustRender(t, map[string]any{"certs": map[string]any{"existingSecret": "corp-serving", "caBundle": ca.certPEM}})
		if s := r.find("Secret", ""); s != nil {
			t.Errorf("a Secret is rendered: %s", s.GetName())
		}
		if r.find("Certificate", "") != nil {
			t.Error("a Certificate is rendered")
		}
		vwc, _ := checkWebhooks(t, r, webhookExpectations{validate: "Fail", mutate: "Ignore", validateTimeout: 5, mutateTimeout: 3})
		if string(vwc.Webhooks[0].ClientConfig.CABundle) != ca.certPEM {
			t.Errorf("caBundle = %q, want certs.caBundle", vwc.Webhooks[0].ClientConfig.CABundle)
		}
		var d appsv1.Deployment
		r.typed(t, "Deployment", releaseName, &d)
		if v := d.Spec.Template.Spec.Volumes[0]; v.Name != "certs" || v.Secret.SecretName != "corp-serving" {
			t.Errorf("certs volume %+v, want the Secret corp-serving", v)
		}
		noCertRotation(t, r)
		if !strings.Contains(r.notes, "your Secret gatekeep-system/corp-serving") {
			t.Errorf("NOTES do not name the Secret:\n%s", r.notes)
		}
	})
}

// TestHAOff: one replica, and so no PodDisruptionBudget (it would block
// every drain), and the notes warn about it.
func TestHAOff(t *testing.T) {
	r := mustRender(t, values(t, "replicas: 1"))
	var d appsv1.Deployment
	r.typed(t, "Deployment", releaseName, &d)
	if *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %d", *d.Spec.Replicas)
	}
	if r.find("PodDisruptionBudget", "") != nil {
		t.Error("a PodDisruptionBudget with one replica would block every node drain")
	}
	if !strings.Contains(r.notes, "WARNING: replicas is 1") {
		t.Errorf("NOTES do not warn about one replica with Fail:\n%s", r.notes)
	}
}

// TestEveryOption renders the options the defaults leave off.
func TestEveryOption(t *testing.T) {
	s := scenarios(t)
	r := mustRender(t, values(t, s[len(s)-1].values))
	var d appsv1.Deployment
	r.typed(t, "Deployment", releaseName, &d)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if c.Image != "ghcr.io/gatekeep-dev/gatekeep@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("image = %s", c.Image)
	}
	for _, want := range []string{"--metrics-listen=0", "--kubernetes-version=1.33", "--bundle=/extra", "--sealed-secrets-namespace=sealed-secrets",
		"--cert-validity=8760h", "--cert-renew-before=720h",
		"--bundle=oci://registry.example.com/policy/platform:prod", "--bundle-poll-interval=5m",
		"--audit-interval=30m", "--audit-lease=gatekeep-audit", "--audit-page-size=200", "--audit-exclude-namespace=monitoring",
		"--audit-exclude-namespace=batch", "--policy-report-format=openreports", "--policy-report-pass"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args %v lack %s", c.Args, want)
		}
	}
	if pod.PriorityClassName != "" {
		t.Errorf("priorityClassName = %q", pod.PriorityClassName)
	}
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].MaxSkew != 2 || pod.TopologySpreadConstraints[0].LabelSelector == nil {
		t.Errorf("topologySpreadConstraints = %+v, want yours with gatekeep's labelSelector", pod.TopologySpreadConstraints)
	}
	var bundle *corev1.ConfigMapVolumeSource
	for _, v := range pod.Volumes {
		if v.Name == "bundle" {
			bundle = v.ConfigMap
		}
	}
	if bundle == nil || bundle.Name != "policy" || *bundle.Optional || len(bundle.Items) != 2 || bundle.Items[1].Path != "data/registries.yaml" {
		t.Errorf("bundle volume = %+v", bundle)
	}
	if !hasEnvFromField(c.Env, "POD_NAME", "metadata.name") || !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "DOCKER_CONFIG" && e.Value == "/etc/gatekeep/registry"
	}) {
		t.Errorf("env %+v lacks POD_NAME (the audit Lease) or DOCKER_CONFIG (the bundle's registry)", c.Env)
	}
	var auth *corev1.SecretVolumeSource
	for _, v := range pod.Volumes {
		if v.Name == "registry-auth" {
			auth = v.Secret
		}
	}
	if auth == nil || auth.SecretName != "registry-creds" || len(auth.Items) != 1 || auth.Items[0].Path != "config.json" {
		t.Errorf("registry-auth volume = %+v", auth)
	}
	var auditRole rbacv1.ClusterRole
	r.typed(t, "ClusterRole", releaseName+"-audit", &auditRole)
	if len(auditRole.Rules) != 2 || !slices.Equal(auditRole.Rules[0].Resources, []string{"pods", "deployments"}) ||
		!slices.Equal(auditRole.Rules[0].Verbs, []string{"get", "list"}) || !slices.Equal(auditRole.Rules[1].APIGroups, []string{"openreports.io"}) {
		t.Errorf("audit ClusterRole rules = %+v", auditRole.Rules)
	}
	crds := 0
	for _, o := range r.objects {
		if o.GetKind() == "CustomResourceDefinition" {
			crds++
			if !strings.HasSuffix(o.GetName(), ".openreports.io") || o.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
				t.Errorf("CRD %s: want openreports.io's, kept on uninstall", o.GetName())
			}
		}
	}
	if crds != 2 {
		t.Errorf("%d report CRDs, want openreports.io's 2", crds)
	}
	if d.Spec.Template.Labels["team"] != "platform" || d.Spec.Template.Annotations["prometheus.io/scrape"] != "true" {
		t.Error("podLabels or podAnnotations are missing")
	}
	var pdb policyv1.PodDisruptionBudget
	r.typed(t, "PodDisruptionBudget", releaseName, &pdb)
	if pdb.Spec.MaxUnavailable.IntValue() != 2 {
		t.Errorf("maxUnavailable = %v", pdb.Spec.MaxUnavailable)
	}
	var svc corev1.Service
	r.typed(t, "Service", releaseName, &svc)
	if len(svc.Spec.Ports) != 1 {
		t.Errorf("metrics off, yet the Service has ports %+v", svc.Spec.Ports)
	}
	checkRBAC(t, r, "sealed-secrets", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"services"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"applications"}, Verbs: []string{"get", "list", "watch"}},
	})
	vwc, mwc := checkWebhooks(t, r, webhookExpectations{
		validate: "Ignore", mutate: "Fail", validateTimeout: 10, mutateTimeout: 2,
		exempt: []string{"kube-system", "kube-node-lease", releaseNamespace, "monitoring"},
	})
	if len(vwc.Webhooks[0].MatchConditions) != 1 || len(mwc.Webhooks[0].MatchConditions) != 1 {
		t.Error("matchConditions are not on both webhooks")
	}
	if p := mwc.Webhooks[0].ReinvocationPolicy; p == nil || *p != admissionregistrationv1.IfNeededReinvocationPolicy {
		t.Errorf("reinvocationPolicy = %v", p)
	}
	if strings.Contains(r.notes, "EMERGENCY") {
		t.Error("the notes tell of Fail's emergency procedure with validation on Ignore")
	}
}

// TestOtherNamespace: gatekeep's own namespace is the release's, wherever
// it is installed.
func TestOtherNamespace(t *testing.T) {
	r, err := renderIn(t, "policy", "platform-policy", nil)
	if err != nil {
		t.Fatal(err)
	}
	vwc := r.find("ValidatingWebhookConfiguration", "policy-gatekeep")
	if vwc == nil {
		t.Fatalf("no ValidatingWebhookConfiguration policy-gatekeep: %v", r.kinds())
	}
	if !strings.Contains(r.manifest, `- "platform-policy"`) || strings.Contains(r.manifest, `- "gatekeep-system"`) {
		t.Error("the namespaceSelector does not exempt the release namespace")
	}
}

// TestValuesSchemaRejects: wrong values fail helm install, naming what is
// wrong, instead of failing in the cluster.
func TestValuesSchemaRejects(t *testing.T) {
	ca := testCA(t)
	for _, c := range []struct {
		name, values, want string
	}{
		{"misspelt key", "replica: 3", "replica"},
		{"replicas as a string", `replicas: "3"`, "replicas"},
		{"no replicas", "replicas: 0", "replicas"},
		{"unknown failure policy", "webhooks: {validate: {failurePolicy: Sometimes}}", "failurePolicy"},
		{"timeout over 30s", "webhooks: {mutate: {timeoutSeconds: 31}}", "timeoutSeconds"},
		{"namespace that is no name", "webhooks: {exemptNamespaces: [Team_A]}", "exemptNamespaces"},
		{"own Secret without its CA", "certs: {existingSecret: corp-serving}", "caBundle"},
		{"caBundle in base64", "certs: {existingSecret: corp-serving, caBundle: " + base64.StdEncoding.EncodeToString([]byte(ca.certPEM)) + "}", "caBundle"},
		{"cert-manager and own Secret", "certManager: {enabled: true}\ncerts:\n  existingSecret: corp-serving\n  caBundle: |\n" + indent(ca.certPEM, "    "), "existingSecret"},
		{"issuer kind", "certManager: {enabled: true, issuerRef: {name: x, kind: Vault}}", "kind"},
		{"bad duration", "certManager: {enabled: true, duration: 90d}", "duration"},
		{"renewal after expiry", "certs: {builtin: {validityDays: 60, renewBeforeDays: 60}}", "renewBeforeDays must be less than certs.builtin.validityDays"},
		{"renewal after the CA's expiry", "certs: {builtin: {caValidityDays: 60, renewBeforeDays: 60}}", "renewBeforeDays must be less than certs.builtin.caValidityDays"},
		{"CA validity in hours", "certs: {builtin: {caValidityDays: 87600h}}", "caValidityDays"},
		{"unknown image pull policy", "image: {pullPolicy: Sometimes}", "pullPolicy"},
		{"memory limit removed", "resources: {limits: {memory: null}}", "memory"},
		{"kubernetes version", "kubernetesVersion: latest", "kubernetesVersion"},
		{"sync rule without resources", "rbac: {syncRules: [{apiGroups: [apps]}]}", "resources"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := render(t, values(t, c.values))
			if err == nil {
				t.Fatalf("values %q were accepted", c.values)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error does not mention %q:\n%v", c.want, err)
			}
		})
	}
}

// TestArgsAreServeFlags: every flag the chart passes is one gatekeep serve
// defines (read from cmd/gatekeep/serve.go, which the chart cannot import).
func TestArgsAreServeFlags(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../cmd/gatekeep/serve.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || !strings.HasSuffix(sel.Sel.Name, "Var") || len(call.Args) < 2 {
			return true
		}
		if lit, ok := call.Args[1].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, _ := strconv.Unquote(lit.Value)
			flags[name] = true
		}
		return true
	})
	if !flags["listen"] || !flags["bundle"] {
		t.Fatalf("could not read the flags of serve.go: %v", flags)
	}
	s := scenarios(t)
	for _, vals := range []string{"", s[len(s)-1].values} {
		r := mustRender(t, values(t, vals))
		var d appsv1.Deployment
		r.typed(t, "Deployment", releaseName, &d)
		args := d.Spec.Template.Spec.Containers[0].Args
		if len(args) == 0 || args[0] != "serve" {
			t.Fatalf("args %v do not start with serve", args)
		}
		for _, a := range args[1:] {
			name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			if !flags[name] {
				t.Errorf("gatekeep serve has no flag --%s", name)
			}
		}
	}
}

// TestReadmeExamples: the matchConditions the chart README shows are the
// ones TestInstallOnAPIServer has the API server compile and apply.
func TestReadmeExamples(t *testing.T) {
	readme, err := os.ReadFile("gatekeep/README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(readmeMatchConditions, "\n") {
		if strings.TrimSpace(line) != "" && !strings.Contains(string(readme), line) {
			t.Errorf("the README lacks %q", line)
		}
	}
}
