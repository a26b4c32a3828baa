package scanner

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatekeep-dev/gatekeep/internal/sarif"
	"github.com/gatekeep-dev/gatekeep/scanner/analyzer"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

// Report is what gatekeep scan -o json prints: a contract.
type Report struct {
	DB     DBInfo         `json:"db"`
	Images []*ImageReport `json:"images"`
}

// DBInfo names the vulnerability database used and its age.
type DBInfo struct {
	Path      string    `json:"path"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// The verdicts of an image.
const (
	VerdictPass    = "pass"
	VerdictFail    = "fail"
	VerdictError   = "error"   // the image could not be read
	VerdictSkipped = "skipped" // include/exclude leave it out
)

// ImageReport is one image's scan and, once judged, its verdict.
type ImageReport struct {
	// Image is the reference as given.
	Image string `json:"image"`
	// Digest is what the reference resolved to (an index's digest for a
	// multi-platform image: what a Pod pulls).
	Digest   string `json:"digest"`
	Platform string `json:"platform,omitempty"`
	// OS is null when the image has none the analyzers know.
	OS              *OS             `json:"os"`
	Packages        int             `json:"packages"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	Verdict         string          `json:"verdict"`
	Reasons         []string        `json:"reasons"`
	// Warnings say what was not checked (an OS without advisories, an rpm
	// database format not read) and allowances that expired.
	Warnings []string `json:"warnings,omitempty"`
	// Error says why the image could not be read (verdict "error").
	Error string `json:"error,omitempty"`

	gen uint64 // vulnerability database generation that matched it
}

// OS is the image's distribution.
type OS struct {
	Family  string `json:"family"`
	Version string `json:"version"`
}

// Vulnerability is one finding in one package.
type Vulnerability struct {
	ID               string `json:"id"`
	Package          string `json:"package"`
	SourcePackage    string `json:"sourcePackage"`
	InstalledVersion string `json:"installedVersion"`
	FixedVersion     string `json:"fixedVersion"`
	Severity         string `json:"severity"`
	Status           string `json:"status"`
	Allowed          bool   `json:"allowed"`
	// Type is the package's kind: deb, apk, rpm, gobinary.
	Type string `json:"type,omitempty"`
	// Target is the file a Go module was found in.
	Target string `json:"target,omitempty"`
	Title  string `json:"title,omitempty"`
}

// newImageReport puts together the scan of an image and its match.
func newImageReport(image, digest, platform string, c *analyzer.Contents, m *vulndb.Result) *ImageReport {
	r := &ImageReport{Image: image, Digest: digest, Platform: platform, Packages: len(c.Packages),
		Vulnerabilities: []Vulnerability{}, Reasons: []string{}, gen: m.Generation}
	if c.OS != nil {
		r.OS = &OS{Family: c.OS.Family, Version: c.OS.Version}
	}
	r.Warnings = append(append(r.Warnings, c.Warnings...), m.Warnings...)
	for _, f := range m.Findings {
		r.Vulnerabilities = append(r.Vulnerabilities, Vulnerability{
			ID: f.ID, Package: f.Package, SourcePackage: f.SourcePackage, InstalledVersion: f.Installed,
			FixedVersion: f.Fixed, Severity: f.Severity, Status: f.Status, Type: f.Type, Target: f.Path, Title: f.Title,
		})
	}
	return r
}

// Judged returns a copy of the report with the verdict applied: verdict,
// reasons, allowed flags, and the verdict's warnings.
func (r *ImageReport) Judged(v Verdict) *ImageReport {
	out := *r
	out.Vulnerabilities = append([]Vulnerability(nil), r.Vulnerabilities...)
	for i := range out.Vulnerabilities {
		out.Vulnerabilities[i].Allowed = i < len(v.Allowed) && v.Allowed[i]
	}
	out.Verdict = VerdictPass
	if !v.Pass {
		out.Verdict = VerdictFail
	}
	out.Reasons = append([]string{}, v.Reasons...)
	out.Warnings = append(append([]string(nil), r.Warnings...), v.Warnings...)
	return &out
}

// ExitCode is gatekeep scan's: 2 when an image could not be read, else 1
// when one failed, else 0.
func (r *Report) ExitCode() int {
	code := 0
	for _, img := range r.Images {
		switch img.Verdict {
		case VerdictError:
			return 2
		case VerdictFail:
			code = 1
		}
	}
	return code
}

// The output formats of WriteReport.
const (
	FormatTable = "table"
	FormatJSON  = "json"
	FormatSARIF = "sarif"
)

// WriteReport writes the report as a text table, json (the contract) or
// SARIF 2.1.0.
func WriteReport(w io.Writer, format string, r *Report) error {
	switch format {
	case "", FormatTable, "text":
		return writeTable(w, r)
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	case FormatSARIF:
		return writeSARIF(w, r)
	}
	return fmt.Errorf("unknown format %q: want table, json or sarif", format)
}

func writeTable(w io.Writer, r *Report) error {
	if !r.DB.UpdatedAt.IsZero() {
		fmt.Fprintf(w, "vulnerability database %s, updated %s\n", r.DB.Path, r.DB.UpdatedAt.UTC().Format(time.RFC3339))
	}
	for _, img := range r.Images {
		fmt.Fprintln(w)
		head := img.Image
		if img.Digest != "" {
			head += " (" + img.Digest + ")"
		}
		var about []string
		if img.OS != nil {
			about = append(about, img.OS.Family+" "+img.OS.Version)
		}
		if img.Error == "" && img.Verdict != VerdictSkipped {
			about = append(about, fmt.Sprintf("%d packages", img.Packages), fmt.Sprintf("%d vulnerabilities", len(img.Vulnerabilities)))
		}
		if len(about) > 0 {
			head += ": " + strings.Join(about, ", ")
		}
		fmt.Fprintln(w, head)
		verdict := strings.ToUpper(img.Verdict)
		if len(img.Reasons) > 0 {
			verdict += ": " + strings.Join(img.Reasons, "; ")
		}
		if img.Error != "" {
			verdict += ": " + img.Error
		}
		fmt.Fprintln(w, verdict)
		for _, warn := range img.Warnings {
			fmt.Fprintln(w, "warning: "+warn)
		}
		if len(img.Vulnerabilities) == 0 {
			continue
		}
		vs := append([]Vulnerability(nil), img.Vulnerabilities...)
		sortWorst(vs)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSEVERITY\tPACKAGE\tINSTALLED\tFIXED\tSTATUS\t")
		for _, v := range vs {
			pkg := v.Package
			if v.Target != "" {
				pkg += " (" + v.Target + ")"
			}
			status := v.Status
			if v.Allowed {
				status += ", allowed"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", v.ID, v.Severity, pkg, v.InstalledVersion, v.FixedVersion, status)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}

var securitySeverity = map[string]string{"CRITICAL": "9.5", "HIGH": "8.0", "MEDIUM": "5.5", "LOW": "2.0", "UNKNOWN": "0.0"}

func writeSARIF(w io.Writer, r *Report) error {
	run := sarif.Run{Tool: sarif.Tool{Driver: sarif.Driver{Name: "gatekeep"}}, Results: []sarif.Result{}}
	rules := map[string]sarif.Rule{}
	for _, img := range r.Images {
		for _, v := range img.Vulnerabilities {
			if _, ok := rules[v.ID]; !ok {
				desc := v.Title
				if desc == "" {
					desc = v.ID
				}
				rules[v.ID] = sarif.Rule{ID: v.ID, ShortDescription: sarif.Message{Text: desc}, HelpURI: helpURI(v.ID),
					Properties: map[string]any{"security-severity": securitySeverity[v.Severity], "tags": []string{"vulnerability", "security", v.Severity}}}
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

func helpURI(id string) string {
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
