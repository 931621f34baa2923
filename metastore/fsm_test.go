package metastore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"
)

// fsmHarness drives a state machine directly with raft log entries.
type fsmHarness struct {
	t     testing.TB
	db    *pebble.DB
	f     *fsm
	index uint64
}

func openTestDB(t testing.TB, dir string) *pebble.DB {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{l: testLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func newFSMHarness(t testing.TB, dir string) *fsmHarness {
	t.Helper()
	db := openTestDB(t, dir)
	f, err := openFSM(db, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	h := &fsmHarness{t: t, db: db, f: f, index: f.applied.Load()}
	t.Cleanup(func() { h.close() })
	return h
}

func (h *fsmHarness) close() {
	if h.db != nil {
		h.db.Close()
		h.db = nil
	}
}

// reopen simulates a restart on the same directory.
func (h *fsmHarness) reopen(dir string) {
	h.close()
	h.db = openTestDB(h.t, dir)
	f, err := openFSM(h.db, testLogger())
	if err != nil {
		h.t.Fatal(err)
	}
	h.f = f
}

func cmdAt(typ cmdType, body commandBody, at time.Time) []byte {
	return encodeCommand(typ, newRequestID(), at, body)
}

func cmdOf(typ cmdType, body commandBody) []byte { return cmdAt(typ, body, t0) }

// apply applies commands as one raft batch at the next indexes and returns
// their decoded results.
func (h *fsmHarness) apply(cmds ...[]byte) []error {
	h.t.Helper()
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		h.index++
		logs[i] = &raft.Log{Index: h.index, Term: 1, Type: raft.LogCommand, Data: c}
	}
	out := h.f.ApplyBatch(logs)
	errs := make([]error, len(out))
	for i, o := range out {
		b, ok := o.([]byte)
		if !ok {
			h.t.Fatalf("result %d is %T", i, o)
		}
		_, errs[i] = decodeResult(b)
	}
	return errs
}

func (h *fsmHarness) mustApply(cmds ...[]byte) {
	h.t.Helper()
	for i, err := range h.apply(cmds...) {
		if err != nil {
			h.t.Fatalf("command %d: %v", i, err)
		}
	}
}

// state returns every replicated key/value, for comparisons.
func (h *fsmHarness) state() string {
	return dumpState(h.t, h.db)
}

func dumpState(t testing.TB, src iterSource) string {
	it, err := src.NewIter(&pebble.IterOptions{LowerBound: fsmLowerBound, UpperBound: fsmUpperBound})
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var sb strings.Builder
	for ok := it.First(); ok; ok = it.Next() {
		fmt.Fprintf(&sb, "%x=%x\n", it.Key(), it.Value())
	}
	return sb.String()
}

func (h *fsmHarness) usage(tenant string) Usage {
	v, err := getCopy(h.db, tenantUsageKey(tenant))
	if err != nil {
		h.t.Fatal(err)
	}
	if v == nil {
		return Usage{}
	}
	u, err := decodeUsage(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return u
}

func putCmd(key string, size int64) []byte {
	return cmdOf(cmdPutArtifact, &putArtifactCmd{a: Artifact{Tenant: "t1", Container: "c1", Key: key, Size: size}})
}

func TestFSMSkipsAppliedEntriesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	h := newFSMHarness(t, dir)
	cmds := [][]byte{cmdOf(cmdCreateContainer, &createContainerCmd{Container{Tenant: "t1", Name: "c1"}})}
	for i := 0; i < 5; i++ {
		cmds = append(cmds, putCmd(fmt.Sprint("k", i), 10))
	}
	h.mustApply(cmds[:4]...)
	h.mustApply(cmds[4:]...)
	if got := h.f.applied.Load(); got != 6 {
		t.Fatalf("applied = %d", got)
	}
	want := h.state()
	h.reopen(dir)
	if got := h.f.applied.Load(); got != 6 {
		t.Fatalf("applied after reopen = %d", got)
	}
	// Raft replays from its last snapshot (here: from the start): entries
	// at or below the applied index must not apply again.
	logs := make([]*raft.Log, 0, 7)
	for i, c := range cmds {
		logs = append(logs, &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: c})
	}
	logs = append(logs, &raft.Log{Index: 7, Type: raft.LogCommand, Data: putCmd("k9", 1)})
	out := h.f.ApplyBatch(logs)
	for i := 0; i < 6; i++ {
		if out[i] != nil {
			t.Fatalf("replayed entry %d produced a result", i+1)
		}
	}
	if _, err := decodeResult(out[6].([]byte)); err != nil {
		t.Fatal(err)
	}
	if u := h.usage("t1"); u != (Usage{Bytes: 51, Artifacts: 6}) {
		t.Fatalf("usage = %+v (an entry was applied twice or lost)", u)
	}
	if h.state() == want {
		t.Fatal("entry 7 was not applied")
	}
}

func TestFSMConfigurationEntriesAdvanceApplied(t *testing.T) {
	h := newFSMHarness(t, t.TempDir())
	out := h.f.ApplyBatch([]*raft.Log{{Index: 1, Type: raft.LogConfiguration, Data: []byte("conf")}})
	if out[0] != nil || h.f.applied.Load() != 1 {
		t.Fatalf("applied = %d, out %v", h.f.applied.Load(), out)
	}
}

func TestFSMDedupe(t *testing.T) {
	h := newFSMHarness(t, t.TempDir())
	h.mustApply(cmdOf(cmdCreateContainer, &createContainerCmd{Container{Tenant: "t1", Name: "c1"}}))
	put := encodeCommand(cmdPutArtifact, [16]byte{42}, t0, &putArtifactCmd{
		a: Artifact{Tenant: "t1", Container: "c1", Key: "k", Size: 7}, cond: Cond{IfNoneMatch: true}})
	// The same request applied three times, in one batch and across batches:
	// one application, the same (successful) result each time.
	errs := h.apply(put, put)
	errs = append(errs, h.apply(put)...)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("application %d: %v (a retried request was applied again)", i, err)
		}
	}
	if u := h.usage("t1"); u != (Usage{Bytes: 7, Artifacts: 1}) {
		t.Fatalf("usage = %+v", u)
	}
	// Another request with the same payload is a new request.
	other := encodeCommand(cmdPutArtifact, [16]byte{43}, t0, &putArtifactCmd{
		a: Artifact{Tenant: "t1", Container: "c1", Key: "k", Size: 7}, cond: Cond{IfNoneMatch: true}})
	wantErr(t, h.apply(other)[0], ErrPreconditionFailed)
	// A failed request is remembered with its failure too.
	wantErr(t, h.apply(other)[0], ErrPreconditionFailed)

	// Past the TTL (by the proposers' clocks) the entry is evicted, and the
	// same request id would be applied anew.
	later := cmdAt(cmdNoop, noopCmd{}, t0.Add(dedupeTTL+time.Second))
	h.mustApply(later)
	if _, ok := (&txn{b: h.db.NewIndexedBatch()}).dedupeLookup([16]byte{42}); ok {
		t.Fatal("dedupe entry survived its TTL")
	}
	wantErr(t, h.apply(put)[0], ErrPreconditionFailed)
}

func TestFSMDedupeEvictsBeyondMaxEntries(t *testing.T) {
	dir := t.TempDir()
	h := newFSMHarness(t, dir)
	h.f.ddMax = 10
	var cmds [][]byte
	for i := 0; i < 25; i++ {
		cmds = append(cmds, encodeCommand(cmdNoop, [16]byte{byte(i + 1)}, t0, noopCmd{}))
	}
	h.mustApply(cmds[:12]...)
	h.mustApply(cmds[12:]...)
	if n := len(h.f.ddQueue); n != 10 {
		t.Fatalf("dedupe queue holds %d entries, want 10", n)
	}
	count := func() int {
		n := 0
		it, _ := h.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixFSM, tblDedupe}, UpperBound: []byte{prefixFSM, tblDedupe + 1}})
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		it.Close()
		return n
	}
	if n := count(); n != 10 {
		t.Fatalf("dedupe table holds %d entries, want 10", n)
	}
	// The bookkeeping is rebuilt from Pebble on restart.
	h.reopen(dir)
	if n := len(h.f.ddQueue); n != 10 || h.f.ddQueue[0].index != 16 {
		t.Fatalf("reloaded queue: %d entries, first index %d", n, h.f.ddQueue[0].index)
	}
}

func TestFSMFailedCommandWritesNothing(t *testing.T) {
	h := newFSMHarness(t, t.TempDir())
	h.mustApply(cmdOf(cmdCreateContainer, &createContainerCmd{Container{Tenant: "t1", Name: "c1"}}),
		cmdOf(cmdCreateUpload, &createUploadCmd{Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u"}}),
		cmdOf(cmdPutPart, &putPartCmd{uploadRef{"t1", "c1", "k", "u"}, Part{Number: 1, Size: 1, ETag: md5hex("a"), Blob: blob("b1")}}),
		cmdOf(cmdPutPart, &putPartCmd{uploadRef{"t1", "c1", "k", "u"}, Part{Number: 2, Size: 1, ETag: "nothex", Blob: blob("b2")}}))
	before := h.state()
	// Fails late (the second part's ETag is not hex) after it has looked at
	// everything; the dedupe entry and clock are the only changes allowed.
	err := h.apply(cmdOf(cmdCompleteUpload, &completeUploadCmd{in: CompleteInput{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u",
		Parts: []PartRef{{1, md5hex("a")}, {2, "nothex"}}}}))[0]
	wantErr(t, err, ErrInvalidPart)
	after := h.state()
	strip := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, fmt.Sprintf("%x", []byte{prefixFSM, tblDedupe})) {
				continue
			}
			keep = append(keep, l)
		}
		return strings.Join(keep, "\n")
	}
	if strip(before) != strip(after) {
		t.Fatalf("failed command changed the state:\n%s\n---\n%s", before, after)
	}
}

func TestFSMUnknownCommands(t *testing.T) {
	h := newFSMHarness(t, t.TempDir())
	// Ignorable: skipped, no state change beyond bookkeeping.
	ign := encodeCommand(cmdType(99)|cmdIgnorable, [16]byte{1}, t0, noopCmd{})
	if errs := h.apply(ign); errs[0] != nil {
		t.Fatalf("ignorable command: %v", errs[0])
	}
	// Corrupt payload of a known type: ErrCorrupt, deterministically.
	bad := cmdOf(cmdPutTenant, &putTenantCmd{Tenant{ID: "t"}})
	bad = bad[:len(bad)-2]
	wantErr(t, h.apply(bad)[0], ErrCorrupt)
	// Unknown type, and a known type at a future version: the node stops.
	for _, c := range [][]byte{
		encodeCommand(cmdType(99), [16]byte{2}, t0, noopCmd{}),
		func() []byte { c := cmdOf(cmdNoop, noopCmd{}); c[1] = 9; return c }(),
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("unknown command did not panic")
				}
			}()
			h.apply(c)
		}()
	}
}

// randomCommands builds a reproducible workload touching every command.
func randomCommands(seed uint64, n int) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed))
	keys := []string{"a", "a/b", "a/c", "b", "c/d/e", "z"}
	var cmds [][]byte
	add := func(typ cmdType, body commandBody) {
		var id [16]byte
		for i := range id {
			id[i] = byte(r.IntN(256))
		}
		cmds = append(cmds, encodeCommand(typ, id, t0.Add(time.Duration(len(cmds))*time.Second), body))
	}
	add(cmdPutTenant, &putTenantCmd{Tenant{ID: "t1", Created: t0}})
	add(cmdCreateContainer, &createContainerCmd{Container{Tenant: "t1", Name: "c1", Created: t0}})
	for len(cmds) < n {
		k := keys[r.IntN(len(keys))]
		up := fmt.Sprint("u", r.IntN(3))
		switch r.IntN(10) {
		case 0, 1, 2:
			add(cmdPutArtifact, &putArtifactCmd{a: Artifact{Tenant: "t1", Container: "c1", Key: k, Size: int64(r.IntN(100)), ETag: md5hex(k),
				Parts: []Part{{Number: 1, Size: 1, ETag: md5hex(k), Blob: blob(fmt.Sprint("b", r.IntN(20)))}}}, cond: Cond{IfNoneMatch: r.IntN(2) == 0}})
		case 3:
			add(cmdDeleteArtifact, &deleteArtifactCmd{in: DeleteInput{Tenant: "t1", Container: "c1", Key: k}})
		case 4:
			add(cmdCreateUpload, &createUploadCmd{Upload{Tenant: "t1", Container: "c1", Key: k, UploadID: up}})
		case 5:
			add(cmdPutPart, &putPartCmd{uploadRef{"t1", "c1", k, up}, Part{Number: 1 + r.IntN(3), Size: 5, ETag: md5hex(up), Blob: blob(fmt.Sprint("p", r.IntN(20)))}})
		case 6:
			add(cmdCompleteUpload, &completeUploadCmd{in: CompleteInput{Tenant: "t1", Container: "c1", Key: k, UploadID: up,
				Parts: []PartRef{{1, md5hex(up)}, {2, md5hex(up)}}}})
		case 7:
			add(cmdAbortUpload, &abortUploadCmd{uploadRef{"t1", "c1", k, up}})
		case 8:
			add(cmdCreateAccessKey, &createAccessKeyCmd{accessKeyRecord{AccessKey{ID: fmt.Sprint("k", r.IntN(5)), Tenant: "t1"}, []byte{1}}})
		case 9:
			locs := []ShardLoc{{Node: "n1", Drive: "d1"}, {Node: "n3", Drive: "d3"}}
			from := r.IntN(2)
			add(cmdRelocateShard, &relocateShardCmd{blob: fmt.Sprint([]string{"b", "p"}[r.IntN(2)], r.IntN(20)), index: 0, from: locs[from], to: locs[1-from]})
		}
	}
	return cmds
}

// TestFSMDeterministic applies one workload to two state machines in
// different batchings and checks they end byte-for-byte identical, with
// usage counters equal to what the artifacts add up to.
func TestFSMDeterministic(t *testing.T) {
	cmds := randomCommands(7, 600)
	a := newFSMHarness(t, t.TempDir())
	b := newFSMHarness(t, t.TempDir())
	for i := 0; i < len(cmds); i += 50 {
		a.apply(cmds[i:min(i+50, len(cmds))]...)
	}
	for _, c := range cmds {
		b.apply(c)
	}
	if a.state() != b.state() {
		t.Fatal("state machines diverged")
	}
	res, _, err := listArtifacts(a.db, "t1", "c1", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var want Usage
	for _, art := range res.Artifacts {
		want.Bytes += art.Size
		want.Artifacts++
	}
	// Parts of unfinished uploads count as UploadBytes.
	parts, err := scan(a.db, partContainerPrefix("t1", "c1"), decodePart)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		want.UploadBytes += p.Size
	}
	if got := a.usage("t1"); got != want {
		t.Fatalf("usage %+v, artifacts add up to %+v", got, want)
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	cancelled, closed bool
}

func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }
func (s *memSink) Close() error  { s.closed = true; return nil }

func snapshotOf(t testing.TB, f *fsm) []byte {
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Release()
	var sink memSink
	if err := snap.Persist(&sink); err != nil || !sink.closed {
		t.Fatalf("Persist: %v (closed %v)", err, sink.closed)
	}
	return sink.Bytes()
}

func TestSnapshotRestore(t *testing.T) {
	cmds := randomCommands(11, 400)
	a := newFSMHarness(t, t.TempDir())
	a.apply(cmds[:300]...)
	snap := snapshotOf(t, a.f)
	stateAt300 := a.state()
	a.apply(cmds[300:]...) // the snapshot is a point in time

	dirB := t.TempDir()
	b := newFSMHarness(t, dirB)
	b.apply(randomCommands(99, 50)...) // unrelated state that must vanish
	if err := b.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if b.state() != stateAt300 || b.f.applied.Load() != 300 {
		t.Fatalf("restored state differs (applied %d)", b.f.applied.Load())
	}
	if b.f.restores.Load() != 1 {
		t.Fatal("restore not counted")
	}
	// Continue from the snapshot: same result as the original.
	b.index = 300
	b.apply(cmds[300:]...)
	if b.state() != a.state() {
		t.Fatal("state after restore and replay differs")
	}
	// Survives a restart, dedupe bookkeeping included.
	b.reopen(dirB)
	if b.state() != a.state() || b.f.applied.Load() != 400 || len(b.f.ddQueue) != len(a.f.ddQueue) {
		t.Fatal("restored state lost on restart")
	}
	// A snapshot older than the local state is skipped, not applied.
	if err := b.f.Restore(io.NopCloser(bytes.NewReader(snap))); err != nil {
		t.Fatal(err)
	}
	if b.state() != a.state() || b.f.restores.Load() != 0 {
		t.Fatal("older snapshot was restored over newer state")
	}
}

func TestSnapshotRestoreRejectsCorruption(t *testing.T) {
	a := newFSMHarness(t, t.TempDir())
	a.apply(randomCommands(5, 100)...)
	snap := snapshotOf(t, a.f)
	for _, mutate := range []func([]byte) []byte{
		func(b []byte) []byte { b[len(b)/2] ^= 1; return b },
		func(b []byte) []byte { return b[:len(b)-3] },
		func(b []byte) []byte { return b[:20] },
		func(b []byte) []byte { b[0] = 'X'; return b },
	} {
		b := newFSMHarness(t, t.TempDir())
		bad := mutate(append([]byte(nil), snap...))
		err := b.f.Restore(io.NopCloser(bytes.NewReader(bad)))
		wantErr(t, err, ErrCorrupt)
	}
}

func TestInterruptedRestoreIsDiscardedOnOpen(t *testing.T) {
	dir := t.TempDir()
	h := newFSMHarness(t, dir)
	h.apply(randomCommands(3, 50)...)
	// What a crash in the middle of Restore leaves: the marker and part of
	// the new state.
	mustNoErr(t, h.db.Set(keyRestoring, nil, pebble.Sync))
	h.reopen(dir)
	if h.f.applied.Load() != 0 || h.state() != "" {
		t.Fatalf("partial state kept: applied %d", h.f.applied.Load())
	}
	if v, _ := getCopy(h.db, keyRestoring); v != nil {
		t.Fatal("marker kept")
	}
}

// TestFSMCrashLosesNothingCommitted checks the durability argument of
// doc.go on a simulated crash: state machine batches are committed without
// sync, but a later synced log write covers them (one WAL).
func TestFSMCrashLosesNothingCommitted(t *testing.T) {
	mem := vfs.NewStrictMem()
	open := func() *pebble.DB {
		db, err := pebble.Open("", &pebble.Options{FS: mem, Logger: pebbleLogger{l: testLogger()}})
		mustNoErr(t, err)
		return db
	}
	db := open()
	ls, err := newLogStore(db)
	mustNoErr(t, err)
	f, err := openFSM(db, testLogger())
	mustNoErr(t, err)
	cmds := randomCommands(21, 40)
	for i, c := range cmds {
		l := &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: c}
		mustNoErr(t, ls.StoreLogs([]*raft.Log{l})) // synced
		f.ApplyBatch([]*raft.Log{l})               // not synced
	}
	// Unsynced tail: the last apply. Crash: drop everything not synced.
	mem.SetIgnoreSyncs(true)
	db.Close()
	mem.ResetToSyncedState()
	mem.SetIgnoreSyncs(false)
	db = open()
	defer db.Close()
	ls, err = newLogStore(db)
	mustNoErr(t, err)
	f, err = openFSM(db, testLogger())
	mustNoErr(t, err)
	last, _ := ls.LastIndex()
	if last != 40 {
		t.Fatalf("synced log lost entries: last = %d", last)
	}
	// The last apply was never synced: it is lost, and only it (every
	// earlier one was covered by the next synced StoreLogs).
	applied := f.applied.Load()
	if applied != 39 {
		t.Fatalf("applied = %d after the crash, want 39", applied)
	}
	// Replay the log as raft does; the result equals a clean run.
	for i := applied + 1; i <= last; i++ {
		var l raft.Log
		mustNoErr(t, ls.GetLog(i, &l))
		f.ApplyBatch([]*raft.Log{&l})
	}
	ref := newFSMHarness(t, filepath.Join(t.TempDir(), "ref"))
	ref.apply(cmds...)
	if dumpState(t, db) != ref.state() {
		t.Fatal("state after crash and replay differs from a clean run")
	}
}

func TestRestoreKeepsStateOnCorruptSnapshotHeader(t *testing.T) {
	h := newFSMHarness(t, t.TempDir())
	h.apply(randomCommands(8, 20)...)
	before := h.state()
	err := h.f.Restore(io.NopCloser(bytes.NewReader([]byte("nope"))))
	if !errors.Is(err, ErrCorrupt) || h.state() != before || h.f.broken.Load() {
		t.Fatalf("bad header: err %v, state kept %v, broken %v", err, h.state() == before, h.f.broken.Load())
	}
}
