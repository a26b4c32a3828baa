package helmchart

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	yamlv3 "gopkg.in/yaml.v3"
	chart "helm.sh/helm/v4/pkg/chart/v2"
	release "helm.sh/helm/v4/pkg/release/v1/util"
	"sigs.k8s.io/yaml"
)

var (
	// a template location as text/template and Helm write it: "mychart/templates/x.yaml:12:3"
	locRe = regexp.MustCompile(`([^\s()<>"':` + "`" + `]+):(\d+)(?::(\d+))?`)
	// Helm's one-line forms: "parse error at (loc): msg", "execution error at (loc): msg"
	oneLineRe = regexp.MustCompile(`(?s)^(?:parse|execution) error (?:at|in) \(([^)]*)\): (.*)$`)
	atRe      = regexp.MustCompile(`executing ".*?" at (<.*>):\s*$`)

	yamlLinePrefixRe = regexp.MustCompile(`yaml: line \d+: `)
)

// templateError turns an error of Helm's engine into an *Error at the template file and line it names.
func templateError(err error, srcs map[string]source, chartYAML string) *Error {
	s := strings.TrimSpace(err.Error())
	resolve := func(loc string) (string, int, bool) {
		m := locRe.FindStringSubmatch(loc)
		if m == nil {
			return "", 0, false
		}
		src, ok := srcs[m[1]]
		if !ok {
			return "", 0, false
		}
		n, _ := strconv.Atoi(m[2])
		return src.file, n, true
	}

	if m := oneLineRe.FindStringSubmatch(s); m != nil {
		msg := strings.TrimSpace(m[2])
		if f, n, ok := resolve(m[1]); ok {
			return newError(f, n, "%s", oneLine(msg))
		}
		return newError(chartYAML, 0, "%s", oneLine(msg))
	}

	// Helm's multi-line form: blocks of "location\n  executing ... at <x>:\n    message",
	// outermost first. Name the innermost location that is a file of the chart.
	lines := strings.Split(s, "\n")
	type block struct {
		file       string
		line       int
		at, detail string
	}
	var blocks []block
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" {
			continue
		}
		if !strings.HasPrefix(l, " ") {
			if f, n, ok := resolve(t); ok && locRe.FindString(t) == t {
				blocks = append(blocks, block{file: f, line: n})
				continue
			}
		}
		if len(blocks) == 0 {
			continue
		}
		b := &blocks[len(blocks)-1]
		if m := atRe.FindStringSubmatch(t); m != nil && b.at == "" {
			b.at = m[1]
		} else if b.detail == "" {
			b.detail = t
		}
	}
	if len(blocks) > 0 {
		b := blocks[len(blocks)-1]
		msg := b.detail
		if msg == "" {
			for i := len(blocks) - 1; i >= 0 && msg == ""; i-- {
				msg = blocks[i].detail
			}
		}
		if b.at != "" {
			msg = b.at + ": " + msg
		}
		return newError(b.file, b.line, "%s", strings.TrimPrefix(msg, "error calling "))
	}

	// Anything else: the last chart file it names, if any.
	for _, m := range reverse(locRe.FindAllString(s, -1)) {
		if f, n, ok := resolve(m); ok {
			return newError(f, n, "%s", oneLine(s))
		}
	}
	return newError(chartYAML, 0, "%s", oneLine(s))
}

// yamlError turns Helm's "YAML parse error on <template>: ..." into an *Error at the template,
// at the line of the source that produced the bad line where that can be told.
func yamlError(err error, files map[string]string, srcs map[string]source) *Error {
	s := err.Error()
	const prefix = "YAML parse error on "
	if !strings.HasPrefix(s, prefix) {
		return newError("", 0, "%s", oneLine(s))
	}
	tpl, rest, _ := strings.Cut(s[len(prefix):], ": ")
	rest = strings.ReplaceAll(rest, "error converting YAML to JSON: ", "")
	rest = yamlLinePrefixRe.ReplaceAllString(rest, "") // a line of the rendered document, not of the template
	src, ok := srcs[tpl]
	if !ok {
		return newError("", 0, "%s: %s", tpl, oneLine(rest))
	}
	// Which document of the rendered template fails, and which line of it.
	parts := splitParts(files[tpl])
	bad, badLine := -1, 0
	var badText string
	for i, p := range parts {
		if strings.TrimSpace(p) == "" {
			continue
		}
		doc := strings.TrimLeft(p, " \t\r\n")
		var head release.SimpleHead
		if e := yaml.Unmarshal([]byte(doc), &head); e != nil {
			bad = i
			badLine = yamlErrLine(e)
			if dl := strings.Split(doc, "\n"); badLine > 0 && badLine <= len(dl) {
				badText = strings.TrimSpace(dl[badLine-1])
			}
			break
		}
	}
	d := Document{File: src.file, src: src.text, part: sourcePart(src.text, files[tpl], bad, nil)}
	line := d.firstLine()
	if badText != "" {
		if l := matchSourceLine(src.text, badText); l > 0 {
			line = l
		}
	}
	msg := "rendered template is not valid YAML: " + oneLine(rest)
	if badText != "" {
		if len(badText) > 80 {
			badText = badText[:80] + "…"
		}
		msg += " (rendered line: " + badText + ")"
	}
	return newError(src.file, line, "%s", msg)
}

func oneLine(s string) string {
	f := strings.Fields(s)
	return strings.Join(f, " ")
}

func reverse(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

// yamlRoot parses a YAML file into its top-level mapping node.
func yamlRoot(file string) *yamlv3.Node {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	var doc yamlv3.Node
	if yamlv3.Unmarshal(b, &doc) != nil || len(doc.Content) == 0 || doc.Content[0].Kind != yamlv3.MappingNode {
		return nil
	}
	return doc.Content[0]
}

// lineOfKey is the line of a top-level key of a YAML file, 0 if not found.
func lineOfKey(file, key string) int {
	root := yamlRoot(file)
	if root == nil {
		return 0
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == key {
			return root.Content[i].Line
		}
	}
	return 0
}

// dependencyLine is the line of the entry of dependencies: for r (the entry naming its chart and,
// where several do, the one with its alias and repository too), 0 if not found.
func dependencyLine(file string, r *chart.Dependency) int {
	root := yamlRoot(file)
	if root == nil {
		return 0
	}
	first := 0
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value != "dependencies" || root.Content[i+1].Kind != yamlv3.SequenceNode {
			continue
		}
		for _, item := range root.Content[i+1].Content {
			if item.Kind != yamlv3.MappingNode {
				continue
			}
			var name, alias, repo string
			for j := 0; j+1 < len(item.Content); j += 2 {
				switch item.Content[j].Value {
				case "name":
					name = item.Content[j+1].Value
				case "alias":
					alias = item.Content[j+1].Value
				case "repository":
					repo = item.Content[j+1].Value
				}
			}
			if name != r.Name {
				continue
			}
			if alias == r.Alias && repo == r.Repository {
				return item.Line
			}
			if first == 0 {
				first = item.Line
			}
		}
	}
	return first
}

// dependencyLocation is the file (Chart.yaml, or requirements.yaml of an apiVersion v1 chart) and
// line of the entry of dependency r of the chart in dir; the line is 0 if not found.
func dependencyLocation(dir string, r *chart.Dependency) (string, int) {
	file := filepath.Join(dir, "Chart.yaml")
	line := dependencyLine(file, r)
	if line == 0 {
		if l := dependencyLine(filepath.Join(dir, "requirements.yaml"), r); l > 0 {
			file, line = filepath.Join(dir, "requirements.yaml"), l
		}
	}
	return file, line
}

// matchSourceLine is the line of src that could have rendered the text rendered (its literal
// text around its actions matches), if there is exactly one; 0 if not.
func matchSourceLine(src, rendered string) int {
	lits, _ := maskActions(src)
	var exact, fuzzy []int
	for i, lit := range lits {
		t := strings.TrimSpace(lit)
		if t == "" || onlyExpr(t) {
			continue
		}
		if t == rendered {
			exact = append(exact, i+1)
			continue
		}
		pieces := strings.Split(t, exprMark)
		if len(pieces) == 1 {
			continue
		}
		for j, p := range pieces {
			pieces[j] = regexp.QuoteMeta(p)
		}
		if re, err := regexp.Compile("^" + strings.Join(pieces, ".*") + "$"); err == nil && re.MatchString(rendered) {
			fuzzy = append(fuzzy, i+1)
		}
	}
	switch {
	case len(exact) == 1:
		return exact[0]
	case len(exact) == 0 && len(fuzzy) == 1:
		return fuzzy[0]
	}
	return 0
}
