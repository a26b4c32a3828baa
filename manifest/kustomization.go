package manifest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// kustomizationFile is what the walk needs to know of a kustomization
// before building it: whether it is a Component, and which files it names
// as patches (written or commented out, as kubebuilder's scaffolding does).
type kustomizationFile struct {
	path      string // absolute
	component bool
	patches   []string // absolute paths
	resources []string // absolute paths of local resources, bases and components
	lines     []int    // the line of each resource
}

// cycle returns the kustomization directories from dir back to itself when
// its local bases lead there (kustomize cannot build it), with the line of
// dir's entry that starts the cycle; nil when none does.
func cycle(dir string) ([]string, int) {
	var path []string
	onPath := map[string]bool{}
	done := map[string]bool{}
	var visit func(d string) bool
	visit = func(d string) bool {
		if onPath[d] {
			return d == dir
		}
		if done[d] || len(path) > 100 {
			return false
		}
		kf := kustomization(d)
		if kf == "" {
			return false
		}
		onPath[d] = true
		path = append(path, d)
		for _, r := range readKustomization(kf).resources {
			if visit(filepath.Clean(r)) {
				return true
			}
		}
		path = path[:len(path)-1]
		onPath[d] = false
		done[d] = true
		return false
	}
	if !visit(dir) {
		return nil, 0
	}
	k := readKustomization(kustomization(dir))
	line := 1
	if len(path) > 1 {
		for i, r := range k.resources {
			if filepath.Clean(r) == path[1] {
				line = k.lines[i]
			}
		}
	}
	return append(path, dir), line
}

// readKustomization reads the parts of a kustomization file the walk needs;
// a file that does not parse is left for kustomize to report.
func readKustomization(path string) kustomizationFile {
	k := kustomizationFile{path: path}
	data, err := os.ReadFile(path)
	if err != nil {
		return k
	}
	dir := filepath.Dir(path)
	var m map[string]any
	if yaml.Unmarshal(data, &m) == nil {
		k.component = str(m["kind"]) == "Component"
		for _, key := range []string{"resources", "bases", "components"} {
			for _, r := range strings2(m[key]) {
				if !isRemote(r) {
					k.resources = append(k.resources, filepath.Join(dir, r))
					k.lines = append(k.lines, lineOf(data, r))
				}
			}
		}
	}
	for _, p := range patchRefs(data) {
		k.patches = append(k.patches, filepath.Join(dir, p))
	}
	return k
}

// patchKey matches a top-level key of a kustomization that lists patches,
// written or commented out.
var (
	patchKey  = regexp.MustCompile(`^#?\s*(patches|patchesStrategicMerge|patchesJson6902|patchesJSON6902)\s*:`)
	otherKey  = regexp.MustCompile(`^#?\s*[A-Za-z][A-Za-z0-9]*\s*:`)
	patchPath = regexp.MustCompile(`^[\s#]*-?\s*(?:path\s*:\s*)?["']?([^\s"'#{}:]+\.(?:ya?ml|json))["']?\s*$`)
)

// patchRefs lists the files a kustomization names under its patch keys,
// including lines commented out: a scaffold's optional patches are patch
// fragments whether or not they are switched on.
func patchRefs(data []byte) []string {
	var out []string
	in := false
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimRight(line, " \t\r")
		if trimmed == "" {
			continue
		}
		top := !strings.HasPrefix(trimmed, " ") && !strings.HasPrefix(trimmed, "\t") && !strings.HasPrefix(strings.TrimLeft(trimmed, "#"), " ") && !strings.HasPrefix(strings.TrimLeft(trimmed, "#"), "-")
		if top && otherKey.MatchString(trimmed) {
			in = patchKey.MatchString(trimmed)
			continue
		}
		if !in {
			continue
		}
		if m := patchPath.FindStringSubmatch(trimmed); m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// isRemote tells a kustomize resource that must be fetched: a URL or a
// git repository spec.
func isRemote(ref string) bool {
	switch {
	case strings.Contains(ref, "://"), strings.HasPrefix(ref, "git@"),
		strings.HasPrefix(ref, "github.com/"), strings.HasPrefix(ref, "gitlab.com/"),
		strings.HasPrefix(ref, "bitbucket.org/"), strings.Contains(ref, "?ref="),
		strings.Contains(ref, "?version="):
		return true
	}
	return false
}

// strings2 returns the strings of a YAML list.
func strings2(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
