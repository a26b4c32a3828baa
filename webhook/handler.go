// Package webhook puts gatekeep's engine in front of the kube-apiserver: a
// validating and a mutating admission webhook (AdmissionReview v1) that
// decide with the same engine and bundle as gatekeep check.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// MaxBodyBytes bounds an admission request; the API server itself sends at
// most about 3 MiB of object, so anything larger is not from it.
const MaxBodyBytes = 8 << 20

// defaultTimeout applies when the API server does not say (it always does:
// ?timeout= on the webhook URL); maxTimeout is the longest it may ask for.
const (
	defaultTimeout = 10 * time.Second
	maxTimeout     = 30 * time.Second
)

// decider decides one admission request: validation or mutation.
type decider interface {
	decide(ctx context.Context, req *admissionRequest) admission.Response
}

// admissionReview is an AdmissionReview as the endpoint decodes it.
type admissionReview struct {
	APIVersion string            `json:"apiVersion"`
	Request    *admissionRequest `json:"request"`
}

// admissionRequest is an admission request whose objects are decoded in the same
// pass as the rest, as JSON values (numbers as json.Number), rather than
// kept as raw bytes to decode a second time. Its fields shadow the
// embedded request's, whose Object and OldObject stay empty.
type admissionRequest struct {
	admissionv1.AdmissionRequest
	Object    any `json:"object,omitempty"`
	OldObject any `json:"oldObject,omitempty"`
}

// endpoint serves AdmissionReviews over HTTP for a decider: it rejects what
// is not an AdmissionReview (400) or too large (413), honours the deadline
// the API server gives, and turns a panic into an error for that request
// alone.
type endpoint struct {
	name    string // validate or mutate
	decider decider
	metrics *metrics
	log     logr.Logger
	// budget bounds the bytes read and decoded at once (nil: unbounded).
	budget *decodeBudget
	// admitted is a test hook: called once the request holds its budget.
	admitted func(*http.Request)
}

func (e *endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if r.Method != http.MethodPost {
		http.Error(w, "admission reviews are POSTed", http.StatusMethodNotAllowed)
		return
	}
	timeout := defaultTimeout
	if t := r.URL.Query().Get("timeout"); t != "" {
		if d, err := time.ParseDuration(t); err == nil && d > 0 {
			timeout = min(d, maxTimeout)
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()

	// The body is read and decoded within the decode budget: its
	// Content-Length, or the most it may be when the length is unknown.
	limit := int64(MaxBodyBytes)
	if e.budget != nil {
		limit = min(limit, e.budget.size)
	}
	if r.ContentLength > limit {
		e.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", limit))
		return
	}
	if r.ContentLength >= 0 {
		limit = r.ContentLength
	}
	if e.budget != nil {
		if err := e.budget.acquire(ctx, limit); err != nil {
			e.fail(w, http.StatusServiceUnavailable, "too many admission requests being decoded: "+err.Error())
			return
		}
		defer e.budget.release(limit)
	}
	if e.admitted != nil {
		e.admitted(r)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		e.fail(w, http.StatusBadRequest, "read request body: "+err.Error())
		return
	}
	if int64(len(body)) > limit {
		e.fail(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body is larger than %d bytes", limit))
		return
	}
	rev, err := decodeReview(body)
	if err != nil {
		e.fail(w, http.StatusBadRequest, "not an AdmissionReview: "+err.Error())
		return
	}
	if rev.Request == nil || rev.Request.UID == "" {
		e.fail(w, http.StatusBadRequest, "not an AdmissionReview: no request, or a request without a uid")
		return
	}
	if rev.APIVersion != "" && rev.APIVersion != admissionv1.SchemeGroupVersion.String() {
		e.fail(w, http.StatusBadRequest, fmt.Sprintf("AdmissionReview %s is not supported: use admission.k8s.io/v1", rev.APIVersion))
		return
	}
	// An operation admission.k8s.io/v1 does not define is no request of
	// the API server's: an error, like any malformed review, for the
	// webhook's failurePolicy to decide; never passed unjudged.
	if op := string(rev.Request.Operation); operationLabel(op) == "other" {
		e.failOp(w, "other", http.StatusBadRequest, fmt.Sprintf("not an AdmissionReview: unknown operation %q", op))
		return
	}

	req := rev.Request
	resp := e.safeDecide(ctx, req)
	resp.UID = req.UID
	if err := resp.Complete(admission.Request{AdmissionRequest: req.AdmissionRequest}); err != nil {
		resp = admission.Errored(http.StatusInternalServerError, err)
		resp.UID = req.UID
	}
	out := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"},
		Response: &resp.AdmissionResponse,
	}
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(out); err != nil {
		e.log.Error(err, "write admission response")
	}
	e.metrics.observe(e.name, string(req.Operation), outcome(resp), time.Since(start))
}

// safeDecide runs the decider, turning a panic (a policy's bug) into an
// error response for this request only.
func (e *endpoint) safeDecide(ctx context.Context, req *admissionRequest) (resp admission.Response) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error(fmt.Errorf("panic: %v", p), "admission review panicked", "uid", req.UID, "kind", req.Kind.Kind)
			resp = admission.Errored(http.StatusInternalServerError, errors.New("gatekeep failed to evaluate the request; see its logs"))
		}
	}()
	resp = e.decider.decide(ctx, req)
	if err := ctx.Err(); err != nil && resp.Allowed {
		// The deadline passed while deciding: the API server has stopped
		// waiting, and an answer computed without all checks is no answer.
		return admission.Errored(http.StatusGatewayTimeout, fmt.Errorf("review did not finish in time: %w", err))
	}
	return resp
}

// decodeReview decodes an AdmissionReview, objects and all, in one pass.
func decodeReview(body []byte) (*admissionReview, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var rev admissionReview
	if err := dec.Decode(&rev); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the AdmissionReview")
	}
	return &rev, nil
}

func (e *endpoint) fail(w http.ResponseWriter, code int, msg string) {
	e.failOp(w, "", code, msg)
}

// failOp answers an error for a request whose operation was read (counted
// under it, bounded by operationLabel).
func (e *endpoint) failOp(w http.ResponseWriter, op string, code int, msg string) {
	outcome := "bad-request"
	if code >= 500 {
		outcome = "error"
	}
	e.metrics.observe(e.name, op, outcome, 0)
	http.Error(w, msg, code)
}

func outcome(r admission.Response) string {
	switch {
	case r.Result != nil && r.Result.Code >= 500:
		return "error"
	case !r.Allowed:
		return "denied"
	case len(r.Patches) > 0:
		return "patched"
	}
	return "allowed"
}

// joinMessages makes one status message of several findings' messages.
func joinMessages(msgs []string) string {
	return strings.Join(msgs, "; ")
}
