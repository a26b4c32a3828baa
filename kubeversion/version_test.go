package kubeversion

import "testing"

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      bool
	}{
		{in: "1.34", want: "1.34"},
		{in: "1.34.3", want: "1.34.3"},
		{in: "v1.34.3", want: "1.34.3"},
		{in: " v1.29 ", want: "1.29"},
		{in: "1", err: true},
		{in: "1.x", err: true},
		{in: "2.0", err: true},
		{in: "1.34.3.4", err: true},
		{in: "1.034", err: true},
		{in: "", err: true},
	} {
		v, err := Parse(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want an error", tc.in, v)
			}
			continue
		}
		if err != nil || v.String() != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, v, err, tc.want)
		}
	}
}

func TestLess(t *testing.T) {
	a, _ := Parse("1.29.9")
	b, _ := Parse("1.30")
	if !a.Less(b) || b.Less(a) {
		t.Errorf("1.29.9 < 1.30 should hold and not the reverse")
	}
	c, _ := Parse("1.30.5")
	if b.Less(c) || c.Less(b) {
		t.Errorf("patch releases of one minor should compare equal")
	}
}
