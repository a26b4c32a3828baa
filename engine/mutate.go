package engine

import (
	"context"
	"encoding/json"
	"fmt"

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

// Mutate returns the patches the bundle's mutations make to the object: the
// review-app labels, for now.
func (e *Engine) Mutate(ctx context.Context, req Request) (Mutation, error) {
	var m Mutation
	if err := ctx.Err(); err != nil || e.labeller == nil {
		return m, err
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
	m.Patches = patches
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
