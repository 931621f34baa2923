package bench

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
)

// Op is one kind of S3 operation the tool measures.
type Op uint8

// The operations, in report order.
const (
	OpPut       Op = iota // PutObject of a whole artifact
	OpGet                 // GetObject, body streamed and verified
	OpDelete              // DeleteObject
	OpStat                // HeadObject
	OpList                // one ListObjectsV2 page
	OpMultipart           // a whole multipart upload (create, parts, complete)
	OpRefused             // PutObject into a missing bucket, answered NoSuchBucket
	numOps
)

var opNames = [numOps]string{"put", "get", "delete", "stat", "list", "multipart", "refused"}

// String returns the op's lower-case name as used in flags and reports.
func (o Op) String() string {
	if o < numOps {
		return opNames[o]
	}
	return "op(" + strconv.Itoa(int(o)) + ")"
}

// ParseOp reads an op name ("get", "PUT", ...).
func ParseOp(s string) (Op, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, n := range opNames {
		if n == s {
			return Op(i), nil
		}
	}
	return 0, fmt.Errorf("%w: unknown operation %q", ErrBadMix, s)
}

// maxMixTotal bounds the sum of the weights of a Mix: far more resolution
// than any benchmark needs, and small enough that no arithmetic overflows.
const maxMixTotal = 1_000_000

// Mix is the weighted choice of operations of the mixed workload. Weights
// are relative integers (they need not add up to 100); only get, put,
// delete and stat may appear.
type Mix struct {
	weights [numOps]int
}

// DefaultMix is 45% GET, 15% PUT, 10% DELETE and 30% STAT.
func DefaultMix() Mix {
	var m Mix
	m.weights[OpGet] = 45
	m.weights[OpPut] = 15
	m.weights[OpDelete] = 10
	m.weights[OpStat] = 30
	return m
}

// mixable are the ops a Mix may name.
var mixable = [...]Op{OpGet, OpPut, OpDelete, OpStat}

// ParseMix parses "get=45,put=15,delete=10,stat=30": comma-separated
// op=weight pairs with non-negative integer weights, each op at most once,
// at least one weight positive. Ops left out have weight 0.
func ParseMix(s string) (Mix, error) {
	var m Mix
	var seen [numOps]bool
	if strings.TrimSpace(s) == "" {
		return Mix{}, fmt.Errorf("%w: empty", ErrBadMix)
	}
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(part, "=")
		if !ok {
			return Mix{}, fmt.Errorf("%w: %q: want op=weight", ErrBadMix, part)
		}
		op, err := ParseOp(name)
		if err != nil {
			return Mix{}, err
		}
		if !isMixable(op) {
			return Mix{}, fmt.Errorf("%w: %s cannot be mixed (use get, put, delete, stat)", ErrBadMix, op)
		}
		if seen[op] {
			return Mix{}, fmt.Errorf("%w: %s given twice", ErrBadMix, op)
		}
		seen[op] = true
		w, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil || w < 0 || w > maxMixTotal {
			return Mix{}, fmt.Errorf("%w: %s=%q: weight must be an integer 0..%d", ErrBadMix, op, val, maxMixTotal)
		}
		total += w
		if total > maxMixTotal {
			return Mix{}, fmt.Errorf("%w: weights add up to more than %d", ErrBadMix, maxMixTotal)
		}
		m.weights[op] = w
	}
	if total == 0 {
		return Mix{}, fmt.Errorf("%w: all weights are zero", ErrBadMix)
	}
	return m, nil
}

func isMixable(op Op) bool {
	for _, o := range mixable {
		if o == op {
			return true
		}
	}
	return false
}

// Weight returns the weight of op in the mix.
func (m Mix) Weight(op Op) int {
	if op >= numOps {
		return 0
	}
	return m.weights[op]
}

// Total is the sum of the weights.
func (m Mix) Total() int {
	t := 0
	for _, w := range m.weights {
		t += w
	}
	return t
}

// String renders the mix as ParseMix reads it, ops with weight 0 left out.
func (m Mix) String() string {
	var parts []string
	for _, op := range mixable {
		if w := m.weights[op]; w > 0 {
			parts = append(parts, op.String()+"="+strconv.Itoa(w))
		}
	}
	return strings.Join(parts, ",")
}

// Map returns the weights by op name (positive weights only), for reports.
func (m Mix) Map() map[string]int {
	out := map[string]int{}
	for _, op := range mixable {
		if w := m.weights[op]; w > 0 {
			out[op.String()] = w
		}
	}
	return out
}

// chooser picks ops with probability proportional to their weights.
type chooser struct {
	ops []Op
	cum []int // cum[i] = sum of weights of ops[0..i]
}

func newChooser(m Mix) chooser {
	var c chooser
	t := 0
	for _, op := range mixable {
		if w := m.weights[op]; w > 0 {
			t += w
			c.ops = append(c.ops, op)
			c.cum = append(c.cum, t)
		}
	}
	return c
}

// pick maps r in [0, total) to the op whose cumulative range holds r, so
// each op is picked for exactly weight values of r.
func (c chooser) pick(r int) Op {
	i := sort.SearchInts(c.cum, r+1)
	return c.ops[i]
}

func (c chooser) total() int { return c.cum[len(c.cum)-1] }

// choose draws an op.
func (c chooser) choose(rng *rand.Rand) Op { return c.pick(rng.IntN(c.total())) }
