// Package imagepolicy is the images: section of gatekeep.yaml, the
// image-vulnerability policy: its settings, their defaults and their
// validation. It imports nothing heavy, so reading a bundle's settings does
// not link the scanner (trivy-db, bbolt, go-containerregistry); the
// scanner applies the policy.
package imagepolicy

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Action is what the gate does with an image it cannot judge yet, or with
// one it cannot read: deny, warn, or allow.
type Action string

// The actions.
const (
	Deny  Action = "deny"
	Warn  Action = "warn"
	Allow Action = "allow"
)

// Defaults of the images: section.
const (
	DefaultFailOn     = "HIGH"
	DefaultScanBudget = 2 * time.Second
	DefaultOnPending  = Deny
	DefaultOnError    = Deny
)

// Policy is the images: section of gatekeep.yaml.
type Policy struct {
	// FailOn is the least severity that fails an image: UNKNOWN, LOW,
	// MEDIUM, HIGH (the default) or CRITICAL.
	FailOn string `yaml:"failOn,omitempty"`
	// FixableOnly counts only vulnerabilities with a fixed version.
	FixableOnly bool `yaml:"fixableOnly,omitempty"`
	// MaxCount is how many counted vulnerabilities an image may have and
	// still pass (0 when unset).
	MaxCount *int `yaml:"maxCount,omitempty"`
	// Allow lists accepted vulnerabilities, each until its expiry.
	Allow []Allowance `yaml:"allow,omitempty"`
	// Include limits the gate to images matching one of these patterns
	// (every image when empty); Exclude exempts images. "*" matches any
	// run of characters, "/" and ":" included, "?" one; a pattern matches
	// the image as written or in full (docker.io/library/nginx:1.25), with
	// or without its tag or digest.
	Include []string `yaml:"include,omitempty"`
	Exclude []string `yaml:"exclude,omitempty"`
	// ScanBudget is how long an admission request waits for the scan of an
	// image not seen before (2s by default).
	ScanBudget time.Duration `yaml:"scanBudget,omitempty"`
	// OnPending decides an image whose scan outlasts the budget (the scan
	// goes on, so a retry gets the real verdict); OnError one that cannot
	// be scanned (registry or database failure). Both default to deny.
	OnPending Action `yaml:"onPending,omitempty"`
	OnError   Action `yaml:"onError,omitempty"`
	// Platform is the one picked out of multi-platform images: the
	// cluster's nodes' (linux/amd64 by default).
	Platform string `yaml:"platform,omitempty"`
	// Namespaces override the above per namespace (a name or a glob such
	// as team-*; an exact name wins, then the longest matching glob).
	Namespaces map[string]Override `yaml:"namespaces,omitempty"`
}

// Override is a namespace's departure from the policy: the fields it sets
// replace the policy's, except Allow and Exclude, which add to it.
type Override struct {
	FailOn      string         `yaml:"failOn,omitempty"`
	FixableOnly *bool          `yaml:"fixableOnly,omitempty"`
	MaxCount    *int           `yaml:"maxCount,omitempty"`
	Allow       []Allowance    `yaml:"allow,omitempty"`
	Include     []string       `yaml:"include,omitempty"`
	Exclude     []string       `yaml:"exclude,omitempty"`
	ScanBudget  *time.Duration `yaml:"scanBudget,omitempty"`
	OnPending   Action         `yaml:"onPending,omitempty"`
	OnError     Action         `yaml:"onError,omitempty"`
}

// Allowance accepts one vulnerability (by ID) until it expires.
type Allowance struct {
	ID string `yaml:"id"`
	// Expires is a date (2025-06-30, the allowance ends as that day
	// begins, UTC) or an RFC 3339 time.
	Expires Date   `yaml:"expires"`
	Reason  string `yaml:"reason"`
}

// Date is a point in time written as a date or an RFC 3339 time.
type Date struct{ time.Time }

// ParseDate reads 2006-01-02 or RFC 3339.
func ParseDate(s string) (Date, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return Date{t}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return Date{}, fmt.Errorf("%q is not a date (2006-01-02) or an RFC 3339 time", s)
	}
	return Date{t}, nil
}

// UnmarshalYAML reads the date from its text.
func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseDate(n.Value)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalYAML writes the date back.
func (d Date) MarshalYAML() (any, error) { return d.String(), nil }

// String is the date, or the time when it is not midnight UTC.
func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	if u := d.UTC(); u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 && u.Nanosecond() == 0 {
		return u.Format("2006-01-02")
	}
	return d.Format(time.RFC3339)
}

// Validate says what is wrong with the policy, naming the field.
func (p *Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	check := func(at string, failOn string, maxCount *int, allow []Allowance, budget *time.Duration, onPending, onError Action) {
		if failOn != "" && SeverityRank(strings.ToUpper(failOn)) < 0 {
			bad("%sfailOn: %q is not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL", at, failOn)
		}
		if maxCount != nil && *maxCount < 0 {
			bad("%smaxCount: must not be negative", at)
		}
		if budget != nil && *budget < 0 {
			bad("%sscanBudget: must not be negative", at)
		}
		for field, a := range map[string]Action{"onPending": onPending, "onError": onError} {
			switch a {
			case "", Deny, Warn, Allow:
			default:
				bad("%s%s: %q is not one of deny, warn, allow", at, field, a)
			}
		}
		for i, a := range allow {
			switch {
			case strings.TrimSpace(a.ID) == "":
				bad("%sallow[%d]: id is required", at, i)
			case a.Expires.IsZero():
				bad("%sallow[%d]: %s: expires is required (a date such as 2025-06-30)", at, i, a.ID)
			case strings.TrimSpace(a.Reason) == "":
				bad("%sallow[%d]: %s: give a reason", at, i, a.ID)
			}
		}
	}
	check("", p.FailOn, p.MaxCount, p.Allow, &p.ScanBudget, p.OnPending, p.OnError)
	if p.Platform != "" {
		if err := checkPlatform(p.Platform); err != nil {
			bad("platform: %v", err)
		}
	}
	keys := make([]string, 0, len(p.Namespaces))
	for k := range p.Namespaces {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, ns := range keys {
		o := p.Namespaces[ns]
		if _, err := path.Match(ns, ""); err != nil || ns == "" {
			bad("namespaces: %q is not a namespace name or glob", ns)
		}
		check("namespaces: "+ns+": ", o.FailOn, o.MaxCount, o.Allow, o.ScanBudget, o.OnPending, o.OnError)
	}
	return errors.Join(errs...)
}

// Override picks the namespace's override: its exact name, else the
// longest glob matching it.
func (p *Policy) Override(namespace string) (Override, bool) {
	if namespace == "" || len(p.Namespaces) == 0 {
		return Override{}, false
	}
	if o, ok := p.Namespaces[namespace]; ok {
		return o, true
	}
	best := ""
	for pat := range p.Namespaces {
		if ok, _ := path.Match(pat, namespace); ok && (len(pat) > len(best) || (len(pat) == len(best) && pat < best)) {
			best = pat
		}
	}
	if best == "" {
		return Override{}, false
	}
	return p.Namespaces[best], true
}

// Severities are the severity names, least first: UNKNOWN 0 … CRITICAL 4
// (trivy-db's).
var Severities = []string{"UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"}

// SeverityRank is a severity's index in Severities, -1 for none.
func SeverityRank(sev string) int {
	for i, n := range Severities {
		if n == sev {
			return i
		}
	}
	return -1
}

// checkPlatform accepts os/arch[/variant][:osversion], as the scanner's
// registry client does.
func checkPlatform(s string) error {
	p, _, _ := strings.Cut(s, ":")
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" || (len(parts) == 3 && parts[2] == "") {
		return fmt.Errorf("platform %q: want os/arch[/variant]", s)
	}
	return nil
}
