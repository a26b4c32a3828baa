package charts

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/webhook"
)

// writeConfigMapVolume lays payload (path -> content) out as the kubelet
// does a ConfigMap volume (k8s.io/kubernetes/pkg/volume/util AtomicWriter):
// the files in a new hidden timestamped directory, the symlink ..data
// swapped to it by a rename, a symlink through ..data for each top-level
// name, then the previous directory removed.
func writeConfigMapVolume(t *testing.T, dir string, payload map[string]string) {
	t.Helper()
	ts := filepath.Join(dir, ".."+time.Now().UTC().Format("2006_01_02_15_04_05.000000000"))
	top := map[string]bool{}
	for p, content := range payload {
		file := filepath.Join(ts, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		top[strings.SplitN(path.Clean(p), "/", 2)[0]] = true
	}
	data := filepath.Join(dir, "..data")
	old, _ := os.Readlink(data)
	tmp := filepath.Join(dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, data); err != nil {
		t.Fatal(err)
	}
	for name := range top {
		link := filepath.Join(dir, name)
		if _, err := os.Lstat(link); os.IsNotExist(err) {
			if err := os.Symlink(filepath.Join("..data", name), link); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "..") && !top[e.Name()] {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(dir, old)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBundleFromConfigMapVolume: the bundle the chart mounts from a
// ConfigMap (keys laid out in folders with bundle.items) is the one gatekeep
// serve puts in force, and an update of the ConfigMap (the kubelet's
// atomic swap) is reloaded without a restart.
func TestBundleFromConfigMapVolume(t *testing.T) {
	dir := t.TempDir()
	writeConfigMapVolume(t, dir, map[string]string{
		"gatekeep.yaml":        "checks:\n  schema: warn\n",
		"data/registries.yaml": "registries: [registry.example.com]\n",
	})
	certPEM, keyPEM, err := testCA(t).serving()
	if err != nil {
		t.Fatal(err)
	}
	certs := t.TempDir()
	if err := os.WriteFile(filepath.Join(certs, "tls.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "tls.crt"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	// As gatekeep serve --bundle DIR: the built-in bundle, DIR laid over it.
	srv := webhook.New(webhook.Options{
		Listen:   "127.0.0.1:0",
		CertFile: filepath.Join(certs, "tls.crt"), KeyFile: filepath.Join(certs, "tls.key"),
		Namespace: releaseNamespace,
		Load: func() (*engine.Engine, error) {
			builtin, err := bundle.Builtin()
			if err != nil {
				return nil, err
			}
			b, err := bundle.LoadPath(dir)
			if err != nil {
				return nil, err
			}
			return engine.New(bundle.Merge(builtin, b), engine.WithMode(engine.Admission))
		},
		Watch: []string{dir},
		Log:   logr.Discard(),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Logf("gatekeep stopped: %v", err)
		}
	}()
	waitFor(t, "gatekeep to load its bundle", srv.Ready)

	inForce := func() (schema bundle.Action, registries any) {
		b := srv.Engines().Get().Bundle()
		return b.Config.Checks["schema"], b.Data["registries"]
	}
	schema, registries := inForce()
	if schema != "warn" || fmt.Sprint(registries) != "[registry.example.com]" {
		t.Fatalf("bundle in force: schema %q, data.registries %v; want the ConfigMap's (warn, [registry.example.com])", schema, registries)
	}

	writeConfigMapVolume(t, dir, map[string]string{
		"gatekeep.yaml":        "checks:\n  schema: dryrun\n",
		"data/registries.yaml": "registries: [registry.example.com, mirror.example.com]\n",
	})
	waitFor(t, "gatekeep to reload the updated ConfigMap", func() bool {
		s, r := inForce()
		return s == "dryrun" && fmt.Sprint(r) == "[registry.example.com mirror.example.com]"
	})

	// A second update: the watch survives the first swap.
	writeConfigMapVolume(t, dir, map[string]string{"gatekeep.yaml": "checks:\n  schema: deny\n"})
	waitFor(t, "gatekeep to reload the ConfigMap again", func() bool {
		s, r := inForce()
		return s == "deny" && r == nil
	})
}

// TestInfraRepoLayout follows the chart README's infra repo
// (testdata/infra-repo): CI checks the repo with its bundle; kustomize (as
// Argo CD runs it) renders the bundle into the ConfigMap the chart mounts;
// laid out as the chart's values say, that ConfigMap is the very bundle CI
// used, to the digest.
func TestInfraRepoLayout(t *testing.T) {
	const repo = "testdata/infra-repo"
	ctx := context.Background()
	builtin, err := bundle.Builtin()
	if err != nil {
		t.Fatal(err)
	}

	// CI: gatekeep check --bundle policy/ .
	ci, err := bundle.LoadPath(filepath.Join(repo, "policy"))
	if err != nil {
		t.Fatalf("the example bundle does not load: %v", err)
	}
	eng, err := engine.New(bundle.Merge(builtin, ci))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Check(ctx, manifest.Load(ctx, []string{repo}))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Errorf("gatekeep check of the example repo: %v", res.Errors)
	}
	for _, f := range res.Findings() {
		if f.Action == engine.Deny {
			t.Errorf("gatekeep check of the example repo denies: %s %s: %s", f.Check, f.Object, f.Message)
		}
	}

	// Argo CD: kustomize build policy/ (kustomize's library, as Argo CD
	// runs it; gatekeep's own rendering annotates the kustomization).
	resmap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), filepath.Join(repo, "policy"))
	if err != nil {
		t.Fatalf("kustomize build policy/: %v", err)
	}
	if resmap.Size() != 1 {
		t.Fatalf("policy/ renders %d objects, want the ConfigMap alone", resmap.Size())
	}
	m, err := resmap.Resources()[0].Map()
	if err != nil {
		t.Fatal(err)
	}
	cm := manifest.New(m)
	data, _ := m["data"].(map[string]any)
	if cm.Kind() != "ConfigMap" || len(data) == 0 {
		t.Fatalf("policy/ renders %s with data %v", cm.Ref(), data)
	}

	// The chart, with the repo's values, mounts that ConfigMap.
	raw, err := os.ReadFile(filepath.Join(repo, "platform/gatekeep/values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := mustRender(t, values(t, string(raw)))
	var d appsv1.Deployment
	r.typed(t, "Deployment", releaseName, &d)
	var vol *corev1.ConfigMapVolumeSource
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "bundle" {
			vol = v.ConfigMap
		}
	}
	if vol == nil || vol.Name != cm.Name() || cm.Namespace() != releaseNamespace {
		t.Fatalf("the chart mounts %+v; kustomize renders ConfigMap %s/%s", vol, cm.Namespace(), cm.Name())
	}
	items := vol.Items
	if len(items) == 0 {
		for k := range data {
			items = append(items, corev1.KeyToPath{Key: k, Path: k})
		}
	}
	if len(items) != len(data) {
		t.Errorf("bundle.items mounts %d of the ConfigMap's %d keys", len(items), len(data))
	}
	dir := t.TempDir()
	for _, it := range items {
		content, ok := data[it.Key].(string)
		if !ok {
			t.Fatalf("bundle.items names key %q, which the ConfigMap lacks", it.Key)
		}
		file := filepath.Join(dir, filepath.FromSlash(it.Path))
		if err := os.MkdirAll(filepath.Dir(file), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mounted, err := bundle.LoadPath(dir)
	if err != nil {
		t.Fatalf("the mounted bundle does not load: %v", err)
	}
	if mounted.Digest != ci.Digest {
		t.Errorf("the cluster's bundle has digest %s, CI's %s: reports would not agree", mounted.Digest, ci.Digest)
	}
	if mounted.Data["trusted_registries"] == nil {
		t.Error("the data file is not data in the mounted bundle")
	}
}
