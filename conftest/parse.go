package conftest

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Errors are the problems found in a set of policies, each with its file
// and line, in file and line order.
type Errors []manifest.Error

func (e Errors) Error() string {
	if len(e) == 1 {
		return e[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d errors:", len(e))
	for _, x := range e {
		b.WriteString("\n")
		b.WriteString(x.Error())
	}
	return b.String()
}

// Unwrap gives each error, for errors.As(err, &manifest.Error{}).
func (e Errors) Unwrap() []error {
	out := make([]error, len(e))
	for i, x := range e {
		out[i] = x
	}
	return out
}

func (e Errors) sort() {
	sort.SliceStable(e, func(i, j int) bool {
		if e[i].File != e[j].File {
			return e[i].File < e[j].File
		}
		return e[i].Line < e[j].Line
	})
}

func errorAt(loc *ast.Location, msg string) manifest.Error {
	if loc == nil {
		return manifest.Error{Message: msg}
	}
	return manifest.Error{File: loc.File, Line: loc.Row, Message: msg}
}

var undefinedFunction = regexp.MustCompile(`^undefined function (\S+)$`)

// compileErrors turns OPA's errors into Errors, saying why a network
// builtin is not there.
func compileErrors(errs ast.Errors) Errors {
	out := make(Errors, 0, len(errs))
	seen := map[manifest.Error]bool{}
	for _, e := range errs {
		msg := e.Code + ": " + e.Message
		if m := undefinedFunction.FindStringSubmatch(e.Message); m != nil && networkBuiltins[m[1]] {
			msg = disabled(m[1])
		} else if strings.HasPrefix(e.Message, "with keyword target") && e.Location != nil {
			if name := string(e.Location.Text); networkBuiltins[name] {
				msg += " (" + disabled(name) + ")"
			}
		}
		x := errorAt(e.Location, msg)
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	out.sort()
	return out
}

func disabled(builtin string) string {
	return builtin + " is disabled: policies may not reach outside the machine (the bundle must allow network builtins)"
}

// asErrors gives OPA's compile and evaluation errors their file and line.
func asErrors(err error) error {
	var astErrs ast.Errors
	if errors.As(err, &astErrs) {
		return compileErrors(astErrs)
	}
	var astErr *ast.Error
	if errors.As(err, &astErr) {
		return compileErrors(ast.Errors{astErr})
	}
	var topErr *topdown.Error
	if errors.As(err, &topErr) && topErr.Location != nil {
		return errorAt(topErr.Location, topErr.Code+": "+topErr.Message)
	}
	return err
}

// parseFiles parses every file, returning all their syntax errors.
func parseFiles(files []File, version string) (map[string]*ast.Module, error) {
	modules := make(map[string]*ast.Module, len(files))
	var errs Errors
	for _, f := range files {
		if _, dup := modules[f.Name]; dup {
			errs = append(errs, manifest.Error{File: f.Name, Message: "file given twice"})
			continue
		}
		m, err := parseFile(f, version)
		if err != nil {
			errs = append(errs, err...)
			continue
		}
		modules[f.Name] = m
	}
	if len(errs) > 0 {
		errs.sort()
		return nil, errs
	}
	return modules, nil
}

// parseFile parses a file at the version asked for or, without one, as v1
// unless it imports future.keywords (written for v0) or parses only as v0.
// When it parses as neither, the errors of the version that read further
// into the file are the ones given.
func parseFile(f File, version string) (*ast.Module, Errors) {
	switch version {
	case "v0":
		return parseAt(f, ast.RegoV0)
	case "v1":
		return parseAt(f, ast.RegoV1)
	}
	m1, errs1 := parseAt(f, ast.RegoV1)
	if errs1 == nil {
		if importsFutureKeywords(m1) {
			if m0, errs0 := parseAt(f, ast.RegoV0); errs0 == nil {
				return m0, nil
			}
		}
		return m1, nil
	}
	m0, errs0 := parseAt(f, ast.RegoV0)
	if errs0 == nil {
		return m0, nil
	}
	if errs0[0].Line > errs1[0].Line {
		return nil, errs0
	}
	return nil, errs1
}

func parseAt(f File, v ast.RegoVersion) (*ast.Module, Errors) {
	m, err := ast.ParseModuleWithOpts(f.Name, string(f.Content), ast.ParserOptions{RegoVersion: v, ProcessAnnotation: true})
	if err != nil {
		var astErrs ast.Errors
		var astErr *ast.Error
		if errors.As(err, &astErr) {
			astErrs = ast.Errors{astErr}
		} else {
			errors.As(err, &astErrs)
		}
		if len(astErrs) > 0 {
			errs := compileErrors(astErrs)
			for i := range errs {
				if errs[i].File == "" {
					errs[i].File = f.Name
				}
			}
			return nil, errs
		}
		return nil, Errors{{File: f.Name, Message: err.Error()}}
	}
	if m == nil {
		return nil, Errors{{File: f.Name, Message: "no package declaration"}}
	}
	return m, nil
}

func importsFutureKeywords(m *ast.Module) bool {
	for _, imp := range m.Imports {
		if ref, ok := imp.Path.Value.(ast.Ref); ok && len(ref) >= 2 &&
			ref[0].Equal(ast.FutureRootDocument) && ref[1].Equal(ast.InternedTerm("keywords")) {
			return true
		}
	}
	return false
}
