// Package gitrepo reads what gatekeep needs of a git checkout without a git
// binary: its top directory and the URLs of its remotes.
package gitrepo

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Root walks up from dir to the directory holding .git ("" when none).
func Root(dir string) string {
	d, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Lstat(filepath.Join(d, ".git")); err == nil {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

// gitDir finds the directory holding the repository's config: root/.git, or for a worktree or
// submodule (.git is a file "gitdir: ...") the directory it names, or that one's commondir.
func gitDir(root string) string {
	dir := filepath.Join(root, ".git")
	fi, err := os.Stat(dir)
	if err != nil {
		return ""
	}
	if !fi.IsDir() {
		data, err := os.ReadFile(dir)
		if err != nil {
			return ""
		}
		line, _, _ := strings.Cut(string(data), "\n")
		target, ok := strings.CutPrefix(strings.TrimSpace(line), "gitdir:")
		if !ok {
			return ""
		}
		target = strings.TrimSpace(target)
		if !filepath.IsAbs(target) {
			target = filepath.Join(root, target)
		}
		dir = target
	}
	if data, err := os.ReadFile(filepath.Join(dir, "commondir")); err == nil { //nolint:gosec // G703: reading the git directory the repository's own .git file names is the point
		c := strings.TrimSpace(string(data))
		if !filepath.IsAbs(c) {
			c = filepath.Join(dir, c)
		}
		if _, err := os.Stat(filepath.Join(c, "config")); err == nil { //nolint:gosec // G703: as above, git's commondir is followed as git does
			return c
		}
	}
	return dir
}

// RemoteURLs reads the remote URLs from root/.git/config (every url of every [remote "..."]
// section, in order, without duplicates), with no git binary. url.<base>.insteadOf rewrites in the
// same file are applied. A .git file (worktree, submodule) is followed to its git directory.
func RemoteURLs(root string) []string {
	dir := gitDir(root)
	if dir == "" {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(dir, "config"))
	if err != nil {
		return nil
	}
	var urls []string
	insteadOf := map[string]string{} // prefix -> replacement
	section, subsection := "", ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	var pending string
	for sc.Scan() {
		line := sc.Text()
		if pending != "" {
			line = pending + line
			pending = ""
		}
		if strings.HasSuffix(line, "\\") && !strings.HasSuffix(line, "\\\\") {
			pending = strings.TrimSuffix(line, "\\")
			continue
		}
		t := strings.TrimSpace(line)
		if t == "" || t[0] == '#' || t[0] == ';' {
			continue
		}
		if t[0] == '[' {
			end := strings.Index(t, "]")
			if end < 0 {
				continue
			}
			head := strings.TrimSpace(t[1:end])
			rest := strings.TrimSpace(t[end+1:])
			if sp := strings.IndexAny(head, " \t"); sp >= 0 {
				section = strings.ToLower(head[:sp])
				subsection = unquoteGit(strings.TrimSpace(head[sp:]))
			} else if dot := strings.Index(head, "."); dot >= 0 {
				section = strings.ToLower(head[:dot])
				subsection = strings.ToLower(head[dot+1:])
			} else {
				section, subsection = strings.ToLower(head), ""
			}
			if rest == "" || rest[0] == '#' || rest[0] == ';' {
				continue
			}
			t = rest // a key on the same line as the section header
		}
		key, value, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		key = strings.ToLower(strings.TrimSpace(key))
		value = unquoteGit(strings.TrimSpace(value))
		switch {
		case section == "remote" && key == "url" && value != "":
			urls = append(urls, value)
		case section == "url" && key == "insteadof" && subsection != "":
			insteadOf[value] = subsection
		}
	}
	prefixes := make([]string, 0, len(insteadOf))
	for p := range insteadOf {
		prefixes = append(prefixes, p)
	}
	sort.Slice(prefixes, func(i, j int) bool { return len(prefixes[i]) > len(prefixes[j]) })
	var out []string
	seen := map[string]bool{}
	for _, u := range urls {
		for _, p := range prefixes {
			if p != "" && strings.HasPrefix(u, p) {
				u = insteadOf[p] + u[len(p):]
				break
			}
		}
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	return out
}

// unquoteGit undoes git-config quoting and escapes and drops a trailing comment.
func unquoteGit(s string) string {
	var b strings.Builder
	quoted := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			quoted = !quoted
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'b':
				// backspace: drop the previous byte, as git does
				str := b.String()
				if len(str) > 0 {
					b.Reset()
					b.WriteString(str[:len(str)-1])
				}
			default:
				b.WriteByte(s[i])
			}
		case !quoted && (c == '#' || c == ';'):
			return strings.TrimSpace(b.String())
		default:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}
