package manifest

import (
	"fmt"
	"strings"
	"testing"
)

// aliasBomb is a "billion laughs" document: nine a's, then levels of
// sequences of nine aliases of the level below (9^(levels+1) scalars).
func aliasBomb(levels int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bomb\ndata:\n")
	b.WriteString("  l0: &l0 [a,a,a,a,a,a,a,a,a]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [", i, i)
		for j := 0; j < 9; j++ {
			if j > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "*l%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestParseAliasBudget(t *testing.T) {
	other := "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: after\n"
	first := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: before\n---\n"
	for _, levels := range []int{6, 7} {
		t.Run(fmt.Sprintf("%d levels", levels), func(t *testing.T) {
			data := []byte(first + aliasBomb(levels) + other)
			objs, errs := Parse("bomb.yaml", data)
			if len(errs) != 1 || errs[0].Line != 6 || !strings.Contains(errs[0].Message, "excessive aliasing") {
				t.Fatalf("errors = %v, want one excessive aliasing at bomb.yaml:6", errs)
			}
			if len(objs) != 2 || objs[0].Name() != "before" || objs[1].Name() != "after" {
				t.Errorf("objects = %d, want the documents before and after the bomb", len(objs))
			}
			// Bundle data files go through the same budget.
			vals, errs := ParseValue("data.yaml", data)
			if len(errs) != 1 || !strings.Contains(errs[0].Message, "excessive aliasing") || len(vals) != 2 {
				t.Errorf("ParseValue: %d values, errors %v; want 2 and excessive aliasing", len(vals), errs)
			}
		})
	}
}

func TestParseOrdinaryAliasesStayUnderTheBudget(t *testing.T) {
	for _, tc := range []struct{ name, doc string }{
		{"merge keys", `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: &labels {app: web, tier: front}
spec:
  selector: {matchLabels: *labels}
  template:
    metadata: {labels: {<<: *labels, extra: "yes"}}
    spec:
      containers:
        - &c {name: a, image: nginx, resources: {limits: {cpu: "1"}}}
        - {<<: *c, name: b}
`},
		// Small bombs are fine: 9^4 = 6561 scalars, under the minimum budget.
		{"three levels", aliasBomb(3)},
		// A big document may use aliases in proportion: 2,000 anchored
		// entries each used four times.
		{"proportional", func() string {
			var b strings.Builder
			b.WriteString("apiVersion: v1\nkind: List\nmetadata: {name: big}\nitems: []\nextra:\n  base: &base\n")
			for i := 0; i < 2000; i++ {
				fmt.Fprintf(&b, "    k%d: {a: 1, b: [1, 2]}\n", i)
			}
			b.WriteString("  uses: [*base, *base, *base, *base]\n")
			return b.String()
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, errs := Parse("ok.yaml", []byte(tc.doc)); len(errs) != 0 {
				t.Errorf("errors = %v", errs)
			}
		})
	}
}
