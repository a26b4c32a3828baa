// Package kubeversion parses and compares Kubernetes release versions.
package kubeversion

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a Kubernetes release: 1.34, or 1.34.3 when a patch was given.
type Version struct {
	Major, Minor, Patch int
	HasPatch            bool
}

// Latest is the newest Kubernetes minor gatekeep supports, the default target.
var Latest = Version{Major: 1, Minor: 37}

// Parse accepts "1.34", "1.34.3" and "v1.34.3".
func Parse(s string) (Version, error) {
	t := strings.TrimPrefix(strings.TrimSpace(s), "v")
	parts := strings.Split(t, ".")
	if len(parts) < 2 || len(parts) > 3 {
		return Version{}, fmt.Errorf("kubernetes version %q: want MAJOR.MINOR or MAJOR.MINOR.PATCH, such as 1.34 or v1.34.3", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || (len(p) > 1 && p[0] == '0') {
			return Version{}, fmt.Errorf("kubernetes version %q: %q is not a number", s, p)
		}
		n[i] = v
	}
	if n[0] != 1 {
		return Version{}, fmt.Errorf("kubernetes version %q: only 1.x releases exist", s)
	}
	return Version{Major: n[0], Minor: n[1], Patch: n[2], HasPatch: len(parts) == 3}, nil
}

// String prints the version as it was given, without a leading v.
func (v Version) String() string {
	if v.HasPatch {
		return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	}
	return fmt.Sprintf("%d.%d", v.Major, v.Minor)
}

// MinorString prints MAJOR.MINOR.
func (v Version) MinorString() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less orders releases by major and minor (patches do not change APIs).
func (v Version) Less(o Version) bool {
	if v.Major != o.Major {
		return v.Major < o.Major
	}
	return v.Minor < o.Minor
}

// IsZero reports whether no version was set.
func (v Version) IsZero() bool { return v == Version{} }
