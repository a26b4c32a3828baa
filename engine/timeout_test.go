package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatekeep-dev/gatekeep/bundle"
)

// slowPolicy is a conftest-style deny rule over a 3000×3000 comprehension:
// minutes of evaluation.
const slowPolicy = `package main

deny contains msg if {
	n := count([x | some i, j; numbers.range(1, 3000)[i]; numbers.range(1, 3000)[j]; x := i * j])
	n < 0
	msg := "never"
}
`

func slowBundle(t *testing.T) *bundle.Bundle {
	t.Helper()
	builtin, err := bundle.Builtin()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "slow")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "slow.rego"), []byte(slowPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(dir))
	slow, err := bundle.LoadPath("slow")
	if err != nil {
		t.Fatal(err)
	}
	return bundle.Merge(builtin, slow)
}

// An object whose evaluation outlasts --eval-timeout gets a deny finding
// of the policy that did not finish; the other objects and checks go on.
func TestCheckEvalTimeout(t *testing.T) {
	eng, err := New(slowBundle(t), EvalTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	set := load(t)
	res, err := eng.Check(context.Background(), set)
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(res.Objects) != len(set.Objects) {
		t.Fatalf("%d results for %d objects", len(res.Objects), len(set.Objects))
	}
	want := "evaluation did not finish within 100ms (--eval-timeout)"
	for _, o := range res.Objects {
		var timedOut bool
		for _, f := range o.Findings {
			if f.Message == want {
				timedOut = true
				if f.Check != "main.deny" || f.Action != Deny || f.Object != o.Object || f.File != "in.yaml" {
					t.Errorf("%s: timeout finding %+v", o.Object, f)
				}
			}
		}
		if !timedOut {
			t.Errorf("%s: no timeout finding in %+v", o.Object, o.Findings)
		}
	}
	// The built-in checks still judged the objects.
	var privileged bool
	for _, f := range res.Objects[0].Findings {
		privileged = privileged || strings.Contains(f.Check, "privileged")
	}
	if !privileged {
		t.Errorf("built-in findings lost: %+v", res.Objects[0].Findings)
	}
	if s := res.Summary(); s.Denied != len(set.Objects) {
		t.Errorf("summary %+v", s)
	}
}

// With --combine, the evaluation over every document is bounded too.
func TestCheckEvalTimeoutCombined(t *testing.T) {
	eng, err := New(slowBundle(t), EvalTimeout(100*time.Millisecond), Combine(true))
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Check(context.Background(), load(t))
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if len(res.Combined) != 1 || res.Combined[0].Check != "main.deny" || res.Combined[0].Action != Deny ||
		res.Combined[0].Message != "evaluation did not finish within 100ms (--eval-timeout)" {
		t.Errorf("combined %+v", res.Combined)
	}
}
