package analyzer

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	rpmdb "github.com/knqyf263/go-rpmdb/pkg"
)

// readRPM lists the packages of a Berkeley DB rpm database. go-rpmdb reads
// a file by name, so this one file (not the image) is spooled to a
// temporary file and removed.
func readRPM(r io.Reader, size int64) ([]Package, error) {
	if size > maxRPMDB {
		return nil, fmt.Errorf("larger than %d bytes", int64(maxRPMDB))
	}
	f, err := os.CreateTemp("", "gatekeep-rpmdb-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		return nil, err
	}
	if err := checkBerkeleyDB(f); err != nil {
		return nil, fmt.Errorf("malformed rpm database: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return listRPM(f.Name())
}

// listRPM lists the packages of the checked database at path. A panic of
// go-rpmdb's header parsing (this goroutine's) is an error.
func listRPM(path string) (pkgs []Package, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("malformed rpm database: %v", r)
		}
	}()
	db, err := rpmdb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open rpm database: %w", err)
	}
	list, err := db.ListPackages()
	if err != nil {
		return nil, fmt.Errorf("read rpm database: %w", err)
	}
	pkgs = make([]Package, 0, len(list))
	for _, p := range list {
		if p.Name == "gpg-pubkey" { // keys, not software
			continue
		}
		ver := rpmVersion(p.Epoch, p.Version, p.Release)
		pkg := Package{Type: TypeRPM, Name: p.Name, Version: ver, SrcName: p.Name, SrcVersion: ver,
			Arch: p.Arch, Modularitylabel: p.Modularitylabel}
		if n, v, rel, ok := splitSourceRPM(p.SourceRpm); ok {
			pkg.SrcName, pkg.SrcVersion = n, rpmVersion(p.Epoch, v, rel)
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
}

// rpmVersion formats [epoch:]version-release as rpm -q --qf does.
func rpmVersion(epoch int, version, release string) string {
	v := version
	if release != "" {
		v += "-" + release
	}
	if epoch > 0 {
		v = strconv.Itoa(epoch) + ":" + v
	}
	return v
}

// splitSourceRPM splits "openssl-1.0.2k-19.el7.src.rpm" into name, version
// and release.
func splitSourceRPM(s string) (name, version, release string, ok bool) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, ".rpm"), ".src")
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", "", "", false
	}
	release, s = s[i+1:], s[:i]
	j := strings.LastIndexByte(s, '-')
	if j <= 0 {
		return "", "", "", false
	}
	return s[:j], s[j+1:], release, true
}
