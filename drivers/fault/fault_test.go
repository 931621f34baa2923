package fault_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	"github.com/vaultaire/vaultaire/drivers/fault"
	"github.com/vaultaire/vaultaire/drivers/mem"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformanceWithoutFaults(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) drivers.Driver { return fault.New(mem.New()) })
}

// A rule that never fires (wrong prefix) must leave the driver conformant.
func TestConformanceWithIdleRule(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) drivers.Driver {
		d := fault.New(mem.New())
		d.Inject(fault.Rule{Op: fault.OpAll, Prefix: "never/", Err: syscall.EIO})
		return d
	})
}

var ctx = context.Background()

func setup(t *testing.T) *fault.Driver {
	t.Helper()
	d := fault.New(mem.New())
	for _, n := range []string{"x/1", "x/2", "y/1"} {
		if _, err := d.Put(ctx, n, strings.NewReader("0123456789")); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func readAll(d drivers.Driver, name string, off, length int64) ([]byte, error) {
	rc, err := d.Open(ctx, name, off, length)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func TestNthCall(t *testing.T) {
	d := setup(t)
	f := d.Inject(fault.Rule{Op: fault.OpOpen, Prefix: "x/", After: 2, Times: 1, Err: syscall.EIO})
	names := []string{"x/1", "y/1", "x/2", "x/1", "x/1"}
	wantFail := []bool{false, false, false, true, false}
	for i, n := range names {
		_, err := readAll(d, n, 0, -1)
		if got := errors.Is(err, syscall.EIO); got != wantFail[i] {
			t.Errorf("call %d (%s): err %v, want failure %v", i, n, err, wantFail[i])
		}
	}
	if f.Fired() != 1 {
		t.Errorf("Fired = %d, want 1", f.Fired())
	}
}

func TestEveryCallAndRemove(t *testing.T) {
	d := setup(t)
	f := d.Inject(fault.Rule{Op: fault.OpStat | fault.OpDelete, Err: syscall.EROFS})
	for range 3 {
		if _, err := d.Stat(ctx, "x/1"); !errors.Is(err, syscall.EROFS) {
			t.Fatalf("Stat = %v", err)
		}
	}
	if err := d.Delete(ctx, "x/1"); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("Delete = %v", err)
	}
	// Other operations are untouched.
	if b, err := readAll(d, "x/1", 0, -1); err != nil || string(b) != "0123456789" {
		t.Fatalf("Open = %q, %v", b, err)
	}
	if f.Fired() != 4 {
		t.Fatalf("Fired = %d, want 4", f.Fired())
	}
	f.Remove()
	if err := d.Delete(ctx, "x/1"); err != nil {
		t.Fatalf("Delete after Remove: %v", err)
	}
}

func TestPutFaultStoresNothing(t *testing.T) {
	d := setup(t)
	d.Inject(fault.Rule{Op: fault.OpPut, Prefix: "z", Err: syscall.ENOSPC})
	if _, err := d.Put(ctx, "z/1", strings.NewReader("data")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put = %v", err)
	}
	if _, err := d.Stat(ctx, "z/1"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Stat after failed Put = %v", err)
	}
	if _, err := d.Put(ctx, "a/1", strings.NewReader("data")); err != nil {
		t.Fatalf("Put outside the prefix: %v", err)
	}
}

func TestListPrefixMatching(t *testing.T) {
	d := setup(t)
	d.Inject(fault.Rule{Op: fault.OpList, Prefix: "x/", Err: syscall.EIO})
	if err := d.List(ctx, "x/1", func(drivers.Info) error { return nil }); !errors.Is(err, syscall.EIO) {
		t.Fatalf("List(x/1) = %v", err)
	}
	n := 0
	if err := d.List(ctx, "", func(drivers.Info) error { n++; return nil }); err != nil || n != 3 {
		t.Fatalf("List(\"\") = %d, %v", n, err)
	}
}

func TestCorrupt(t *testing.T) {
	d := setup(t)
	f := d.Inject(fault.Rule{Op: fault.OpOpen, Prefix: "x/1", Corrupt: &fault.Corruption{Offset: 4, Mask: 0x01}})
	b, err := readAll(d, "x/1", 0, -1)
	if err != nil || string(b) != "0123556789" {
		t.Fatalf("corrupted read = %q, %v", b, err)
	}
	// A range that covers the byte sees it flipped at the right place.
	if b, _ := readAll(d, "x/1", 3, 3); string(b) != "355" {
		t.Fatalf("ranged corrupted read = %q", b)
	}
	// A range that does not cover it is clean.
	if b, _ := readAll(d, "x/1", 5, -1); string(b) != "56789" {
		t.Fatalf("range past the corruption = %q", b)
	}
	// The stored object is unchanged and other names are clean.
	if b, _ := readAll(d, "x/2", 0, -1); string(b) != "0123456789" {
		t.Fatalf("other object = %q", b)
	}
	f.Remove()
	if b, _ := readAll(d, "x/1", 0, -1); string(b) != "0123456789" {
		t.Fatalf("after Remove = %q", b)
	}
	// Default mask flips all bits, also when read one byte at a time.
	d.Inject(fault.Rule{Op: fault.OpOpen, Corrupt: &fault.Corruption{Offset: 9}})
	rc, err := d.Open(ctx, "y/1", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	var got []byte
	p := make([]byte, 1)
	for {
		n, err := rc.Read(p)
		got = append(got, p[:n]...)
		if err != nil {
			break
		}
	}
	rc.Close()
	if want := append([]byte("012345678"), '9'^0xFF); !bytes.Equal(got, want) {
		t.Fatalf("byte-wise corrupted read = %q, want %q", got, want)
	}
}

func TestTruncate(t *testing.T) {
	d := setup(t)
	f := d.Inject(fault.Rule{Op: fault.OpOpen, Prefix: "x/", Truncate: &fault.Truncation{After: 4}, Times: 1})
	b, err := readAll(d, "x/1", 2, -1)
	if err != nil || string(b) != "2345" {
		t.Fatalf("truncated read = %q, %v", b, err)
	}
	if b, _ := readAll(d, "x/1", 2, -1); string(b) != "23456789" {
		t.Fatalf("second read (rule spent) = %q", b)
	}
	if f.Fired() != 1 {
		t.Fatalf("Fired = %d", f.Fired())
	}
	// With Err, reads fail at the truncation point.
	d.Inject(fault.Rule{Op: fault.OpOpen, Truncate: &fault.Truncation{After: 3}, Err: syscall.EIO})
	b, err = readAll(d, "y/1", 0, -1)
	if !errors.Is(err, syscall.EIO) || string(b) != "012" {
		t.Fatalf("read with mid-stream error = %q, %v", b, err)
	}
	// Truncation at 0 gives nothing.
	d.Clear()
	d.Inject(fault.Rule{Op: fault.OpOpen, Truncate: &fault.Truncation{}})
	if b, err := readAll(d, "y/1", 0, -1); err != nil || len(b) != 0 {
		t.Fatalf("truncate at 0 = %q, %v", b, err)
	}
}

func TestLatency(t *testing.T) {
	d := setup(t)
	f := d.Inject(fault.Rule{Op: fault.OpStat, Latency: time.Millisecond})
	if _, err := d.Stat(ctx, "x/1"); err != nil {
		t.Fatalf("delayed Stat: %v", err)
	}
	if f.Fired() != 1 {
		t.Fatalf("Fired = %d", f.Fired())
	}
	// A latency longer than the test could wait is cut short by ctx.
	d.Inject(fault.Rule{Op: fault.OpPut, Latency: time.Hour})
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Put(cctx, "x/3", strings.NewReader("a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with cancelled latency = %v", err)
	}
	if _, err := d.Stat(ctx, "x/3"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Put cut short stored something: %v", err)
	}
}

func TestOffline(t *testing.T) {
	d := setup(t)
	f := d.Inject(fault.Rule{Op: fault.OpAll})
	d.SetOffline(syscall.EIO)
	checks := map[string]error{}
	_, checks["put"] = d.Put(ctx, "x/9", strings.NewReader("a"))
	_, checks["open"] = d.Open(ctx, "x/1", 0, -1)
	_, checks["stat"] = d.Stat(ctx, "x/1")
	checks["delete"] = d.Delete(ctx, "x/1")
	checks["list"] = d.List(ctx, "", func(drivers.Info) error { return nil })
	for op, err := range checks {
		if !errors.Is(err, drivers.ErrOffline) || !errors.Is(err, syscall.EIO) {
			t.Errorf("%s while offline = %v, want ErrOffline wrapping EIO", op, err)
		}
	}
	u, err := d.Usage(ctx)
	if err != nil || u.Online || !errors.Is(u.Err, syscall.EIO) {
		t.Fatalf("Usage while offline = %+v, %v", u, err)
	}
	if f.Fired() != 0 {
		t.Fatalf("calls refused while offline counted towards rules: %d", f.Fired())
	}
	d.SetOnline()
	if u, err := d.Usage(ctx); err != nil || !u.Online {
		t.Fatalf("Usage back online = %+v, %v", u, err)
	}
	if b, err := readAll(d, "x/1", 0, -1); err != nil || string(b) != "0123456789" {
		t.Fatalf("Open back online = %q, %v", b, err)
	}
	d.SetOffline(nil)
	if _, err := d.Stat(ctx, "x/1"); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Stat offline with nil cause = %v", err)
	}
	d.Clear()
	if _, err := d.Stat(ctx, "x/1"); err != nil {
		t.Fatalf("Stat after Clear = %v", err)
	}
}

func TestRulesCombine(t *testing.T) {
	d := setup(t)
	first := d.Inject(fault.Rule{Op: fault.OpStat, Err: syscall.EIO})
	second := d.Inject(fault.Rule{Op: fault.OpStat, Err: syscall.ENOSPC})
	if _, err := d.Stat(ctx, "x/1"); !errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Stat = %v, want the first rule's error", err)
	}
	if first.Fired() != 1 || second.Fired() != 1 {
		t.Fatalf("Fired = %d, %d; both rules match and count", first.Fired(), second.Fired())
	}
	// Corruptions from two rules both apply.
	d.Clear()
	d.Inject(fault.Rule{Op: fault.OpOpen, Corrupt: &fault.Corruption{Offset: 0, Mask: 0x01}})
	d.Inject(fault.Rule{Op: fault.OpOpen, Corrupt: &fault.Corruption{Offset: 1, Mask: 0x01}})
	if b, _ := readAll(d, "x/1", 0, 3); string(b) != "102" {
		t.Fatalf("double corruption = %q", b)
	}
}

func TestInjectPanicsOnEmptyOp(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("Inject with no Op did not panic")
		}
	}()
	fault.New(mem.New()).Inject(fault.Rule{Err: syscall.EIO})
}

func TestOpString(t *testing.T) {
	if s := (fault.OpPut | fault.OpList).String(); s != "put|list" {
		t.Fatalf("String = %q", s)
	}
	if s := fault.Op(0).String(); s != "none" {
		t.Fatalf("String = %q", s)
	}
}
