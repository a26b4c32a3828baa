package gitrepo

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRemoteURLs(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, ".git"), 0o750); err != nil {
		t.Fatal(err)
	}
	config := `[core]
	repositoryformatversion = 0
	bare = false
[remote "origin"]
	url = git@github.com:example/platform.git
	fetch = +refs/heads/*:refs/remotes/origin/*
[Remote "upstream"] ; comment
	URL = "https://github.com/upstream/platform" # trailing comment
	url = gh:example/mirror
[branch "main"]
	remote = origin
	url = https://not.a.remote/url
[url "https://github.com/"]
	insteadOf = gh:
[remote "dup"]
	url = git@github.com:example/platform.git
`
	if err := os.WriteFile(filepath.Join(root, ".git", "config"), []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []string{"git@github.com:example/platform.git", "https://github.com/upstream/platform", "https://github.com/example/mirror"}
	if got := RemoteURLs(root); !reflect.DeepEqual(got, want) {
		t.Errorf("RemoteURLs = %q, want %q", got, want)
	}

	// A worktree: .git is a file naming the git dir, whose commondir holds the config.
	wt := t.TempDir()
	wtGit := filepath.Join(root, ".git", "worktrees", "wt")
	if err := os.MkdirAll(wtGit, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wtGit, "commondir"), []byte("../..\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wt, ".git"), []byte("gitdir: "+wtGit+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := RemoteURLs(wt); !reflect.DeepEqual(got, want) {
		t.Errorf("RemoteURLs(worktree) = %q, want %q", got, want)
	}
	if got := RemoteURLs(t.TempDir()); got != nil {
		t.Errorf("RemoteURLs(no .git) = %q", got)
	}

	sub := filepath.Join(root, "a", "b")
	if err := os.MkdirAll(sub, 0o750); err != nil {
		t.Fatal(err)
	}
	if got := Root(sub); got != root {
		t.Errorf("Root(%s) = %q, want %q", sub, got, root)
	}
	if got := Root(wt); got != wt {
		t.Errorf("Root(worktree) = %q, want %q", got, wt)
	}
}
