package bench

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestParseSize(t *testing.T) {
	good := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"4096", 4096},
		{"10B", 10},
		{"4KiB", 4096},
		{"4kib", 4096},
		{"4k", 4096},
		{"4K", 4096},
		{"1MiB", 1 << 20},
		{"1MB", 1_000_000},
		{"1mb", 1_000_000},
		{"1.5GiB", 1536 << 20},
		{"1.5KB", 1500},
		{"1.5KiB", 1536},
		{"0.5MiB", 512 << 10},
		{"2TiB", 2 << 40},
		{"5TiB", 5 << 40},
		{"1TB", 1e12},
		{" 64 MiB ", 64 << 20},
		{"007KiB", 7 << 10},
		{"1.000KiB", 1024},
		{"0.0000000000000000000000000KiB", 0},
	}
	for _, c := range good {
		got, err := ParseSize(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
	}
	bad := []string{
		"", " ", "MiB", "-1", "-1KiB", "1.3KiB", "0.1B", "1..2", ".5KiB", "5.KiB", "1.2.3KiB",
		"1XB", "1 KiBs", "1e3", "5.1TiB", "6TiB", "99999999999999999999", "1e", "0x10", "1,5MiB",
		"1.00000000000000000001KiB", "NaN", "Inf",
	}
	for _, in := range bad {
		if got, err := ParseSize(in); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSize(%q) = %d, %v; want ErrBadSize", in, got, err)
		}
	}
}

func TestFormatSizeRoundTrip(t *testing.T) {
	cases := map[int64]string{0: "0", 1: "1", 1000: "1000", 1024: "1KiB", 1536: "1536", 3 << 20: "3MiB", 1536 << 20: "1536MiB", 5 << 40: "5TiB"}
	for n, want := range cases {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		n := rng.Int64N(MaxArtifactSize + 1)
		if rng.IntN(2) == 0 {
			n &^= 1<<rng.IntN(41) - 1 // many trailing zero bits: exercise the units
		}
		got, err := ParseSize(FormatSize(n))
		if err != nil || got != n {
			t.Fatalf("ParseSize(FormatSize(%d)=%q) = %d, %v", n, FormatSize(n), got, err)
		}
	}
}

func TestParseSizeSpec(t *testing.T) {
	good := []struct {
		in       string
		min, max int64
	}{
		{"4KiB", 4096, 4096},
		{"1MiB..64MiB", 1 << 20, 64 << 20},
		{"0..1", 0, 1},
		{"1MB..1MB", 1e6, 1e6},
		{" 1KiB .. 2KiB ", 1024, 2048},
	}
	for _, c := range good {
		got, err := ParseSizeSpec(c.in)
		if err != nil || got.Min != c.min || got.Max != c.max {
			t.Errorf("ParseSizeSpec(%q) = %+v, %v; want %d..%d", c.in, got, err, c.min, c.max)
		}
		back, err := ParseSizeSpec(got.String())
		if err != nil || back != got {
			t.Errorf("round trip of %q via %q: %+v, %v", c.in, got.String(), back, err)
		}
	}
	for _, in := range []string{"", "..", "1MiB..", "..1MiB", "64MiB..1MiB", "1...2", "1..2..3", "1MiB-2MiB", "a..b"} {
		if got, err := ParseSizeSpec(in); !errors.Is(err, ErrBadSize) {
			t.Errorf("ParseSizeSpec(%q) = %+v, %v; want ErrBadSize", in, got, err)
		}
	}
}

func TestSizeSpecDraw(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	if got := FixedSize(77).Draw(rng); got != 77 {
		t.Fatalf("fixed draw = %d", got)
	}
	s := SizeSpec{Min: 10, Max: 13}
	var seen [4]int
	for range 4000 {
		v := s.Draw(rng)
		if v < 10 || v > 13 {
			t.Fatalf("draw %d outside %v", v, s)
		}
		seen[v-10]++
	}
	for i, n := range seen {
		// Uniform: each of 4 values ~1000 times; a fixed seed makes this
		// deterministic, the bound only catches a broken distribution.
		if n < 800 || n > 1200 {
			t.Errorf("value %d drawn %d times of 4000", 10+i, n)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4KiB", "1MiB", "1MB", "1.5GiB", "0", "1..2", "1.3KiB", "-1", "5TiB", "99999999999999999999KiB", "0.000000000000000000001KiB", "1 k"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, ErrBadSize) {
				t.Fatalf("ParseSize(%q): error %v does not wrap ErrBadSize", s, err)
			}
			return
		}
		if n < 0 || n > MaxArtifactSize {
			t.Fatalf("ParseSize(%q) = %d out of range", s, n)
		}
		if back, err := ParseSize(FormatSize(n)); err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d, but FormatSize gives %q -> %d, %v", s, n, FormatSize(n), back, err)
		}
		spec, err := ParseSizeSpec(s + ".." + s)
		if err != nil || spec.Min != n || spec.Max != n {
			t.Fatalf("ParseSizeSpec(%q..%q) = %+v, %v", s, s, spec, err)
		}
	})
}

func FuzzParseSizeSpec(f *testing.F) {
	for _, s := range []string{"4KiB", "1MiB..64MiB", "..", "1..", "2..1", "1...2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := ParseSizeSpec(s)
		if err != nil {
			if !errors.Is(err, ErrBadSize) {
				t.Fatalf("ParseSizeSpec(%q): %v does not wrap ErrBadSize", s, err)
			}
			return
		}
		if spec.validate() != nil {
			t.Fatalf("ParseSizeSpec(%q) = invalid %+v", s, spec)
		}
		back, err := ParseSizeSpec(spec.String())
		if err != nil || back != spec {
			t.Fatalf("round trip %q -> %q -> %+v, %v", s, spec.String(), back, err)
		}
	})
}
