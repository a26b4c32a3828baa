package manifest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRemoteResources fetches a kustomization's remote resource from a
// server on loopback only with AllowRemote, within the remote timeout; a
// server that accepts and never answers is a render problem, not a hang.
func TestRemoteResources(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cm.yaml":
			_, _ = w.Write([]byte(strings.ReplaceAll(cm, "%s", "remote"))) // a failed write shows as the test's render error
		case "/hang.yaml":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release)
	kustomization := func(path string) string {
		return "resources:\n  - local.yaml\n  - " + srv.URL + path + "\n"
	}
	cases := []struct {
		name     string
		path     string
		opts     []Option
		objects  []string
		problems []string
	}{
		{name: "offline by default", path: "/cm.yaml",
			objects:  []string{"ConfigMap local@app/local.yaml"},
			problems: []string{"app/kustomization.yaml:3: remote resource " + srv.URL + "/cm.yaml is not fetched: give --allow-remote to fetch it, or vendor it into the repository"}},
		{name: "fetched when allowed", path: "/cm.yaml", opts: []Option{AllowRemote(true, 5*time.Second)},
			objects: []string{"ConfigMap local@app/local.yaml", "ConfigMap remote@app/kustomization.yaml"}},
		{name: "not found", path: "/nope.yaml", opts: []Option{AllowRemote(true, 5*time.Second)},
			objects:  []string{"ConfigMap local@app/local.yaml"},
			problems: []string{"app/kustomization.yaml:3: remote resource " + srv.URL + "/nope.yaml: HTTP 404 Not Found"}},
		{name: "no answer", path: "/hang.yaml", opts: []Option{AllowRemote(true, 50*time.Millisecond)},
			objects:  []string{"ConfigMap local@app/local.yaml"},
			problems: []string{"app/kustomization.yaml:3: remote resource " + srv.URL + "/hang.yaml: no answer within 50ms (--remote-timeout)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			writeTree(t, map[string]string{
				"app/kustomization.yaml": kustomization(tc.path),
				"app/local.yaml":         strings.ReplaceAll(cm, "%s", "local"),
			})
			set := Load(context.Background(), []string{"."}, tc.opts...)
			if got := names(set); strings.Join(got, ",") != strings.Join(tc.objects, ",") {
				t.Errorf("objects %v, want %v", got, tc.objects)
			}
			var problems []string
			for _, p := range set.Problems {
				problems = append(problems, p.File+":"+itoa(p.Line)+": "+p.Message)
			}
			if strings.Join(problems, "\n") != strings.Join(tc.problems, "\n") {
				t.Errorf("problems\n%s\nwant\n%s", strings.Join(problems, "\n"), strings.Join(tc.problems, "\n"))
			}
			if len(set.Errors) > 0 {
				t.Errorf("errors %v", set.Errors)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
