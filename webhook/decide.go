package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Engines holds the engine in force; a bundle reload swaps it while
// requests are served.
type Engines struct{ p atomic.Pointer[engine.Engine] }

// Get returns the engine in force (nil before the first bundle loaded).
func (e *Engines) Get() *engine.Engine { return e.p.Load() }

// Set puts an engine in force.
func (e *Engines) Set(eng *engine.Engine) { e.p.Store(eng) }

// DigestAnnotation is the audit annotation naming the bundle that decided.
const DigestAnnotation = "bundle-digest"

// judge holds what validation and mutation share.
type judge struct {
	engines   *Engines
	inventory *Inventory
	namespace string // gatekeep's own: never judged, so it can always recover
	metrics   *metrics
}

// errNoBundle: no bundle has loaded yet, so nothing can be decided.
var errNoBundle = errors.New("no policy bundle loaded yet (see gatekeep's log)")

// requestError is the response to a request that cannot be judged: the
// server's fault (503) when it has no bundle, the request's (400) else.
func requestError(err error) admission.Response {
	if errors.Is(err, errNoBundle) {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	return admission.Errored(http.StatusBadRequest, err)
}

// request turns an admission request into the engine's, or says why it
// cannot be judged at all (nil, nil: pass it).
func (j *judge) request(req *admissionRequest) (*engine.Engine, *engine.Request, error) {
	eng := j.engines.Get()
	if eng == nil {
		return nil, nil, errNoBundle
	}
	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return eng, nil, nil
	}
	if req.Namespace != "" && (req.Namespace == j.namespace || eng.Bundle().Config.ExemptNamespace(req.Namespace)) {
		return eng, nil, nil
	}
	obj, err := manifest.FromJSONValue(req.Object)
	if err != nil {
		return eng, nil, fmt.Errorf("decode object: %w", err)
	}
	// The API server fills in the namespace from the request path.
	if obj.Namespace() == "" && req.Namespace != "" {
		meta, _ := obj.Data["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			obj.Data["metadata"] = meta
		}
		meta["namespace"] = req.Namespace
	}
	r := &engine.Request{Operation: string(req.Operation), Object: obj, DryRun: req.DryRun != nil && *req.DryRun}
	if req.Operation == admissionv1.Update && req.OldObject != nil {
		if r.OldObject, err = manifest.FromJSONValue(req.OldObject); err != nil {
			return eng, nil, fmt.Errorf("decode oldObject: %w", err)
		}
	}
	if eng.UsesAdmissionRequest() {
		// Gatekeeper's templates read the whole request as input.review.
		if r.Admission, err = admissionDoc(req.AdmissionRequest, r.Object, r.OldObject); err != nil {
			return eng, nil, err
		}
		r.UserInfo, _ = r.Admission["userInfo"].(map[string]any)
	} else if b, err := json.Marshal(req.UserInfo); err == nil {
		_ = json.Unmarshal(b, &r.UserInfo)
	}
	if j.inventory != nil {
		r.Namespace = j.inventory.Namespace(obj.Namespace())
	}
	return eng, r, nil
}

// admissionDoc is the request as JSON decodes it, with the objects already
// decoded put in rather than decoded a second time.
func admissionDoc(req admissionv1.AdmissionRequest, obj, old *manifest.Object) (map[string]any, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decode request: %w", err)
	}
	doc["object"], doc["oldObject"] = nil, nil
	if obj != nil {
		doc["object"] = obj.Data
	}
	if old != nil {
		doc["oldObject"] = old.Data
	}
	return doc, nil
}

func (j *judge) checks() *checks.Inventory {
	if j.inventory == nil {
		return nil
	}
	return j.inventory.Checks()
}

// validator turns the engine's findings into the admission verdict.
type validator struct{ judge }

func (v *validator) decide(ctx context.Context, req *admissionRequest) admission.Response {
	eng, r, err := v.request(req)
	if err != nil {
		return requestError(err)
	}
	digest := map[string]string{DigestAnnotation: eng.Bundle().Digest}
	if r == nil {
		return withAudit(admission.Allowed(""), digest)
	}
	findings, err := eng.Review(ctx, *r, v.checks())
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return v.verdict(findings, digest)
}

// verdict: deny → refused with every denying message; warn → warnings
// kubectl prints; dryrun → audit annotations only.
func (v *validator) verdict(findings []engine.Finding, audit map[string]string) admission.Response {
	var denials, warnings []string
	dry := 0
	for _, f := range findings {
		v.metrics.decision(f.Check, string(f.Action))
		line := fmt.Sprintf("[%s] %s", f.Check, f.Message)
		switch f.Action {
		case engine.Deny:
			denials = append(denials, line)
		case engine.Warn:
			warnings = append(warnings, line)
		default:
			dry++
			audit["dryrun-"+strconv.Itoa(dry)] = line
		}
	}
	var resp admission.Response
	if len(denials) > 0 {
		resp = admission.Denied(joinMessages(denials))
		resp.Result.Reason = metav1.StatusReasonForbidden
	} else {
		resp = admission.Allowed("")
	}
	return withAudit(resp.WithWarnings(warnings...), audit)
}

// mutator applies the bundle's mutations as a JSON patch.
type mutator struct{ judge }

func (m *mutator) decide(ctx context.Context, req *admissionRequest) admission.Response {
	eng, r, err := m.request(req)
	if err != nil {
		return requestError(err)
	}
	digest := map[string]string{DigestAnnotation: eng.Bundle().Digest}
	if r == nil {
		return withAudit(admission.Allowed(""), digest)
	}
	mut, err := eng.Mutate(ctx, *r)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	var denials, warnings []string
	for _, f := range mut.Findings {
		m.metrics.decision(f.Check, string(f.Action))
		line := fmt.Sprintf("[%s] %s", f.Check, f.Message)
		switch f.Action {
		case engine.Deny:
			denials = append(denials, line)
		case engine.Warn:
			warnings = append(warnings, line)
		}
	}
	if len(denials) > 0 {
		resp := admission.Denied(joinMessages(denials))
		return withAudit(resp.WithWarnings(warnings...), digest)
	}
	ops := make([]jsonpatch.JsonPatchOperation, len(mut.Patches))
	for i, p := range mut.Patches {
		ops[i] = jsonpatch.JsonPatchOperation{Operation: p.Op, Path: p.Path, Value: p.Value}
	}
	return withAudit(admission.Patched("", ops...).WithWarnings(warnings...), digest)
}

func withAudit(r admission.Response, annotations map[string]string) admission.Response {
	if r.AuditAnnotations == nil {
		r.AuditAnnotations = map[string]string{}
	}
	keys := make([]string, 0, len(annotations))
	for k := range annotations {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.AuditAnnotations[k] = annotations[k]
	}
	return r
}
