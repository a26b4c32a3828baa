package analyzer

import (
	"bufio"
	"strconv"
	"strings"
)

// families maps os-release's ID to the family names trivy uses.
var families = map[string]string{
	"debian":              "debian",
	"ubuntu":              "ubuntu",
	"alpine":              "alpine",
	"rhel":                "redhat",
	"centos":              "centos",
	"rocky":               "rocky",
	"almalinux":           "alma",
	"amzn":                "amazon",
	"ol":                  "oracle",
	"fedora":              "fedora",
	"photon":              "photon",
	"mariner":             "cbl-mariner",
	"azurelinux":          "azurelinux",
	"wolfi":               "wolfi",
	"chainguard":          "chainguard",
	"sles":                "sles",
	"opensuse-leap":       "opensuse.leap",
	"opensuse-tumbleweed": "opensuse.tumbleweed",
}

// parseOSRelease reads os-release(5): KEY=value lines, values optionally quoted.
func parseOSRelease(s string) *OS {
	kv := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		kv[k] = v
	}
	id := kv["ID"]
	if id == "" || !osReleaseToken(id) {
		return nil // what the image says goes into reports: no control bytes
	}
	fam, ok := families[id]
	if !ok {
		fam = id
	}
	version := kv["VERSION_ID"]
	if !osReleaseToken(version) {
		version = ""
	}
	return &OS{Family: fam, Version: version}
}

// osReleaseToken reports whether s is what os-release(5) allows in ID and
// VERSION_ID (0-9, a-z, ".", "_", "-"; upper case and "~" and "+" let by).
func osReleaseToken(s string) bool {
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("._-~+", c):
		default:
			return false
		}
	}
	return true
}

// apkRepositoryRelease returns the Alpine release the first repository
// names: ".../alpine/v3.19/main" gives 3.19, ".../alpine/edge/main" edge.
func apkRepositoryRelease(s string) string {
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		parts := strings.Split(strings.TrimRight(line, "/"), "/")
		for i := len(parts) - 2; i >= 0; i-- {
			p := parts[i]
			if p == "edge" {
				return "edge"
			}
			if len(p) > 1 && p[0] == 'v' && startsWithDigit(p[1:]) {
				return p[1:]
			}
		}
	}
	return ""
}
