package argocd

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"

	"github.com/Masterminds/sprig/v3"
	"sigs.k8s.io/yaml"
)

// renderer renders ApplicationSet template strings as Argo CD's applicationset utils.Render:
// fasttemplate {{param}} by default, Go text/template with sprig for goTemplate: true.
type renderer struct {
	goTmpl bool
	opts   []string
	cache  map[string]*template.Template
}

func newRenderer(goTmpl bool, opts []string) *renderer {
	return &renderer{goTmpl: goTmpl, opts: opts, cache: map[string]*template.Template{}}
}

// validTemplateOptions are the options text/template.Option accepts (it panics on others).
var validTemplateOptions = map[string]bool{
	"missingkey=default": true, "missingkey=invalid": true, "missingkey=zero": true, "missingkey=error": true,
}

// replace renders one string with params.
func (rd *renderer) replace(s string, params map[string]any) (string, error) {
	if !strings.Contains(s, "{{") {
		return s, nil
	}
	if !rd.goTmpl {
		return fastReplace(s, params)
	}
	t, ok := rd.cache[s]
	if !ok {
		var err error
		t, err = template.New("").Option(rd.opts...).Funcs(funcMap()).Parse(s)
		if err != nil {
			return "", fmt.Errorf("failed to parse go template %s: %w", s, err)
		}
		rd.cache[s] = t
	}
	var b bytes.Buffer
	if err := t.Execute(&b, params); err != nil {
		return "", fmt.Errorf("failed to execute go template %s: %w", s, err)
	}
	return b.String(), nil
}

// render renders every string of v, map keys included (as Argo CD renders the Application's
// string fields and the keys of its maps, labels and annotations say).
func (rd *renderer) render(v any, params map[string]any) (any, error) {
	switch v := v.(type) {
	case string:
		return rd.replace(v, params)
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range sortedKeys(v) {
			x, err := rd.render(v[k], params)
			if err != nil {
				return nil, err
			}
			nk, err := rd.replace(k, params)
			if err != nil {
				return nil, err
			}
			out[nk] = x
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			y, err := rd.render(x, params)
			if err != nil {
				return nil, err
			}
			out[i] = y
		}
		return out, nil
	}
	return v, nil
}

// fastReplace is fasttemplate.ExecuteFuncString with Argo CD's tag function: {{ tag }} (trimmed)
// is replaced by a string param of that name, anything else is left as written.
func fastReplace(s string, params map[string]any) (string, error) {
	var b strings.Builder
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			b.WriteString(rest)
			return b.String(), nil
		}
		b.WriteString(rest[:i])
		rest = rest[i+2:]
		j := strings.Index(rest, "}}")
		if j < 0 {
			return "", fmt.Errorf("invalid template: cannot find end tag=%q in the template=%q starting from %q", "}}", s, rest)
		}
		tag := rest[:j]
		rest = rest[j+2:]
		t := strings.TrimSpace(tag)
		if v, ok := params[t].(string); ok && t != "" {
			b.WriteString(v)
		} else {
			b.WriteString("{{" + tag + "}}")
		}
	}
}

// funcMap is Argo CD's: sprig's generic functions without env, expandenv and getHostByName,
// with normalize, slugify, toYaml, fromYaml and fromYamlArray.
var funcMap = sync.OnceValue(func() template.FuncMap {
	m := sprig.GenericFuncMap()
	delete(m, "env")
	delete(m, "expandenv")
	delete(m, "getHostByName")
	m["normalize"] = sanitizeName
	m["slugify"] = slugifyName
	m["toYaml"] = toYAML
	m["fromYaml"] = fromYAML
	m["fromYamlArray"] = fromYAMLArray
	return template.FuncMap(m)
})

var invalidDNSNameChars = regexp.MustCompile("[^-a-z0-9.]")

// sanitizeName is Argo CD's utils.SanitizeName: lower case, only [-a-z0-9.], at most 253
// characters, no leading or trailing - or '.'.
func sanitizeName(name string) string {
	name = strings.ToLower(name)
	name = invalidDNSNameChars.ReplaceAllString(name, "-")
	if len(name) > 253 {
		name = name[:253]
	}
	return strings.Trim(name, "-.")
}

var (
	slugInvalid = regexp.MustCompile("[^a-z0-9-_]")
	slugDashes  = regexp.MustCompile("-+")
)

// slugifyName is Argo CD's slugify: [maxSize (50)] [smartTruncate (true)] name.
func slugifyName(args ...any) string {
	maxSize, smart, name := 50, true, ""
	for i, a := range args {
		switch i {
		case len(args) - 1:
			name, _ = a.(string)
		case 0:
			if n, ok := a.(int); ok {
				maxSize = n
			}
		case 1:
			if b, ok := a.(bool); ok {
				smart = b
			}
		}
	}
	s := slugInvalid.ReplaceAllString(sanitizeName(name), "-")
	s = slugDashes.ReplaceAllString(s, "-")
	s = strings.Trim(s, "-_")
	if maxSize > 0 && len(s) > maxSize {
		if smart {
			cut := maxSize
			for i := maxSize; i >= 0; i-- {
				if s[i] == '-' {
					cut = i
					break
				}
			}
			s = s[:cut]
		} else {
			s = s[:maxSize]
		}
	}
	return s
}

func toYAML(v any) (string, error) {
	data, err := yaml.Marshal(v)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(string(data), "\n"), nil
}

func fromYAML(s string) (map[string]any, error) {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}

func fromYAMLArray(s string) ([]any, error) {
	var a []any
	if err := yaml.Unmarshal([]byte(s), &a); err != nil {
		return nil, err
	}
	return a, nil
}
