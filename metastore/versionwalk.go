package metastore

import (
	"bytes"
	"context"

	"github.com/cockroachdb/pebble"
)

// walkPages is how the store's long walks (ForEachBlobFrom,
// ForEachVersionFrom, ForEachSealedKey) read: the records of tables in key
// order, starting after the position from (nil: at the beginning), a page
// of forEachBlobPage records at a time. The read is held only while a page
// is decoded, and fn runs with nothing locked, so a walk over millions of
// records never holds up the state machine. Only the first page honours
// opts; later pages read Stale. decode turns one record into the page's
// items (none, one or several); next is the position (the smallest key
// after the record) from which a later walk resumes after it.
func walkPages[T any](ctx context.Context, s *Store, tables []byte, from []byte, opts []ReadOption,
	decode func(tbl byte, key, val, next []byte, page []T) ([]T, error), fn func(T) error) error {
	for _, tbl := range tables {
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
			var page []T
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
					next := append(append([]byte(nil), it.Key()...), 0)
					if page, err = decode(tbl, it.Key(), it.Value(), next, page); err != nil {
						return err
					}
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
				if err := fn(x); err != nil {
					return err
				}
			}
			if last == nil {
				start = nil
			} else {
				start = append(last, 0) // the smallest key after last
			}
		}
	}
	return nil
}

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
	return walkPages(ctx, s, []byte{tblArtifact, tblVersion}, from, opts,
		func(_ byte, _, val, next []byte, page []item) ([]item, error) {
			a, err := decodeArtifact(val)
			if err != nil {
				return page, err
			}
			return append(page, item{a, next}), nil
		},
		func(x item) error { return fn(x.a, x.next) })
}
