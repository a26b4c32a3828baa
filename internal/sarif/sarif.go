// Package sarif is the part of the SARIF 2.1.0 object model gatekeep
// writes (code scanning reads it): one log of runs, a tool with its rules,
// results with their locations. The check report and the image scan report
// both build it.
package sarif

import (
	"encoding/json"
	"io"
	"net/url"
)

// Schema and Version of the logs written.
const (
	Schema  = "https://json.schemastore.org/sarif-2.1.0.json"
	Version = "2.1.0"
)

// Log is a SARIF log.
type Log struct {
	Schema  string `json:"$schema"`
	Version string `json:"version"`
	Runs    []Run  `json:"runs"`
}

// NewLog is a log of the given runs.
func NewLog(runs ...Run) Log { return Log{Schema: Schema, Version: Version, Runs: runs} }

// Run is one run of a tool.
type Run struct {
	Tool    Tool     `json:"tool"`
	Results []Result `json:"results"`
	// Properties are the run's own facts (bundle, target version).
	Properties map[string]string `json:"properties,omitempty"`
}

// Tool is the tool of a run.
type Tool struct {
	Driver Driver `json:"driver"`
}

// Driver is the tool's component that made the results, with its rules.
type Driver struct {
	Name           string `json:"name"`
	InformationURI string `json:"informationUri,omitempty"`
	Version        string `json:"version,omitempty"`
	Rules          []Rule `json:"rules"`
}

// Rule is what a result is about: a check, an advisory.
type Rule struct {
	ID                   string         `json:"id"`
	ShortDescription     Message        `json:"shortDescription"`
	DefaultConfiguration *Configuration `json:"defaultConfiguration,omitempty"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Properties           map[string]any `json:"properties,omitempty"`
}

// Configuration is a rule's default level.
type Configuration struct {
	Level string `json:"level"`
}

// Message is a text.
type Message struct {
	Text string `json:"text"`
}

// Result is one finding.
type Result struct {
	RuleID string `json:"ruleId"`
	// RuleIndex points into the driver's rules, when set.
	RuleIndex    *int          `json:"ruleIndex,omitempty"`
	Level        string        `json:"level"`
	Message      Message       `json:"message"`
	Locations    []Location    `json:"locations,omitempty"`
	Suppressions []Suppression `json:"suppressions,omitempty"`
}

// Suppression marks a result accepted on purpose.
type Suppression struct {
	Justification string `json:"justification"`
	Kind          string `json:"kind"`
}

// Location is where a result is.
type Location struct {
	PhysicalLocation PhysicalLocation `json:"physicalLocation"`
}

// PhysicalLocation is an artifact and, when known, a region of it.
type PhysicalLocation struct {
	ArtifactLocation ArtifactLocation `json:"artifactLocation"`
	Region           *Region          `json:"region,omitempty"`
}

// ArtifactLocation is a file or an image, by URI.
type ArtifactLocation struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

// Region is a place in an artifact.
type Region struct {
	StartLine int `json:"startLine"`
}

// RelativeURI makes a relative URI reference of a slash-separated path,
// escaped as a URI needs ("a b" is "a%20b", and "host:5000/app" is
// "./host:5000/app", since a colon in the first segment would read as a
// scheme).
func RelativeURI(p string) string { return (&url.URL{Path: p}).String() }

// Write writes the log as indented JSON, HTML characters unescaped.
func Write(w io.Writer, l Log) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}
