package metastore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble"
)

// relocateShardCmd moves one shard of a blob from one drive to another in
// every record that references the blob (artifacts and uploaded parts,
// found through the blob reference index), but only where the shard is
// still placed on from. The condition is what makes a relocation safe
// against everything that may have happened since the relocator read the
// placement: an overwrite or a delete (the blob is no longer referenced),
// another relocation of the same shard (it is no longer on from). In those
// cases the command changes nothing and answers ErrPreconditionFailed; a
// record that already places the shard on to counts as done.
//
// Payload: blob str, index varint, from (node str, drive str), to (node
// str, drive str).
type relocateShardCmd struct {
	blob     string
	index    int
	from, to ShardLoc
}

func (c *relocateShardCmd) write(e *encoder) {
	e.str(c.blob)
	e.int(c.index)
	e.str(c.from.Node)
	e.str(c.from.Drive)
	e.str(c.to.Node)
	e.str(c.to.Drive)
}

func decodeRelocateShard(d *decoder) commandBody {
	c := &relocateShardCmd{blob: d.str(), index: d.int()}
	c.from = ShardLoc{Node: d.str(), Drive: d.str()}
	c.to = ShardLoc{Node: d.str(), Drive: d.str()}
	return c
}

// maxShardIndex bounds a shard index: erasure shapes are far narrower
// (the Reed-Solomon field allows 256 shards in all).
const maxShardIndex = 255

func checkRelocation(blob string, index int, from, to ShardLoc) error {
	if err := checkName("blob id", blob); err != nil {
		return err
	}
	if index < 0 || index > maxShardIndex {
		return fmt.Errorf("%w: shard index %d outside 0..%d", ErrInvalidArgument, index, maxShardIndex)
	}
	if to.Node == "" || to.Drive == "" {
		return fmt.Errorf("%w: relocation target needs a node and a drive", ErrInvalidArgument)
	}
	if from == to {
		return fmt.Errorf("%w: relocation to the same drive", ErrInvalidArgument)
	}
	return nil
}

func (c *relocateShardCmd) apply(t *txn) result {
	if err := checkRelocation(c.blob, c.index, c.from, c.to); err != nil {
		return errResult(err)
	}
	p := blobRefPrefix(c.blob)
	var owners [][]byte
	it := t.iter(p, prefixEnd(p))
	for ok := it.First(); ok; ok = it.Next() {
		owners = append(owners, append([]byte(nil), it.Key()[len(p):]...))
	}
	mustOK(it.Close())
	// move relocates the shard in parts; it reports whether it changed a
	// part and whether a part already had the shard on to.
	move := func(parts []Part) (changed, done bool) {
		for i := range parts {
			b := &parts[i].Blob
			if b.ID != c.blob || c.index >= len(b.Shards) {
				continue
			}
			switch b.Shards[c.index] {
			case c.from:
				b.Shards[c.index] = c.to
				changed = true
			case c.to:
				done = true
			}
		}
		return changed, done
	}
	var moved, already int
	for _, owner := range owners {
		v := t.get(owner)
		if v == nil {
			continue // a dangling reference: nothing to move
		}
		var changed, done bool
		switch fsmTable(owner) {
		case tblArtifact, tblVersion:
			a, err := decodeArtifact(v)
			if err != nil {
				return errResult(err)
			}
			if changed, done = move(a.Parts); changed {
				t.set(owner, encodeArtifact(&a))
			}
		case tblPart:
			part, err := decodePart(v)
			if err != nil {
				return errResult(err)
			}
			ps := []Part{part}
			if changed, done = move(ps); changed {
				t.set(owner, encodePart(ps[0]))
			}
		default:
			continue
		}
		if changed {
			moved++
		} else if done {
			already++
		}
	}
	if moved == 0 && already == 0 {
		return errResult(fmt.Errorf("%w: blob %q shard %d is not on %s/%s", ErrPreconditionFailed, c.blob, c.index, c.from.Node, c.from.Drive))
	}
	e := encoder{}
	e.uvarint(uint64(moved))
	return okResult(e.b)
}

// RelocateShard places shard index of a blob on to instead of from, in
// every artifact and uploaded part that references the blob, atomically.
// Records where the shard is not on from are left alone; when no record
// has it on from (the blob was overwritten or deleted, or the shard was
// moved meanwhile) nothing changes and the error is ErrPreconditionFailed,
// so the caller can delete the copy it wrote on to. A record that already
// places the shard on to counts as relocated (a retry).
func (s *Store) RelocateShard(ctx context.Context, blobID string, index int, from, to ShardLoc) error {
	if err := checkRelocation(blobID, index, from, to); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdRelocateShard, &relocateShardCmd{blob: blobID, index: index, from: from, to: to})
	return err
}

// forEachBlobPage is how many records ForEachBlob reads per visit of the
// store: its callback may do I/O, and the state must not stay locked
// against a snapshot restore (or its iterator pin memory) meanwhile.
const forEachBlobPage = 256

// ForEachBlob calls fn with every blob an artifact or an uploaded part
// references, with the byte size of its part, artifacts first. A blob two
// records share is visited twice. The walk reads pages of records and calls
// fn between pages, with nothing locked: a long walk sees the state as it
// changes, not one snapshot (only the first page honours opts; the others
// are stale reads). An error from fn stops the walk and is returned.
func (s *Store) ForEachBlob(ctx context.Context, fn func(b Blob, size int64) error, opts ...ReadOption) error {
	return s.ForEachBlobFrom(ctx, nil, func(b Blob, size int64, _ []byte) error { return fn(b, size) }, opts...)
}

// ForEachBlobFrom is ForEachBlob starting at the position from (nil: at
// the beginning). fn also gets next, an opaque position from which a later
// walk resumes just after b, even across restarts: a scrubber keeps it to
// continue a pass. Within a record of several blobs (a multipart
// artifact's parts) next names the record and how many of its blobs are
// done; after a record's last blob it is the smallest key after the
// record. A record that does not decode stops the walk with an error
// wrapping ErrCorrupt (WalkBlobsFrom goes on past it).
func (s *Store) ForEachBlobFrom(ctx context.Context, from []byte, fn func(b Blob, size int64, next []byte) error, opts ...ReadOption) error {
	return s.WalkBlobsFrom(ctx, from, fn, func(bad BadRecord) error { return bad.Err }, opts...)
}

// BadRecord is a record a blob walk could not decode.
type BadRecord struct {
	// Record names it: its table and the readable parts of its key.
	Record string
	// Next is the position after it (as ForEachBlobFrom's next).
	Next []byte
	// Err wraps ErrCorrupt.
	Err error
}

// WalkBlobsFrom is ForEachBlobFrom, except that a record that does not
// decode is handed to bad, in its place in the walk, and the walk goes on
// after it unless bad returns an error. One damaged record then costs a
// background walk (the scrub, a drive heal) that record only, not every
// record after it.
func (s *Store) WalkBlobsFrom(ctx context.Context, from []byte, fn func(b Blob, size int64, next []byte) error, bad func(BadRecord) error, opts ...ReadOption) error {
	type item struct {
		b    Blob
		size int64
		next []byte
		bad  *BadRecord
	}
	from, skipKey, skip := parseBlobCursor(from)
	return walkPages(ctx, s, []byte{tblArtifact, tblVersion, tblPart}, from, opts,
		func(tbl byte, key, val, next []byte, page []item) ([]item, error) {
			var parts []Part
			if tbl == tblPart {
				part, err := decodePart(val)
				if err != nil {
					return append(page, item{next: next, bad: &BadRecord{Record: recordName(key), Next: next, Err: err}}), nil
				}
				parts = []Part{part}
			} else {
				a, err := decodeArtifact(val)
				if err != nil {
					return append(page, item{next: next, bad: &BadRecord{Record: recordName(key), Next: next, Err: err}}), nil
				}
				parts = a.Parts
			}
			blobs := 0 // parts with a blob (inline parts have none)
			for _, part := range parts {
				if part.Blob.ID != "" {
					blobs++
				}
			}
			i := 0
			for _, part := range parts {
				if part.Blob.ID == "" {
					continue
				}
				i++ // blobs of this record done once this one is
				if i <= skip && bytes.Equal(key, skipKey) {
					continue // done before the walk resumed here
				}
				at := next
				if i < blobs {
					at = inRecordCursor(key, i)
				}
				page = append(page, item{b: part.Blob, size: part.BlobSize(), next: at})
			}
			return page, nil
		},
		func(x item) error {
			if x.bad != nil {
				return bad(*x.bad)
			}
			return fn(x.b, x.size, x.next)
		})
}

// cursorInRecord starts a blob walk's position inside a record:
// cursorInRecord, uvarint(n), key: the walk resumes at the record with that
// key, past its first n blobs. Every key starts with prefixFSM, so the
// two forms of position cannot be confused, and a position saved before
// this form existed (always a key) still reads as one.
const cursorInRecord = 0xFF

func inRecordCursor(key []byte, n int) []byte {
	c := binary.AppendUvarint([]byte{cursorInRecord}, uint64(n))
	return append(c, key...)
}

// parseBlobCursor splits a blob walk's position into where the walk
// starts and, for a position inside a record, that record's key and how
// many of its blobs to pass over. A malformed one restarts at its key
// (or the beginning): at worst some blobs are visited again.
func parseBlobCursor(c []byte) (from, key []byte, skip int) {
	if len(c) == 0 || c[0] != cursorInRecord {
		return c, nil, 0
	}
	n, w := binary.Uvarint(c[1:])
	if w <= 0 || n > math.MaxInt32 {
		return nil, nil, 0
	}
	key = c[1+w:]
	return key, key, int(n)
}

// recordName names the record at key for a person: its table and the
// readable parts of its key (tenant, container, object key, upload), in
// quotes, since any of them may hold any bytes.
func recordName(key []byte) string {
	if len(key) < 2 || key[0] != prefixFSM {
		return fmt.Sprintf("record %q", key)
	}
	name := map[byte]string{tblArtifact: "artifact", tblVersion: "version", tblPart: "part"}[key[1]]
	if name == "" {
		name = fmt.Sprintf("table 0x%02x", key[1])
	}
	rest := key[2:]
	var fields []string
	for i := 0; i < 2; i++ { // tenant, container
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return fmt.Sprintf("%s %q", name, key[2:])
		}
		fields = append(fields, string(rest[w:w+int(n)]))
		rest = rest[w+int(n):]
	}
	return fmt.Sprintf("%s tenant %q container %q key %q", name, fields[0], fields[1], rest)
}

// blobOwnerKeys returns the keys of the records that reference blobID,
// from the blob reference index (inside a read).
func (s *Store) blobOwnerKeys(blobID string) ([][]byte, error) {
	p := blobRefPrefix(blobID)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	var owners [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		owners = append(owners, append([]byte(nil), it.Key()[len(p):]...))
	}
	return owners, it.Close()
}

// BlobPlacements returns the placement of a blob in every record that
// references it (artifacts, versions and uploaded parts), through the blob
// reference index; none when nothing references it. The orphan sweep uses
// it to find shard files a placement no longer names (a shard move that
// crashed before its commit, or whose old copy was not deleted).
func (s *Store) BlobPlacements(ctx context.Context, blobID string, opts ...ReadOption) ([]Blob, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	owners, err := s.blobOwnerKeys(blobID)
	if err != nil {
		return nil, err
	}
	var out []Blob
	for _, owner := range owners {
		v, err := getCopy(s.db, owner)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		var parts []Part
		switch fsmTable(owner) {
		case tblArtifact, tblVersion:
			a, err := decodeArtifact(v)
			if err != nil {
				return nil, err
			}
			parts = a.Parts
		case tblPart:
			part, err := decodePart(v)
			if err != nil {
				return nil, err
			}
			parts = []Part{part}
		}
		for _, part := range parts {
			if part.Blob.ID == blobID {
				out = append(out, part.Blob)
			}
		}
	}
	return out, nil
}
