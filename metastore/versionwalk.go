package metastore

import (
	"bytes"
	"context"

	"github.com/cockroachdb/pebble"
)

// ForEachVersionFrom calls fn for every artifact version record (current
// and noncurrent, delete markers included) starting after the position
// from (nil: at the beginning), in key order, a page at a time as
// ForEachBlobFrom does: nothing is locked while fn runs, and only the
// first page honours opts. next is an opaque position from which a later
// walk resumes after a's record. The node's re-striper walks with it.
func (s *Store) ForEachVersionFrom(ctx context.Context, from []byte, fn func(a Artifact, next []byte) error, opts ...ReadOption) error {
	type item struct {
		a    Artifact
		next []byte
	}
	for _, tbl := range []byte{tblArtifact, tblVersion} {
		p := []byte{prefixFSM, tbl}
		start := p
		if len(from) > 0 {
			if bytes.Compare(from, prefixEnd(p)) >= 0 {
				continue // past this table
			}
			if bytes.Compare(from, p) > 0 {
				start = from
			}
		}
		for start != nil {
			if err := ctx.Err(); err != nil {
				return err
			}
			end, err := s.beginRead(ctx, opts)
			if err != nil {
				return err
			}
			opts = []ReadOption{Stale}
			var page []item
			var last []byte
			err = func() error {
				it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: start, UpperBound: prefixEnd(p)})
				if err != nil {
					return err
				}
				defer it.Close()
				n := 0
				for ok := it.First(); ok && n < forEachBlobPage; ok = it.Next() {
					n++
					last = append(last[:0], it.Key()...)
					a, err := decodeArtifact(it.Value())
					if err != nil {
						return err
					}
					page = append(page, item{a, append(append([]byte(nil), it.Key()...), 0)})
				}
				if n < forEachBlobPage {
					last = nil // the table is done
				}
				return it.Error()
			}()
			end()
			if err != nil {
				return err
			}
			for _, x := range page {
				if err := fn(x.a, x.next); err != nil {
					return err
				}
			}
			if last == nil {
				start = nil
			} else {
				start = append(last, 0)
			}
		}
	}
	return nil
}
