package scanner

import (
	"time"

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
