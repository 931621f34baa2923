package md5lanes

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// gatherYields bounds how often a pass yields to let other streams join.
const gatherYields = 4

// srv is the process's combiner.
var srv combiner

// combiner collects submitted buffers of all Digests and hashes up to 16 of
// them per pass. It has no goroutine: a Digest that waits for its
// submission runs the pass itself when none is running (flat combining),
// and the goroutine that finishes a pass hands the next one to a waiting
// Digest. Invariants: at most one pass runs (running); every Digest in
// queue has pend != nil; a Digest with urgent set is blocked in wait and
// will receive exactly one message on sig per wake-up.
type combiner struct {
	mu struct {
		sync.Mutex
		queue   []*Digest // submitted, not yet taken by a pass, in order
		running bool      // a goroutine runs a pass or is about to
	}
	active atomic.Int64 // Digests holding buffers

	// Passes run and lanes they used, since the process started.
	passes, lanesUsed atomic.Int64

	// scratch for the goroutine running the pass (only one at a time).
	batch [lanes]*Digest
}

// lone reports whether at most one Digest holds buffers: that one gains
// nothing from sharing passes and hashes in place.
func (c *combiner) lone() bool { return c.active.Load() <= 1 }

// submit queues p (whole blocks) for d; d has nothing in flight. When the
// queue holds enough for a full pass and none runs, the caller runs one.
func (c *combiner) submit(d *Digest, p []byte) {
	c.mu.Lock()
	d.pend, d.urgent = p, false
	c.mu.queue = append(c.mu.queue, d)
	lead := len(c.mu.queue) >= lanes && !c.mu.running
	if lead {
		c.mu.running = true
	}
	c.mu.Unlock()
	if lead {
		c.pass(nil)
	}
}

// wait returns once d has nothing in flight, running passes when it is its
// turn to.
func (c *combiner) wait(d *Digest) {
	c.mu.Lock()
	if d.pend == nil {
		c.mu.Unlock()
		return
	}
	d.urgent = true
	lead := !c.mu.running
	if lead {
		c.mu.running = true
	}
	c.mu.Unlock()
	for {
		if lead && c.pass(d) {
			return
		}
		if <-d.sig {
			return
		}
		lead = true
	}
}

// pass hashes up to 16 queued submissions, waiting ones first; the caller
// set running. It then wakes the waiting owners of the hashed submissions
// and hands the next pass to a waiting Digest, or clears running. It
// reports whether me's submission was hashed (me is not woken).
func (c *combiner) pass(me *Digest) (mine bool) {
	// Let the other streams submit first: the streams just woken by the
	// last pass are usually runnable with a full buffer in hand, and a pass
	// costs the same with 1 lane or 16. Bounded, since a stream may be
	// waiting for its network instead.
	for i := 0; i < gatherYields; i++ {
		c.mu.Lock()
		q := len(c.mu.queue)
		c.mu.Unlock()
		if q >= lanes || int64(q) >= c.active.Load() {
			break
		}
		runtime.Gosched()
	}
	c.mu.Lock()
	b := c.batch[:0]
	q := c.mu.queue
	for _, d := range q { // waiting ones first
		if d.urgent && len(b) < lanes {
			b = append(b, d)
		}
	}
	for _, d := range q {
		if !d.urgent && len(b) < lanes {
			b = append(b, d)
		}
	}
	// Remove the batch from the queue, keeping the rest in order.
	rest := q[:0]
	for _, d := range q {
		if !contains(b, d) {
			rest = append(rest, d)
		}
	}
	clear(q[len(rest):])
	c.mu.queue = rest
	c.mu.Unlock()

	c.hashBatch(b)

	c.mu.Lock()
	var wake [lanes]*Digest
	nw := 0
	for _, d := range b {
		d.pend = nil
		if d == me {
			mine = true
		} else if d.urgent {
			wake[nw] = d
			nw++
		}
		d.urgent = false
	}
	clear(c.batch[:])
	var next *Digest
	for _, d := range c.mu.queue {
		if d.urgent {
			next = d
			break
		}
	}
	c.mu.running = next != nil
	c.mu.Unlock()
	for _, d := range wake[:nw] {
		d.sig <- true
	}
	if next != nil {
		next.sig <- false
	}
	return mine
}

func contains(b []*Digest, d *Digest) bool {
	for _, x := range b {
		if x == d {
			return true
		}
	}
	return false
}

// hashBatch hashes each Digest's pend into its state, one lane each (one
// Digest alone goes the scalar way).
// REQUIRES: the caller runs the pass (the owners do not touch s or pend).
func (c *combiner) hashBatch(b []*Digest) {
	c.passes.Add(1)
	c.lanesUsed.Add(int64(len(b)))
	if len(b) == 1 {
		hashOne(&b[0].s, b[0].pend)
		return
	}
	var st state16
	var in [lanes][]byte
	var mask uint16
	for i, d := range b {
		for r := range d.s {
			st[r][i] = d.s[r]
		}
		in[i] = d.pend
		mask |= 1 << i
	}
	for mask != 0 {
		n := -1
		for i := range b {
			if mask&(1<<i) != 0 && (n < 0 || len(in[i]) < n) {
				n = len(in[i])
			}
		}
		n /= BlockSize
		blocks(&st, &in, mask, n)
		for i := range b {
			if mask&(1<<i) == 0 {
				continue
			}
			in[i] = in[i][n*BlockSize:]
			if len(in[i]) == 0 {
				mask &^= 1 << i
			}
		}
	}
	for i, d := range b {
		for r := range d.s {
			d.s[r] = st[r][i]
		}
	}
}

// stats reports the combiner's queue length, whether a pass runs and how
// many Digests hold buffers (for tests).
func (c *combiner) stats() (queued int, running bool, active int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.mu.queue), c.mu.running, c.active.Load()
}
