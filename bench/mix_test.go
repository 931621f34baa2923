package bench

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestParseMix(t *testing.T) {
	m, err := ParseMix("get=45,put=15,delete=10,stat=30")
	if err != nil {
		t.Fatal(err)
	}
	if m != DefaultMix() {
		t.Fatalf("parsed %v, want the default %v", m, DefaultMix())
	}
	if m.Total() != 100 || m.Weight(OpGet) != 45 || m.Weight(OpStat) != 30 || m.Weight(OpList) != 0 {
		t.Fatalf("weights: %v", m.Map())
	}
	good := map[string]string{
		"GET=1":                           "get=1",
		" get = 3 , put=1 ":               "get=3,put=1",
		"stat=0,get=2":                    "get=2",
		"delete=1,put=1":                  "put=1,delete=1",
		"put=1000000":                     "put=1000000",
		"get=1,put=1,stat=1":              "get=1,put=1,stat=1",
		"stat=30,get=45,put=15,delete=10": "get=45,put=15,delete=10,stat=30",
	}
	for in, want := range good {
		m, err := ParseMix(in)
		if err != nil || m.String() != want {
			t.Errorf("ParseMix(%q) = %q, %v; want %q", in, m.String(), err, want)
		}
	}
	bad := []string{
		"", " ", "get", "get=", "get=-1", "get=1.5", "get=x", "get=1,get=2", "list=1", "multipart=1",
		"copy=1", "get=0,put=0", "get=1;put=2", "get=1,", ",get=1", "put=1000001", "get=600000,put=600000",
		"get==1", "get=99999999999999999999",
	}
	for _, in := range bad {
		if m, err := ParseMix(in); !errors.Is(err, ErrBadMix) {
			t.Errorf("ParseMix(%q) = %v, %v; want ErrBadMix", in, m, err)
		}
	}
}

func TestChooserPickIsExact(t *testing.T) {
	m, err := ParseMix("get=45,put=15,delete=10,stat=30")
	if err != nil {
		t.Fatal(err)
	}
	c := newChooser(m)
	if c.total() != 100 {
		t.Fatalf("total %d", c.total())
	}
	// Every r in [0, total) maps to one op; each op gets exactly its weight.
	counts := map[Op]int{}
	for r := range c.total() {
		counts[c.pick(r)]++
	}
	for _, op := range mixable {
		if counts[op] != m.Weight(op) {
			t.Errorf("%s picked for %d of %d values, want %d", op, counts[op], c.total(), m.Weight(op))
		}
	}
	// Boundaries: the ranges are contiguous in mixable order (get, put, delete, stat).
	for r, want := range map[int]Op{0: OpGet, 44: OpGet, 45: OpPut, 59: OpPut, 60: OpDelete, 69: OpDelete, 70: OpStat, 99: OpStat} {
		if got := c.pick(r); got != want {
			t.Errorf("pick(%d) = %s, want %s", r, got, want)
		}
	}
}

func TestChooserSkipsZeroWeights(t *testing.T) {
	m, err := ParseMix("get=0,put=1,delete=0,stat=2")
	if err != nil {
		t.Fatal(err)
	}
	c := newChooser(m)
	want := []Op{OpPut, OpStat, OpStat}
	for r, w := range want {
		if got := c.pick(r); got != w {
			t.Errorf("pick(%d) = %s, want %s", r, got, w)
		}
	}
}

func TestChooserFrequencies(t *testing.T) {
	c := newChooser(DefaultMix())
	rng := rand.New(rand.NewPCG(7, 7))
	const n = 100000
	counts := map[Op]int{}
	for range n {
		counts[c.choose(rng)]++
	}
	for _, op := range mixable {
		want := float64(DefaultMix().Weight(op)) / 100 * n
		// Fixed seed: deterministic. 3% relative slack is > 10 sigma for
		// these counts, so only a broken chooser fails.
		if got := float64(counts[op]); got < want*0.97 || got > want*1.03 {
			t.Errorf("%s chosen %d times of %d, want about %.0f", op, counts[op], n, want)
		}
	}
}

func TestParseOp(t *testing.T) {
	for op := range numOps {
		got, err := ParseOp(op.String())
		if err != nil || got != op {
			t.Errorf("ParseOp(%q) = %v, %v", op.String(), got, err)
		}
	}
	if _, err := ParseOp("copy"); !errors.Is(err, ErrBadMix) {
		t.Errorf("ParseOp(copy): %v", err)
	}
	if s := Op(200).String(); s != "op(200)" {
		t.Errorf("unknown op string %q", s)
	}
}

func FuzzParseMix(f *testing.F) {
	for _, s := range []string{"get=45,put=15,delete=10,stat=30", "get=1", "get=0", "get=1,get=1", "put=-1", "list=3", "get=1,,put=2", "=", ","} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMix(s)
		if err != nil {
			if !errors.Is(err, ErrBadMix) {
				t.Fatalf("ParseMix(%q): %v does not wrap ErrBadMix", s, err)
			}
			return
		}
		if m.Total() <= 0 || m.Total() > maxMixTotal {
			t.Fatalf("ParseMix(%q): total %d", s, m.Total())
		}
		back, err := ParseMix(m.String())
		if err != nil || back != m {
			t.Fatalf("round trip %q -> %q -> %v, %v", s, m.String(), back, err)
		}
		c := newChooser(m)
		for _, r := range []int{0, c.total() / 2, c.total() - 1} {
			if op := c.pick(r); m.Weight(op) == 0 {
				t.Fatalf("pick(%d) chose %s with weight 0", r, op)
			}
		}
	})
}
