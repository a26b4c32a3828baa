package argocd

import (
	"regexp"
	"strings"
	"sync"

	"github.com/gobwas/glob"
)

// MatchDirectory reports whether the file rel (slash path relative to the source directory) is
// one Argo CD reads for a directory source with opts, as its repo server does: without recurse
// only files directly in the directory; exclude, when set, must not match rel and include, when
// set, must match it. include and exclude are gobwas globs matched against the whole relative
// path with no separator ('*' also matches '/'), so brace lists such as {config.json,env-usw2/*}
// work. A pattern that does not compile matches nothing (Argo CD logs it and goes on). The file
// name filter (.yaml, .yml, .json, .jsonnet) is IsManifestFile.
func MatchDirectory(rel string, opts *DirectoryOptions) bool {
	rel = strings.TrimPrefix(rel, "./")
	var o DirectoryOptions
	if opts != nil {
		o = *opts
	}
	if !o.Recurse && strings.Contains(rel, "/") {
		return false
	}
	if o.Exclude != "" && globMatch(o.Exclude, rel) {
		return false
	}
	if o.Include != "" && !globMatch(o.Include, rel) {
		return false
	}
	return true
}

var manifestFile = regexp.MustCompile(`^.*\.(yaml|yml|json|jsonnet)$`)

// IsManifestFile reports whether Argo CD's directory source reads a file of that name (base name):
// .yaml, .yml, .json or .jsonnet.
func IsManifestFile(name string) bool { return manifestFile.MatchString(name) }

var globs sync.Map // pattern -> *glob.Pattern (nil when it does not compile)

func globMatch(pattern, s string) bool {
	var g *glob.Pattern
	if v, ok := globs.Load(pattern); ok {
		g = v.(*glob.Pattern)
	} else {
		p, err := glob.Compile(pattern)
		if err != nil {
			p = nil
		}
		globs.Store(pattern, p)
		g = p
	}
	return g != nil && g.Match(s)
}

// pathspecMatch matches a file path (slash, relative to the repository root) against a git
// pathspec the way `git ls-files -- <pathspec>` does, which is what Argo CD's git files generator
// runs: the pathspec matches the path itself or a leading directory of it, or, when it has
// wildcards, matches it with fnmatch without FNM_PATHNAME ('*' and '?' also match '/').
func pathspecMatch(pattern, name string) bool {
	pattern = strings.TrimPrefix(pattern, "./")
	if pattern == "" || pattern == "." {
		return true
	}
	if name == pattern {
		return true
	}
	if strings.HasPrefix(name, pattern) && (strings.HasSuffix(pattern, "/") || name[len(pattern)] == '/') {
		return true
	}
	if !strings.ContainsAny(pattern, "*?[\\") {
		return false
	}
	return wildmatch(pattern, name)
}

// wildmatch is git's wildmatch without WM_PATHNAME: '*' matches any run of bytes (including '/'),
// '?' any one byte, [...] a class ([!...] or [^...] negated, ranges, [:alpha:] and the like), '\'
// escapes the next byte.
func wildmatch(p, s string) bool {
	// iterative matching with backtracking to the last '*'
	pi, si := 0, 0
	starP, starS := -1, 0
	for si < len(s) {
		if pi < len(p) {
			switch c := p[pi]; c {
			case '*':
				for pi < len(p) && p[pi] == '*' {
					pi++
				}
				if pi == len(p) {
					return true
				}
				starP, starS = pi, si
				continue
			case '?':
				pi++
				si++
				continue
			case '[':
				if ok, n, valid := matchClass(p[pi:], s[si]); valid {
					if ok {
						pi += n
						si++
						continue
					}
				} else if s[si] == '[' { // an unterminated class is a literal '['
					pi++
					si++
					continue
				}
			case '\\':
				if pi+1 < len(p) && p[pi+1] == s[si] {
					pi += 2
					si++
					continue
				}
			default:
				if c == s[si] {
					pi++
					si++
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		starS++
		pi, si = starP, starS
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// matchClass matches c against the bracket expression at the start of p. n is the length of the
// expression; valid is false when it has no closing ']'.
func matchClass(p string, c byte) (matched bool, n int, valid bool) {
	i := 1
	negate := false
	if i < len(p) && (p[i] == '!' || p[i] == '^') {
		negate = true
		i++
	}
	first := true
	for i < len(p) {
		if p[i] == ']' && !first {
			return matched != negate, i + 1, true
		}
		first = false
		if p[i] == '[' && i+1 < len(p) && p[i+1] == ':' {
			if end := strings.Index(p[i+2:], ":]"); end >= 0 {
				if classMatch(p[i+2:i+2+end], c) {
					matched = true
				}
				i += end + 4
				continue
			}
		}
		lo := p[i]
		if lo == '\\' && i+1 < len(p) {
			i++
			lo = p[i]
		}
		i++
		hi := lo
		if i+1 < len(p) && p[i] == '-' && p[i+1] != ']' {
			hi = p[i+1]
			if hi == '\\' && i+2 < len(p) {
				hi = p[i+2]
				i++
			}
			i += 2
		}
		if lo <= c && c <= hi {
			matched = true
		}
	}
	return false, 0, false
}

func classMatch(name string, c byte) bool {
	switch name {
	case "alnum":
		return isAlpha(c) || isDigit(c)
	case "alpha":
		return isAlpha(c)
	case "blank":
		return c == ' ' || c == '\t'
	case "cntrl":
		return c < 32 || c == 127
	case "digit":
		return isDigit(c)
	case "graph":
		return c > 32 && c < 127
	case "lower":
		return c >= 'a' && c <= 'z'
	case "print":
		return c >= 32 && c < 127
	case "punct":
		return c > 32 && c < 127 && !isAlpha(c) && !isDigit(c)
	case "space":
		return c == ' ' || (c >= '\t' && c <= '\r')
	case "upper":
		return c >= 'A' && c <= 'Z'
	case "xdigit":
		return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
	}
	return false
}

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
