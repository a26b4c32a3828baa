package gatekeeper

import (
	"context"
	"fmt"
	"reflect"
	"testing"
)

func TestInventoryPathNames(t *testing.T) {
	for _, tc := range []struct {
		name, object string
		want         []string // nil: an error
	}{
		{name: "name", object: `{apiVersion: batch/v1, kind: Job, metadata: {name: migrate, namespace: default}}`,
			want: []string{"namespace", "default", "batch/v1", "Job", "migrate"}},
		{name: "generateName only", object: `{apiVersion: batch/v1, kind: Job, metadata: {generateName: migrate-, namespace: default}}`,
			want: []string{"namespace", "default", "batch/v1", "Job", "migrate-*"}},
		{name: "name wins over generateName", object: `{apiVersion: batch/v1, kind: Job, metadata: {name: migrate-x7k2p, generateName: migrate-, namespace: default}}`,
			want: []string{"namespace", "default", "batch/v1", "Job", "migrate-x7k2p"}},
		{name: "cluster-scoped generateName", object: `{apiVersion: v1, kind: Namespace, metadata: {generateName: preview-}}`,
			want: []string{"cluster", "v1", "Namespace", "preview-*"}},
		{name: "neither", object: `{apiVersion: batch/v1, kind: Job, metadata: {namespace: default}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := inventoryPath(obj(t, tc.object))
			if tc.want == nil {
				if err == nil {
					t.Errorf("got %q, want an error", got)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// jobsHaveOwner is a constraint of testdata's AcmeRequiredLabels template,
// whose message names input.review.object.metadata.name.
const jobsHaveOwner = `
apiVersion: constraints.gatekeeper.sh/v1beta1
kind: AcmeRequiredLabels
metadata: {name: jobs-have-owner}
spec:
  match:
    kinds: [{apiGroups: [batch], kinds: [Job]}]
    name: "migrate-*"
  parameters:
    labels: [{key: owner}]
`

// TestGenerateNameReview: an object the API server is to name (an Argo CD
// or Helm hook Job) goes into the inventory and is reviewed under the name
// generateName+"*", as it would be reviewed, named, at admission.
func TestGenerateNameReview(t *testing.T) {
	ctx := context.Background()
	b := loadBundle(t, "testdata/policies")
	b.constraints = []Document{{Object: obj(t, jobsHaveOwner)}}
	p := b.policy(t)
	for _, tc := range []struct {
		name, object string
		want         []string // messages
	}{
		{
			name:   "violating",
			object: `{apiVersion: batch/v1, kind: Job, metadata: {generateName: migrate-, namespace: default}}`,
			want:   []string{"required labels: Job migrate-* lacks owner"},
		},
		{
			name:   "compliant",
			object: `{apiVersion: batch/v1, kind: Job, metadata: {generateName: migrate-, namespace: default, labels: {owner: team-a}}}`,
		},
		{
			name:   "generateName outside the constraint's name glob",
			object: `{apiVersion: batch/v1, kind: Job, metadata: {generateName: backup-, namespace: default}}`,
		},
		{
			name:   "a name is kept",
			object: `{apiVersion: batch/v1, kind: Job, metadata: {name: migrate-x7k2p, generateName: migrate-, namespace: default}}`,
			want:   []string{"required labels: Job migrate-x7k2p lacks owner"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := obj(t, tc.object)
			before := fmt.Sprint(o) // fmt sorts map keys
			if err := p.ClearInventory(ctx); err != nil {
				t.Fatal(err)
			}
			if err := p.AddInventory(ctx, o); err != nil {
				t.Fatalf("AddInventory: %v", err)
			}
			vs, err := p.Review(ctx, Request{Object: o})
			if err != nil {
				t.Fatalf("Review: %v", err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, v.Message)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("violations %q, want %q", got, tc.want)
			}
			if after := fmt.Sprint(o); after != before {
				t.Errorf("the review changed the caller's object:\n%s\nwas\n%s", after, before)
			}
		})
	}
}
