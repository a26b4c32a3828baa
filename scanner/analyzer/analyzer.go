// Package analyzer reads what an image holds out of the few files that say
// so: the OS release files, the dpkg, apk and rpm package databases, and the
// build information of Go binaries. It knows file formats only; which layer a
// file came from and whether it is still visible is the caller's business.
package analyzer

import (
	"archive/tar"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
)

// OS is the distribution an image is built on.
type OS struct {
	// Family is the distribution as trivy names it: debian, ubuntu, alpine,
	// alma, rocky, amazon, oracle, redhat, centos, wolfi, chainguard, …
	Family string `json:"family"`
	// Version as the image states it ("12.5", "3.19.1", "22.04").
	Version string `json:"version"`
	// Repository is Alpine's release as /etc/apk/repositories names it
	// ("3.19", "edge"); trivy prefers it to the OS version.
	Repository string `json:"-"`
}

// The package types.
const (
	TypeDeb      = "deb"
	TypeAPK      = "apk"
	TypeRPM      = "rpm"
	TypeGoBinary = "gobinary"
)

// Package is one installed package or Go module.
type Package struct {
	Type string
	Name string
	// Version as the package manager prints it: [epoch:]version[-release]
	// for dpkg and rpm, the apk version, a Go module's version ("v1.2.3").
	Version string
	// SrcName and SrcVersion are the source package (dpkg's Source field,
	// apk's origin, the rpm's source rpm); equal to Name and Version when the
	// database names no other.
	SrcName    string
	SrcVersion string
	Arch       string
	// Modularitylabel is the rpm's module stream (name:stream:version:context).
	Modularitylabel string
	// Path is the file a Go module was found in ("usr/local/bin/app").
	Path string
}

// Contents is what an image holds.
type Contents struct {
	OS       *OS
	Packages []Package
	// Warnings name what was found but could not be read.
	Warnings []string
}

// Result is what one file says.
type Result struct {
	kind     kind
	os       *OS    // os-release
	text     string // alpine-release, debian_version, apk repositories release
	packages []Package
	warning  string
}

type kind int

const (
	kindNone kind = iota
	kindOSRelease
	kindAlpineRelease
	kindDebianVersion
	kindAPKRepositories
	kindDpkg
	kindAPK
	kindRPM
	kindGoBinary
)

// Limits on what is read into memory.
const (
	maxSmallFile = 1 << 20   // release files
	maxDatabase  = 256 << 20 // dpkg and apk databases
	maxRPMDB     = 1 << 30   // spooled to a temporary file
	minBinary    = 1 << 10
)

// fixed are the files read by their path.
var fixed = map[string]kind{
	"etc/os-release":                kindOSRelease,
	"usr/lib/os-release":            kindOSRelease,
	"etc/alpine-release":            kindAlpineRelease,
	"etc/debian_version":            kindDebianVersion,
	"etc/apk/repositories":          kindAPKRepositories,
	"var/lib/dpkg/status":           kindDpkg,
	"lib/apk/db/installed":          kindAPK,
	"var/lib/rpm/Packages":          kindRPM,
	"usr/lib/sysimage/rpm/Packages": kindRPM,
	// Formats go-rpmdb does not read: said in the report, not guessed.
	"var/lib/rpm/rpmdb.sqlite":          kindRPM,
	"var/lib/rpm/Packages.db":           kindRPM,
	"usr/lib/sysimage/rpm/rpmdb.sqlite": kindRPM,
	"usr/lib/sysimage/rpm/Packages.db":  kindRPM,
}

func classify(name string, h *tar.Header) kind {
	if k, ok := fixed[name]; ok {
		return k
	}
	if strings.HasPrefix(name, "var/lib/dpkg/status.d/") && !strings.HasSuffix(name, ".md5sums") &&
		!strings.Contains(name[len("var/lib/dpkg/status.d/"):], "/") {
		return kindDpkg
	}
	if h.FileInfo().Mode().Perm()&0o111 != 0 && h.Size >= minBinary {
		return kindGoBinary
	}
	return kindNone
}

// Wants reports whether the regular file name (a slash path without a
// leading slash) is one an analyzer reads.
func Wants(name string, h *tar.Header) bool { return classify(name, h) != kindNone }

// Read parses one file Wants asked for. A nil Result means the file turned
// out to say nothing (an executable that is not a Go binary).
func Read(name string, h *tar.Header, r io.Reader) (*Result, error) {
	k := classify(name, h)
	switch k {
	case kindOSRelease, kindAlpineRelease, kindDebianVersion, kindAPKRepositories:
		b, err := readAll(r, maxSmallFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		res := &Result{kind: k}
		switch k {
		case kindOSRelease:
			res.os = parseOSRelease(string(b))
		case kindAPKRepositories:
			res.text = apkRepositoryRelease(string(b))
		default:
			res.text = strings.TrimSpace(string(b))
		}
		return res, nil
	case kindDpkg:
		b, err := readAll(r, maxDatabase)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &Result{kind: k, packages: parseDpkg(b, strings.HasPrefix(name, "var/lib/dpkg/status.d/"))}, nil
	case kindAPK:
		b, err := readAll(r, maxDatabase)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return &Result{kind: k, packages: parseAPK(b)}, nil
	case kindRPM:
		if path.Base(name) != "Packages" {
			return &Result{kind: k, warning: fmt.Sprintf("%s: this rpm database format (%s) is not read; rpm packages are not listed", name, path.Base(name))}, nil
		}
		pkgs, err := readRPM(r, h.Size)
		if err != nil {
			return &Result{kind: k, warning: fmt.Sprintf("%s: %v; rpm packages are not listed", name, err)}, nil
		}
		return &Result{kind: k, packages: pkgs}, nil
	case kindGoBinary:
		return readGoBinary(name, r)
	}
	return nil, nil
}

func readAll(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return b, nil
}

// Merge puts together what the visible files say, keyed by path.
func Merge(files map[string]*Result) Contents {
	var c Contents
	names := make([]string, 0, len(files))
	for n, r := range files {
		if r != nil {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	text := func(name string) string {
		if r := files[name]; r != nil {
			return r.text
		}
		return ""
	}
	osr := files["etc/os-release"]
	if osr == nil {
		osr = files["usr/lib/os-release"]
	}
	switch alpine, debian := text("etc/alpine-release"), text("etc/debian_version"); {
	case alpine != "" && (osr == nil || osr.os == nil || osr.os.Family == "alpine"):
		c.OS = &OS{Family: "alpine", Version: alpine}
	case osr != nil && osr.os != nil:
		o := *osr.os
		if o.Family == "debian" && startsWithDigit(debian) {
			o.Version = debian // the point release: 12.5, not 12
		}
		c.OS = &o
	case startsWithDigit(debian):
		c.OS = &OS{Family: "debian", Version: debian}
	}
	if c.OS != nil && c.OS.Family == "alpine" {
		c.OS.Repository = text("etc/apk/repositories")
	}
	for _, n := range names {
		r := files[n]
		c.Packages = append(c.Packages, r.packages...)
		if r.warning != "" {
			c.Warnings = append(c.Warnings, r.warning)
		}
	}
	return c
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }
