package analyzer

import (
	"bytes"
	"strings"
)

// parseDpkg reads a dpkg status file (or one of distroless's status.d
// entries, which carry no Status field): RFC 822 paragraphs, one a package.
func parseDpkg(b []byte, statusD bool) []Package {
	var pkgs []Package
	for _, para := range paragraphs(b) {
		f := fields(para)
		name, ver := f["Package"], f["Version"]
		if name == "" || ver == "" {
			continue
		}
		if st, ok := f["Status"]; ok || !statusD {
			// "install ok installed"; config-files, half-installed and
			// the rest have no files worth judging.
			if w := strings.Fields(st); len(w) != 3 || w[2] != "installed" {
				continue
			}
		}
		p := Package{Type: TypeDeb, Name: name, Version: ver, SrcName: name, SrcVersion: ver, Arch: f["Architecture"]}
		if src := f["Source"]; src != "" {
			// "openssl" or "openssl (3.0.11-1~deb12u2)" when the source's
			// version differs from the binary package's.
			n, v, hasVer := strings.Cut(src, " ")
			p.SrcName = n
			if hasVer {
				if v = strings.TrimSpace(v); strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")") {
					p.SrcVersion = strings.TrimSpace(v[1 : len(v)-1])
				}
			}
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// paragraphs splits RFC 822-style stanzas separated by blank lines.
func paragraphs(b []byte) [][]byte {
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	var out [][]byte
	for _, p := range bytes.Split(b, []byte("\n\n")) {
		if len(bytes.TrimSpace(p)) > 0 {
			out = append(out, p)
		}
	}
	return out
}

// fields returns the single-line fields of a stanza (continuation lines,
// which begin with a space, belong to multi-line fields nobody here reads).
func fields(para []byte) map[string]string {
	f := map[string]string{}
	for _, line := range strings.Split(string(para), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f[k] = strings.TrimSpace(v)
	}
	return f
}

// parseAPK reads /lib/apk/db/installed: stanzas of "X:value" lines, P the
// name, V the version, A the architecture, o the origin (source) package.
func parseAPK(b []byte) []Package {
	var pkgs []Package
	for _, para := range paragraphs(b) {
		var p Package
		for _, line := range strings.Split(string(para), "\n") {
			if len(line) < 2 || line[1] != ':' {
				continue
			}
			v := line[2:]
			switch line[0] {
			case 'P':
				p.Name = v
			case 'V':
				p.Version = v
			case 'A':
				p.Arch = v
			case 'o':
				p.SrcName = v
			}
		}
		if p.Name == "" || p.Version == "" {
			continue
		}
		p.Type = TypeAPK
		if p.SrcName == "" {
			p.SrcName = p.Name
		}
		p.SrcVersion = p.Version
		pkgs = append(pkgs, p)
	}
	return pkgs
}
