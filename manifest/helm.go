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

// matchHelmDocument finds the rendered document an object kustomize
// passed through came from: same kind, and the name it was made from.
func matchHelmDocument(docs []helmchart.Document, kind, name string) *helmchart.Document {
	best, bestLen := -1, -1
	for i, d := range docs {
		objs, _ := Parse("", d.Data)
		for _, o := range objs {
			if o.Kind() != kind {
				continue
			}
			n := o.Name()
			if n == name {
				return &docs[i]
			}
			if n != "" && len(n) > bestLen && strings.Contains(name, n) {
				best, bestLen = i, len(n)
			}
		}
	}
	if best < 0 {
		return nil
	}
	return &docs[best]
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
