package report

import (
	"bytes"
	"io"
	"net/url"
	"path"
	"path/filepath"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/sarif"
)

// sarifFormat writes SARIF 2.1.0, for code scanning: one run, one rule per
// check that ran (and per check seen in a finding), one result per
// finding, and results under the rule input-error for the input errors.
type sarifFormat struct {
	checks  []engine.CheckInfo
	version string
}

const (
	sarifInputError  = "input-error"
	sarifToolURI     = "https://github.com/gatekeep-dev/gatekeep"
	sarifSourceRoot  = "%SRCROOT%"
	sarifInputErrorS = "input that could not be read: YAML or JSON that does not parse, or a kustomization that does not build"
)

// sarifLevel maps an action to a SARIF level.
func sarifLevel(a engine.Action) string {
	switch a {
	case engine.Deny:
		return "error"
	case engine.Warn:
		return "warning"
	}
	return "note"
}

func (s *sarifFormat) Write(w io.Writer, r *engine.Result) error {
	driver := sarif.Driver{Name: "gatekeep", InformationURI: sarifToolURI, Version: s.version, Rules: []sarif.Rule{}}
	index := map[string]int{}
	addRule := func(id, summary, level string) *int {
		i, ok := index[id]
		if !ok {
			if summary == "" {
				summary = id
			}
			i = len(driver.Rules)
			index[id] = i
			driver.Rules = append(driver.Rules, sarif.Rule{ID: id, ShortDescription: sarif.Message{Text: summary}, DefaultConfiguration: &sarif.Configuration{Level: level}})
		}
		return &i
	}
	for _, c := range s.checks {
		addRule(c.ID, c.Summary, sarifLevel(c.Action))
	}

	results := []sarif.Result{}
	for _, f := range r.Findings() {
		results = append(results, sarif.Result{
			RuleID:    f.Check,
			RuleIndex: addRule(f.Check, "", sarifLevel(f.Action)),
			Level:     sarifLevel(f.Action),
			Message:   sarif.Message{Text: f.Object.String() + ": " + f.Message},
			Locations: sarifLocations(f.File, f.Line),
		})
	}
	for _, e := range r.Errors {
		results = append(results, sarif.Result{
			RuleID:    sarifInputError,
			RuleIndex: addRule(sarifInputError, sarifInputErrorS, "error"),
			Level:     "error",
			Message:   sarif.Message{Text: e.Message},
			Locations: sarifLocations(e.File, e.Line),
		})
	}

	log := sarif.NewLog(sarif.Run{Tool: sarif.Tool{Driver: driver}, Results: results, Properties: map[string]string{
		"bundleName": r.BundleName, "bundleDigest": r.BundleDigest, "kubernetesVersion": r.KubernetesVersion,
	}})
	var b bytes.Buffer
	if err := sarif.Write(&b, log); err != nil {
		return err
	}
	return writeAll(w, b.Bytes())
}

// sarifLocations locates a result in a file (none when there is no file);
// the region starts at line 1 at least, as SARIF requires.
func sarifLocations(file string, line int) []sarif.Location {
	if file == "" {
		return nil
	}
	return []sarif.Location{{PhysicalLocation: sarif.PhysicalLocation{
		ArtifactLocation: artifactLocation(file),
		Region:           &sarif.Region{StartLine: max(line, 1)},
	}}}
}

// artifactLocation turns a file path into a URI: relative to %SRCROOT% for
// relative paths (which is how gatekeep reports files), file: for absolute.
func artifactLocation(file string) sarif.ArtifactLocation {
	p := filepath.ToSlash(file)
	if filepath.IsAbs(file) || path.IsAbs(p) {
		if p[0] != '/' {
			p = "/" + p // C:/x.yaml
		}
		return sarif.ArtifactLocation{URI: (&url.URL{Scheme: "file", Path: p}).String()}
	}
	return sarif.ArtifactLocation{URI: sarif.RelativeURI(p), URIBaseID: sarifSourceRoot}
}
