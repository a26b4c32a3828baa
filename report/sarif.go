package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/internal/gitrepo"
	"github.com/gatekeep-dev/gatekeep/internal/sarif"
	"github.com/gatekeep-dev/gatekeep/scanner"
)

// sarifFormat writes SARIF 2.1.0, for code scanning: one run, one rule per
// check that ran (and per check seen in a finding), one result per
// finding, and results under the rule input-error for the input errors.
// Files are named relative to %SRCROOT%, the root of the git checkout
// (see sarifPaths).
type sarifFormat struct {
	checks  []engine.CheckInfo
	version string
	// dirs, if set, stand in for the working directory and the checkout
	// found from it (tests); otherwise they are found at Write.
	dirs *sarifPaths
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
	paths, err := s.paths()
	if err != nil {
		return err
	}
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
			Message:   sarif.Message{Text: subject(f.Object) + f.Message},
			Locations: paths.locations(f.File, f.Line),
		})
	}
	for _, e := range r.Errors {
		results = append(results, sarif.Result{
			RuleID:    sarifInputError,
			RuleIndex: addRule(sarifInputError, sarifInputErrorS, "error"),
			Level:     "error",
			Message:   sarif.Message{Text: e.Message},
			Locations: paths.locations(e.File, e.Line),
		})
	}

	run := sarifRun{
		Run: sarif.Run{Tool: sarif.Tool{Driver: driver}, Results: results, Properties: map[string]string{
			"bundleName": r.BundleName, "bundleDigest": r.BundleDigest, "kubernetesVersion": r.KubernetesVersion,
		}},
		OriginalURIBaseIDs: map[string]sarifBase{sarifSourceRoot: paths.base()},
	}
	var b bytes.Buffer
	if err := writeSARIF(&b, sarifLog{Schema: sarif.Schema, Version: sarif.Version, Runs: []sarifRun{run}}); err != nil {
		return err
	}
	return writeAll(w, b.Bytes())
}

// sarifLog and sarifRun are sarif.Log and sarif.Run with the run's
// originalUriBaseIds, which say what %SRCROOT% stands for; the image scan
// report, the other user of package sarif, names no files.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	sarif.Run
	OriginalURIBaseIDs map[string]sarifBase `json:"originalUriBaseIds,omitempty"`
}

// sarifBase is the absolute URI a uriBaseId stands for.
type sarifBase struct {
	URI         string        `json:"uri"`
	Description sarif.Message `json:"description"`
}

// writeSARIF writes the log as sarif.Write does.
func writeSARIF(w io.Writer, l sarifLog) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}

// sarifPaths names files for code scanning, which resolves %SRCROOT% to
// the root of the repository: gatekeep names files relative to the working
// directory, which may be below that root ("cd apps && gatekeep check .
// ../base" reads "../base/x.yaml"), and such a name would point outside it.
type sarifPaths struct {
	// wd is the working directory, which file names are relative to;
	// root is %SRCROOT%: the checkout holding wd, or wd outside one.
	wd, root   string
	inCheckout bool
}

// paths finds the working directory and the checkout holding it.
func (s *sarifFormat) paths() (sarifPaths, error) {
	if s.dirs != nil {
		return *s.dirs, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return sarifPaths{}, fmt.Errorf("sarif: naming files relative to the repository: %w", err)
	}
	return newSARIFPaths(wd), nil
}

func newSARIFPaths(wd string) sarifPaths {
	if root := gitrepo.Root(wd); root != "" {
		return sarifPaths{wd: wd, root: root, inCheckout: true}
	}
	return sarifPaths{wd: wd, root: wd}
}

// base declares what %SRCROOT% stands for.
func (p sarifPaths) base() sarifBase {
	what := "the root of the git checkout"
	if !p.inCheckout {
		what = "the working directory (not in a git checkout)"
	}
	uri := fileURI(p.root)
	if !strings.HasSuffix(uri, "/") {
		uri += "/" // a base URI names a directory
	}
	return sarifBase{URI: uri, Description: sarif.Message{Text: what}}
}

// locations locates a result in a file (none when there is no file); the
// region starts at line 1 at least, as SARIF requires.
func (p sarifPaths) locations(file string, line int) []sarif.Location {
	if file == "" {
		return nil
	}
	return []sarif.Location{{PhysicalLocation: sarif.PhysicalLocation{
		ArtifactLocation: p.artifact(file),
		Region:           &sarif.Region{StartLine: max(line, 1)},
	}}}
}

// artifact turns a file name into a URI relative to %SRCROOT%, or, for a
// file outside it, an absolute file: URI: never "../", which would climb
// out of the repository code scanning knows.
func (p sarifPaths) artifact(file string) sarif.ArtifactLocation {
	abs := file
	if !filepath.IsAbs(file) {
		abs = filepath.Join(p.wd, file)
	}
	if rel, err := filepath.Rel(p.root, abs); err == nil && filepath.IsLocal(rel) {
		return sarif.ArtifactLocation{URI: sarif.RelativeURI(filepath.ToSlash(rel)), URIBaseID: sarifSourceRoot}
	}
	return sarif.ArtifactLocation{URI: fileURI(abs)}
}

// fileURI is the file: URI of an absolute path.
func fileURI(abs string) string {
	p := filepath.ToSlash(abs)
	if !path.IsAbs(p) {
		p = "/" + p // C:/x.yaml
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

// sarifSecuritySeverity is the CVSS-like score code scanning ranks
// vulnerabilities by.
var sarifSecuritySeverity = map[string]string{"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}

// WriteScan writes an image scan report as SARIF 2.1.0: one rule per
// vulnerability ID, one result per vulnerability of each image (allowed
// ones suppressed), located at the image (and the file of a Go module).
func (s *sarifFormat) WriteScan(w io.Writer, r *scanner.Report) error {
	run := sarif.Run{Tool: sarif.Tool{Driver: sarif.Driver{Name: "gatekeep"}}, Results: []sarif.Result{}}
	rules := map[string]sarif.Rule{}
	for _, img := range r.Images {
		for _, v := range img.Vulnerabilities {
			if _, ok := rules[v.ID]; !ok {
				desc := v.Title
				if desc == "" {
					desc = v.ID
				}
				rules[v.ID] = sarif.Rule{ID: v.ID, ShortDescription: sarif.Message{Text: desc}, HelpURI: vulnerabilityURI(v.ID),
					Properties: map[string]any{"security-severity": sarifSecuritySeverity[v.Severity], "tags": []string{"vulnerability", "security", v.Severity}}}
			}
			level := "note"
			switch v.Severity {
			case "CRITICAL", "HIGH":
				level = "error"
			case "MEDIUM":
				level = "warning"
			}
			fixed := "no fix available"
			if v.FixedVersion != "" {
				fixed = "fixed in " + v.FixedVersion
			}
			uri := img.Image
			if v.Target != "" {
				uri = img.Image + "/" + v.Target
			}
			res := sarif.Result{RuleID: v.ID, Level: level,
				Message:   sarif.Message{Text: fmt.Sprintf("%s: %s %s %s (%s, %s)", img.Image, v.Package, v.InstalledVersion, v.ID, v.Severity, fixed)},
				Locations: []sarif.Location{{PhysicalLocation: sarif.PhysicalLocation{ArtifactLocation: sarif.ArtifactLocation{URI: sarif.RelativeURI(uri)}}}}}
			if v.Allowed {
				res.Suppressions = []sarif.Suppression{{Kind: "external", Justification: "allowed by the images policy"}}
			}
			run.Results = append(run.Results, res)
		}
	}
	ids := make([]string, 0, len(rules))
	for id := range rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	run.Tool.Driver.Rules = []sarif.Rule{}
	for _, id := range ids {
		run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, rules[id])
	}
	return sarif.Write(w, sarif.NewLog(run))
}

// vulnerabilityURI is where a vulnerability ID is described.
func vulnerabilityURI(id string) string {
	switch {
	case strings.HasPrefix(id, "CVE-"):
		return "https://nvd.nist.gov/vuln/detail/" + id
	case strings.HasPrefix(id, "GHSA-"):
		return "https://github.com/advisories/" + id
	case strings.HasPrefix(id, "GO-"):
		return "https://pkg.go.dev/vuln/" + id
	}
	return ""
}
