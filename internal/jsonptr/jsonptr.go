// Package jsonptr reads JSON pointers (RFC 6901) in values as JSON decodes
// them: map[string]any, []any and scalars.
package jsonptr

import (
	"strconv"
	"strings"
)

var (
	escaper   = strings.NewReplacer("~", "~0", "/", "~1")
	unescaper = strings.NewReplacer("~1", "/", "~0", "~")
)

// Escape escapes one token.
func Escape(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return escaper.Replace(tok)
}

// Unescape reverses Escape.
func Unescape(tok string) string {
	if !strings.Contains(tok, "~") {
		return tok
	}
	return unescaper.Replace(tok)
}

// Tokens splits a pointer into its unescaped tokens; nil for "" (the
// whole value) and for a pointer that does not start with a slash.
func Tokens(pointer string) []string {
	if !strings.HasPrefix(pointer, "/") {
		return nil
	}
	toks := strings.Split(pointer[1:], "/")
	for i, t := range toks {
		toks[i] = Unescape(t)
	}
	return toks
}

// Get returns the value at pointer inside v.
func Get(v any, pointer string) (any, bool) {
	if pointer == "" {
		return v, true
	}
	toks := Tokens(pointer)
	if toks == nil {
		return nil, false
	}
	return Walk(v, toks)
}

// Walk returns the value the tokens lead to inside v.
func Walk(v any, toks []string) (any, bool) {
	for _, tok := range toks {
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}
