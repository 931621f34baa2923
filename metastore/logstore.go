package metastore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"
)

// logStore is the Raft log store and stable store on the shared Pebble
// instance. Log entries live under "l" + index (8 bytes big-endian), stable
// values under "s" + key. Every write is committed with pebble.Sync: Raft
// acknowledges entries and votes only after they are durable. StoreLogs
// writes the whole group of entries the leader (or an AppendEntries RPC)
// hands it in one synced batch, so concurrent proposals share one fsync.
// It counts those synced appends, the entries they carried and the time
// they took (Stats: LogSyncs, LogEntries, LogSyncTime), so the group size
// and the fsync latency a write load reaches can be measured.
type logStore struct {
	db *pebble.DB

	syncs, entries atomic.Uint64
	syncNanos      atomic.Int64

	mu struct {
		sync.Mutex
		first, last uint64 // 0, 0 when the log is empty
	}
}

var (
	_ raft.LogStore    = (*logStore)(nil)
	_ raft.StableStore = (*logStore)(nil)
)

// logEntryV1 is the version byte of an encoded log entry.
const logEntryV1 = 1

func newLogStore(db *pebble.DB) (*logStore, error) {
	s := &logStore{db: db}
	if err := s.loadBounds(); err != nil {
		return nil, err
	}
	return s, nil
}

// loadBounds reads the first and last index from Pebble.
// REQUIRES: s.mu, or no concurrent use.
func (s *logStore) loadBounds() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{prefixLog}, UpperBound: []byte{prefixLog + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	s.mu.first, s.mu.last = 0, 0
	if it.First() {
		s.mu.first = binary.BigEndian.Uint64(it.Key()[1:])
		if !it.Last() {
			return fmt.Errorf("metastore: log iterator lost its last entry")
		}
		s.mu.last = binary.BigEndian.Uint64(it.Key()[1:])
	}
	return it.Error()
}

// FirstIndex implements raft.LogStore.
func (s *logStore) FirstIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.first, nil
}

// LastIndex implements raft.LogStore.
func (s *logStore) LastIndex() (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.last, nil
}

// GetLog implements raft.LogStore.
func (s *logStore) GetLog(index uint64, l *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	return decodeLog(v, index, l)
}

// StoreLog implements raft.LogStore.
func (s *logStore) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs implements raft.LogStore: one Pebble batch, one fsync.
func (s *logStore) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	size := 0
	for _, l := range logs {
		size += len(l.Data) + len(l.Extensions) + 48
	}
	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	buf := make([]byte, 0, 256)
	for _, l := range logs {
		buf = encodeLog(buf[:0], l)
		if err := b.Set(logKey(l.Index), buf, nil); err != nil {
			return err
		}
	}
	start := time.Now()
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("metastore: store raft logs: %w", err)
	}
	s.syncNanos.Add(int64(time.Since(start)))
	s.syncs.Add(1)
	s.entries.Add(uint64(len(logs)))
	s.mu.Lock()
	for _, l := range logs {
		if s.mu.first == 0 || l.Index < s.mu.first {
			s.mu.first = l.Index
		}
		if l.Index > s.mu.last {
			s.mu.last = l.Index
		}
	}
	s.mu.Unlock()
	return nil
}

// DeleteRange implements raft.LogStore (min and max inclusive).
func (s *logStore) DeleteRange(min, max uint64) error {
	if max < min {
		return nil
	}
	end := logKey(max + 1)
	if max == ^uint64(0) {
		end = []byte{prefixLog + 1}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.db.DeleteRange(logKey(min), end, pebble.Sync); err != nil {
		return fmt.Errorf("metastore: delete raft logs: %w", err)
	}
	return s.loadBounds()
}

// Set implements raft.StableStore.
func (s *logStore) Set(key, val []byte) error {
	return s.db.Set(stableKey(key), val, pebble.Sync)
}

// Get implements raft.StableStore: an absent key reads as empty.
func (s *logStore) Get(key []byte) ([]byte, error) {
	v, err := getCopy(s.db, stableKey(key))
	if err != nil {
		return nil, err
	}
	if v == nil {
		return []byte{}, nil
	}
	return v, nil
}

// SetUint64 implements raft.StableStore.
func (s *logStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, be64(val))
}

// GetUint64 implements raft.StableStore: an absent key reads as 0.
func (s *logStore) GetUint64(key []byte) (uint64, error) {
	v, err := getCopy(s.db, stableKey(key))
	if err != nil || v == nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: stable value %q of %d bytes", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// encodeLog appends the encoding of a log entry:
//
//	version (1) | term uvarint | type (1) | data (uvarint len + bytes) |
//	extensions (uvarint len + bytes) | appendedAt (time encoding)
//
// The index is the key and not repeated.
func encodeLog(b []byte, l *raft.Log) []byte {
	e := encoder{b: b}
	e.u8(logEntryV1)
	e.uvarint(l.Term)
	e.u8(uint8(l.Type))
	e.bytes(l.Data)
	e.bytes(l.Extensions)
	e.time(l.AppendedAt)
	return e.b
}

// decodeLog decodes an entry stored under index.
func decodeLog(b []byte, index uint64, l *raft.Log) error {
	d := decoder{b: b}
	v := d.u8()
	term := d.uvarint()
	typ := d.u8()
	data := d.bytes()
	ext := d.bytes()
	at := d.time()
	if err := d.done(); err != nil || v != logEntryV1 {
		return fmt.Errorf("%w: raft log entry %d", ErrCorrupt, index)
	}
	*l = raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext, AppendedAt: at}
	return nil
}
