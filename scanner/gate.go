package scanner

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/gatekeep-dev/gatekeep/checks"
	"github.com/gatekeep-dev/gatekeep/manifest"
)

// CheckID names the image vulnerability check in reports and bundles.
const CheckID = "image-vulnerability"

// Gate judges the images of Pods and pod templates by one policy, over a
// Cache that outlives it (a bundle reload makes a new Gate on the same
// Cache).
type Gate struct {
	cache    *Cache
	policy   Policy
	wait     bool
	keychain func(*manifest.Object) authn.Keychain
	now      func() time.Time
	rules    sync.Map // namespace: *rules
}

// GateOption configures a Gate.
type GateOption func(*Gate)

// WaitForScans makes the gate wait for every scan however long it takes,
// as CI does (gatekeep check --scan-images): the budget and onPending
// play no part.
func WaitForScans() GateOption { return func(g *Gate) { g.wait = true } }

// Keychains gives the credentials for an object's images: in the cluster
// its Pod's pull secrets and service account (see scanner/podauth). Unset,
// the scanner's default keychain is used.
func Keychains(f func(*manifest.Object) authn.Keychain) GateOption {
	return func(g *Gate) { g.keychain = f }
}

// Clock sets the time allowances expire by (time.Now).
func Clock(now func() time.Time) GateOption { return func(g *Gate) { g.now = now } }

// NewGate returns a gate applying p over c; p must be valid.
func NewGate(c *Cache, p Policy, opts ...GateOption) (*Gate, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	g := &Gate{cache: c, policy: p, now: time.Now}
	for _, o := range opts {
		o(g)
	}
	return g, nil
}

func (g *Gate) rulesFor(namespace string) *rules {
	if r, ok := g.rules.Load(namespace); ok {
		return r.(*rules)
	}
	r, _ := g.rules.LoadOrStore(namespace, rulesFor(&g.policy, namespace))
	return r.(*rules)
}

// Decision is the gate's word on one image.
type Decision struct {
	Action Action
	// Message says why, for a person: the image, its digest and its worst
	// findings when denied or warned about.
	Message string
	Image   string
	Digest  string
	// Report is the judged report (nil while pending or on error).
	Report *ImageReport
	// Pending: the scan outlasted the budget and goes on in the background.
	Pending bool
	// Err is the registry or database failure onError decided on.
	Err error
}

// Check decides one image for a namespace. kc gives the credentials (nil:
// the scanner's default keychain); they are used only when the registry
// must be asked, not for cached verdicts.
func (g *Gate) Check(ctx context.Context, image, namespace string, kc authn.Keychain) Decision {
	if d, ok := g.cached(image, namespace); ok {
		return d
	}
	r := g.rulesFor(namespace)
	d := Decision{Action: Allow, Image: image}
	wait := r.budget
	if g.wait {
		wait = -1
	}
	rep, pending, err := g.cache.get(ctx, image, kc, wait)
	if err == nil && !pending {
		return r.decide(image, rep, g.now())
	}
	switch {
	case pending:
		d.Pending, d.Action = true, r.onPending
		d.Message = fmt.Sprintf("image %s: vulnerability scan in progress, retry", image)
		return d
	case err != nil:
		d.Err, d.Action = err, r.onError
		d.Message = fmt.Sprintf("image %s: cannot be scanned for vulnerabilities: %v", image, err)
		return d
	}
	return d
}

// cached decides from memory alone: an image the policy leaves out, or
// one whose verdict the cache holds for the database in use.
func (g *Gate) cached(image, namespace string) (Decision, bool) {
	r := g.rulesFor(namespace)
	if !r.selectsMemo(image) {
		return Decision{Action: Allow, Image: image}, true
	}
	if rep := g.cache.lookup(image); rep != nil {
		return r.decide(image, rep, g.now()), true
	}
	return Decision{}, false
}

// selectsMemo is selects, remembered per image.
func (r *rules) selectsMemo(image string) bool {
	if len(r.include) == 0 && len(r.exclude) == 0 {
		return true
	}
	r.mu.Lock()
	ok, known := r.selected[image]
	r.mu.Unlock()
	if known {
		return ok
	}
	ok, _ = r.selects(image)
	r.mu.Lock()
	if r.selected == nil || len(r.selected) >= memoLimit {
		r.selected = map[string]bool{}
	}
	r.selected[image] = ok
	r.mu.Unlock()
	return ok
}

// decide judges a report, or recalls the decision while no allowance it
// relied on has expired.
func (r *rules) decide(image string, rep *ImageReport, now time.Time) Decision {
	key := decisionKey{image, rep}
	r.mu.Lock()
	m, ok := r.decisions[key]
	r.mu.Unlock()
	if ok && (m.until.IsZero() || now.Before(m.until)) {
		return m.d
	}
	v := r.judge(rep, now)
	d := Decision{Action: Allow, Image: image, Digest: rep.Digest, Report: rep.Judged(v)}
	d.Report.Image = image
	switch {
	case !v.Pass:
		d.Action = Deny
		d.Message = denial(image, rep.Digest, v)
	case len(v.Warnings) > 0:
		d.Action = Warn
		d.Message = fmt.Sprintf("image %s (%s): %s", image, rep.Digest, strings.Join(v.Warnings, "; "))
	}
	r.mu.Lock()
	if r.decisions == nil || len(r.decisions) >= memoLimit {
		r.decisions = map[decisionKey]memo{}
	}
	r.decisions[key] = memo{d, v.until}
	r.mu.Unlock()
	return d
}

// worstShown is how many findings a denial names.
const worstShown = 3

func denial(image, digest string, v Verdict) string {
	var b strings.Builder
	fmt.Fprintf(&b, "image %s (%s) has %s: ", image, digest, strings.Join(v.Reasons, "; "))
	for i, f := range v.Counted {
		if i == worstShown {
			fmt.Fprintf(&b, ", and %d more", len(v.Counted)-worstShown)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fixed := "no fix"
		if f.FixedVersion != "" {
			fixed = "fixed in " + f.FixedVersion
		}
		pkg := f.Package
		if f.Target != "" {
			pkg += " in " + f.Target
		}
		fmt.Fprintf(&b, "%s %s %s %s (%s)", f.ID, f.Severity, pkg, f.InstalledVersion, fixed)
	}
	if len(v.Warnings) > 0 {
		b.WriteString("; " + strings.Join(v.Warnings, "; "))
	}
	return b.String()
}

// Review decides every container image of a Pod or pod template (all at
// once, so cold scans share one budget) and returns a violation, at the
// container's image field, for each one denied or warned about.
func (g *Gate) Review(ctx context.Context, obj *manifest.Object) []checks.Violation {
	spec, ptr, ok := obj.PodSpec()
	if !ok {
		return nil
	}
	type use struct{ image, path string }
	var uses []use
	images := map[string]*Decision{}
	for _, list := range manifest.ContainerLists {
		cs, _ := spec[list].([]any)
		for i, c := range cs {
			m, _ := c.(map[string]any)
			image, _ := m["image"].(string)
			if image == "" {
				continue
			}
			uses = append(uses, use{image, ptr + "/" + list + "/" + strconv.Itoa(i) + "/image"})
			images[image] = nil
		}
	}
	if len(uses) == 0 {
		return nil
	}
	var kc authn.Keychain
	if g.keychain != nil {
		kc = g.keychain(obj)
	}
	// Cached verdicts first; only cold images wait, all at once.
	distinct := make([]string, 0, len(images))
	for image := range images {
		if d, ok := g.cached(image, obj.Namespace()); ok {
			images[image] = &d
			continue
		}
		distinct = append(distinct, image)
	}
	decisions := make([]Decision, len(distinct))
	var wg sync.WaitGroup
	for i, image := range distinct {
		wg.Add(1)
		go func() {
			defer wg.Done()
			decisions[i] = g.Check(ctx, image, obj.Namespace(), kc)
		}()
	}
	wg.Wait()
	for i, image := range distinct {
		images[image] = &decisions[i]
	}
	var out []checks.Violation
	for _, u := range uses {
		d := images[u.image]
		if d.Action == Allow {
			continue
		}
		out = append(out, checks.Violation{Path: u.path, Message: d.Message, Warning: d.Action == Warn})
	}
	return out
}

// ImageCheck is the gate as a check for the engine: it judges Pods and pod
// templates (in CI and in the cluster alike) and says nothing of other
// objects.
func ImageCheck(g *Gate) checks.Check {
	return checks.Check{
		ID:      CheckID,
		Summary: "container images have no known vulnerabilities past the images: policy",
		Review: func(obj *manifest.Object, _ *checks.Inventory) []checks.Violation {
			return g.Review(context.Background(), obj)
		},
	}
}
