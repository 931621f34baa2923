package metastore

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"
)

// Dedupe window. A command whose request id was applied within the window
// returns the stored result of the first application instead of being
// applied again. Both bounds are part of the replicated semantics (every
// node must evict the same entries at the same log index), so they are
// constants of this command version, not configuration.
const (
	// dedupeTTL: an entry is kept while the state machine clock (the
	// largest proposer time applied so far) is less than this past its
	// command's time. Retries after ErrLeadershipLost come within seconds.
	dedupeTTL = 10 * time.Minute
	// dedupeMaxEntries bounds the table whatever the clocks say. An entry
	// holds the command's result: tens of bytes, up to a few KB when it
	// carries a replaced artifact record.
	dedupeMaxEntries = 100_000
)

// fsm is the replicated state machine: raft.BatchingFSM over the "f"
// keyspace of the shared Pebble instance.
type fsm struct {
	db     *pebble.DB
	logger *slog.Logger

	// applied is the index of the last log entry reflected in Pebble. It is
	// persisted (keyApplied) in the same batch as the state it describes.
	applied  atomic.Uint64
	notifyMu sync.Mutex
	notify   chan struct{} // closed and replaced when applied advances

	// restoreMu is held for reading by every read of replicated state and
	// for writing by Restore, so no read sees a half-restored state.
	restoreMu sync.RWMutex
	// broken is set while a restore is in progress or after one failed:
	// the replicated state is incomplete until a restore succeeds.
	broken atomic.Bool

	// hot caches the records every request reads (hotcache.go).
	hot hotCache

	// Dedupe bookkeeping, owned by the goroutine that applies (raft's FSM
	// goroutine) and by Restore, which raft never runs concurrently with
	// Apply. It mirrors tblDedupe (in log index order) and tblClock.
	clock   int64
	ddQueue []dedupeEntry
	ddSet   map[[16]byte]struct{} // the request ids in ddQueue
	// ddMax and ddTTL are dedupeMaxEntries and dedupeTTL (tests lower
	// them).
	ddMax int
	ddTTL time.Duration

	// restores counts snapshots restored in full (not skipped).
	restores atomic.Uint64
}

type dedupeEntry struct {
	index uint64
	time  int64
	reqID [16]byte
}

var _ raft.BatchingFSM = (*fsm)(nil)

// openFSM loads the state machine's local state from db, first finishing
// any restore a crash interrupted.
func openFSM(db *pebble.DB, logger *slog.Logger) (*fsm, error) {
	f := &fsm{db: db, logger: logger, notify: make(chan struct{}), ddMax: dedupeMaxEntries, ddTTL: dedupeTTL}
	if _, closer, err := db.Get(keyRestoring); err == nil {
		closer.Close()
		// A restore was interrupted: the replicated state is a mix of old
		// and new. Drop it and zero the applied index; raft restores the
		// latest snapshot into the empty state at start.
		logger.Warn("metastore: discarding state of an interrupted snapshot restore")
		b := db.NewBatch()
		_ = b.DeleteRange(fsmLowerBound, fsmUpperBound, nil)
		_ = b.Set(keyApplied, be64(0), nil)
		_ = b.Delete(keyRestoring, nil)
		if err := b.Commit(pebble.Sync); err != nil {
			b.Close()
			return nil, fmt.Errorf("metastore: reset after interrupted restore: %w", err)
		}
		b.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("metastore: read restore marker: %w", err)
	}
	if err := f.load(); err != nil {
		return nil, err
	}
	return f, nil
}

// load reads the applied index and the dedupe bookkeeping from Pebble.
func (f *fsm) load() error {
	v, err := getCopy(f.db, keyApplied)
	if err != nil {
		return fmt.Errorf("metastore: read applied index: %w", err)
	}
	var applied uint64
	if v != nil {
		if len(v) != 8 {
			return fmt.Errorf("%w: applied index of %d bytes", ErrCorrupt, len(v))
		}
		applied = binary.BigEndian.Uint64(v)
	}
	clock := int64(0)
	cv, err := getCopy(f.db, keyClock)
	if err != nil {
		return fmt.Errorf("metastore: read clock: %w", err)
	}
	if cv != nil {
		d := decoder{b: cv}
		clock = d.varint()
		if err := d.done(); err != nil {
			return fmt.Errorf("%w: clock", ErrCorrupt)
		}
	}
	var q []dedupeEntry
	p := []byte{prefixFSM, tblDedupe}
	it, err := f.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return err
	}
	for ok := it.First(); ok; ok = it.Next() {
		e, _, err := decodeDedupe(it.Key(), it.Value())
		if err != nil {
			it.Close()
			return err
		}
		q = append(q, e)
	}
	if err := it.Close(); err != nil {
		return err
	}
	slices.SortFunc(q, func(a, b dedupeEntry) int { return cmp.Compare(a.index, b.index) })
	f.clock = clock
	f.ddQueue = q
	f.ddSet = make(map[[16]byte]struct{}, len(q))
	for _, e := range q {
		f.ddSet[e.reqID] = struct{}{}
	}
	f.applied.Store(applied)
	return nil
}

// A dedupe entry (tblDedupe, keyed by request id) is: version (1),
// log index (uvarint), proposer time (varint), result (bytes).
func encodeDedupe(index uint64, time int64, res []byte) []byte {
	e := encoder{b: make([]byte, 0, len(res)+24)}
	e.u8(recordV1)
	e.uvarint(index)
	e.varint(time)
	e.bytes(res)
	return e.b
}

func decodeDedupe(k, v []byte) (dedupeEntry, []byte, error) {
	var e dedupeEntry
	d := decoder{b: v}
	ver := d.u8()
	e.index = d.uvarint()
	e.time = d.varint()
	res := d.bytes()
	if d.done() != nil || ver != recordV1 || len(k) != 2+16 {
		return e, nil, fmt.Errorf("%w: dedupe entry", ErrCorrupt)
	}
	copy(e.reqID[:], k[2:])
	return e, res, nil
}

// setApplied publishes a new applied index and wakes waiters.
func (f *fsm) setApplied(i uint64) {
	f.notifyMu.Lock()
	f.applied.Store(i)
	close(f.notify)
	f.notify = make(chan struct{})
	f.notifyMu.Unlock()
}

// appliedCh returns the applied index and a channel closed when it next
// changes.
func (f *fsm) appliedCh() (uint64, <-chan struct{}) {
	f.notifyMu.Lock()
	defer f.notifyMu.Unlock()
	return f.applied.Load(), f.notify
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) interface{} {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch implements raft.BatchingFSM: the entries of one batch are
// applied in one Pebble batch together with the new applied index, so a
// restart finds either all or none of them, and entries at or below the
// stored applied index (raft replays from its last snapshot on start) are
// skipped. The batch is committed without fsync: every entry is already
// fsynced in the Raft log, and after a crash raft replays what the state
// machine lost (see doc.go, "Durability").
func (f *fsm) ApplyBatch(logs []*raft.Log) []interface{} {
	out := make([]interface{}, len(logs))
	applied := f.applied.Load()
	b := f.db.NewIndexedBatch()
	defer b.Close()
	tx := &txn{b: b, cache: make(map[string][]byte), dirty: make(map[string]struct{}), db: f.db, hot: &f.hot}
	last := applied
	for i, l := range logs {
		if l.Index <= applied {
			continue
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			// Configuration entries change no replicated state of ours.
			continue
		}
		out[i] = f.applyOne(tx, l)
	}
	if last == applied {
		return out
	}
	f.evict(tx)
	tx.flushDirty()
	mustOK(b.Set(keyApplied, be64(last), nil))
	if err := b.Commit(pebble.NoSync); err != nil {
		// The state machine cannot skip an entry and stay in step with the
		// cluster: stop the node rather than diverge.
		panic(fmt.Sprintf("metastore: commit state machine batch at index %d: %v", last, err))
	}
	f.hot.changed(&tx.touched) // before readers waiting for last can read
	f.setApplied(last)
	return out
}

// applyOne applies one command and returns its encoded result.
func (f *fsm) applyOne(tx *txn, l *raft.Log) []byte {
	c, err := decodeCommand(l.Data)
	if err != nil {
		if errors.Is(err, ErrUnsupportedCommand) {
			panic(fmt.Sprintf("metastore: log index %d: %v: this node is older than the cluster; upgrade it", l.Index, err))
		}
		// Decoding is deterministic, so every node rejects it alike.
		f.logger.Error("metastore: undecodable command", "index", l.Index, "error", err)
		return errResult(err).encode()
	}
	if c.body == nil {
		return result{}.encode() // an ignorable command this node does not know
	}
	if err := gate(l.Data, tx.clusterVersion()); err != nil {
		// The proposer's check (applyLocal) keeps these out of the log;
		// should one get in, every node refuses it alike.
		return errResult(err).encode()
	}
	dedupe := c.reqID != [16]byte{}
	if _, seen := f.ddSet[c.reqID]; dedupe && seen {
		if r, ok := tx.dedupeLookup(c.reqID); ok {
			return r
		}
	}
	tx.ops = tx.ops[:0]
	tx.now = c.time
	res := c.body.apply(tx)
	if res.code == codeOK {
		tx.flush()
	}
	tx.ops = tx.ops[:0]
	enc := res.encode()
	if dedupe {
		f.dedupeRecord(tx, c, l.Index, enc)
	}
	if c.time > f.clock {
		f.clock = c.time
		e := encoder{}
		e.varint(f.clock)
		tx.write(keyClock, e.b)
	}
	return enc
}

func (f *fsm) dedupeRecord(tx *txn, c command, index uint64, res []byte) {
	tx.write(dedupeKey(c.reqID), encodeDedupe(index, c.time, res))
	f.ddQueue = append(f.ddQueue, dedupeEntry{index: index, time: c.time, reqID: c.reqID})
	f.ddSet[c.reqID] = struct{}{}
}

// evict drops dedupe entries past the window, oldest index first.
func (f *fsm) evict(tx *txn) {
	n := 0
	for n < len(f.ddQueue) {
		e := f.ddQueue[n]
		if len(f.ddQueue)-n <= f.ddMax && f.clock-e.time <= int64(f.ddTTL) {
			break
		}
		tx.write(dedupeKey(e.reqID), nil)
		delete(f.ddSet, e.reqID)
		n++
	}
	if n == 0 {
		return
	}
	// Reslice from the front (amortized O(1)); append moves the live
	// entries to a fresh array when capacity runs out.
	f.ddQueue = f.ddQueue[n:]
}

// txn is the view one command applies against: reads see the state
// including earlier commands of the same raft batch (an indexed Pebble
// batch); writes are staged in ops and reach the batch only if the command
// succeeds, so a failed command changes nothing.
//
// The records most commands of a batch share (containers, usage counters,
// the clock) are cached for the whole raft batch, and the writes of
// counters and clock are coalesced: their latest value reaches the Pebble
// batch once, in flushDirty, however many commands changed it.
type txn struct {
	b *pebble.Batch
	// now is the proposer time of the command being applied (Unix ns):
	// the state machine's only clock.
	now   int64
	ops   []txnOp
	cache map[string][]byte   // cached tables: key -> value, nil for absent
	dirty map[string]struct{} // coalesced keys written in this batch
	// touched marks the tables this batch wrote (by fsmTable), for the
	// hot cache.
	touched [256]bool
	// db and hot, when set, serve reads of hot-cached tables the batch
	// has not written (see get).
	db  *pebble.DB
	hot *hotCache
}

func fsmTable(key []byte) byte {
	if len(key) < 2 || key[0] != prefixFSM {
		return 0
	}
	return key[1]
}

// cached reports whether reads of key's table are cached for the batch.
func cached(key []byte) bool {
	switch fsmTable(key) {
	case tblContainer, tblTenantUsage, tblContUsage, tblClock, tblTenantCfg, tblClusterVer, tblVersionSeq:
		return true
	}
	return false
}

// deferrable reports whether writes to key's table may be coalesced until
// the end of the batch: tables only ever read by point lookups while
// commands apply, so no iterator can miss a pending value.
func deferrable(key []byte) bool {
	switch fsmTable(key) {
	case tblTenantUsage, tblContUsage, tblClock:
		return true
	}
	return false
}

// flushDirty writes the coalesced keys to the batch.
func (t *txn) flushDirty() {
	for k := range t.dirty {
		if v := t.cache[k]; v == nil {
			mustOK(t.b.Delete([]byte(k), nil))
		} else {
			mustOK(t.b.Set([]byte(k), v, nil))
		}
	}
	clear(t.dirty)
}

type txnOp struct {
	key, val []byte
	del      bool
}

func (t *txn) set(key, val []byte) { t.ops = append(t.ops, txnOp{key: key, val: val}) }
func (t *txn) del(key []byte)      { t.ops = append(t.ops, txnOp{key: key, del: true}) }

func (t *txn) flush() {
	for _, op := range t.ops {
		switch {
		case op.del:
			t.write(op.key, nil)
		case op.val == nil:
			t.write(op.key, []byte{})
		default:
			t.write(op.key, op.val)
		}
	}
}

// write sets key to val (deletes it when val is nil), bypassing the
// staging of ops: for flush and the state machine's own bookkeeping.
func (t *txn) write(key, val []byte) {
	t.touched[fsmTable(key)] = true
	if t.cache != nil && deferrable(key) {
		t.cache[string(key)] = val
		t.dirty[string(key)] = struct{}{}
		return
	}
	if val == nil {
		mustOK(t.b.Delete(key, nil))
	} else {
		mustOK(t.b.Set(key, val, nil))
	}
	if t.cache != nil && cached(key) {
		t.cache[string(key)] = val
	}
}

// get returns the value under key (callers must not modify it), or nil
// when it is absent.
func (t *txn) get(key []byte) []byte {
	c := t.cache != nil && cached(key)
	if c {
		if v, ok := t.cache[string(key)]; ok {
			return v
		}
	}
	var v []byte
	var err error
	if c && t.hot != nil && hotTable(fsmTable(key)) {
		// Every write of a cached table in this batch is in t.cache, so
		// the key holds its committed value, which the hot cache serves
		// without a lookup through the batch and every Pebble level.
		v, err = t.hot.get(t.db, key)
	} else {
		v, err = getCopy(t.b, key)
	}
	mustOK(err)
	if c {
		t.cache[string(key)] = v
	}
	return v
}

func (t *txn) has(key []byte) bool { return t.get(key) != nil }

// iter opens an iterator over [lower, upper) of the batch view.
func (t *txn) iter(lower, upper []byte) *pebble.Iterator {
	it, err := t.b.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	mustOK(err)
	return it
}

func (t *txn) dedupeLookup(reqID [16]byte) ([]byte, bool) {
	k := dedupeKey(reqID)
	v := t.get(k)
	if v == nil {
		return nil, false
	}
	_, res, err := decodeDedupe(k, v)
	if err != nil {
		// Corrupt dedupe entry: answer as corrupt rather than apply twice.
		return errResult(err).encode(), true
	}
	return res, true
}

// reader is what getCopy reads from: the DB, a batch or a snapshot.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// getCopy returns a copy of the value under key, nil (and no error) when
// the key is absent. Present values are never nil.
func getCopy(r reader, key []byte) ([]byte, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(v))
	copy(out, v)
	closer.Close()
	return out, nil
}

// mustOK panics on a storage error inside the state machine, where an error
// cannot be returned without the node silently diverging from the cluster.
func mustOK(err error) {
	if err != nil {
		panic(fmt.Sprintf("metastore: state machine storage error: %v", err))
	}
}

func be64(v uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), v)
}
