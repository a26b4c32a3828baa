package main

// source is one project's module at a pinned version and the CRD files it
// ships. Bump Version to pick up a new release, then `make schemas`.
type source struct {
	Project string
	Module  string
	Version string
	// Files are path.Match patterns, relative to the module's root.
	Files []string
	// Groups keeps only the CRDs of these API groups (none: all).
	Groups []string
	// Release names the project's release, when it is not Project and
	// Version ("Flux v2.9.5" for flux-operator's copy of its manifests).
	Release string
	// Note says why this module, when it is not the project's obvious one.
	Note string
}

// sources are the catalog's modules. Where two define the same group and
// kind, the first that serves a version gives its schema: Gateway API's
// standard channel comes before the experimental one, which adds the
// experimental kinds and versions (an object using an experimental field of
// a standard kind is checked against the standard CRD; give the
// experimental CRD among the inputs or in --schema-dir to allow it).
//
// Versions are the newest each module's proxy listing has whose go.mod
// this repository's Go accepts, except flux-operator (see its note).
var sources = []source{
	{
		Project: "Argo CD", Module: "github.com/argoproj/argo-cd/v3", Version: "v3.5.8",
		Files: []string{"manifests/crds/application-crd.yaml", "manifests/crds/applicationset-crd.yaml", "manifests/crds/appproject-crd.yaml"},
	},
	{
		Project: "Argo Rollouts", Module: "github.com/argoproj/argo-rollouts", Version: "v1.10.1",
		Files: []string{"manifests/crds/*-crd.yaml"},
	},
	{
		Project: "Sealed Secrets", Module: "github.com/bitnami-labs/sealed-secrets", Version: "v0.40.0",
		Files: []string{"helm/sealed-secrets/crds/bitnami.com_sealedsecrets.yaml"},
	},
	{
		Project: "cert-manager", Module: "github.com/cert-manager/cert-manager", Version: "v1.21.2",
		Files: []string{"deploy/crds/*.yaml"},
	},
	{
		Project: "Flux source-controller", Module: "github.com/fluxcd/source-controller", Version: "v1.9.5",
		Files: []string{"config/crd/bases/*.yaml"},
	},
	{
		Project: "Flux kustomize-controller", Module: "github.com/fluxcd/kustomize-controller", Version: "v1.9.5",
		Files: []string{"config/crd/bases/*.yaml"},
	},
	{
		// The proxy serves none of these controllers' own modules, and
		// their api modules hold Go types only. flux-operator ships each
		// Flux release's manifests as published; v2.9.5 is the release
		// whose source- and kustomize-controller are pinned above (its
		// copies of their CRDs are the same as theirs, spec for spec).
		Project: "Flux helm-, notification-, image-reflector- and image-automation-controller", Module: "github.com/controlplaneio-fluxcd/flux-operator", Version: "v0.59.0",
		Files: []string{
			"config/data/flux/v2.9.5/helm-controller.yaml",
			"config/data/flux/v2.9.5/notification-controller.yaml",
			"config/data/flux/v2.9.5/image-reflector-controller.yaml",
			"config/data/flux/v2.9.5/image-automation-controller.yaml",
		},
		Release: "Flux v2.9.5",
		Note:    "Flux v2.9.5's release manifests, as flux-operator ships them",
	},
	{
		Project: "Gateway API (standard channel)", Module: "sigs.k8s.io/gateway-api", Version: "v1.6.3",
		Files: []string{"config/crd/standard/*.yaml"},
	},
	{
		Project: "Gateway API (experimental channel)", Module: "sigs.k8s.io/gateway-api", Version: "v1.6.3",
		Files: []string{"config/crd/experimental/*.yaml"},
	},
	{
		Project: "Prometheus Operator", Module: "github.com/prometheus-operator/prometheus-operator", Version: "v0.85.0",
		Files: []string{"example/prometheus-operator-crd/*.yaml"},
	},
	{
		Project: "Istio", Module: "istio.io/api", Version: "v1.32.0",
		Files: []string{"kubernetes/customresourcedefinitions.gen.yaml"},
	},
	{
		Project: "External Secrets", Module: "github.com/external-secrets/external-secrets", Version: "v1.3.2",
		Files: []string{"config/crds/bases/*.yaml"},
	},
	{
		Project: "KEDA", Module: "github.com/kedacore/keda/v2", Version: "v2.21.0",
		Files: []string{"config/crd/bases/*.yaml"},
	},
	{
		Project: "Contour", Module: "github.com/projectcontour/contour", Version: "v1.33.8",
		Files: []string{"examples/contour/01-crds.yaml"},
	},
	{
		Project: "Gatekeeper", Module: "github.com/open-policy-agent/gatekeeper/v3", Version: "v3.23.1",
		Files: []string{
			"config/crd/bases/constrainttemplate-customresourcedefinition.yaml",
			"config/crd/bases/config.gatekeeper.sh_configs.yaml",
			"config/crd/bases/mutations.gatekeeper.sh_*.yaml",
			"config/crd/bases/expansion.gatekeeper.sh_*.yaml",
			"config/crd/bases/syncset.gatekeeper.sh_*.yaml",
		},
		// The file of ConstraintTemplate also holds externaldata's Provider.
		Groups: []string{"templates.gatekeeper.sh", "externaldata.gatekeeper.sh", "config.gatekeeper.sh", "mutations.gatekeeper.sh", "expansion.gatekeeper.sh", "syncset.gatekeeper.sh"},
	},
}
