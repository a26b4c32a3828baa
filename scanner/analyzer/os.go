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
	if id == "" {
		return nil
	}
	fam, ok := families[id]
	if !ok {
		fam = id
	}
	return &OS{Family: fam, Version: kv["VERSION_ID"]}
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
