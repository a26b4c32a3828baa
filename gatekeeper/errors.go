package gatekeeper

import (
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/gatekeep-dev/gatekeep/manifest"
)

// Errors lists problems with templates, constraints or expansion templates,
// each with its file and line.
type Errors []manifest.Error

func (e Errors) Error() string {
	s := make([]string, len(e))
	for i, x := range e {
		s[i] = x.Error()
	}
	return strings.Join(s, "\n")
}

func (e Errors) sorted() Errors {
	sort.SliceStable(e, func(i, j int) bool {
		if e[i].File != e[j].File {
			return e[i].File < e[j].File
		}
		return e[i].Line < e[j].Line
	})
	return e
}

// line gives the file line of a field of the document, or the document's
// first line.
func (d *Document) line(pointer string) int {
	if d.Line != nil && pointer != "" {
		if l := d.Line(pointer); l > 0 {
			return l
		}
	}
	return d.Source.Line
}

// fieldLine is like line, but walks up to the nearest field that is in the
// file: a schema error about /spec/parameters/labels/3 points at labels if
// the item is not there.
func (d *Document) fieldLine(pointer string) int {
	for pointer != "" {
		if l := d.line(pointer); l > 0 && l != d.Source.Line {
			return l
		}
		i := strings.LastIndexByte(pointer, '/')
		if i < 0 {
			break
		}
		pointer = pointer[:i]
	}
	return d.Source.Line
}

// regoLine is the file line of row (from 1) of a Rego source held in the
// field at pointer: in a block scalar ("rego: |") the code starts on the
// line after the key.
func (d *Document) regoLine(pointer string, row int) int {
	base := d.line(pointer)
	if row <= 0 {
		return base
	}
	v, _ := manifest.Get(d.Object, pointer)
	if s, ok := v.(string); ok && strings.Contains(s, "\n") {
		return base + row
	}
	return base
}

func (d *Document) errorf(line int, msg string) manifest.Error {
	return manifest.Error{File: d.Source.File, Line: line, Message: msg}
}

var fieldPathRE = regexp.MustCompile(`\bspec(\.[A-Za-z0-9_-]+|\[[^\]]*\])+`)

// pointerInMessage finds the first field path in an error message from
// Kubernetes' validation ("spec.parameters.labels[0].key") and returns it as
// a JSON pointer.
func pointerInMessage(msg string) string {
	p := fieldPathRE.FindString(msg)
	if p == "" {
		return ""
	}
	var b strings.Builder
	for _, part := range strings.FieldsFunc(p, func(r rune) bool { return r == '.' || r == '[' || r == ']' }) {
		if _, err := strconv.Atoi(part); err != nil {
			part = strings.Trim(part, `"`)
		}
		b.WriteByte('/')
		b.WriteString(manifest.Escape(part))
	}
	return b.String()
}

func escapePointer(tok string) string { return manifest.Escape(tok) }
