package report

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// jsonFormat is for scripts. Its shape is a public contract: add fields,
// never rename or remove them.
type jsonFormat struct{}

type jsonReport struct {
	Bundle            jsonBundle       `json:"bundle"`
	KubernetesVersion string           `json:"kubernetesVersion"`
	Summary           engine.Summary   `json:"summary"`
	Findings          []jsonFinding    `json:"findings"`
	Errors            []manifest.Error `json:"errors"`
}

type jsonBundle struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
}

type jsonFinding struct {
	Check   string        `json:"check"`
	Action  engine.Action `json:"action"`
	Message string        `json:"message"`
	Object  manifest.Ref  `json:"object"`
	Path    string        `json:"path"`
	File    string        `json:"file"`
	Line    int           `json:"line"`
}

func (jsonFormat) Write(w io.Writer, r *engine.Result) error {
	out := jsonReport{
		Bundle:            jsonBundle{Name: r.BundleName, Digest: r.BundleDigest},
		KubernetesVersion: r.KubernetesVersion,
		Summary:           r.Summary(),
		Findings:          []jsonFinding{},
		Errors:            append([]manifest.Error{}, r.Errors...),
	}
	for _, f := range r.Findings() {
		out.Findings = append(out.Findings, jsonFinding{
			Check: f.Check, Action: f.Action, Message: f.Message, Object: f.Object,
			Path: f.Path, File: f.File, Line: f.Line,
		})
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	return writeAll(w, b.Bytes())
}
