package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// exactQuantile is the nearest-rank quantile of sorted samples.
func exactQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

func TestHistogramIndexBounds(t *testing.T) {
	// Every bucket's bounds map back to it, buckets tile the values
	// without gaps, and no bucket is wider than 1/128 of its lower bound.
	prevHi := int64(-1)
	for i := range histBuckets {
		lo, hi := histBounds(i)
		if lo < 0 {
			break // past the int64 range
		}
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		if histIndex(lo) != i || histIndex(hi) != i {
			t.Fatalf("bucket %d [%d, %d] maps to %d, %d", i, lo, hi, histIndex(lo), histIndex(hi))
		}
		if lo >= 1<<histPrecision && float64(hi-lo+1) > float64(lo)/128 {
			t.Fatalf("bucket %d [%d, %d] wider than 1/128", i, lo, hi)
		}
		prevHi = hi
		if hi == math.MaxInt64 {
			break
		}
	}
	if prevHi != math.MaxInt64 {
		t.Fatalf("buckets end at %d", prevHi)
	}
	if histIndex(math.MaxInt64) >= histBuckets {
		t.Fatalf("max index %d >= %d", histIndex(math.MaxInt64), histBuckets)
	}
}

func TestHistogramQuantilesMatchSortedArray(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 13))
	dists := map[string]func() int64{
		"uniform-small": func() int64 { return rng.Int64N(300) },
		"uniform-ms":    func() int64 { return 1e6 + rng.Int64N(9e6) },
		"lognormal": func() int64 {
			return int64(math.Exp(rng.NormFloat64()*1.5 + 14)) // ~1.2ms median, long tail
		},
		"bimodal": func() int64 {
			if rng.IntN(100) < 97 {
				return 200e3 + rng.Int64N(50e3)
			}
			return 2e9 + rng.Int64N(1e9)
		},
		"constant": func() int64 { return 123456789 },
	}
	quantiles := []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1}
	for name, gen := range dists {
		for _, n := range []int{1, 2, 7, 100, 10007, 200000} {
			h := NewHistogram()
			samples := make([]int64, n)
			var sum float64
			for i := range samples {
				samples[i] = gen()
				h.Record(samples[i])
				sum += float64(samples[i])
			}
			slices.Sort(samples)
			if h.Count() != uint64(n) || h.Min() != samples[0] || h.Max() != samples[n-1] {
				t.Fatalf("%s/%d: count/min/max %d/%d/%d, want %d/%d/%d", name, n, h.Count(), h.Min(), h.Max(), n, samples[0], samples[n-1])
			}
			if mean := sum / float64(n); math.Abs(h.Mean()-mean) > 1e-9*mean+1e-9 {
				t.Fatalf("%s/%d: mean %v, want %v", name, n, h.Mean(), mean)
			}
			for _, q := range quantiles {
				got, want := h.Quantile(q), exactQuantile(samples, q)
				// Half a bucket: 1/256 of the value (exact below 256 ns).
				tol := float64(want) / 256
				if math.Abs(float64(got-want)) > tol {
					t.Errorf("%s/n=%d: q%.4f = %d, exact %d (tolerance %.1f)", name, n, q, got, want, tol)
				}
			}
		}
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not all zero")
	}
	h.Record(-5)
	if h.Min() != 0 || h.Quantile(0.5) != 0 {
		t.Fatalf("negative value recorded as %d", h.Min())
	}
	h.Record(math.MaxInt64)
	if h.Max() != math.MaxInt64 || h.Quantile(1) != math.MaxInt64 {
		t.Fatalf("max %d", h.Max())
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	h := NewHistogram()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10000 {
				h.Record(int64(g*10000 + i))
			}
		})
	}
	wg.Wait()
	if h.Count() != 80000 || h.Min() != 0 || h.Max() != 79999 {
		t.Fatalf("count %d min %d max %d", h.Count(), h.Min(), h.Max())
	}
	if got, want := h.Quantile(0.5), int64(39999); math.Abs(float64(got-want)) > float64(want)/256 {
		t.Fatalf("median %d, want %d", got, want)
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	b.RunParallel(func(pb *testing.PB) {
		v := int64(1e6)
		for pb.Next() {
			h.Record(v)
			v = v*1103515245 + 12345&(1<<40-1)
		}
	})
}
