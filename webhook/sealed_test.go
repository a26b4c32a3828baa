package webhook

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/yaml"

	"github.com/gatekeep-dev/gatekeep/internal/sealtest"
	"github.com/gatekeep-dev/gatekeep/secrets"
)

var sealedSecrets = schema.GroupVersionResource{Group: "bitnami.com", Version: "v1alpha1", Resource: "sealedsecrets"}

// installKey stores a sealing key as the sealed-secrets controller does, and
// waits until gatekeep holds n keys.
func installKey(t *testing.T, c *controlPlane, name string, k sealtest.Key, n int) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: map[string]string{secrets.KeyLabel: "active"}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.crt": k.CertPEM, "tls.key": k.KeyPEM},
	}
	if _, err := c.kube.CoreV1().Secrets("kube-system").Create(context.Background(), s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "gatekeep to load the sealing key", func() bool { return c.keys.Len() == n })
}

func sealed(t *testing.T, doc string) *unstructured.Unstructured {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	return &unstructured.Unstructured{Object: m}
}

func TestSealedSecrets(t *testing.T) {
	c := startControlPlane(t)
	sealtest.Kubeseal(t)
	ctx := context.Background()
	dir := t.TempDir()
	ns := c.namespace(t, "team-")
	first := sealtest.NewKey(t, dir)
	installKey(t, c, "sealed-secrets-key1", first, 1)
	const secret = "s3cr3t-value-that-must-not-leak"

	// A SealedSecret sealed for its name and namespace is admitted.
	plain := "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: " + ns + "}\nstringData: {password: " + secret + "}\n"
	doc := sealtest.Run(t, plain, "--cert", first.CertFile, "--format", "yaml")
	if _, err := c.dynamic.Resource(sealedSecrets).Namespace(ns).Create(ctx, sealed(t, doc), metav1.CreateOptions{}); err != nil {
		t.Fatalf("a SealedSecret that unseals was refused: %v", err)
	}
	// Renamed, it would not unseal: refused at apply time, with the cause.
	renamed := sealed(t, doc)
	renamed.SetName("db-renamed")
	_, err := c.dynamic.Resource(sealedSecrets).Namespace(ns).Create(ctx, renamed, metav1.CreateOptions{})
	denied(t, err, "[sealed-secret]")
	if !strings.Contains(err.Error(), "password") {
		t.Errorf("the denial does not name the value's key: %v", err)
	}

	// An inline sealed Secret is stored decrypted.
	inline := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "api", Annotations: map[string]string{secrets.SealedAnnotation: "true"}},
		Data:       map[string][]byte{"token": []byte(sealtest.Raw(t, first, ns, "api", secret))},
	}
	got, err := c.kube.CoreV1().Secrets(ns).Create(ctx, inline, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("inline sealed Secret refused: %v\n%s", err, c.logs.String())
	}
	if string(got.Data["token"]) != secret || got.Annotations[secrets.UnsealedWithAnnotation] == "" || got.Annotations[secrets.SealedAnnotation] != "" {
		t.Errorf("stored Secret: annotations %v, token decrypted: %v", got.Annotations, string(got.Data["token"]) == secret)
	}
	// One value sealed for another name: the whole Secret is refused.
	bad := inline.DeepCopy()
	bad.Name = "api-2"
	_, err = c.kube.CoreV1().Secrets(ns).Create(ctx, bad, metav1.CreateOptions{})
	if err == nil || !strings.Contains(err.Error(), "mutate.gatekeep.dev") {
		t.Errorf("a Secret whose value does not decrypt: %v", err)
	}

	// A rotated key is used without restarting gatekeep.
	second := sealtest.NewKey(t, dir)
	installKey(t, c, "sealed-secrets-key2", second, 2)
	rotated := inline.DeepCopy()
	rotated.Name = "api-3"
	rotated.Data = map[string][]byte{"token": []byte(sealtest.Raw(t, second, ns, "api-3", secret))}
	if _, err := c.kube.CoreV1().Secrets(ns).Create(ctx, rotated, metav1.CreateOptions{}); err != nil {
		t.Errorf("a value sealed with the rotated key was refused: %v", err)
	}

	// Nothing gatekeep logged holds the plaintext.
	if strings.Contains(c.logs.String(), secret) {
		t.Errorf("the plaintext reached gatekeep's logs")
	}
}
