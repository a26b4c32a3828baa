package gencache

import "testing"

func always(string) bool { return true }

// TestGenerations: a hit in the old generation survives the next one, an
// entry not used for two generations is gone, and only a match answers.
func TestGenerations(t *testing.T) {
	c := New[string, string](2, 100)
	news := 0
	c.OnNewGeneration = func() { news++ }
	c.Put("a", "A", 1)
	c.Put("b", "B", 1)
	c.Put("c", "C", 1) // a new generation: a and b are old
	if news != 1 || c.Len() != 1 {
		t.Fatalf("%d new generations, %d entries in the current one", news, c.Len())
	}
	if _, ok := c.Get("b", func(v string) bool { return v == "not B" }); ok {
		t.Error("an entry answered although match refused it")
	}
	if v, ok := c.Get("a", always); !ok || v != "A" {
		t.Errorf("an entry of the old generation was lost: %q, %v", v, ok)
	}
	c.Put("d", "D", 1) // a new generation: b was not used, nor moved
	if _, ok := c.Get("b", always); ok {
		t.Error("an entry two generations old is still kept")
	}
	for _, k := range []string{"a", "c", "d"} {
		if _, ok := c.Get(k, always); !ok {
			t.Errorf("%s lost", k)
		}
	}
}

// TestWeight: a generation ends once its entries weigh more than
// meanWeight each on average; putting a key again replaces its weight.
func TestWeight(t *testing.T) {
	c := New[int, int](4, 10) // at most 40 in a generation
	c.Put(1, 1, 25)
	c.Put(1, 1, 15)
	if c.Len() != 1 || c.Weight() != 15 {
		t.Fatalf("%d entries weighing %d, want 1 weighing 15", c.Len(), c.Weight())
	}
	c.Put(2, 2, 20)
	c.Put(3, 3, 10) // 45 > 40: a new generation
	if c.Len() != 1 || c.Weight() != 10 {
		t.Errorf("%d entries weighing %d, want 1 weighing 10", c.Len(), c.Weight())
	}
}

// TestAdmit: a key is admitted the second time it is met; the keys met
// once are bounded.
func TestAdmit(t *testing.T) {
	c := New[int, int](2, 10)
	if c.Admit(1) || !c.Admit(1) {
		t.Error("a key is admitted on its second sighting only")
	}
	for k := 2; k < 100; k++ {
		c.Admit(k)
	}
	if c.Met() > 8 {
		t.Errorf("%d keys met once are remembered, over 4*size", c.Met())
	}
}
