package metastore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/cockroachdb/pebble"
)

// Metadata backup and disaster recovery.
//
// Backup streams the replicated state (every key under prefixFSM) in the
// snapshot stream format (snapshot.go) from one Pebble snapshot, which
// holds the state and its applied index together (they are written in one
// batch), so the stream is consistent: exactly the state after one log
// entry. A linearizable read barrier first makes it include everything
// acknowledged before the call.
//
// RestoreBackup writes such a stream into the empty metastore directory
// of a node that will then bootstrap a new cluster of one from it: the
// replicated state comes from the backup, the Raft log and configuration
// are new. The applied index is reset to 0, because the new log starts
// again at 1 and the state machine skips entries at or below its applied
// index. Shards are found again because shard records name nodes and
// drives by ID: a node started with the same node ID and drives serves
// them (see README, "Metadata backup").

// ErrNotEmpty: RestoreBackup found an existing metastore.
var ErrNotEmpty = errors.New("metastore: directory already holds a metastore")

// Backup writes a consistent snapshot of the replicated state to w.
func (s *Store) Backup(ctx context.Context, w io.Writer) error {
	end, err := s.beginRead(ctx, nil)
	if err != nil {
		return err
	}
	snap := s.db.NewSnapshot()
	end()
	defer snap.Close()
	applied := uint64(0)
	if v, closer, err := snap.Get(keyApplied); err == nil {
		if len(v) == 8 {
			applied = binary.BigEndian.Uint64(v)
		}
		closer.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	return writeSnapshot(snap, applied, w)
}

// RestoreBackup writes the backup stream r into dir, the Dir of a
// metastore that does not exist yet (ErrNotEmpty otherwise). Open it then
// with Bootstrap set: the node becomes the only member of a new cluster
// whose state is the backup's. It returns the number of records and the
// applied index the backup was taken at.
func RestoreBackup(dir string, r io.Reader) (records int, takenAt uint64, err error) {
	pdir := filepath.Join(dir, "pebble")
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return 0, 0, fmt.Errorf("%w: %s (restore into a new data dir, or remove it)", ErrNotEmpty, dir)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, 0, err
	}
	sr, err := newSnapReader(r)
	if err != nil {
		return 0, 0, fmt.Errorf("metastore: backup: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return 0, 0, err
	}
	db, err := pebble.Open(pdir, &pebble.Options{Logger: pebbleLogger{l: slog.New(slog.DiscardHandler)}})
	if err != nil {
		return 0, 0, fmt.Errorf("metastore: restore: %w", err)
	}
	fail := func(err error) (int, uint64, error) {
		db.Close()
		os.RemoveAll(dir) // nothing half-restored is left to be opened
		return 0, 0, err
	}
	count, err := sr.each(func(payload []byte) (int, error) {
		b := db.NewBatch()
		defer b.Close()
		n, err := forEachRecord(payload, func(k, v []byte) error {
			if len(k) == 0 || k[0] != prefixFSM {
				return fmt.Errorf("%w: backup record outside the replicated state", ErrCorrupt)
			}
			return b.Set(k, v, nil)
		})
		if err != nil {
			return n, err
		}
		return n, b.Commit(pebble.NoSync)
	})
	if err != nil {
		return fail(fmt.Errorf("metastore: backup: %w", err))
	}
	if err := db.Set(keyApplied, be64(0), pebble.Sync); err != nil {
		return fail(err)
	}
	if err := checkClusterVersion(db); err != nil {
		return fail(err)
	}
	if err := db.Close(); err != nil {
		return 0, 0, err
	}
	return int(count), sr.applied, nil
}
