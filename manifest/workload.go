package manifest

// podSpecPaths says where each workload kind keeps its pod spec.
var podSpecPaths = map[string][]string{
	"Pod":                   {"spec"},
	"PodTemplate":           {"template", "spec"},
	"Deployment":            {"spec", "template", "spec"},
	"StatefulSet":           {"spec", "template", "spec"},
	"DaemonSet":             {"spec", "template", "spec"},
	"ReplicaSet":            {"spec", "template", "spec"},
	"ReplicationController": {"spec", "template", "spec"},
	"Job":                   {"spec", "template", "spec"},
	"CronJob":               {"spec", "jobTemplate", "spec", "template", "spec"},
}

// workloadGroups are the API groups whose kinds above are the built-in ones.
var workloadGroups = map[string]bool{"": true, "apps": true, "extensions": true, "batch": true}

// PodSpec returns the pod spec of a Pod or of any built-in workload's pod
// template, with its JSON pointer (/spec/template/spec for a Deployment).
func (o *Object) PodSpec() (spec map[string]any, pointer string, ok bool) {
	path, known := podSpecPaths[o.Kind()]
	if !known || !workloadGroups[o.Ref().Group()] {
		return nil, "", false
	}
	var cur any = o.Data
	for _, p := range path {
		m, _ := cur.(map[string]any)
		if cur = m[p]; cur == nil {
			return nil, "", false
		}
		pointer += "/" + p
	}
	spec, ok = cur.(map[string]any)
	return spec, pointer, ok
}

// ContainerLists are the fields of a pod spec that hold containers.
var ContainerLists = []string{"initContainers", "containers", "ephemeralContainers"}

// PodSpecPaths returns, for each built-in workload kind, the fields that lead
// to its pod spec (Rego policies read the same table as data).
func PodSpecPaths() map[string][]string {
	out := make(map[string][]string, len(podSpecPaths))
	for k, v := range podSpecPaths {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// WorkloadGroups returns the API groups whose kinds PodSpecPaths describes.
func WorkloadGroups() []string {
	out := make([]string, 0, len(workloadGroups))
	for g := range workloadGroups {
		out = append(out, g)
	}
	return out
}
