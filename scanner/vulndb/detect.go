package vulndb

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/aquasecurity/trivy-db/pkg/types"
	"github.com/aquasecurity/trivy-db/pkg/vulnsrc/bucket"
	bolt "go.etcd.io/bbolt"

	"github.com/gatekeep-dev/gatekeep/scanner/analyzer"
)

// Bucket names of trivy-db's schema 2.
const (
	vulnerabilityBucket = "vulnerability"
	dataSourceBucket    = "data-source"
	goPrefix            = "go::"
)

// Severity source IDs (trivy-db's vulnsrc/vulnerability).
const (
	sourceNVD  types.SourceID = "nvd"
	sourceGHSA types.SourceID = "ghsa"
)

// Finding is one vulnerability of one package.
type Finding struct {
	ID        string
	VendorIDs []string
	// Type is the package's: deb, apk, rpm, gobinary.
	Type          string
	Package       string
	SourcePackage string
	// Installed is the package's version as reported (the binary package's
	// for dpkg; trivy compares the source package's).
	Installed string
	Fixed     string
	// Severity is UNKNOWN, LOW, MEDIUM, HIGH or CRITICAL, chosen as trivy
	// does; SeveritySource names whose it is (debian, nvd, ghsa, …).
	Severity       string
	SeveritySource string
	// Status is fixed, affected, will_not_fix, fix_deferred, end_of_life, …
	Status     string
	Title      string
	DataSource string
	// Path is the file a Go module was found in.
	Path string
}

// Result is what a match found.
type Result struct {
	Findings []Finding
	// Generation is the DB generation that answered.
	Generation uint64
	// Warnings say what could not be matched (an OS without advisories).
	Warnings []string
}

// osRule says how trivy matches one OS family's packages.
type osRule struct {
	bucket    func(version string) string
	ecosystem string // version order
	bySource  bool   // advisories are keyed by source package, compared at its version
	unfixed   bool   // advisories without a fixed version are reported
	modular   bool   // rpm module streams prefix the package name
}

func major(v string) string { s, _, _ := strings.Cut(v, "."); return s }

func majorMinor(v string) string {
	if strings.Count(v, ".") > 1 {
		return v[:strings.LastIndex(v, ".")]
	}
	return v
}

var osRules = map[string]osRule{
	"debian":     {bucket: func(v string) string { return bucket.NewDebian(major(v)).Name() }, ecosystem: "deb", bySource: true, unfixed: true},
	"ubuntu":     {bucket: func(v string) string { return bucket.NewUbuntu(v).Name() }, ecosystem: "deb", bySource: true, unfixed: true},
	"alpine":     {bucket: func(v string) string { return bucket.NewAlpine(v).Name() }, ecosystem: "apk", bySource: true, unfixed: true},
	"wolfi":      {bucket: func(string) string { return bucket.NewWolfi("").Name() }, ecosystem: "apk", bySource: true},
	"chainguard": {bucket: func(string) string { return bucket.NewChainguard("").Name() }, ecosystem: "apk", bySource: true},
	"alma":       {bucket: func(v string) string { return bucket.NewAlma(major(v)).Name() }, ecosystem: "rpm", modular: true},
	"rocky":      {bucket: func(v string) string { return bucket.NewRocky(major(v)).Name() }, ecosystem: "rpm", modular: true},
	"oracle":     {bucket: func(v string) string { return bucket.NewOracle(major(v)).Name() }, ecosystem: "rpm"},
	"amazon":     {bucket: func(v string) string { return bucket.NewAmazon(amazonRelease(v)).Name() }, ecosystem: "rpm"},
}

// amazonRelease maps VERSION_ID to trivy's Amazon Linux buckets.
func amazonRelease(v string) string {
	v = strings.Fields(v + " ")[0]
	switch v {
	case "2", "2022", "2023":
		return v
	}
	return "1"
}

// alpineRelease is the release whose advisories apply: the repository's
// when /etc/apk/repositories names one, else major.minor; pre-releases are
// edge.
func alpineRelease(o *analyzer.OS) string {
	if o.Repository != "" {
		return majorMinor(o.Repository)
	}
	if strings.Contains(o.Version, "_alpha") || strings.Contains(o.Version, "_beta") {
		return "edge"
	}
	return majorMinor(o.Version)
}

// Detect matches an image's packages. OS packages are matched when the OS
// is one this package knows trivy's buckets for; Go modules always.
func (d *DB) Detect(o *analyzer.OS, pkgs []analyzer.Package) (*Result, error) {
	s, err := d.acquire()
	if err != nil {
		return nil, err
	}
	defer s.release()
	res := &Result{Generation: s.gen}
	m := &matcher{vulns: map[string]*types.Vulnerability{}, sources: map[string]types.DataSource{}, seen: map[string]bool{}}
	err = s.bolt.View(func(tx *bolt.Tx) error {
		m.tx = tx
		var rule osRule
		var bkt string
		hasOSPkgs := false
		for _, p := range pkgs {
			if p.Type != analyzer.TypeGoBinary {
				hasOSPkgs = true
				break
			}
		}
		if o != nil && hasOSPkgs {
			var ok bool
			if rule, ok = osRules[o.Family]; ok {
				v := o.Version
				if o.Family == "alpine" {
					v = alpineRelease(o)
				}
				bkt = rule.bucket(v)
			} else {
				res.Warnings = append(res.Warnings, fmt.Sprintf("no advisories are matched for %s %s: its OS packages were not checked", o.Family, o.Version))
			}
		} else if hasOSPkgs {
			res.Warnings = append(res.Warnings, "the OS is not known: OS packages were not checked")
		}
		for _, p := range pkgs {
			var err error
			switch {
			case p.Type == analyzer.TypeGoBinary:
				err = m.goModule(s, p)
			case bkt != "":
				err = m.osPackage(bkt, rule, p)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Findings = m.out
	sort.SliceStable(res.Findings, func(i, j int) bool {
		a, b := res.Findings[i], res.Findings[j]
		if a.Package != b.Package {
			return a.Package < b.Package
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if ra, rb := Rank(a.Severity), Rank(b.Severity); ra != rb {
			return ra > rb
		}
		return a.ID < b.ID
	})
	return res, nil
}

// Rank orders severities: UNKNOWN 0 … CRITICAL 4 (-1 for no severity).
func Rank(sev string) int {
	for i, n := range types.SeverityNames {
		if n == sev {
			return i
		}
	}
	return -1
}

type matcher struct {
	tx      *bolt.Tx
	vulns   map[string]*types.Vulnerability
	sources map[string]types.DataSource
	seen    map[string]bool
	out     []Finding
}

// advisories returns the advisories of one root bucket for a package, as
// trivy-db's GetAdvisories does: root bucket / package bucket / vuln ID.
func (m *matcher) advisories(root, pkg string, fn func(id string, adv types.Advisory, ds types.DataSource) error) error {
	r := m.tx.Bucket([]byte(root))
	if r == nil {
		return nil
	}
	b := r.Bucket([]byte(pkg))
	if b == nil {
		return nil
	}
	ds := m.source(root)
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return nil
		}
		var adv types.Advisory
		if err := json.Unmarshal(v, &adv); err != nil {
			return fmt.Errorf("advisory %s/%s/%s: %w", root, pkg, k, err)
		}
		adv.VulnerabilityID = string(k)
		return fn(string(k), adv, ds)
	})
}

func (m *matcher) source(root string) types.DataSource {
	if ds, ok := m.sources[root]; ok {
		return ds
	}
	var ds types.DataSource
	if b := m.tx.Bucket([]byte(dataSourceBucket)); b != nil {
		if v := b.Get([]byte(root)); v != nil {
			_ = json.Unmarshal(v, &ds)
		}
	}
	m.sources[root] = ds
	return ds
}

func (m *matcher) vuln(id string) *types.Vulnerability {
	if v, ok := m.vulns[id]; ok {
		return v
	}
	var v *types.Vulnerability
	if b := m.tx.Bucket([]byte(vulnerabilityBucket)); b != nil {
		if raw := b.Get([]byte(id)); raw != nil {
			v = new(types.Vulnerability)
			if json.Unmarshal(raw, v) != nil {
				v = nil
			}
		}
	}
	m.vulns[id] = v
	return v
}

func (m *matcher) osPackage(bkt string, rule osRule, p analyzer.Package) error {
	name, ver := p.Name, p.Version
	if rule.bySource {
		if p.SrcName != "" {
			name = p.SrcName
		}
		if p.SrcVersion != "" {
			ver = p.SrcVersion
		}
	}
	if rule.modular {
		if strings.Contains(p.Version, ".module_el") && p.Modularitylabel == "" {
			return nil // trivy skips these: their advisories cannot be told apart
		}
		name = modularName(name, p.Modularitylabel)
	}
	return m.advisories(bkt, name, func(id string, adv types.Advisory, ds types.DataSource) error {
		if len(adv.Arches) > 0 && p.Arch != "" && !contains(adv.Arches, p.Arch) {
			return nil
		}
		if adv.FixedVersion == "" {
			if !rule.unfixed {
				return nil
			}
		} else if less, err := Less(rule.ecosystem, ver, adv.FixedVersion); err != nil || !less {
			return nil
		}
		m.add(p, id, adv, ds, adv.FixedVersion)
		return nil
	})
}

func (m *matcher) goModule(s *snapshot, p analyzer.Package) error {
	if p.Version == "" || p.Version == "(devel)" {
		return nil
	}
	// Like trivy-db's ForEachAdvisory over "go::": every Go data source, a
	// later bucket's advisory for the same ID replacing an earlier one's.
	type hit struct {
		adv types.Advisory
		ds  types.DataSource
	}
	hits := map[string]hit{}
	var order []string
	for _, root := range s.goBkts {
		err := m.advisories(root, p.Name, func(id string, adv types.Advisory, ds types.DataSource) error {
			if _, ok := hits[id]; !ok {
				order = append(order, id)
			}
			hits[id] = hit{adv, ds}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, id := range order {
		h := hits[id]
		if vulnerableGo(p.Version, h.adv) {
			m.add(p, id, h.adv, h.ds, fixedGo(h.adv))
		}
	}
	return nil
}

func (m *matcher) add(p analyzer.Package, id string, adv types.Advisory, ds types.DataSource, fixed string) {
	key := id + "\x00" + p.Name + "\x00" + p.Version + "\x00" + p.Path
	if m.seen[key] {
		return
	}
	m.seen[key] = true
	f := Finding{ID: id, VendorIDs: adv.VendorIDs, Type: p.Type, Package: p.Name, Installed: p.Version, Fixed: fixed,
		DataSource: string(ds.ID), Path: p.Path}
	if p.Type != analyzer.TypeGoBinary {
		f.SourcePackage = p.SrcName
	}
	status := types.StatusAffected
	switch {
	case fixed != "":
		status = types.StatusFixed
	case adv.Status != types.StatusUnknown:
		status = adv.Status
	}
	f.Status = status.String()
	v := m.vuln(id)
	if v != nil {
		f.Title = v.Title
	}
	f.Severity, f.SeveritySource = severity(id, adv, v, ds)
	m.out = append(m.out, f)
}

// severity chooses as trivy does: the advisory's own package-specific
// severity (Debian's), then the vendor severity of the advisory's data
// source, GitHub's for GHSA IDs, NVD's, and last the severity the database
// stored for the vulnerability.
func severity(id string, adv types.Advisory, v *types.Vulnerability, ds types.DataSource) (string, string) {
	if adv.Severity != types.SeverityUnknown {
		return adv.Severity.String(), string(ds.ID)
	}
	if v == nil {
		return types.SeverityUnknown.String(), ""
	}
	if s, ok := v.VendorSeverity[ds.ID]; ok && ds.ID != "" {
		return s.String(), string(ds.ID)
	}
	if ds.BaseID != "" {
		if s, ok := v.VendorSeverity[ds.BaseID]; ok {
			return s.String(), string(ds.BaseID)
		}
	}
	if strings.HasPrefix(id, "GHSA-") {
		if s, ok := v.VendorSeverity[sourceGHSA]; ok {
			return s.String(), string(sourceGHSA)
		}
	}
	if s, ok := v.VendorSeverity[sourceNVD]; ok {
		return s.String(), string(sourceNVD)
	}
	// Severity is deprecated in trivy-db, but VendorSeverity (read above)
	// cannot stand in for it: it is the sourceless severity trivy still
	// falls back on when no vendor rated the vulnerability.
	if v.Severity != "" { //nolint:staticcheck // SA1019: trivy's last resort, see above
		return v.Severity, "" //nolint:staticcheck // SA1019: as above
	}
	return types.SeverityUnknown.String(), ""
}

// modularName prefixes an rpm module's name:stream, as trivy-db keys them:
// npm from nodejs:12:8030020201124152102:229f0a1c is nodejs:12::npm.
func modularName(name, label string) string {
	count := 0
	for i, r := range label {
		if r == ':' {
			count++
		}
		if count == 2 {
			return label[:i] + "::" + name
		}
	}
	return name
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
