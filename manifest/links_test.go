package manifest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func symlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// leftOut finds the warning about a link left unread.
func leftOut(set *Set, file string) bool {
	for _, p := range set.Problems {
		if p.File == file && p.Warning && strings.Contains(p.Message, "leaves the checked tree") {
			return true
		}
	}
	return false
}

func TestLoadSkipsLinksLeavingTheTree(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "config"), []byte(strings.ReplaceAll(cm, "%s", "kubeconfig-token")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outside, "cm.yaml"), []byte(strings.ReplaceAll(cm, "%s", "outside-dir")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		links map[string]string // link (in the tree) -> target (":out" for the outside directory)
		paths []string
		want  []string // objects
		warn  []string // links warned of
	}{
		{name: "file link to a kubeconfig", links: map[string]string{"kube.yaml": ":out/config"}, paths: []string{"."},
			want: []string{"ConfigMap ok@apps/ok.yaml", "ConfigMap other@other/other.yaml"}, warn: []string{"kube.yaml"}},
		{name: "directory link", links: map[string]string{"apps/ext": ":out"}, paths: []string{"."},
			want: []string{"ConfigMap ok@apps/ok.yaml", "ConfigMap other@other/other.yaml"}, warn: []string{"apps/ext"}},
		{name: "device", links: map[string]string{"z.yaml": "/dev/zero"}, paths: []string{"."},
			want: []string{"ConfigMap ok@apps/ok.yaml", "ConfigMap other@other/other.yaml"}, warn: []string{"z.yaml"}},
		{name: "kustomization linked out", links: map[string]string{"k/kustomization.yaml": ":out/config"}, paths: []string{"."},
			want: []string{"ConfigMap ok@apps/ok.yaml", "ConfigMap other@other/other.yaml"}, warn: []string{"k/kustomization.yaml"}},
		{name: "link inside the tree is read", links: map[string]string{"apps/same.yaml": "../other/other.yaml"}, paths: []string{"."},
			want: []string{"ConfigMap ok@apps/ok.yaml", "ConfigMap other@apps/same.yaml", "ConfigMap other@other/other.yaml"}},
		// The named root is apps/: other/ is outside it.
		{name: "link out of the named root", links: map[string]string{"apps/same.yaml": "../other/other.yaml"}, paths: []string{"apps"},
			want: []string{"ConfigMap ok@apps/ok.yaml"}, warn: []string{"apps/same.yaml"}},
		{name: "named link is read", links: map[string]string{"named.yaml": "other/other.yaml"}, paths: []string{"apps", "named.yaml"},
			want: []string{"ConfigMap ok@apps/ok.yaml", "ConfigMap other@named.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{
				"apps/ok.yaml":      strings.ReplaceAll(cm, "%s", "ok"),
				"other/other.yaml":  strings.ReplaceAll(cm, "%s", "other"),
				"k/cm.yaml":         strings.ReplaceAll(cm, "%s", "k"),
				"k/kustomization.x": "",
			})
			for link, target := range tc.links {
				symlink(t, strings.Replace(target, ":out", outside, 1), filepath.Join(dir, link))
			}
			set := Load(context.Background(), tc.paths)
			got := names(set)
			for i := 0; i < len(got); i++ { // k/ is a plain directory unless its kustomization is read
				if strings.HasPrefix(got[i], "ConfigMap k@") {
					got = append(got[:i], got[i+1:]...)
					i--
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("objects = %v\nwant %v", got, tc.want)
			}
			for _, w := range tc.warn {
				if !leftOut(set, w) {
					t.Errorf("no warning for %s: problems %+v", w, set.Problems)
				}
			}
			if len(tc.warn) == 0 && len(set.Problems) != 0 {
				t.Errorf("problems = %+v, want none", set.Problems)
			}
			for _, e := range set.Errors {
				t.Errorf("error %v", e)
			}
		})
	}
}

func TestKustomizeStaysInTheRepository(t *testing.T) {
	kust := func(res ...string) string {
		return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - " + strings.Join(res, "\n  - ") + "\n"
	}
	// A base outside the repository: kustomize restricts files to the
	// kustomization's directory, but not bases.
	outside := t.TempDir()
	for name, content := range map[string]string{"kustomization.yaml": kust("secret.yaml"), "secret.yaml": strings.ReplaceAll(cm, "%s", "outside")} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		files    map[string]string
		link     string // linked to the base outside when set
		repoRoot string
		paths    []string
		want     string // object expected, "" for none from the overlay
		warn     bool
	}{
		// Bases live anywhere in the repository, beyond the named root.
		{name: "base in the repository", repoRoot: "repo", paths: []string{"repo/apps/overlay"},
			files: map[string]string{"repo/apps/overlay/kustomization.yaml": kust("../../base"), "repo/base/kustomization.yaml": kust("cm.yaml"), "repo/base/cm.yaml": strings.ReplaceAll(cm, "%s", "base")},
			want:  "ConfigMap base@repo/base/cm.yaml"},
		// ... or in a named root larger than the repository root.
		{name: "base in the named root", repoRoot: "top/repo", paths: []string{"top"},
			files: map[string]string{"top/repo/overlay/kustomization.yaml": kust("../../base"), "top/base/kustomization.yaml": kust("cm.yaml"), "top/base/cm.yaml": strings.ReplaceAll(cm, "%s", "base")},
			want:  "ConfigMap base@top/base/cm.yaml"},
		{name: "base linked out", repoRoot: "repo", paths: []string{"repo/overlay"}, link: "repo/overlay/ext",
			files: map[string]string{"repo/overlay/kustomization.yaml": kust("ext")}, warn: true},
		{name: "base path leading out", repoRoot: "repo", paths: []string{"repo/overlay"},
			files: map[string]string{"repo/overlay/kustomization.yaml": kust("../../outside"),
				"outside/kustomization.yaml": kust("secret.yaml"), "outside/secret.yaml": strings.ReplaceAll(cm, "%s", "outside")}, warn: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, tc.files)
			if tc.link != "" {
				symlink(t, outside, filepath.Join(dir, tc.link))
			}
			set := Load(context.Background(), tc.paths, WithRepoRoot(tc.repoRoot))
			got := strings.Join(names(set), ",")
			if strings.Contains(got, "outside") {
				t.Errorf("objects = %v: the file outside the repository was read", got)
			}
			if tc.want != "" && got != tc.want {
				t.Errorf("objects = %v, want %s", got, tc.want)
			}
			warned := false
			for _, p := range set.Problems {
				warned = warned || p.Warning && strings.Contains(p.Message, "outside the repository and the checked paths")
			}
			if warned != tc.warn {
				t.Errorf("warned = %v, want %v: %+v", warned, tc.warn, set.Problems)
			}
		})
	}
}
