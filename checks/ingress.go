package checks

import (
	"fmt"
	"iter"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// IngressHostCollision denies an Ingress whose host another namespace already
// claims (wildcards included: *.example.com covers a.example.com), or whose
// host and path another Ingress of the same namespace already serves.
var IngressHostCollision = Check{
	ID:      "ingress-host-collision",
	Summary: "an Ingress host belongs to one namespace, and a host+path to one Ingress",
	Review:  reviewIngressHosts,
}

// Claim is one host an Ingress claims, at a JSON pointer of it. Path is set
// for rule hosts with HTTP paths ("" for a TLS host or a rule without paths).
type Claim struct {
	Host    string
	Path    string
	Pointer string
}

// IngressID names an Ingress in the index.
type IngressID struct{ Namespace, Name string }

func (id IngressID) String() string { return "Ingress " + id.Namespace + "/" + id.Name }

// HostIndex knows which Ingress claims which host. It keeps only namespace,
// name, hosts and paths, never whole objects, so the cluster can keep one for
// every Ingress it has. Lookups cost the number of matching claims, not the
// number of Ingresses. It is safe for concurrent use.
type HostIndex struct {
	mu       sync.RWMutex
	claims   map[IngressID][]Claim
	byHost   map[string]ingressSet // exact host (wildcards as written)
	byParent map[string]ingressSet // a.example.com under example.com
	// origins say where Ingresses that are not under review are (an
	// inventory file of the cluster's), for messages; nil until one is.
	origins map[IngressID]string
}

// NewHostIndex returns an empty index.
func NewHostIndex() *HostIndex {
	return &HostIndex{
		claims:   map[IngressID][]Claim{},
		byHost:   map[string]ingressSet{},
		byParent: map[string]ingressSet{},
	}
}

// Add records the claims of an Ingress, merging with what it claimed before.
func (x *HostIndex) Add(namespace, name string, claims []Claim) {
	id := IngressID{defaultNamespace(namespace), name}
	x.mu.Lock()
	defer x.mu.Unlock()
	x.claims[id] = append(x.claims[id], claims...)
	for _, c := range claims {
		addTo(x.byHost, c.Host, id)
		if !strings.HasPrefix(c.Host, "*.") {
			addTo(x.byParent, parent(c.Host), id)
		}
	}
}

// AddFrom records the claims of an Ingress that is not among the objects
// under review, with where it is ("in the cluster (inventory file
// inventory.json)"): findings that name it say so, since it has no file
// and line to point at.
func (x *HostIndex) AddFrom(origin, namespace, name string, claims []Claim) {
	x.Add(namespace, name, claims)
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.origins == nil {
		x.origins = map[IngressID]string{}
	}
	x.origins[IngressID{defaultNamespace(namespace), name}] = origin
}

// Set replaces what an Ingress claims (an update in the cluster).
func (x *HostIndex) Set(namespace, name string, claims []Claim) {
	x.Delete(namespace, name)
	x.Add(namespace, name, claims)
}

// Delete forgets an Ingress.
func (x *HostIndex) Delete(namespace, name string) {
	id := IngressID{defaultNamespace(namespace), name}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, c := range x.claims[id] {
		removeFrom(x.byHost, c.Host, id)
		removeFrom(x.byParent, parent(c.Host), id)
	}
	delete(x.claims, id)
	delete(x.origins, id)
}

// Claims returns what an Ingress claims (nil when the index lacks it).
func (x *HostIndex) Claims(namespace, name string) []Claim {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]Claim(nil), x.claims[IngressID{defaultNamespace(namespace), name}]...)
}

// Len returns how many Ingresses the index holds.
func (x *HostIndex) Len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.claims)
}

// overlapping returns the claims of other Ingresses whose host overlaps
// host: the same host, a wildcard covering it, or hosts a wildcard covers;
// and where those Ingresses are, for those added with AddFrom.
func (x *HostIndex) overlapping(self IngressID, host string) (map[IngressID][]Claim, map[IngressID]string) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	out := map[IngressID][]Claim{}
	var origins map[IngressID]string
	collect := func(ids ingressSet) {
		for id := range ids.all() {
			if id == self {
				continue
			}
			for _, c := range x.claims[id] {
				if hostsOverlap(host, c.Host) {
					out[id] = append(out[id], c)
				}
			}
			if o, ok := x.origins[id]; ok {
				if origins == nil {
					origins = map[IngressID]string{}
				}
				origins[id] = o
			}
		}
	}
	collect(x.byHost[host])
	if strings.HasPrefix(host, "*.") {
		collect(x.byParent[host[2:]])
	} else if p := parent(host); p != "" {
		collect(x.byHost["*."+p])
	}
	return out, origins
}

// hostsOverlap: a wildcard covers exactly one more DNS label, as in the
// Ingress API.
func hostsOverlap(a, b string) bool {
	if a == b {
		return true
	}
	aw, bw := strings.HasPrefix(a, "*."), strings.HasPrefix(b, "*.")
	switch {
	case aw && !bw:
		return parent(b) == a[2:]
	case bw && !aw:
		return parent(a) == b[2:]
	}
	return false
}

func parent(host string) string {
	if i := strings.IndexByte(host, '.'); i >= 0 {
		return host[i+1:]
	}
	return ""
}

func addTo(m map[string]ingressSet, k string, id IngressID) {
	if k == "" {
		return
	}
	s := m[k]
	s.add(id)
	m[k] = s
}

func removeFrom(m map[string]ingressSet, k string, id IngressID) {
	s, ok := m[k]
	if !ok {
		return
	}
	s.remove(id)
	if s.len() == 0 {
		delete(m, k)
	} else {
		m[k] = s
	}
}

// ingressSet is a set of Ingresses: a slice while it is small, as nearly
// every host's is (one Ingress), so that the index of a cluster's
// Ingresses is not a map per host; a map past that, so that a parent
// domain with thousands of hosts stays cheap to change.
type ingressSet struct {
	few  []IngressID
	many map[IngressID]struct{}
}

// fewIngresses is the most an ingressSet keeps in its slice.
const fewIngresses = 8

func (s *ingressSet) add(id IngressID) {
	switch {
	case s.many != nil:
		s.many[id] = struct{}{}
	case slices.Contains(s.few, id):
	case len(s.few) < fewIngresses:
		s.few = append(s.few, id)
	default:
		s.many = make(map[IngressID]struct{}, len(s.few)+1)
		for _, x := range s.few {
			s.many[x] = struct{}{}
		}
		s.many[id] = struct{}{}
		s.few = nil
	}
}

func (s *ingressSet) remove(id IngressID) {
	if s.many != nil {
		delete(s.many, id)
		return
	}
	if i := slices.Index(s.few, id); i >= 0 {
		s.few = slices.Delete(s.few, i, i+1)
	}
}

func (s ingressSet) len() int { return len(s.few) + len(s.many) }

func (s ingressSet) all() iter.Seq[IngressID] {
	return func(yield func(IngressID) bool) {
		for _, id := range s.few {
			if !yield(id) {
				return
			}
		}
		for id := range s.many {
			if !yield(id) {
				return
			}
		}
	}
}

func defaultNamespace(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

func isIngress(o *manifest.Object) bool {
	if o.Kind() != "Ingress" {
		return false
	}
	g := o.Ref().Group()
	return g == "networking.k8s.io" || g == "extensions"
}

// IngressClaims lists the hosts an Ingress claims: rule hosts with each HTTP
// path, and TLS hosts. Hosts compare case-insensitively.
func IngressClaims(o *manifest.Object) []Claim {
	spec, _ := o.Data["spec"].(map[string]any)
	var out []Claim
	rules, _ := spec["rules"].([]any)
	for i, r := range rules {
		rm, _ := r.(map[string]any)
		host := normalizeHost(rm["host"])
		if host == "" {
			continue
		}
		at := "/spec/rules/" + strconv.Itoa(i) + "/host"
		http, _ := rm["http"].(map[string]any)
		paths, _ := http["paths"].([]any)
		if len(paths) == 0 {
			out = append(out, Claim{Host: host, Pointer: at})
		}
		for j, p := range paths {
			pm, _ := p.(map[string]any)
			path, _ := pm["path"].(string)
			if path == "" {
				path = "/"
			}
			out = append(out, Claim{Host: host, Path: path, Pointer: "/spec/rules/" + strconv.Itoa(i) + "/http/paths/" + strconv.Itoa(j) + "/path"})
		}
	}
	tls, _ := spec["tls"].([]any)
	for i, t := range tls {
		tm, _ := t.(map[string]any)
		hosts, _ := tm["hosts"].([]any)
		for j, h := range hosts {
			if host := normalizeHost(h); host != "" {
				out = append(out, Claim{Host: host, Pointer: "/spec/tls/" + strconv.Itoa(i) + "/hosts/" + strconv.Itoa(j)})
			}
		}
	}
	return out
}

func normalizeHost(v any) string {
	s, _ := v.(string)
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
}

func reviewIngressHosts(obj *manifest.Object, inv *Inventory) []Violation {
	if !isIngress(obj) || inv == nil || inv.Hosts == nil {
		return nil
	}
	self := IngressID{defaultNamespace(obj.Namespace()), obj.Name()}
	var out []Violation
	seenHost := map[string]bool{}
	for _, c := range IngressClaims(obj) {
		others, origins := inv.Hosts.overlapping(self, c.Host)
		if len(others) == 0 {
			continue
		}
		var foreign, samePath []string
		for id, theirs := range others {
			if id.Namespace != self.Namespace {
				foreign = append(foreign, describe(id, theirs, c.Host, origins[id]))
				continue
			}
			for _, t := range theirs {
				if c.Path != "" && t.Path == c.Path && t.Host == c.Host {
					samePath = append(samePath, describe(id, nil, c.Host, origins[id]))
					break
				}
			}
		}
		if len(foreign) > 0 && !seenHost[c.Host] {
			seenHost[c.Host] = true
			out = append(out, Violation{
				Path:    hostPointer(c.Pointer),
				Message: fmt.Sprintf("host %q is also claimed in another namespace by %s", c.Host, list(foreign)),
			})
		}
		if len(samePath) > 0 {
			out = append(out, Violation{
				Path:    c.Pointer,
				Message: fmt.Sprintf("host %q path %q is also served by %s in the same namespace", c.Host, c.Path, list(samePath)),
			})
		}
	}
	return out
}

// hostPointer turns a path's pointer into its rule's host pointer.
func hostPointer(p string) string {
	if i := strings.Index(p, "/http/paths/"); i >= 0 {
		return p[:i] + "/host"
	}
	return p
}

// describe names another Ingress, with its hosts where they are not the
// one in question (a wildcard, or hosts it covers), and where it is when
// it is not under review.
func describe(id IngressID, claims []Claim, host, origin string) string {
	s := describeHosts(id, claims, host)
	if origin != "" {
		s += " " + origin
	}
	return s
}

func describeHosts(id IngressID, claims []Claim, host string) string {
	hosts := map[string]bool{}
	for _, c := range claims {
		if c.Host != host {
			hosts[c.Host] = true
		}
	}
	if len(hosts) == 0 {
		return id.String()
	}
	hs := make([]string, 0, len(hosts))
	for h := range hosts {
		hs = append(hs, h)
	}
	sort.Strings(hs)
	return fmt.Sprintf("%s (%s)", id, strings.Join(hs, ", "))
}

// list joins names in order, cutting long lists short.
func list(items []string) string {
	sort.Strings(items)
	const most = 5
	if len(items) > most {
		return strings.Join(items[:most], ", ") + fmt.Sprintf(" and %d more", len(items)-most)
	}
	return strings.Join(items, ", ")
}
