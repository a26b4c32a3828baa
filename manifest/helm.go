package manifest

import (
	"errors"
	"path/filepath"
	"strings"

	"github.com/gatekeep-dev/gatekeep/helmchart"
)

// chart renders one Helm chart directory (absolute) with the Helm SDK, as
// helm template would, and places each object at its template's file and
// line.
func (l *loader) chart(dir string, opts helmchart.Options, renders []Render) *piece {
	if opts.KubeVersion == "" {
		opts.KubeVersion = l.kubeVersion
	}
	opts.APIVersions = append(opts.APIVersions, l.apiVersions()...)
	if opts.ReleaseName == "" {
		opts.ReleaseName = filepath.Base(dir)
	}
	self := Render{Kind: RenderHelm, Name: opts.ReleaseName, File: l.rel(filepath.Join(dir, "Chart.yaml"))}
	renders = withRender(renders, self)
	p := &piece{unit: dir, dir: true, kind: pieceChart}
	docs, err := helmchart.Render(dir, opts)
	if err != nil {
		p.failed = true
		file, line, msg := l.helmError(err, dir)
		p.problems = append(p.problems, Problem{File: file, Line: line, Message: msg, Renders: renders})
		return p
	}
	for _, d := range docs {
		objs, errs, skipped := parse(l.rel(d.File), d.Data, true)
		p.skip(SkipNotKubernetes, skipped)
		for _, e := range errs {
			// YAML a template produced is the chart's problem, not a file
			// the user wrote: a render finding at the template.
			p.problems = append(p.problems, Problem{File: l.rel(d.File), Line: d.Line, Message: "rendered template is not valid YAML: " + e.Message, Renders: renders})
		}
		for _, o := range objs {
			l.placeHelm(o, d)
			o.Renders = renders
			p.objects = append(p.objects, o)
		}
	}
	return p
}

// placeHelm points an object rendered from a template at the template:
// its file, its first line, and the lines of its fields there.
func (l *loader) placeHelm(o *Object, d helmchart.Document) {
	o.doc, o.prefix, o.rendered = nil, "", true
	o.Source = Source{File: l.rel(d.File), Line: d.Line}
	o.locate = d.Locate
}

// match finds the rendered document an object kustomize passed through
// came from: same kind, and the name it was made from.
func (hs helmSet) match(kind, name string) *helmchart.Document {
	best, bestLen := -1, -1
	for i, r := range hs.refs {
		if r.Kind != kind {
			continue
		}
		if r.Name == name {
			return &hs.docs[i]
		}
		if r.Name != "" && len(r.Name) > bestLen && strings.Contains(name, r.Name) {
			best, bestLen = i, len(r.Name)
		}
	}
	if best < 0 {
		return nil
	}
	return &hs.docs[best]
}

// newHelmSet keeps a chart's documents with the kind and name of each,
// read once for every object that is matched against them.
func newHelmSet(docs []helmchart.Document, render Render) helmSet {
	hs := helmSet{docs: docs, render: render, refs: make([]Ref, len(docs))}
	for i, d := range docs {
		if objs, _ := Parse("", d.Data); len(objs) == 1 {
			hs.refs[i] = Ref{Kind: objs[0].Kind(), Name: objs[0].Name()}
		}
	}
	return hs
}

// helmError places a chart's render error: where Helm says, else at the
// chart's Chart.yaml.
func (l *loader) helmError(err error, dir string) (file string, line int, msg string) {
	var he *helmchart.Error
	if errors.As(err, &he) {
		f := he.File
		if f == "" {
			f = filepath.Join(dir, "Chart.yaml")
		}
		ln := he.Line
		if ln == 0 {
			ln = 1
		}
		return l.rel(f), ln, "helm template " + l.rel(dir) + ": " + shortError(he.Message)
	}
	return l.rel(filepath.Join(dir, "Chart.yaml")), 1, "helm template " + l.rel(dir) + ": " + shortError(err.Error())
}
