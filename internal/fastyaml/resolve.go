package fastyaml

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The tags yaml.v3 gives scalars (its resolve.go).
const (
	nullTag      = "!!null"
	boolTag      = "!!bool"
	strTag       = "!!str"
	intTag       = "!!int"
	floatTag     = "!!float"
	timestampTag = "!!timestamp"
	seqTag       = "!!seq"
	mapTag       = "!!map"
	mergeTag     = "!!merge"
)

// resolveHint is yaml.v3's resolveTable: the first byte of a plain scalar
// that may make it something other than a string.
var resolveHint = func() (t [256]byte) {
	t['+'], t['-'] = 'S', 'S'
	for c := '0'; c <= '9'; c++ {
		t[c] = 'D'
	}
	for _, c := range "yYnNtTfFoO~" {
		t[c] = 'M'
	}
	t['.'] = '.'
	return t
}()

// resolveMap is yaml.v3's resolveMap, tags only.
var resolveMap = map[string]string{
	"true": boolTag, "True": boolTag, "TRUE": boolTag,
	"false": boolTag, "False": boolTag, "FALSE": boolTag,
	"": nullTag, "~": nullTag, "null": nullTag, "Null": nullTag, "NULL": nullTag,
	".nan": floatTag, ".NaN": floatTag, ".NAN": floatTag,
	".inf": floatTag, ".Inf": floatTag, ".INF": floatTag,
	"+.inf": floatTag, "+.Inf": floatTag, "+.INF": floatTag,
	"-.inf": floatTag, "-.Inf": floatTag, "-.INF": floatTag,
	"<<": mergeTag,
}

var yamlStyleFloat = regexp.MustCompile(`^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`)

// resolve is the tag yaml.v3 gives a plain scalar: !!merge for "<<"
// (its parser's default tag), else what its resolve("", in) gives, by the
// same rules in the same order, without the value.
func resolve(in string) string {
	if in == "<<" {
		return mergeTag
	}
	hint := byte('N')
	if in != "" {
		hint = resolveHint[in[0]]
	}
	if hint == 0 {
		return strTag
	}
	if tag, ok := resolveMap[in]; ok {
		return tag
	}
	switch hint {
	case '.':
		if _, err := strconv.ParseFloat(in, 64); err == nil {
			return floatTag
		}
	case 'D', 'S':
		if isTimestamp(in) {
			return timestampTag
		}
		plain := strings.ReplaceAll(in, "_", "")
		if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
			return intTag
		}
		if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
			return intTag
		}
		if yamlStyleFloat.MatchString(plain) {
			if _, err := strconv.ParseFloat(plain, 64); err == nil {
				return floatTag
			}
		}
		switch {
		case strings.HasPrefix(plain, "0b"):
			if _, err := strconv.ParseInt(plain[2:], 2, 64); err == nil {
				return intTag
			}
			if _, err := strconv.ParseUint(plain[2:], 2, 64); err == nil {
				return intTag
			}
		case strings.HasPrefix(plain, "-0b"):
			if _, err := strconv.ParseInt("-"+plain[3:], 2, 64); err == nil {
				return intTag
			}
		}
		switch {
		case strings.HasPrefix(plain, "0o"):
			if _, err := strconv.ParseInt(plain[2:], 8, 64); err == nil {
				return intTag
			}
			if _, err := strconv.ParseUint(plain[2:], 8, 64); err == nil {
				return intTag
			}
		case strings.HasPrefix(plain, "-0o"):
			if _, err := strconv.ParseInt("-"+plain[3:], 8, 64); err == nil {
				return intTag
			}
		}
	}
	return strTag
}

// timestampFormats are yaml.v3's allowedTimestampFormats.
var timestampFormats = []string{
	"2006-1-2T15:4:5.999999999Z07:00",
	"2006-1-2t15:4:5.999999999Z07:00",
	"2006-1-2 15:4:5.999999999",
	"2006-1-2",
}

// isTimestamp is yaml.v3's parseTimestamp, without the value.
func isTimestamp(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < '0' || c > '9' {
			break
		}
	}
	if i != 4 || i == len(s) || s[i] != '-' {
		return false
	}
	for _, format := range timestampFormats {
		if _, err := time.Parse(format, s); err == nil {
			return true
		}
	}
	return false
}
