package bundle

import (
	"bytes"
	"fmt"
	"io"
	"path"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/deprecation"
	"github.com/gatekeep-dev/gatekeep/imagepolicy"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/reviewapp"
)

// Action is what a finding of a check does: deny, warn, dryrun, or off.
type Action string

// The actions a bundle may give a check.
const (
	Deny   Action = "deny"
	Warn   Action = "warn"
	DryRun Action = "dryrun"
	Off    Action = "off"
)

// Config is gatekeep.yaml. Every section is optional; later sections
// (reviewApps, images, sealedSecrets) join this struct as they are built.
type Config struct {
	// KubernetesVersion is the target cluster's version ("1.34").
	KubernetesVersion string `yaml:"kubernetesVersion,omitempty"`
	// Checks overrides the action of any check, built-in or from Rego.
	Checks map[string]Action `yaml:"checks,omitempty"`
	// Exemptions are namespaces and objects no check (or only some) judges.
	Exemptions Exemptions `yaml:"exemptions,omitempty"`
	// RegoVersion is the default syntax of the bundle's Rego: v1 or v0.
	RegoVersion string `yaml:"regoVersion,omitempty"`
	// AllowNetwork lets Rego call http.send and the other builtins that
	// reach out of the machine.
	AllowNetwork bool `yaml:"allowNetwork,omitempty"`
	// ReviewApps recognise per-pull-request preview namespaces and label
	// what is created in them.
	ReviewApps []reviewapp.Rule `yaml:"reviewApps,omitempty"`
	// Sync lists the kinds the webhook keeps in data.inventory, besides the
	// Ingresses it always indexes.
	Sync []GVK `yaml:"sync,omitempty"`
	// Strict makes the schema check reject unknown fields and duplicate
	// keys, as kubectl apply --validate=strict does.
	Strict bool `yaml:"strict,omitempty"`
	// Deprecations extend the deprecated-API table, for CRDs.
	Deprecations []deprecation.Entry `yaml:"deprecations,omitempty"`
	// SealedSecrets says where the sealing keys are and what to do with
	// them.
	SealedSecrets SealedSecrets `yaml:"sealedSecrets,omitempty"`
	// Images is the image-vulnerability policy.
	Images *imagepolicy.Policy `yaml:"images,omitempty"`
	// ArgoCD says how Argo CD knows the repository being checked.
	ArgoCD ArgoCD `yaml:"argocd,omitempty"`
	// Helm gives value files to the charts gatekeep check meets outside
	// any Argo CD application.
	Helm Helm `yaml:"helm,omitempty"`
}

// ArgoCD is the argocd: section of gatekeep.yaml.
type ArgoCD struct {
	// RepoURLs are URLs of this repository, besides its git remotes:
	// Applications whose source repoURL is one are rendered from the
	// checkout.
	RepoURLs []string `yaml:"repoURLs,omitempty"`
}

// Helm is the helm: section of gatekeep.yaml.
type Helm struct {
	// Charts maps a chart directory (relative to the repository root) to
	// its settings.
	Charts map[string]HelmChart `yaml:"charts,omitempty"`
}

// HelmChart is how gatekeep check renders one chart met outside any
// application.
type HelmChart struct {
	// ValueFiles, relative to the chart directory, over its values.yaml.
	ValueFiles []string `yaml:"valueFiles,omitempty"`
}

// ChartValues maps each chart directory to its value files.
func (h Helm) ChartValues() map[string][]string {
	out := make(map[string][]string, len(h.Charts))
	for dir, c := range h.Charts {
		out[strings.TrimSuffix(path.Clean(dir), "/")] = c.ValueFiles
	}
	return out
}

// SealedSecrets configures the sealed-secret check and inline unsealing.
type SealedSecrets struct {
	// Namespace of the sealed-secrets controller and its keys (kube-system).
	Namespace string `yaml:"namespace,omitempty"`
	// Unseal decrypts inline sealed Secrets at admission (default true).
	Unseal *bool `yaml:"unseal,omitempty"`
}

// KeyNamespace is where the sealing keys are.
func (s SealedSecrets) KeyNamespace() string {
	if s.Namespace == "" {
		return "kube-system"
	}
	return s.Namespace
}

// UnsealInline reports whether inline sealed Secrets are decrypted.
func (s SealedSecrets) UnsealInline() bool { return s.Unseal == nil || *s.Unseal }

// GVK names a kind of object.
type GVK struct {
	Group   string `yaml:"group"`
	Version string `yaml:"version"`
	Kind    string `yaml:"kind"`
}

// Exemptions lists what is not judged, each entry with its reason.
type Exemptions struct {
	Namespaces []NamespaceExemption `yaml:"namespaces,omitempty"`
	Objects    []ObjectExemption    `yaml:"objects,omitempty"`
}

// NamespaceExemption exempts a namespace (a glob such as dk-*), from every
// check or from the listed ones.
type NamespaceExemption struct {
	Name   string   `yaml:"name"`
	Checks []string `yaml:"checks,omitempty"`
	Reason string   `yaml:"reason"`
}

// ObjectExemption exempts objects by kind, namespace and name (globs; an
// empty field matches anything), from every check or from the listed ones.
type ObjectExemption struct {
	Kind      string   `yaml:"kind,omitempty"`
	Namespace string   `yaml:"namespace,omitempty"`
	Name      string   `yaml:"name"`
	Checks    []string `yaml:"checks,omitempty"`
	Reason    string   `yaml:"reason"`
}

// Exempt reports whether check must not judge the object, and why.
func (c *Config) Exempt(ref manifest.Ref, check string) (reason string, ok bool) {
	for _, e := range c.Exemptions.Namespaces {
		if ref.Namespace != "" && glob(e.Name, ref.Namespace) && listed(e.Checks, check) {
			return e.Reason, true
		}
	}
	for _, e := range c.Exemptions.Objects {
		if glob(e.Kind, ref.Kind) && glob(e.Namespace, ref.Namespace) && glob(e.Name, ref.Name) && listed(e.Checks, check) {
			return e.Reason, true
		}
	}
	return "", false
}

// ExemptNamespace reports whether a whole namespace is exempt from every
// check (the webhook passes its objects without review).
func (c *Config) ExemptNamespace(ns string) bool {
	for _, e := range c.Exemptions.Namespaces {
		if len(e.Checks) == 0 && glob(e.Name, ns) {
			return true
		}
	}
	return false
}

func glob(pattern, s string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	ok, err := path.Match(pattern, s)
	return err == nil && ok
}

func listed(checks []string, id string) bool {
	if len(checks) == 0 {
		return true
	}
	for _, c := range checks {
		if c == id {
			return true
		}
	}
	return false
}

// merge lays o over c: settings o sets win, lists are added together.
func (c *Config) merge(o Config) {
	if o.KubernetesVersion != "" {
		c.KubernetesVersion = o.KubernetesVersion
	}
	if c.Checks == nil {
		c.Checks = map[string]Action{}
	}
	for id, a := range o.Checks {
		c.Checks[id] = a
	}
	c.Exemptions.Namespaces = append(c.Exemptions.Namespaces, o.Exemptions.Namespaces...)
	c.Exemptions.Objects = append(c.Exemptions.Objects, o.Exemptions.Objects...)
	if o.RegoVersion != "" {
		c.RegoVersion = o.RegoVersion
	}
	c.AllowNetwork = c.AllowNetwork || o.AllowNetwork
	c.Strict = c.Strict || o.Strict
	if o.SealedSecrets.Namespace != "" {
		c.SealedSecrets.Namespace = o.SealedSecrets.Namespace
	}
	if o.Images != nil {
		c.Images = o.Images
	}
	if o.SealedSecrets.Unseal != nil {
		c.SealedSecrets.Unseal = o.SealedSecrets.Unseal
	}
	c.ReviewApps = append(c.ReviewApps, o.ReviewApps...)
	c.Sync = append(c.Sync, o.Sync...)
	c.ArgoCD.RepoURLs = append(c.ArgoCD.RepoURLs, o.ArgoCD.RepoURLs...)
	for dir, chart := range o.Helm.Charts {
		if c.Helm.Charts == nil {
			c.Helm.Charts = map[string]HelmChart{}
		}
		c.Helm.Charts[dir] = chart
	}
}

// lines remembers where gatekeep.yaml's entries stand, for messages.
type lines struct {
	checks map[string]int
}

var (
	fieldNotFound = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)
	yamlLine      = regexp.MustCompile(`line (\d+): (.*)`)
)

// decode reads gatekeep.yaml strictly: an unknown key is an error naming it.
func (b *Bundle) decode(data []byte) error {
	b.lines = lines{checks: map[string]int{}}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&b.Config); err != nil && err != io.EOF {
		return b.yamlError(err)
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	if checks := child(&root, "checks"); checks != nil {
		for j := 0; j+1 < len(checks.Content); j += 2 {
			b.lines.checks[checks.Content[j].Value] = checks.Content[j].Line
		}
	}
	for id, a := range b.Config.Checks {
		switch a {
		case Deny, Warn, DryRun, Off:
		default:
			return b.errorf(b.lines.checks[id], "checks: %s: action %q is not one of deny, warn, dryrun, off", id, a)
		}
	}
	switch b.Config.RegoVersion {
	case "", "v0", "v1":
	default:
		return b.errorf(line(child(&root, "regoVersion")), "regoVersion: %q is not v0 or v1", b.Config.RegoVersion)
	}
	if _, err := reviewapp.New(b.Config.ReviewApps, nil); err != nil {
		return b.errorf(line(child(&root, "reviewApps")), "%v", err)
	}
	for i, g := range b.Config.Sync {
		if g.Version == "" || g.Kind == "" {
			return b.errorf(line(item(child(&root, "sync"), i)), "sync[%d]: version and kind are required (group is empty for the core group)", i)
		}
	}
	if len(b.Config.Deprecations) > 0 {
		if _, err := (*deprecation.Table)(nil).Extend(b.Config.Deprecations...); err != nil {
			return b.errorf(line(child(&root, "deprecations")), "%v", err)
		}
		b.deprecations = append(b.deprecations, b.Config.Deprecations)
	}
	if b.Config.Images != nil {
		if err := b.Config.Images.Validate(); err != nil {
			return b.errorf(line(child(&root, "images")), "images: %v", err)
		}
	}
	exemptions := child(&root, "exemptions")
	for i, e := range b.Config.Exemptions.Namespaces {
		at := line(item(child(exemptions, "namespaces"), i))
		if e.Name == "" {
			return b.errorf(at, "exemptions: namespaces[%d]: name is required", i)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return b.errorf(at, "exemptions: namespace %q: give a reason", e.Name)
		}
	}
	for i, e := range b.Config.Exemptions.Objects {
		at := line(item(child(exemptions, "objects"), i))
		if e.Name == "" {
			return b.errorf(at, "exemptions: objects[%d]: name is required (use \"*\" for every name)", i)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return b.errorf(at, "exemptions: object %q: give a reason", e.Name)
		}
	}
	return nil
}

func (b *Bundle) errorf(line int, format string, args ...any) error {
	return manifest.Error{File: b.config, Line: line, Message: fmt.Sprintf(format, args...)}
}

func (b *Bundle) yamlError(err error) error {
	msg := err.Error()
	if m := fieldNotFound.FindStringSubmatch(msg); m != nil {
		l, _ := strconv.Atoi(m[1])
		return b.errorf(l, "unknown key %q", m[2])
	}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		l, _ := strconv.Atoi(m[1])
		return b.errorf(l, "%s", m[2])
	}
	return b.errorf(0, "%s", strings.TrimPrefix(msg, "yaml: "))
}

// child returns the value of key in a mapping node (or a document's).
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for i := 0; i+1 < len(n.Content) && n.Kind == yaml.MappingNode; i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func item(n *yaml.Node, i int) *yaml.Node {
	if n == nil || n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return nil
	}
	return n.Content[i]
}

func line(n *yaml.Node) int {
	if n == nil {
		return 0
	}
	return n.Line
}
