package bundle

import (
	"reflect"
	"strings"
	"testing"
)

func TestUnsupported(t *testing.T) {
	b, err := LoadPath("testdata/unsupported")
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		file    string
		line    int
		kinds   []string
		message string
	}
	for i, w := range []want{
		{"testdata/unsupported/assign.yaml", 1, []string{"Assign"},
			"Assign: " + GatekeeperMutation.Why},
		{"testdata/unsupported/kyverno.yaml", 1, []string{"ClusterPolicy"},
			"ClusterPolicy: " + Kyverno.Why},
		{"testdata/unsupported/metadata-and-modifyset.yaml", 2, []string{"AssignMetadata", "ModifySet (2)"},
			"AssignMetadata, ModifySet (2): " + GatekeeperMutation.Why},
		{"testdata/unsupported/vap.yaml", 1, []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"},
			"ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding: " + ValidatingAdmissionPolicy.Why},
	} {
		got := b.Unsupported()
		if len(got) != 4 {
			t.Fatalf("Unsupported() = %d files, want 4 (one per file): %+v", len(got), got)
		}
		u := got[i]
		if u.File != w.file || u.Line != w.line || !reflect.DeepEqual(u.kindNames(), w.kinds) || u.Message() != w.message {
			t.Errorf("Unsupported()[%d] = %s:%d %q %q\nwant %s:%d %q %q", i, u.File, u.Line, u.kindNames(), u.Message(), w.file, w.line, w.kinds, w.message)
		}
	}
	// The ConstraintTemplate and its Constraint are still there to run.
	var kinds []string
	for _, o := range b.Objects {
		kinds = append(kinds, o.Kind())
	}
	for _, k := range []string{"ConstraintTemplate", "K8sRequiredOwner"} {
		if !strings.Contains(strings.Join(kinds, ","), k) {
			t.Errorf("bundle objects %v lack %s", kinds, k)
		}
	}
	// Laid over the built-in bundle (which holds none), as check and
	// serve load it, the same files are named.
	merged, err := LoadOverBuiltin("testdata/unsupported")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := merged.Unsupported(), b.Unsupported(); !reflect.DeepEqual(got, want) {
		t.Errorf("over the built-in bundle: %+v, want %+v", got, want)
	}
}

func TestUnsupportedKinds(t *testing.T) {
	doc := func(apiVersion, kind string) string {
		return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata:\n  name: x\n"
	}
	for _, tc := range []struct {
		name    string
		docs    []string
		kinds   []string // nil: no warning
		message string
	}{
		{"Assign", []string{doc("mutations.gatekeeper.sh/v1", "Assign")}, []string{"Assign"}, "Assign: " + GatekeeperMutation.Why},
		{"AssignImage, any version", []string{doc("mutations.gatekeeper.sh/v1alpha1", "AssignImage")}, []string{"AssignImage"}, "AssignImage: " + GatekeeperMutation.Why},
		{"ModifySet v1beta1", []string{doc("mutations.gatekeeper.sh/v1beta1", "ModifySet")}, []string{"ModifySet"}, "ModifySet: " + GatekeeperMutation.Why},
		{"ValidatingAdmissionPolicy v1beta1", []string{doc("admissionregistration.k8s.io/v1beta1", "ValidatingAdmissionPolicy")}, []string{"ValidatingAdmissionPolicy"}, "ValidatingAdmissionPolicy: " + ValidatingAdmissionPolicy.Why},
		{"MutatingAdmissionPolicy and binding", []string{doc("admissionregistration.k8s.io/v1alpha1", "MutatingAdmissionPolicy"), doc("admissionregistration.k8s.io/v1alpha1", "MutatingAdmissionPolicyBinding")},
			[]string{"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"}, "MutatingAdmissionPolicy, MutatingAdmissionPolicyBinding: " + MutatingAdmissionPolicy.Why},
		{"Kyverno Policy", []string{doc("kyverno.io/v1", "Policy")}, []string{"Policy"}, "Policy: " + Kyverno.Why},
		{"Kyverno PolicyException", []string{doc("kyverno.io/v2", "PolicyException")}, []string{"PolicyException"}, "PolicyException: " + Kyverno.Why},
		{"Kyverno CEL policies", []string{doc("policies.kyverno.io/v1alpha1", "ValidatingPolicy"), doc("policies.kyverno.io/v1alpha1", "ImageValidatingPolicy"), doc("policies.kyverno.io/v1alpha1", "MutatingPolicy"), doc("policies.kyverno.io/v1alpha1", "GeneratingPolicy"), doc("policies.kyverno.io/v1alpha1", "DeletingPolicy")},
			[]string{"ValidatingPolicy", "ImageValidatingPolicy", "MutatingPolicy", "GeneratingPolicy", "DeletingPolicy"}, "ValidatingPolicy, ImageValidatingPolicy, MutatingPolicy, GeneratingPolicy, DeletingPolicy: " + Kyverno.Why},
		{"families in one file, in order", []string{doc("kyverno.io/v1", "ClusterPolicy"), doc("mutations.gatekeeper.sh/v1", "Assign"), doc("kyverno.io/v1", "ClusterPolicy")},
			[]string{"ClusterPolicy (2)", "Assign"}, "ClusterPolicy (2): " + Kyverno.Why + "; Assign: " + GatekeeperMutation.Why},
		// What gatekeep runs, or what is not a policy, is not flagged.
		{"ConstraintTemplate", []string{doc("templates.gatekeeper.sh/v1", "ConstraintTemplate")}, nil, ""},
		{"ValidatingWebhookConfiguration", []string{doc("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")}, nil, ""},
		{"a Policy of another group", []string{doc("example.com/v1", "ClusterPolicy"), doc("v1", "Policy")}, nil, ""},
		{"a kind of the group that is not a policy", []string{doc("kyverno.io/v1", "UpdateRequest")}, nil, ""},
		{"kind case matters", []string{doc("mutations.gatekeeper.sh/v1", "assign")}, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := fromFiles("b", "policy", map[string][]byte{"policies.yaml": []byte(strings.Join(tc.docs, "---\n"))})
			if err != nil {
				t.Fatal(err)
			}
			got := b.Unsupported()
			if tc.kinds == nil {
				if len(got) != 0 {
					t.Errorf("Unsupported() = %+v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("Unsupported() = %+v, want one entry", got)
			}
			if got[0].File != "policy/policies.yaml" || got[0].Line != 1 || !reflect.DeepEqual(got[0].kindNames(), tc.kinds) || got[0].Message() != tc.message {
				t.Errorf("Unsupported() = %s:%d %q %q\nwant policy/policies.yaml:1 %q %q", got[0].File, got[0].Line, got[0].kindNames(), got[0].Message(), tc.kinds, tc.message)
			}
		})
	}
}
