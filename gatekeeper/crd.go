package gatekeeper

import (
	"fmt"

	"github.com/open-policy-agent/frameworks/constraint/pkg/client/crds"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
)

// crdScheme converts the frameworks' constraint CRDs (internal
// apiextensions types) to apiextensions.k8s.io/v1.
var crdScheme = func() *k8sruntime.Scheme {
	s := k8sruntime.NewScheme()
	if err := apiextensions.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// ConstraintCRD is the CustomResourceDefinition Gatekeeper makes of a
// ConstraintTemplate for its constraints (the frameworks' own, with
// Gatekeeper's match schema and the template's openAPIV3Schema as
// spec.parameters), as an apiextensions.k8s.io/v1 object: the schema check
// validates constraints among a run's inputs with it, as Gatekeeper's
// admission of them would. A template that does not load gives an error
// (the Gatekeeper check reports it, with its line).
func ConstraintCRD(template map[string]any) (map[string]any, error) {
	ct, _, err := toTemplate(&Document{Object: template, Line: func(string) int { return 0 }}, []string{RegoEngine, CELEngine})
	if err != nil {
		return nil, err
	}
	crd, err := crds.CreateCRD(ct, crds.CreateSchema(ct, &k8sTarget{}))
	if err != nil {
		return nil, fmt.Errorf("ConstraintTemplate %s: %w", ct.GetName(), err)
	}
	var v1 apiextensionsv1.CustomResourceDefinition
	if err := crdScheme.Convert(crd, &v1, nil); err != nil {
		return nil, fmt.Errorf("ConstraintTemplate %s: %w", ct.GetName(), err)
	}
	v1.APIVersion, v1.Kind = apiextensionsv1.SchemeGroupVersion.String(), "CustomResourceDefinition"
	v1.Name = v1.Spec.Names.Plural + "." + v1.Spec.Group
	out, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(&v1)
	if err != nil {
		return nil, fmt.Errorf("ConstraintTemplate %s: %w", ct.GetName(), err)
	}
	return out, nil
}
