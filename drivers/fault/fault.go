// Package fault wraps a drivers.Driver and injects failures on demand, for
// tests of the code above drivers (the Engine's quorums, reconstruction,
// healing and health tracking). With no rule set it is transparent and
// passes the drivers conformance suite.
//
// A Rule says which calls it hits (operations, a name prefix, which of the
// matching calls) and what it does to them:
//
//	d := fault.New(mem.New())
//	// The third Open under "blobs/" fails with EIO; later ones succeed.
//	d.Inject(fault.Rule{Op: fault.OpOpen, Prefix: "blobs/", After: 2, Times: 1, Err: syscall.EIO})
//	// Every read of shard 0 returns one flipped byte at offset 100.
//	d.Inject(fault.Rule{Op: fault.OpOpen, Prefix: "blobs/ab/x/0", Corrupt: &fault.Corruption{Offset: 100}})
//	// Reads stop early with a clean EOF after 10 bytes.
//	d.Inject(fault.Rule{Op: fault.OpOpen, Truncate: &fault.Truncation{After: 10}})
//	// Every call is 5ms slower.
//	d.Inject(fault.Rule{Op: fault.OpAll, Latency: 5 * time.Millisecond})
//	// The drive disappears: every call fails with drivers.ErrOffline.
//	d.SetOffline(syscall.EIO)
//	d.Clear() // removes all rules and brings the driver back online
//
// Rules apply in the order they were injected; every rule that matches a
// call takes effect (latencies add up, the first error wins). A rule
// counts the calls it matches, whether or not an earlier rule already
// failed the call, so After and Times always refer to matching calls.
package fault

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
)

var _ drivers.Driver = (*Driver)(nil)

// Op is a set of driver operations a rule applies to.
type Op uint8

// Operations, one bit each; combine with |.
const (
	OpPut Op = 1 << iota
	OpOpen
	OpStat
	OpDelete
	OpList
	OpUsage
	// OpAll is every operation.
	OpAll = OpPut | OpOpen | OpStat | OpDelete | OpList | OpUsage
)

func (o Op) String() string {
	names := []string{"put", "open", "stat", "delete", "list", "usage"}
	var parts []string
	for i, n := range names {
		if o&(1<<i) != 0 {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Rule is one programmed fault. The zero value of each effect field means
// "no such effect"; a rule with no effect only counts matching calls.
type Rule struct {
	// Op selects the operations the rule applies to (required).
	Op Op
	// Prefix limits the rule to names starting with Prefix. For List it is
	// compared with the listed prefix (a rule for "a/" hits List("a/b")
	// but not List("")); Usage has no name and matches only Prefix "".
	Prefix string
	// After skips the first After matching calls: After 2 hits the third.
	After int
	// Times is how many calls the rule hits after skipping; 0 is every one.
	// After 2, Times 1 fails exactly the third matching call.
	Times int

	// Err fails the call with Err (wrapped) before the inner driver sees
	// it, so a failed Put stores nothing. With Truncate set, Open succeeds
	// and Err is instead returned by Read at the truncation point.
	Err error
	// Latency delays the call before it runs (cut short by cancellation of
	// the call's context, which then fails the call).
	Latency time.Duration
	// Corrupt flips bits in bytes read through Open.
	Corrupt *Corruption
	// Truncate ends reads through Open early.
	Truncate *Truncation
}

// Corruption flips the bits of Mask (0 means 0xFF) in the byte at Offset
// of the object, whenever a read through Open covers that byte.
type Corruption struct {
	Offset int64
	Mask   byte
}

// Truncation makes a reader returned by Open end after After bytes of the
// requested range: Read then returns the rule's Err, or io.EOF if it has
// none (a silently short object).
type Truncation struct {
	After int64
}

// Fault is an injected rule: it reports how often it fired and can be
// removed on its own.
type Fault struct {
	d    *Driver
	rule Rule
	// seen and fired are guarded by d.mu.
	seen, fired int
}

// Fired returns how many calls the rule has hit so far.
func (f *Fault) Fired() int {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	return f.fired
}

// Remove takes the rule out; calls already hit keep their effects.
func (f *Fault) Remove() {
	f.d.mu.Lock()
	defer f.d.mu.Unlock()
	for i, r := range f.d.mu.rules {
		if r == f {
			f.d.mu.rules = append(f.d.mu.rules[:i:i], f.d.mu.rules[i+1:]...)
			return
		}
	}
}

// Driver wraps an inner driver with programmable faults. It is safe for
// concurrent use; rules may be changed while calls are in flight.
type Driver struct {
	inner drivers.Driver
	mu    struct {
		sync.Mutex
		rules   []*Fault
		offline error // non-nil: simulated offline, the cause
	}
}

// New wraps inner. Without rules every call goes straight to inner.
func New(inner drivers.Driver) *Driver {
	return &Driver{inner: inner}
}

// Inject adds a rule and returns its handle. It panics if r.Op is empty,
// since such a rule could never fire and is a bug in the test.
func (d *Driver) Inject(r Rule) *Fault {
	if r.Op&OpAll == 0 {
		panic("fault: Rule.Op selects no operation")
	}
	f := &Fault{d: d, rule: r}
	d.mu.Lock()
	d.mu.rules = append(d.mu.rules, f)
	d.mu.Unlock()
	return f
}

// Clear removes every rule and brings the driver back online.
func (d *Driver) Clear() {
	d.mu.Lock()
	d.mu.rules = nil
	d.mu.offline = nil
	d.mu.Unlock()
}

// SetOffline simulates the drive going away: until SetOnline (or Clear),
// every call fails with an error wrapping drivers.ErrOffline and cause
// (without reaching the inner driver or counting towards any rule), and
// Usage reports Online false with Err cause. A nil cause is replaced by a
// generic one.
func (d *Driver) SetOffline(cause error) {
	if cause == nil {
		cause = fmt.Errorf("fault: simulated offline")
	}
	d.mu.Lock()
	d.mu.offline = cause
	d.mu.Unlock()
}

// SetOnline ends a simulated offline period.
func (d *Driver) SetOnline() {
	d.mu.Lock()
	d.mu.offline = nil
	d.mu.Unlock()
}

// effects is what the matching rules do to one call.
type effects struct {
	err      error
	latency  time.Duration
	corrupt  []Corruption
	truncate *Truncation
	truncErr error
}

// match evaluates the rules for one call and counts hits.
func (d *Driver) match(op Op, name string) (effects, error) {
	var e effects
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.offline != nil {
		return e, fmt.Errorf("fault: %s %q: %w: %w", op, name, drivers.ErrOffline, d.mu.offline)
	}
	for _, f := range d.mu.rules {
		r := &f.rule
		if r.Op&op == 0 || !strings.HasPrefix(name, r.Prefix) || (op == OpUsage && r.Prefix != "") {
			continue
		}
		f.seen++
		if f.seen <= r.After || (r.Times > 0 && f.fired >= r.Times) {
			continue
		}
		f.fired++
		e.latency += r.Latency
		if r.Corrupt != nil {
			e.corrupt = append(e.corrupt, *r.Corrupt)
		}
		switch {
		case r.Truncate != nil && op == OpOpen:
			if e.truncate == nil || r.Truncate.After < e.truncate.After {
				e.truncate, e.truncErr = r.Truncate, r.Err
			}
		case r.Err != nil && e.err == nil:
			e.err = r.Err
		}
	}
	return e, nil
}

// before applies the latency and error of e to a call.
func (e *effects) before(ctx context.Context, op Op, name string) error {
	if e.latency > 0 {
		t := time.NewTimer(e.latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("fault: %s %q: %w", op, name, ctx.Err())
		}
	}
	if e.err != nil {
		return fmt.Errorf("fault: injected %s %q: %w", op, name, e.err)
	}
	return nil
}

func (d *Driver) prepare(ctx context.Context, op Op, name string) (effects, error) {
	e, err := d.match(op, name)
	if err != nil {
		return e, err
	}
	return e, e.before(ctx, op, name)
}

// Put implements drivers.Driver.
func (d *Driver) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	if _, err := d.prepare(ctx, OpPut, name); err != nil {
		return 0, err
	}
	return d.inner.Put(ctx, name, r)
}

// Open implements drivers.Driver, applying corruption and truncation rules
// to the returned reader.
func (d *Driver) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	e, err := d.prepare(ctx, OpOpen, name)
	if err != nil {
		return nil, err
	}
	rc, err := d.inner.Open(ctx, name, off, length)
	if err != nil || (len(e.corrupt) == 0 && e.truncate == nil) {
		return rc, err
	}
	fr := &reader{rc: rc, pos: off, corrupt: e.corrupt, left: -1}
	if e.truncate != nil {
		fr.left = max(e.truncate.After, 0)
		fr.truncErr = e.truncErr
		if fr.truncErr == nil {
			fr.truncErr = io.EOF
		}
	}
	return fr, nil
}

// reader applies read faults to an inner reader.
type reader struct {
	rc       io.ReadCloser
	pos      int64 // object offset of the next byte
	corrupt  []Corruption
	left     int64 // bytes until truncation; -1 for none
	truncErr error
}

func (r *reader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, r.truncErr
	}
	if r.left > 0 && int64(len(p)) > r.left {
		p = p[:r.left]
	}
	n, err := r.rc.Read(p)
	for _, c := range r.corrupt {
		if c.Offset >= r.pos && c.Offset < r.pos+int64(n) {
			mask := c.Mask
			if mask == 0 {
				mask = 0xFF
			}
			p[c.Offset-r.pos] ^= mask
		}
	}
	r.pos += int64(n)
	if r.left > 0 {
		r.left -= int64(n)
		if r.left == 0 && err == nil {
			err = r.truncErr
		}
	}
	return n, err
}

func (r *reader) Close() error { return r.rc.Close() }

// Stat implements drivers.Driver.
func (d *Driver) Stat(ctx context.Context, name string) (drivers.Info, error) {
	if _, err := d.prepare(ctx, OpStat, name); err != nil {
		return drivers.Info{}, err
	}
	return d.inner.Stat(ctx, name)
}

// Delete implements drivers.Driver.
func (d *Driver) Delete(ctx context.Context, name string) error {
	if _, err := d.prepare(ctx, OpDelete, name); err != nil {
		return err
	}
	return d.inner.Delete(ctx, name)
}

// List implements drivers.Driver.
func (d *Driver) List(ctx context.Context, prefix string, fn func(drivers.Info) error) error {
	if _, err := d.prepare(ctx, OpList, prefix); err != nil {
		return err
	}
	return d.inner.List(ctx, prefix, fn)
}

// Usage implements drivers.Driver. While offline it reports the inner
// driver's figures with Online false and Err the cause, and no error, like
// a real drive.
func (d *Driver) Usage(ctx context.Context) (drivers.Usage, error) {
	e, err := d.match(OpUsage, "")
	if err != nil {
		u, _ := d.inner.Usage(ctx)
		u.Online, u.Err = false, d.offlineCause()
		return u, nil
	}
	if err := e.before(ctx, OpUsage, ""); err != nil {
		return drivers.Usage{}, err
	}
	return d.inner.Usage(ctx)
}

func (d *Driver) offlineCause() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mu.offline == nil {
		return fmt.Errorf("fault: simulated offline")
	}
	return d.mu.offline
}
