package scanner

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/scanner/registry"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
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
		if failOn != "" && vulndb.Rank(strings.ToUpper(failOn)) < 0 {
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
		if _, err := registry.ParsePlatform(p.Platform); err != nil {
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

// rules is the policy in force for one namespace, ready to apply.
type rules struct {
	failOn      int
	failOnName  string
	fixableOnly bool
	maxCount    int
	allow       map[string]Allowance
	include     []*regexp.Regexp
	exclude     []*regexp.Regexp
	budget      time.Duration
	onPending   Action
	onError     Action

	// Memos for the gate's hot path: what selects said of an image, and
	// the decision on an image's report, until an allowance expires.
	mu        sync.Mutex
	selected  map[string]bool
	decisions map[decisionKey]memo
}

type decisionKey struct {
	image  string
	report *ImageReport
}

type memo struct {
	d     Decision
	until time.Time // zero: for as long as the report stands
}

// memoLimit bounds each memo table; past it the table starts over.
const memoLimit = 8192

// rulesFor resolves the policy for a namespace ("" for none, as in CI).
func (p *Policy) rulesFor(namespace string) *rules {
	r := &rules{
		failOnName:  strings.ToUpper(or(p.FailOn, DefaultFailOn)),
		fixableOnly: p.FixableOnly,
		allow:       map[string]Allowance{},
		budget:      p.ScanBudget,
		onPending:   orAction(p.OnPending, DefaultOnPending),
		onError:     orAction(p.OnError, DefaultOnError),
	}
	if p.MaxCount != nil {
		r.maxCount = *p.MaxCount
	}
	if r.budget == 0 {
		r.budget = DefaultScanBudget
	}
	allow := append([]Allowance(nil), p.Allow...)
	include, exclude := p.Include, append([]string(nil), p.Exclude...)
	if o, ok := p.override(namespace); ok {
		if o.FailOn != "" {
			r.failOnName = strings.ToUpper(o.FailOn)
		}
		if o.FixableOnly != nil {
			r.fixableOnly = *o.FixableOnly
		}
		if o.MaxCount != nil {
			r.maxCount = *o.MaxCount
		}
		if o.ScanBudget != nil && *o.ScanBudget > 0 {
			r.budget = *o.ScanBudget
		}
		r.onPending = orAction(o.OnPending, r.onPending)
		r.onError = orAction(o.OnError, r.onError)
		allow = append(allow, o.Allow...)
		if len(o.Include) > 0 {
			include = o.Include
		}
		exclude = append(exclude, o.Exclude...)
	}
	r.failOn = vulndb.Rank(r.failOnName)
	if r.failOn < 0 {
		r.failOn, r.failOnName = vulndb.Rank(DefaultFailOn), DefaultFailOn
	}
	for _, a := range allow {
		// The same ID twice: the later expiry holds.
		if cur, ok := r.allow[a.ID]; !ok || a.Expires.After(cur.Expires.Time) {
			r.allow[a.ID] = a
		}
	}
	r.include = compileGlobs(include)
	r.exclude = compileGlobs(exclude)
	return r
}

// override picks the namespace's override: its exact name, else the
// longest glob matching it.
func (p *Policy) override(namespace string) (Override, bool) {
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

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orAction(a, def Action) Action {
	if a == "" {
		return def
	}
	return a
}

func compileGlobs(pats []string) []*regexp.Regexp {
	var out []*regexp.Regexp
	for _, p := range pats {
		var b strings.Builder
		b.WriteString("^")
		for _, r := range p {
			switch r {
			case '*':
				b.WriteString(".*")
			case '?':
				b.WriteString(".")
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
		b.WriteString("$")
		out = append(out, regexp.MustCompile(b.String()))
	}
	return out
}

// selects reports whether the gate judges image, and if not, why.
func (r *rules) selects(image string) (bool, string) {
	forms := imageForms(image)
	match := func(res []*regexp.Regexp) *regexp.Regexp {
		for _, re := range res {
			for _, f := range forms {
				if re.MatchString(f) {
					return re
				}
			}
		}
		return nil
	}
	if len(r.include) > 0 && match(r.include) == nil {
		return false, "not matched by images.include"
	}
	if re := match(r.exclude); re != nil {
		return false, "excluded by images.exclude"
	}
	return true, ""
}

// imageForms are the spellings a pattern may match: as written, in full,
// each with and without its tag or digest.
func imageForms(image string) []string {
	forms := []string{image}
	if ref, err := name.ParseReference(image); err == nil {
		repo := ref.Context().Name()
		if ref.Context().RegistryStr() == name.DefaultRegistry {
			repo = "docker.io/" + ref.Context().RepositoryStr()
		}
		sep := ":"
		if _, ok := ref.(name.Digest); ok {
			sep = "@"
		}
		forms = append(forms, repo+sep+ref.Identifier(), repo)
		if i := strings.LastIndexAny(image, "@"); i > 0 {
			forms = append(forms, image[:i])
		} else if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
			forms = append(forms, image[:i])
		}
	}
	return forms
}

// Verdict is a policy's judgment of one image report.
type Verdict struct {
	Pass bool
	// Reasons say why an image fails.
	Reasons []string
	// Warnings say what the judge noticed that did not decide (an
	// allowance that expired).
	Warnings []string
	// Allowed is, per vulnerability of the report, whether an allowance
	// in force covers it.
	Allowed []bool
	// Counted are the vulnerabilities that count against the threshold,
	// worst first.
	Counted []Vulnerability

	until time.Time // when the first allowance relied on expires
}

// Judge applies the policy in force in namespace ("" outside a cluster)
// to a report, at time now.
func (p *Policy) Judge(r *ImageReport, namespace string, now time.Time) Verdict {
	return p.rulesFor(namespace).judge(r, now)
}

func (r *rules) threshold() string {
	s := r.failOnName + " or worse"
	switch r.failOnName {
	case "CRITICAL":
		s = "CRITICAL"
	case "UNKNOWN":
		s = "of any severity"
	}
	if r.fixableOnly {
		s += " with a fix available"
	}
	return s
}

func (r *rules) judge(rep *ImageReport, now time.Time) Verdict {
	v := Verdict{Allowed: make([]bool, len(rep.Vulnerabilities))}
	expired := map[string]bool{}
	for i, f := range rep.Vulnerabilities {
		if a, ok := r.allow[f.ID]; ok {
			if now.Before(a.Expires.Time) {
				v.Allowed[i] = true
				if v.until.IsZero() || a.Expires.Before(v.until) {
					v.until = a.Expires.Time
				}
				continue
			}
			if !expired[f.ID] {
				expired[f.ID] = true
				v.Warnings = append(v.Warnings, fmt.Sprintf("the allowance for %s expired on %s and no longer applies (it said: %s)", f.ID, a.Expires, a.Reason))
			}
		}
		if vulndb.Rank(f.Severity) < r.failOn {
			continue
		}
		if r.fixableOnly && f.FixedVersion == "" {
			continue
		}
		v.Counted = append(v.Counted, f)
	}
	sortWorst(v.Counted)
	v.Pass = len(v.Counted) <= r.maxCount
	if !v.Pass {
		msg := fmt.Sprintf("%d %s", len(v.Counted), r.threshold())
		if r.maxCount > 0 {
			msg += fmt.Sprintf(", more than the %d allowed", r.maxCount)
		}
		v.Reasons = append(v.Reasons, msg)
	}
	return v
}

// sortWorst orders vulnerabilities worst first: severity, then those with
// a fix, then by ID and package.
func sortWorst(vs []Vulnerability) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i], vs[j]
		if ra, rb := vulndb.Rank(a.Severity), vulndb.Rank(b.Severity); ra != rb {
			return ra > rb
		}
		if (a.FixedVersion != "") != (b.FixedVersion != "") {
			return a.FixedVersion != ""
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Package < b.Package
	})
}
