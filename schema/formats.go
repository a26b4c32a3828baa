package schema

import (
	"encoding/base64"
	"math"
	"net"
	"strconv"
	"strings"
	"time"
)

// isQuantity reports whether s is a resource.Quantity the API server
// accepts: a signed decimal number and one optional suffix, a binary SI
// (Ki Mi Gi Ti Pi Ei), a decimal SI (n u m k M G T P E) or an exponent
// (e3, E-2). Surrounding spaces are trimmed as Quantity.UnmarshalJSON does.
func isQuantity(s string) bool {
	s = strings.TrimSpace(s)
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	switch suffix := s[i:]; suffix {
	case "", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "n", "u", "m", "k", "M", "G", "T", "P", "E":
		return true
	default:
		if suffix[0] != 'e' && suffix[0] != 'E' {
			return false
		}
		exp := suffix[1:]
		if exp != "" && (exp[0] == '+' || exp[0] == '-') {
			exp = exp[1:]
		}
		if exp == "" {
			return false
		}
		for j := 0; j < len(exp); j++ {
			if exp[j] < '0' || exp[j] > '9' {
				return false
			}
		}
		return true
	}
}

func isDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339, s)
	return err == nil
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func base64Error(s string) error {
	_, err := base64.StdEncoding.DecodeString(s)
	return err
}

func isUUID(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			n++
		case c == '-':
		default:
			return false
		}
	}
	if n != 32 {
		return false
	}
	return len(s) == 32 || (len(s) == 36 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-')
}

// parseIPSloppy accepts what the API server's netutils.ParseIPSloppy does:
// IPv4 octets may have leading zeros.
func parseIPSloppy(s string) net.IP {
	if ip := net.ParseIP(s); ip != nil {
		return ip
	}
	if strings.Contains(s, ":") {
		return nil
	}
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return nil
	}
	var b [4]byte
	for i, p := range parts {
		if p == "" || len(p) > 3 {
			return nil
		}
		v, err := strconv.Atoi(p)
		if err != nil || v > 255 {
			return nil
		}
		b[i] = byte(v) //nolint:gosec // v <= 255 checked above; a signed octet ("-1") wrapping is kept as it was (behaviour unchanged)
	}
	return net.IPv4(b[0], b[1], b[2], b[3])
}

func isIPv4(s string) bool { return strings.Contains(s, ".") && parseIPSloppy(s) != nil }
func isIPv6(s string) bool { return strings.Contains(s, ":") && parseIPSloppy(s) != nil }

func isCIDR(s string) bool {
	i := strings.IndexByte(s, '/')
	if i < 0 || parseIPSloppy(s[:i]) == nil {
		return false
	}
	bits, err := strconv.Atoi(s[i+1:])
	max := 32
	if strings.Contains(s[:i], ":") {
		max = 128
	}
	return err == nil && bits >= 0 && bits <= max
}

func isMAC(s string) bool {
	_, err := net.ParseMAC(s)
	return err == nil
}

// number reads any Go number a decoder or a test may produce.
func number(v any) (f float64, isInt bool, ok bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true, true
	case float64:
		return x, x == math.Trunc(x) && !math.IsInf(x, 0), true
	case int:
		return float64(x), true, true
	case int32:
		return float64(x), true, true
	case uint64:
		return float64(x), true, true
	case uint32:
		return float64(x), true, true
	case uint:
		return float64(x), true, true
	case int16:
		return float64(x), true, true
	case int8:
		return float64(x), true, true
	case uint16:
		return float64(x), true, true
	case uint8:
		return float64(x), true, true
	case float32:
		f := float64(x)
		return f, f == math.Trunc(f) && !math.IsInf(f, 0), true
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := x.Float64()
		if err != nil {
			return 0, false, false
		}
		return f, f == math.Trunc(f), true
	}
	return 0, false, false
}

// inInt32 reports whether v, an integer, fits an int32.
func inInt32(v any, f float64) bool {
	switch x := v.(type) {
	case int64:
		return x >= math.MinInt32 && x <= math.MaxInt32
	case uint64:
		return x <= math.MaxInt32
	}
	return f >= math.MinInt32 && f <= math.MaxInt32
}

// inInt64 reports whether v, an integer, fits an int64.
func inInt64(v any, f float64) bool {
	switch v := v.(type) {
	case int64, int, int32, int16, int8, uint32, uint16, uint8:
		return true
	case uint64:
		return v <= math.MaxInt64
	case uint:
		return uint64(v) <= math.MaxInt64
	}
	return f >= -(1<<63) && f < 1<<63
}
