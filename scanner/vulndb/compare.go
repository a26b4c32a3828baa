package vulndb

import (
	"strings"

	goversion "github.com/aquasecurity/go-version/pkg/version"
	"github.com/aquasecurity/trivy-db/pkg/types"
	apkver "github.com/knqyf263/go-apk-version"
	debver "github.com/knqyf263/go-deb-version"
	rpmver "github.com/knqyf263/go-rpm-version"
)

// Less reports whether installed sorts before fixed in an ecosystem's
// version order ("deb", "apk", "rpm"), and false with an error when either
// does not parse.
func Less(ecosystem, installed, fixed string) (bool, error) {
	switch ecosystem {
	case "deb":
		a, err := debver.NewVersion(installed)
		if err != nil {
			return false, err
		}
		b, err := debver.NewVersion(fixed)
		if err != nil {
			return false, err
		}
		return a.LessThan(b), nil
	case "apk":
		a, err := apkver.NewVersion(installed)
		if err != nil {
			return false, err
		}
		b, err := apkver.NewVersion(fixed)
		if err != nil {
			return false, err
		}
		return a.LessThan(b), nil
	case "rpm":
		return rpmver.NewVersion(installed).LessThan(rpmver.NewVersion(fixed)), nil
	}
	return false, errUnknownEcosystem
}

type constError string

func (e constError) Error() string { return string(e) }

const errUnknownEcosystem = constError("unknown version ecosystem")

// vulnerableGo reports whether a Go module version falls in an advisory's
// ranges as trivy's generic comparer decides: inside VulnerableVersions
// (when given) and outside PatchedVersions and UnaffectedVersions.
func vulnerableGo(ver string, adv types.Advisory) bool {
	for _, v := range append(append([]string(nil), adv.VulnerableVersions...), adv.PatchedVersions...) {
		if v == "" {
			return true
		}
	}
	matched := false
	if len(adv.VulnerableVersions) > 0 {
		ok, err := matchGo(ver, strings.Join(adv.VulnerableVersions, " || "))
		if err != nil || !ok {
			return false
		}
		matched = true
	}
	secure := append(append([]string(nil), adv.PatchedVersions...), adv.UnaffectedVersions...)
	if len(secure) == 0 {
		return matched
	}
	ok, err := matchGo(ver, strings.Join(secure, " || "))
	if err != nil {
		return false
	}
	return !ok
}

func matchGo(ver, constraint string) (bool, error) {
	v, err := goversion.Parse(ver)
	if err != nil {
		return false, err
	}
	c, err := goversion.NewConstraints(constraint)
	if err != nil {
		return false, err
	}
	return c.Check(v), nil
}

// fixedGo is trivy's fixed version for a language advisory: the patched
// versions, else the upper bounds ("< 1.2.3") of the vulnerable ranges.
func fixedGo(adv types.Advisory) string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(adv.PatchedVersions) > 0 {
		for _, v := range adv.PatchedVersions {
			add(v)
		}
		return strings.Join(out, ", ")
	}
	for _, r := range adv.VulnerableVersions {
		for _, s := range strings.Split(r, ",") {
			s = strings.TrimSpace(s)
			if strings.HasPrefix(s, "<") && !strings.HasPrefix(s, "<=") {
				add(strings.TrimSpace(s[1:]))
			}
		}
	}
	return strings.Join(out, ", ")
}
