package podauth

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	fixture "github.com/gatekeep-dev/gatekeep/internal/scanfixture"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/scanner"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

func pullSecret(ns, name, host, user, pass string) *corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, host, auth)}}
}

// A private registry: the Pod's own pull secret, or its service account's,
// opens it; without either the image cannot be read; a cached verdict
// costs no API call.
func TestPodCredentials(t *testing.T) {
	reg := fixture.NewRegistry("robot", "s3cret")
	defer reg.Close()
	dir := t.TempDir()
	advs, details := fixture.Advisories()
	if err := fixture.WriteDB(dir, time.Now(), advs, details); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	bin, err := fixture.GoBinary()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(bin)
	ref, _ := reg.Push("private/app:1", fixture.Image("linux/amd64", fixture.Layer(fixture.Exe("app", b))))
	ref2, _ := reg.Push("private/app:2", fixture.Image("linux/amd64", fixture.Layer(fixture.Exe("bin/app", b))))

	client := fake.NewSimpleClientset(
		pullSecret("team", "regcred", reg.Host, "robot", "s3cret"),
		pullSecret("team", "sa-cred", reg.Host, "robot", "s3cret"),
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "builder"}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "sa-cred"}}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "default"}},
	)
	var gets atomic.Int64
	client.PrependReactor("get", "*", func(k8stesting.Action) (bool, runtime.Object, error) { gets.Add(1); return false, nil, nil })

	c := scanner.NewCache(scanner.New(db))
	g, err := scanner.NewGate(c, scanner.Policy{FailOn: "HIGH", ScanBudget: 30 * time.Second, OnError: scanner.Deny},
		scanner.Keychains(Keychains(client, nil)))
	if err != nil {
		t.Fatal(err)
	}
	pod := func(image string, spec map[string]any) *manifest.Object {
		spec["containers"] = []any{map[string]any{"name": "app", "image": image}}
		return manifest.New(map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "team"}, "spec": spec})
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		obj  *manifest.Object
		want string
	}{
		{"no credentials", pod(ref, map[string]any{}), "cannot be scanned"},
		{"the pod's pull secret", pod(ref, map[string]any{"imagePullSecrets": []any{map[string]any{"name": "regcred"}}}), "CVE-2022-32149"},
		{"its service account's", pod(ref2, map[string]any{"serviceAccountName": "builder"}), "CVE-2022-32149"},
	} {
		v := g.Review(ctx, tc.obj)
		if len(v) != 1 || !strings.Contains(v[0].Message, tc.want) {
			t.Errorf("%s: %+v", tc.name, v)
		}
	}
	n := gets.Load()
	v := g.Review(ctx, pod(ref, map[string]any{"imagePullSecrets": []any{map[string]any{"name": "regcred"}}}))
	if len(v) != 1 || gets.Load() != n {
		t.Errorf("cached verdict: %+v, %d API reads", v, gets.Load()-n)
	}
}
