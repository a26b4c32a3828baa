package manifest

import "sort"

// RenderKind says what rendered an object.
type RenderKind string

// The renders an object can come from.
const (
	RenderApplication   RenderKind = "application"
	RenderKustomization RenderKind = "kustomization"
	RenderHelm          RenderKind = "helm"
)

// Render names one render: an Argo CD application, a kustomization or a
// Helm chart, and the file that asked for it (the Application, the
// kustomization file, Chart.yaml).
type Render struct {
	Kind RenderKind `json:"kind"`
	Name string     `json:"name"`
	File string     `json:"file"`
}

// Problem is a source that could not be rendered, or that rendered with a
// warning (kustomize's own, a source from another repository): the run
// goes on, and the engine reports it under the render check.
type Problem struct {
	File    string
	Line    int
	Message string
	// Warning problems are reported as warnings whatever the check's action.
	Warning bool
	Renders []Render
}

// The reasons a document or file is left out of the check.
const (
	SkipNotKubernetes = "not-kubernetes" // no apiVersion, kind and name, or not a Kubernetes API group
	SkipPatch         = "patch"          // a kustomize patch, not a whole object
	SkipHelmValues    = "helm-values"    // a Helm value file of an application or chart
	SkipComponent     = "component"      // a kustomize Component built only through a kustomization
	SkipUnused        = "unused"         // in a kustomization's folder but not part of its build
)

// Rendered counts what Load rendered.
type Rendered struct {
	Applications   int `json:"applications"`
	HelmCharts     int `json:"helmCharts"`
	Kustomizations int `json:"kustomizations"`
}

// skip counts what was left out, by reason.
func (s *Set) skip(reason string, n int) {
	if n == 0 {
		return
	}
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason] += n
}

// SkippedTotal is how many documents and files were left out.
func (s *Set) SkippedTotal() int {
	n := 0
	for _, c := range s.Skipped {
		n += c
	}
	return n
}

// SkipReasons lists the reasons in Skipped, sorted.
func SkipReasons(skipped map[string]int) []string {
	out := make([]string, 0, len(skipped))
	for r := range skipped {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// withRender returns renders with r appended, as a new slice.
func withRender(renders []Render, r Render) []Render {
	out := make([]Render, 0, len(renders)+1)
	return append(append(out, renders...), r)
}
