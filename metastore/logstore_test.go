package metastore

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/hashicorp/raft"
)

func testLog(i uint64) *raft.Log {
	l := &raft.Log{Index: i, Term: i / 3, Type: raft.LogCommand, Data: []byte{byte(i), 1, 2}, AppendedAt: t0.Add(time.Duration(i))}
	if i%4 == 0 {
		l.Type = raft.LogNoop
		l.Data = nil
		l.Extensions = []byte("ext")
	}
	return l
}

func TestLogStore(t *testing.T) {
	dir := t.TempDir()
	db := openTestDB(t, dir)
	s, err := newLogStore(db)
	mustNoErr(t, err)
	idx := func() (uint64, uint64) {
		f, err1 := s.FirstIndex()
		l, err2 := s.LastIndex()
		mustNoErr(t, errors.Join(err1, err2))
		return f, l
	}
	if f, l := idx(); f != 0 || l != 0 {
		t.Fatalf("empty store: %d %d", f, l)
	}
	var l raft.Log
	if err := s.GetLog(1, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("GetLog on empty: %v", err)
	}
	mustNoErr(t, s.StoreLog(testLog(1)))
	var batch []*raft.Log
	for i := uint64(2); i <= 20; i++ {
		batch = append(batch, testLog(i))
	}
	mustNoErr(t, s.StoreLogs(batch))
	mustNoErr(t, s.StoreLogs(nil))
	if f, l := idx(); f != 1 || l != 20 {
		t.Fatalf("bounds %d %d", f, l)
	}
	// Two synced appends (an empty one is none) of 20 entries in all.
	if syncs, entries := s.syncs.Load(), s.entries.Load(); syncs != 2 || entries != 20 || s.syncNanos.Load() <= 0 {
		t.Fatalf("counters: %d syncs, %d entries, %d ns", syncs, entries, s.syncNanos.Load())
	}
	for i := uint64(1); i <= 20; i++ {
		mustNoErr(t, s.GetLog(i, &l))
		if !reflect.DeepEqual(&l, testLog(i)) {
			t.Fatalf("GetLog(%d) = %+v, want %+v", i, l, testLog(i))
		}
	}
	// Compaction from the front, truncation at the back (a follower
	// dropping conflicting entries), then appending again.
	mustNoErr(t, s.DeleteRange(1, 5))
	mustNoErr(t, s.DeleteRange(18, 20))
	if f, l := idx(); f != 6 || l != 17 {
		t.Fatalf("bounds after deletes %d %d", f, l)
	}
	if err := s.GetLog(5, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("deleted entry: %v", err)
	}
	mustNoErr(t, s.StoreLogs([]*raft.Log{testLog(18)}))

	// Stable store.
	v, err := s.Get([]byte("missing"))
	if err != nil || v == nil || len(v) != 0 {
		t.Fatalf("Get missing = %v %v", v, err)
	}
	n, err := s.GetUint64([]byte("missing"))
	if err != nil || n != 0 {
		t.Fatalf("GetUint64 missing = %v %v", n, err)
	}
	mustNoErr(t, s.Set([]byte("k"), []byte("v")))
	mustNoErr(t, s.SetUint64([]byte("term"), 42))

	// Everything survives a reopen.
	db.Close()
	db = openTestDB(t, dir)
	defer db.Close()
	s, err = newLogStore(db)
	mustNoErr(t, err)
	if f, l := idx(); f != 6 || l != 18 {
		t.Fatalf("bounds after reopen %d %d", f, l)
	}
	mustNoErr(t, s.GetLog(18, &l))
	if !reflect.DeepEqual(&l, testLog(18)) {
		t.Fatalf("entry 18 after reopen = %+v", l)
	}
	v, err = s.Get([]byte("k"))
	if err != nil || !bytes.Equal(v, []byte("v")) {
		t.Fatalf("Get = %q %v", v, err)
	}
	n, err = s.GetUint64([]byte("term"))
	if err != nil || n != 42 {
		t.Fatalf("GetUint64 = %d %v", n, err)
	}
	// Deleting everything empties the log.
	mustNoErr(t, s.DeleteRange(0, ^uint64(0)))
	if f, l := idx(); f != 0 || l != 0 {
		t.Fatalf("bounds after delete all %d %d", f, l)
	}
	// A corrupt entry is ErrCorrupt, not a panic or garbage.
	mustNoErr(t, db.Set(logKey(7), []byte{9, 9, 9}, nil))
	if err := s.GetLog(7, &l); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt entry: %v", err)
	}
}

// syncCountingFS counts syncs of Pebble's write-ahead log files.
type syncCountingFS struct {
	vfs.FS
	syncs atomic.Int64
}

type syncCountingFile struct {
	vfs.File
	fs *syncCountingFS
}

func (f syncCountingFile) Sync() error     { f.fs.syncs.Add(1); return f.File.Sync() }
func (f syncCountingFile) SyncData() error { f.fs.syncs.Add(1); return f.File.SyncData() }
func (f syncCountingFile) SyncTo(n int64) (bool, error) {
	full, err := f.File.SyncTo(n)
	if full {
		f.fs.syncs.Add(1)
	}
	return full, err
}

func (fs *syncCountingFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil || !strings.HasSuffix(name, ".log") {
		return f, err
	}
	return syncCountingFile{File: f, fs: fs}, nil
}

func (fs *syncCountingFS) Create(name string) (vfs.File, error) {
	f, err := fs.FS.Create(name)
	return fs.wrap(name, f, err)
}

func (fs *syncCountingFS) ReuseForWrite(oldname, newname string) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname)
	return fs.wrap(newname, f, err)
}

// TestOneFsyncPerLogBatch: StoreLogs writes all the entries raft hands it
// with one WAL fsync, and the state machine's batches add none.
func TestOneFsyncPerLogBatch(t *testing.T) {
	fs := &syncCountingFS{FS: vfs.NewMem()}
	db, err := pebble.Open("", &pebble.Options{FS: fs, Logger: pebbleLogger{l: testLogger()}})
	mustNoErr(t, err)
	defer db.Close()
	ls, err := newLogStore(db)
	mustNoErr(t, err)
	f, err := openFSM(db, testLogger())
	mustNoErr(t, err)
	cmds := randomCommands(2, 256)
	logs := make([]*raft.Log, len(cmds))
	for i, c := range cmds {
		logs[i] = &raft.Log{Index: uint64(i + 1), Term: 1, Type: raft.LogCommand, Data: c}
	}
	before := fs.syncs.Load()
	mustNoErr(t, ls.StoreLogs(logs))
	if n := fs.syncs.Load() - before; n != 1 {
		t.Fatalf("StoreLogs of %d entries: %d WAL syncs, want 1", len(logs), n)
	}
	if ls.syncs.Load() != 1 || ls.entries.Load() != uint64(len(logs)) {
		t.Fatalf("log counters: %d syncs, %d entries; want 1, %d", ls.syncs.Load(), ls.entries.Load(), len(logs))
	}
	before = fs.syncs.Load()
	f.ApplyBatch(logs)
	if n := fs.syncs.Load() - before; n != 0 {
		t.Fatalf("ApplyBatch: %d WAL syncs, want 0", n)
	}
}
