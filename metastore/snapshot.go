package metastore

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"
)

// Snapshot stream format (see doc.go, "Snapshots"):
//
//	header  "VMSS" | version (1 byte) | applied index (8 bytes BE)
//	frames  kind (1 byte) | length (4 bytes BE) | crc32c of payload (4 bytes BE) | payload
//	        kind frameData: payload is records uvarint(len key) key uvarint(len value) value
//	        kind frameEnd:  payload is the record count (8 bytes BE); it is the last frame
//
// Every key is a full Pebble key under prefixFSM. Frames hold about
// snapFrameTarget bytes of records so a restore writes bounded batches.

var snapMagic = [4]byte{'V', 'M', 'S', 'S'}

const (
	snapVersion     = 1
	frameData       = 1
	frameEnd        = 2
	snapFrameTarget = 1 << 20
	// snapFrameMax bounds a frame a restore accepts, so a corrupt length
	// cannot make it allocate without limit.
	snapFrameMax = 64 << 20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot implements raft.FSM. It runs on raft's FSM goroutine, between
// applies, so a Pebble snapshot taken here is exactly the state at the
// applied index; the expensive streaming happens in Persist.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{snap: f.db.NewSnapshot(), applied: f.applied.Load()}, nil
}

type fsmSnapshot struct {
	snap    *pebble.Snapshot
	applied uint64
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := writeSnapshot(s.snap, s.applied, sink); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() { _ = s.snap.Close() }

// iterSource is a Pebble DB, batch or snapshot.
type iterSource interface {
	NewIter(*pebble.IterOptions) (*pebble.Iterator, error)
}

// writeSnapshot streams the replicated state of src to w.
func writeSnapshot(src iterSource, applied uint64, w io.Writer) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	hdr := make([]byte, 0, 13)
	hdr = append(hdr, snapMagic[:]...)
	hdr = append(hdr, snapVersion)
	hdr = binary.BigEndian.AppendUint64(hdr, applied)
	if _, err := bw.Write(hdr); err != nil {
		return err
	}
	it, err := src.NewIter(&pebble.IterOptions{LowerBound: fsmLowerBound, UpperBound: fsmUpperBound})
	if err != nil {
		return err
	}
	defer it.Close()
	var count uint64
	frame := make([]byte, 0, snapFrameTarget+4096)
	for ok := it.First(); ok; ok = it.Next() {
		frame = binary.AppendUvarint(frame, uint64(len(it.Key())))
		frame = append(frame, it.Key()...)
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		frame = binary.AppendUvarint(frame, uint64(len(v)))
		frame = append(frame, v...)
		count++
		if len(frame) >= snapFrameTarget {
			if err := writeFrame(bw, frameData, frame); err != nil {
				return err
			}
			frame = frame[:0]
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	if len(frame) > 0 {
		if err := writeFrame(bw, frameData, frame); err != nil {
			return err
		}
	}
	if err := writeFrame(bw, frameEnd, be64(count)); err != nil {
		return err
	}
	return bw.Flush()
}

func writeFrame(w io.Writer, kind byte, payload []byte) error {
	var h [9]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:5], uint32(len(payload)))
	binary.BigEndian.PutUint32(h[5:9], crc32.Checksum(payload, castagnoli))
	if _, err := w.Write(h[:]); err != nil {
		return err
	}
	_, err := w.Write(payload)
	return err
}

// snapReader reads a snapshot stream frame by frame, verifying each.
type snapReader struct {
	r       *bufio.Reader
	applied uint64
	buf     []byte
}

func newSnapReader(r io.Reader) (*snapReader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var hdr [13]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: snapshot header: %v", ErrCorrupt, err)
	}
	if !bytes.Equal(hdr[:4], snapMagic[:]) {
		return nil, fmt.Errorf("%w: not a metastore snapshot", ErrCorrupt)
	}
	if hdr[4] != snapVersion {
		return nil, fmt.Errorf("%w: snapshot version %d", ErrCorrupt, hdr[4])
	}
	return &snapReader{r: br, applied: binary.BigEndian.Uint64(hdr[5:])}, nil
}

// next returns the next frame's kind and payload (valid until the next
// call).
func (s *snapReader) next() (byte, []byte, error) {
	var h [9]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return 0, nil, fmt.Errorf("%w: snapshot frame header: %v", ErrCorrupt, err)
	}
	n := binary.BigEndian.Uint32(h[1:5])
	if n > snapFrameMax {
		return 0, nil, fmt.Errorf("%w: snapshot frame of %d bytes", ErrCorrupt, n)
	}
	if cap(s.buf) < int(n) {
		s.buf = make([]byte, n)
	}
	s.buf = s.buf[:n]
	if _, err := io.ReadFull(s.r, s.buf); err != nil {
		return 0, nil, fmt.Errorf("%w: snapshot frame: %v", ErrCorrupt, err)
	}
	if crc32.Checksum(s.buf, castagnoli) != binary.BigEndian.Uint32(h[5:9]) {
		return 0, nil, fmt.Errorf("%w: snapshot frame checksum mismatch", ErrCorrupt)
	}
	if h[0] != frameData && h[0] != frameEnd {
		return 0, nil, fmt.Errorf("%w: snapshot frame kind %d", ErrCorrupt, h[0])
	}
	return h[0], s.buf, nil
}

// each calls frame for the payload of every data frame, in order, until
// the end frame, and checks the record count frame returns add up to the
// one the end frame carries.
func (s *snapReader) each(frame func(payload []byte) (int, error)) (uint64, error) {
	var count uint64
	for {
		kind, payload, err := s.next()
		if err != nil {
			return count, err
		}
		if kind == frameEnd {
			if len(payload) != 8 || binary.BigEndian.Uint64(payload) != count {
				return count, fmt.Errorf("%w: snapshot record count mismatch", ErrCorrupt)
			}
			return count, nil
		}
		n, err := frame(payload)
		if err != nil {
			return count, err
		}
		count += uint64(n)
	}
}

// forEachRecord calls fn for each record of a data frame payload.
func forEachRecord(payload []byte, fn func(k, v []byte) error) (int, error) {
	d := decoder{b: payload}
	n := 0
	for len(d.b) > 0 {
		k := d.span()
		v := d.span()
		if d.err != nil {
			return n, fmt.Errorf("%w: snapshot record", ErrCorrupt)
		}
		if len(k) < 2 || k[0] != prefixFSM {
			return n, fmt.Errorf("%w: snapshot key outside the state machine", ErrCorrupt)
		}
		if err := fn(k, v); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Restore implements raft.FSM: it replaces the replicated state with the
// snapshot's. When the local state is already at or past the snapshot's
// applied index (raft restores the latest snapshot on every start, and the
// local Pebble state is usually newer), the snapshot is not read further:
// both describe the same committed log prefix.
//
// A full restore is not one atomic batch (a snapshot can be larger than
// memory): a marker key is written, synced, together with the wipe of the
// old state; the records follow in frame-sized batches; the final batch
// sets the applied index and removes the marker, synced. If the node
// crashes in between, Open finds the marker, wipes the partial state, and
// raft restores the snapshot again.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	sr, err := newSnapReader(rc)
	if err != nil {
		return err
	}
	if sr.applied <= f.applied.Load() && !f.broken.Load() {
		f.logger.Info("metastore: local state is newer than the snapshot; restore skipped",
			"snapshot_applied", sr.applied, "applied", f.applied.Load())
		return nil
	}
	f.restoreMu.Lock()
	defer f.restoreMu.Unlock()
	defer f.hot.changedAll() // before readers come back
	f.broken.Store(true)

	b := f.db.NewBatch()
	mustOK(b.Set(keyRestoring, nil, nil))
	mustOK(b.DeleteRange(fsmLowerBound, fsmUpperBound, nil))
	mustOK(b.Set(keyApplied, be64(0), nil))
	err = b.Commit(pebble.Sync)
	b.Close()
	if err != nil {
		return fmt.Errorf("metastore: restore: wipe state: %w", err)
	}
	count, err := sr.each(func(payload []byte) (int, error) {
		b := f.db.NewBatch()
		defer b.Close()
		n, err := forEachRecord(payload, func(k, v []byte) error { return b.Set(k, v, nil) })
		if err != nil {
			return n, err
		}
		return n, b.Commit(pebble.NoSync)
	})
	if err != nil {
		return err
	}
	b = f.db.NewBatch()
	mustOK(b.Set(keyApplied, be64(sr.applied), nil))
	mustOK(b.Delete(keyRestoring, nil))
	err = b.Commit(pebble.Sync)
	b.Close()
	if err != nil {
		return fmt.Errorf("metastore: restore: finish: %w", err)
	}
	prev := f.applied.Load()
	if err := f.load(); err != nil {
		return err
	}
	f.broken.Store(false)
	f.restores.Add(1)
	f.logger.Info("metastore: restored snapshot", "applied", sr.applied, "records", count, "previous_applied", prev)
	f.setApplied(sr.applied)
	return nil
}
