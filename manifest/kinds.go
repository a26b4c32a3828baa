package manifest

import "strings"

// builtinGroups are the Kubernetes API groups whose names have no dot;
// every other group of a Kubernetes API is a DNS domain.
var builtinGroups = map[string]bool{"": true, "apps": true, "batch": true, "autoscaling": true, "policy": true, "extensions": true}

// IsKubernetesAPI tells an apiVersion a Kubernetes API server could serve
// from one that only looks like one (skaffold/v3, kustomize's own): the
// group must be built in or a dotted domain.
func IsKubernetesAPI(apiVersion string) bool {
	group, version, found := strings.Cut(apiVersion, "/")
	if !found {
		group, version = "", apiVersion
	}
	if version == "" || strings.Contains(version, "/") {
		return false
	}
	if group == "kustomize.config.k8s.io" {
		return false
	}
	return builtinGroups[group] || strings.Contains(group, ".")
}

// hasName tells whether metadata names the object (name or generateName).
func hasName(m map[string]any) bool {
	md, _ := m["metadata"].(map[string]any)
	return str(md["name"]) != "" || str(md["generateName"]) != ""
}

// clusterScoped are the built-in kinds that live outside namespaces, for
// giving an application's destination namespace only to those that do not
// (as Argo CD does from the API server's discovery).
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ComponentStatus": true,
	"ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "APIService": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"StorageClass": true, "VolumeAttachment": true, "CSIDriver": true, "CSINode": true,
	"PriorityClass": true, "RuntimeClass": true, "IngressClass": true,
	"PodSecurityPolicy": true, "CertificateSigningRequest": true,
	"FlowSchema": true, "PriorityLevelConfiguration": true,
	"ClusterTrustBundle": true, "DeviceClass": true, "ResourceSlice": true,
	"IPAddress": true, "ServiceCIDR": true, "StorageVersionMigration": true,
	"VolumeAttributesClass": true, "TokenReview": true, "SelfSubjectReview": true,
	"SubjectAccessReview": true, "SelfSubjectAccessReview": true, "SelfSubjectRulesReview": true,
	// Custom kinds commonly applied cluster-wide.
	"ClusterIssuer": true, "ConstraintTemplate": true, "ClusterSecretStore": true,
	"ClusterExternalSecret": true, "ClusterPolicy": true, "GatewayClass": true,
	"ClusterPolicyReport": true, "ClusterTriggerAuthentication": true,
}

// namespaced tells whether an object lives in a namespace. The CRDs among
// the inputs say so for their kinds (crdScope maps group/kind to their
// spec.scope); kinds named Cluster* and Gatekeeper's constraints are
// cluster-scoped by convention.
func namespaced(apiVersion, kind string, crdScope map[string]string) bool {
	group, _, _ := strings.Cut(apiVersion, "/")
	if !strings.Contains(apiVersion, "/") {
		group = ""
	}
	if s, ok := crdScope[group+"/"+kind]; ok {
		return s != "Cluster"
	}
	if clusterScoped[kind] || strings.HasPrefix(kind, "Cluster") || group == "constraints.gatekeeper.sh" {
		return false
	}
	return true
}
