package scanner

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/gatekeep-dev/gatekeep/imagepolicy"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

// The images: section of gatekeep.yaml is imagepolicy's; these names
// stay for the scanner's callers.
type (
	Policy    = imagepolicy.Policy
	Action    = imagepolicy.Action
	Override  = imagepolicy.Override
	Allowance = imagepolicy.Allowance
	Date      = imagepolicy.Date
)

// The actions, and the defaults of the images: section.
const (
	Deny  = imagepolicy.Deny
	Warn  = imagepolicy.Warn
	Allow = imagepolicy.Allow

	DefaultFailOn     = imagepolicy.DefaultFailOn
	DefaultScanBudget = imagepolicy.DefaultScanBudget
	DefaultOnPending  = imagepolicy.DefaultOnPending
	DefaultOnError    = imagepolicy.DefaultOnError
)

// ParseDate reads 2006-01-02 or RFC 3339.
func ParseDate(s string) (Date, error) { return imagepolicy.ParseDate(s) }

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
func rulesFor(p *Policy, namespace string) *rules {
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
	if o, ok := p.Override(namespace); ok {
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
func Judge(p *Policy, r *ImageReport, namespace string, now time.Time) Verdict {
	return rulesFor(p, namespace).judge(r, now)
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
	SortWorst(v.Counted)
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

// SortWorst orders vulnerabilities worst first: severity, then those with
// a fix, then by ID and package.
func SortWorst(vs []Vulnerability) {
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
