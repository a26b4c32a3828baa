package webhook

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/gatekeep-dev/gatekeep/engine"
)

// FuzzAdmissionReview posts arbitrary bodies to the validating or the
// mutating endpoint, with the built-in bundle and no control plane (as
// newTestServer builds it). Whatever the body, the handler does not panic,
// answers a status the API server expects from a webhook, and a 200 is a
// well-formed AdmissionReview answer that echoes the request's uid.
func FuzzAdmissionReview(f *testing.F) {
	s := New(Options{Load: func() (*engine.Engine, error) { return loadEngine("") }, Log: logr.Discard(), Namespace: "gatekeep-system"})
	if err := s.reload(); err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Add(review(f, admissionv1.Create, privilegedPodJSON), false)
	f.Add(review(f, admissionv1.Update, privilegedPodJSON), true)
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","operation":"CREATE","object":`), false)
	f.Add(bytes.Replace(review(f, admissionv1.Create, "{}"), []byte(`"operation":"CREATE"`), []byte(`"operation":"HACK"`), 1), false)
	f.Fuzz(func(t *testing.T, body []byte, mutate bool) {
		path := "/validate"
		if mutate {
			path = "/mutate"
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		switch rec.Code {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
			return
		default:
			t.Fatalf("%s: status %d: %s", path, rec.Code, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: Content-Type %q", path, ct)
		}
		var out admissionv1.AdmissionReview
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s: answer is not an AdmissionReview: %v\n%s", path, err, rec.Body.String())
		}
		if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Request != nil || out.Response == nil {
			t.Fatalf("%s: malformed AdmissionReview answer: %s", path, rec.Body.String())
		}
		// The uid the request carried, read apart from the handler's decoder.
		var in struct {
			Request struct {
				UID types.UID `json:"uid"`
			} `json:"request"`
		}
		if err := json.Unmarshal(body, &in); err != nil {
			t.Fatalf("%s: answered 200 to a body that is not JSON: %v", path, err)
		}
		r := out.Response
		if in.Request.UID == "" || r.UID != in.Request.UID {
			t.Errorf("%s: answer uid %q, request uid %q", path, r.UID, in.Request.UID)
		}
		if !r.Allowed && (r.Result == nil || r.Result.Code == 0) {
			t.Errorf("%s: a refusal without a status: %s", path, rec.Body.String())
		}
		if r.Patch != nil {
			var ops []map[string]any
			if err := json.Unmarshal(r.Patch, &ops); err != nil || r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
				t.Errorf("%s: patch %s (%v), type %v", path, r.Patch, err, r.PatchType)
			}
		}
	})
}
