package inventory

import (
	"reflect"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestTrim(t *testing.T) {
	service := func() map[string]any {
		return map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{
				"name": "web", "namespace": "team-a", "uid": "u1", "labels": map[string]any{"app": "web"},
				"annotations":   map[string]any{"note": "x"},
				"managedFields": []any{map[string]any{"manager": "kubectl"}},
			},
			"spec":   map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": int64(80)}}},
			"status": map[string]any{"loadBalancer": map[string]any{}},
		}
	}
	secret := func() map[string]any {
		return map[string]any{
			"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": map[string]any{
				"name": "creds", "namespace": "team-a", "uid": "u2",
				"annotations": map[string]any{lastApplied: `{"data":{"password":"aHVudGVyMg=="}}`, "owner": "team-a"},
			},
			"data":       map[string]any{"password": "aHVudGVyMg=="}, //nolint:gosec // G101: a test value that must not be exported
			"stringData": map[string]any{"token": "t"},
		}
	}
	base := map[string]any{"name": "web", "namespace": "team-a", "uid": "u1", "labels": map[string]any{"app": "web"}}
	cases := []struct {
		name   string
		obj    map[string]any
		fields [][]string
		want   map[string]any
	}{
		{"whole but managedFields", service(), nil, func() map[string]any {
			s := service()
			delete(s["metadata"].(map[string]any), "managedFields")
			return s
		}()},
		{"one field", service(), [][]string{{"spec", "selector"}}, map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": base,
			"spec": map[string]any{"selector": map[string]any{"app": "web"}},
		}},
		{"a field and its prefix", service(), [][]string{{"spec", "selector", "app"}, {"spec"}, {"metadata", "annotations"}}, map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": "web", "namespace": "team-a", "uid": "u1", "labels": map[string]any{"app": "web"}, "annotations": map[string]any{"note": "x"}},
			"spec":     service()["spec"],
		}},
		{"missing field", service(), [][]string{{"spec", "clusterIP"}, {"status", "x", "y"}}, map[string]any{
			"apiVersion": "v1", "kind": "Service", "metadata": base,
		}},
		{"secret whole", secret(), nil, map[string]any{
			"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
			"metadata": map[string]any{"name": "creds", "namespace": "team-a", "uid": "u2", "annotations": map[string]any{"owner": "team-a"}},
		}},
		{"secret data read", secret(), [][]string{{"data", "password"}, {"stringData"}, {"metadata", "annotations"}}, map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata": map[string]any{"name": "creds", "namespace": "team-a", "uid": "u2", "annotations": map[string]any{"owner": "team-a"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := deepCopy(t, c.obj)
			got := Trim(c.obj, c.fields)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("Trim =\n%v\nwant\n%v", got, c.want)
			}
			if !reflect.DeepEqual(c.obj, before) {
				t.Errorf("Trim changed its object:\n%v\nwas\n%v", c.obj, before)
			}
		})
	}
}

func deepCopy(t *testing.T, v map[string]any) map[string]any {
	t.Helper()
	return copyValue(v).(map[string]any)
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = copyValue(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = copyValue(x)
		}
		return s
	}
	return v
}

func TestIngressObject(t *testing.T) {
	prefix := networkingv1.PathTypePrefix
	class := "nginx"
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a", UID: "u1", ResourceVersion: "7",
			Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"a": "b"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			Rules: []networkingv1.IngressRule{{Host: "a.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/api", PathType: &prefix, Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}}}},
			}}}},
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"a.example.com"}, SecretName: "tls"}},
		},
	}
	got, err := IngressObject(ing)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
		"metadata": map[string]any{"name": "web", "namespace": "team-a", "uid": "u1", "resourceVersion": "7"},
		"spec": map[string]any{
			"rules": []any{map[string]any{"host": "a.example.com", "http": map[string]any{"paths": []any{map[string]any{"path": "/api"}}}}},
			"tls":   []any{map[string]any{"hosts": []any{"a.example.com"}}},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("IngressObject =\n%v\nwant\n%v", got, want)
	}
	if o, err := KeepHosts(ing); err != nil || o.(*networkingv1.Ingress).Spec.IngressClassName != nil {
		t.Errorf("KeepHosts kept more than hosts: %v %v", o, err)
	}
}
