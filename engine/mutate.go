package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/secrets"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"

	"github.com/gatekeep-dev/gatekeep/reviewapp"
)

// ReviewAppCheck is the ID under which review-app labelling reports a label
// it could not set; setting it off in gatekeep.yaml turns the labelling off.
const ReviewAppCheck = "review-app-labels"

// Patch is one JSON patch operation of a mutation.
type Patch = reviewapp.Patch

// Mutation is what admission changes in an object, and what it could not.
type Mutation struct {
	Patches  []Patch
	Findings []Finding
}

// Mutate returns the patches the bundle's mutations make to the object:
// inline sealed values decrypted, review-app labels.
func (e *Engine) Mutate(ctx context.Context, req Request) (Mutation, error) {
	var m Mutation
	if err := ctx.Err(); err != nil {
		return m, err
	}
	if refused := e.unseal(req.Object, &m); refused || e.labeller == nil {
		return m, nil
	}
	obj := req.Object
	ref := obj.Ref()
	if _, exempt := e.bundle.Config.Exempt(ref, ReviewAppCheck); exempt {
		return m, nil
	}
	var nsLabels map[string]string
	if req.Namespace != nil {
		nsLabels = map[string]string{}
		for k, v := range req.Namespace.Labels() {
			if s, ok := v.(string); ok {
				nsLabels[k] = s
			}
		}
	}
	patches, conflicts, err := e.labeller.Labels(obj, nsLabels)
	if err != nil {
		return m, err
	}
	m.Patches = append(m.Patches, patches...)
	for _, c := range conflicts {
		m.Findings = append(m.Findings, Finding{
			Check: ReviewAppCheck, Action: e.reviewAppAction, Message: c.Message,
			Object: ref, Path: c.Path, File: obj.Source.File, Line: obj.Line(c.Path),
		})
	}
	return m, nil
}

// newLabeller prepares review-app labelling unless the bundle turned it off.
func (e *Engine) newLabeller() error {
	action, set := e.bundle.Config.Checks[ReviewAppCheck]
	if !set {
		action = Warn
	}
	if action == "off" || len(e.bundle.Config.ReviewApps) == 0 {
		return nil
	}
	l, err := reviewapp.New(e.bundle.Config.ReviewApps, e.now)
	if err != nil {
		return err
	}
	e.labeller, e.reviewAppAction = l, action
	return nil
}

// Apply applies patches to an object as the API server would, for showing
// the admitted object offline (gatekeep mutate).
func Apply(data map[string]any, patches []Patch) (map[string]any, error) {
	if len(patches) == 0 {
		return data, nil
	}
	doc, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(patches)
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, err
	}
	out, err := p.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("apply patch: %w", err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// unseal decrypts a Secret's inline sealed values (gatekeep.dev/sealed:
// "true"), all or nothing: a value that does not decrypt refuses the
// object, and no patch is made. It reports whether it refused.
func (e *Engine) unseal(obj *manifest.Object, m *Mutation) bool {
	if !e.bundle.Config.SealedSecrets.UnsealInline() {
		return false
	}
	if v, _ := obj.Annotations()[secrets.SealedAnnotation].(string); v != "true" || obj.Kind() != "Secret" {
		return false
	}
	deny := func(msg string) bool {
		m.Findings = append(m.Findings, Finding{Check: checks.SealedSecretCheck, Action: Deny, Message: msg,
			Object: obj.Ref(), Path: "/data", File: obj.Source.File, Line: obj.Line("/data")})
		return true
	}
	if e.sealingKeys == nil || e.sealingKeys.Len() == 0 {
		return deny(fmt.Sprintf("Secret %q has sealed values but no sealing key is loaded (give --sealed-secrets-key, or check the sealed-secrets namespace)", obj.Name()))
	}
	u, err := secrets.UnsealInline(obj.Data, e.sealingKeys)
	if err != nil {
		return deny(err.Error())
	}
	if u == nil {
		return false
	}
	data := make(map[string]any, len(u.Data))
	for k, v := range u.Data {
		data[k] = v
	}
	ann := "/metadata/annotations/"
	m.Patches = append(m.Patches, Patch{Op: "add", Path: "/data", Value: data})
	if _, ok := obj.Data["stringData"]; ok {
		m.Patches = append(m.Patches, Patch{Op: "remove", Path: "/stringData"})
	}
	m.Patches = append(m.Patches,
		Patch{Op: "remove", Path: ann + manifest.Escape(secrets.SealedAnnotation)},
		Patch{Op: "add", Path: ann + manifest.Escape(secrets.UnsealedWithAnnotation), Value: u.Fingerprint},
	)
	return false
}
