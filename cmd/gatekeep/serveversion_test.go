package main

import (
	"testing"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/schema"
)

// TestNearestKnown: serve judges a cluster newer or older than the
// versions gatekeep knows as the nearest known one, and says so, rather
// than failing to start (and with it every deployment).
func TestNearestKnown(t *testing.T) {
	known := schema.Versions()
	if len(known) < 2 {
		t.Fatalf("known versions %v", known)
	}
	oldest, newest := known[0], known[len(known)-1]
	for _, tc := range []struct {
		v, want string
		note    bool
	}{
		{newest.MinorString(), newest.String(), false},
		{oldest.MinorString(), oldest.String(), false},
		{"1.15", oldest.String(), true},
		{"1.99", newest.String(), true},
	} {
		v, err := kubeversion.Parse(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		got, note := nearestKnown(v, known)
		if got != tc.want || (note != "") != tc.note {
			t.Errorf("%s: got %q, note %q; want %q, a note: %v", tc.v, got, note, tc.want, tc.note)
		}
	}
	if _, note := nearestKnown(kubeversion.Version{Major: 1, Minor: 99}, known); note != "the cluster runs Kubernetes 1.99, which gatekeep does not know (1.16 to 1.37): judging as 1.37" {
		t.Errorf("note %q", note)
	}
}
