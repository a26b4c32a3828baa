package report

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"path"
	"path/filepath"

	"github.com/gatekeep-dev/gatekeep/engine"
)

// sarif writes SARIF 2.1.0, for code scanning: one run, one rule per check
// that ran (and per check seen in a finding), one result per finding, and
// results under the rule input-error for the input errors.
type sarif struct {
	checks  []engine.CheckInfo
	version string
}

const (
	sarifSchema      = "https://json.schemastore.org/sarif-2.1.0.json"
	sarifInputError  = "input-error"
	sarifToolURI     = "https://github.com/gatekeep-dev/gatekeep"
	sarifSourceRoot  = "%SRCROOT%"
	sarifInputErrorS = "input that could not be read: YAML or JSON that does not parse, or a kustomization that does not build"
)

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
	// Properties name the bundle and target version of the verdict.
	Properties map[string]string `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string             `json:"id"`
	ShortDescription     sarifMessage       `json:"shortDescription"`
	DefaultConfiguration sarifConfiguration `json:"defaultConfiguration"`
}

type sarifConfiguration struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysicalLocation `json:"physicalLocation"`
}

type sarifPhysicalLocation struct {
	ArtifactLocation sarifArtifactLocation `json:"artifactLocation"`
	Region           sarifRegion           `json:"region"`
}

type sarifArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
}

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

func (s *sarif) Write(w io.Writer, r *engine.Result) error {
	driver := sarifDriver{Name: "gatekeep", InformationURI: sarifToolURI, Version: s.version, Rules: []sarifRule{}}
	index := map[string]int{}
	addRule := func(id, summary, level string) int {
		if i, ok := index[id]; ok {
			return i
		}
		if summary == "" {
			summary = id
		}
		index[id] = len(driver.Rules)
		driver.Rules = append(driver.Rules, sarifRule{ID: id, ShortDescription: sarifMessage{summary}, DefaultConfiguration: sarifConfiguration{level}})
		return index[id]
	}
	for _, c := range s.checks {
		addRule(c.ID, c.Summary, sarifLevel(c.Action))
	}

	results := []sarifResult{}
	for _, f := range r.Findings() {
		results = append(results, sarifResult{
			RuleID:    f.Check,
			RuleIndex: addRule(f.Check, "", sarifLevel(f.Action)),
			Level:     sarifLevel(f.Action),
			Message:   sarifMessage{f.Object.String() + ": " + f.Message},
			Locations: sarifLocations(f.File, f.Line),
		})
	}
	for _, e := range r.Errors {
		results = append(results, sarifResult{
			RuleID:    sarifInputError,
			RuleIndex: addRule(sarifInputError, sarifInputErrorS, "error"),
			Level:     "error",
			Message:   sarifMessage{e.Message},
			Locations: sarifLocations(e.File, e.Line),
		})
	}

	log := sarifLog{Schema: sarifSchema, Version: "2.1.0", Runs: []sarifRun{{Tool: sarifTool{driver}, Results: results, Properties: map[string]string{
		"bundleName": r.BundleName, "bundleDigest": r.BundleDigest, "kubernetesVersion": r.KubernetesVersion,
	}}}}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(log); err != nil {
		return err
	}
	return writeAll(w, b.Bytes())
}

// sarifLocations locates a result in a file (none when there is no file);
// the region starts at line 1 at least, as SARIF requires.
func sarifLocations(file string, line int) []sarifLocation {
	if file == "" {
		return nil
	}
	return []sarifLocation{{PhysicalLocation: sarifPhysicalLocation{
		ArtifactLocation: artifactLocation(file),
		Region:           sarifRegion{StartLine: max(line, 1)},
	}}}
}

// artifactLocation turns a file path into a URI: relative to %SRCROOT% for
// relative paths (which is how gatekeep reports files), file: for absolute.
func artifactLocation(file string) sarifArtifactLocation {
	p := filepath.ToSlash(file)
	if filepath.IsAbs(file) || path.IsAbs(p) {
		if p[0] != '/' {
			p = "/" + p // C:/x.yaml
		}
		return sarifArtifactLocation{URI: (&url.URL{Scheme: "file", Path: p}).String()}
	}
	return sarifArtifactLocation{URI: (&url.URL{Path: p}).String(), URIBaseID: sarifSourceRoot}
}
