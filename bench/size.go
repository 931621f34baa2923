package bench

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
)

// MaxArtifactSize is the largest size ParseSizeSpec accepts for an artifact:
// 5 TiB, the largest object S3 allows. It also keeps every size arithmetic
// in this package far from int64 overflow.
const MaxArtifactSize = 5 << 40

// sizeUnits maps a unit suffix (lower case) to its multiplier. Decimal units
// (KB, MB, ...) are powers of 1000, binary units (KiB, MiB, ...) powers of
// 1024; the single letters K, M, G, T are binary, as in dd and fio.
var sizeUnits = map[string]int64{
	"":    1,
	"b":   1,
	"kb":  1e3,
	"mb":  1e6,
	"gb":  1e9,
	"tb":  1e12,
	"kib": 1 << 10,
	"mib": 1 << 20,
	"gib": 1 << 30,
	"tib": 1 << 40,
	"k":   1 << 10,
	"m":   1 << 20,
	"g":   1 << 30,
	"t":   1 << 40,
}

// ParseSize parses a byte count such as "4096", "4KiB", "1MB", "1.5GiB" or
// "64k". Units are case-insensitive; KB/MB/GB/TB are powers of 1000 and
// KiB/MiB/GiB/TiB (and the single letters K/M/G/T) powers of 1024. A
// fractional number is allowed when it names a whole number of bytes
// ("1.5KiB" is 1536, "1.3KiB" is an error). The result is at most
// MaxArtifactSize.
func ParseSize(s string) (int64, error) {
	orig := s
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	if num == "" {
		return 0, fmt.Errorf("%w: %q: not a number", ErrBadSize, orig)
	}
	mult, ok := sizeUnits[unit]
	if !ok {
		return 0, fmt.Errorf("%w: %q: unknown unit %q (use B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)", ErrBadSize, orig, s[i:])
	}
	intPart, fracPart, hasDot := strings.Cut(num, ".")
	if intPart == "" || (hasDot && fracPart == "") || strings.Contains(fracPart, ".") {
		return 0, fmt.Errorf("%w: %q: not a number", ErrBadSize, orig)
	}
	// value = digits(int+frac) * mult / 10^len(frac), computed exactly in
	// 128-bit arithmetic so that "1.5GiB" has no floating-point error.
	digits := strings.TrimLeft(intPart+fracPart, "0")
	if len(digits) > 19 {
		return 0, fmt.Errorf("%w: %q: too large", ErrBadSize, orig)
	}
	var mant uint64
	if digits != "" {
		v, err := strconv.ParseUint(digits, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%w: %q: too large", ErrBadSize, orig)
		}
		mant = v
	}
	div := uint64(1)
	for range len(fracPart) {
		if div > 1e18 {
			// More than 19 fractional digits cannot name whole bytes
			// unless the mantissa is zero.
			if mant != 0 {
				return 0, fmt.Errorf("%w: %q: not a whole number of bytes", ErrBadSize, orig)
			}
			return 0, nil
		}
		div *= 10
	}
	hi, lo := bits.Mul64(mant, uint64(mult))
	if hi >= div {
		return 0, fmt.Errorf("%w: %q: too large", ErrBadSize, orig)
	}
	q, r := bits.Div64(hi, lo, div)
	if r != 0 {
		return 0, fmt.Errorf("%w: %q: not a whole number of bytes", ErrBadSize, orig)
	}
	if q > MaxArtifactSize {
		return 0, fmt.Errorf("%w: %q: larger than %s", ErrBadSize, orig, FormatSize(MaxArtifactSize))
	}
	return int64(q), nil
}

// FormatSize renders n bytes with the largest binary unit that divides it
// exactly ("4KiB", "1536MiB", "1000"), so ParseSize(FormatSize(n)) == n.
func FormatSize(n int64) string {
	units := []struct {
		name string
		mult int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	if n > 0 {
		for _, u := range units {
			if n%u.mult == 0 {
				return strconv.FormatInt(n/u.mult, 10) + u.name
			}
		}
	}
	return strconv.FormatInt(n, 10)
}

// SizeSpec is the size of the artifacts a run writes: fixed (Min == Max) or
// uniformly distributed over [Min, Max] bytes.
type SizeSpec struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// FixedSize returns the SizeSpec of artifacts of exactly n bytes.
func FixedSize(n int64) SizeSpec { return SizeSpec{Min: n, Max: n} }

// ParseSizeSpec parses "4KiB" (fixed) or "1MiB..64MiB" (uniform random,
// both ends inclusive). See ParseSize for the units.
func ParseSizeSpec(s string) (SizeSpec, error) {
	lo, hi, isRange := strings.Cut(s, "..")
	a, err := ParseSize(lo)
	if err != nil {
		return SizeSpec{}, err
	}
	if !isRange {
		return FixedSize(a), nil
	}
	b, err := ParseSize(hi)
	if err != nil {
		return SizeSpec{}, err
	}
	if b < a {
		return SizeSpec{}, fmt.Errorf("%w: %q: range end is below its start", ErrBadSize, s)
	}
	return SizeSpec{Min: a, Max: b}, nil
}

// String renders the spec as ParseSizeSpec reads it.
func (s SizeSpec) String() string {
	if s.Min == s.Max {
		return FormatSize(s.Min)
	}
	return FormatSize(s.Min) + ".." + FormatSize(s.Max)
}

// Fixed reports whether every artifact has the same size.
func (s SizeSpec) Fixed() bool { return s.Min == s.Max }

// Draw returns one size from the distribution.
func (s SizeSpec) Draw(rng *rand.Rand) int64 {
	if s.Max <= s.Min {
		return s.Min
	}
	return s.Min + rng.Int64N(s.Max-s.Min+1)
}

// Mean is the expected size of one draw.
func (s SizeSpec) Mean() float64 { return (float64(s.Min) + float64(s.Max)) / 2 }

func (s SizeSpec) validate() error {
	if s.Min < 0 || s.Max < s.Min || s.Max > MaxArtifactSize {
		return fmt.Errorf("%w: size %d..%d", ErrBadSize, s.Min, s.Max)
	}
	return nil
}
