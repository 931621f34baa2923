package metastore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"
)

// This file holds the retention of hourly usage records (doc.go, "Usage
// hours"): command 50, prune-usage-hours, of the reliability range.

// maxPruneBatch bounds the records one prune-usage-hours command deletes,
// so that one apply step stays short however much is due; the proposer
// repeats the command while it reports more.
const maxPruneBatch = 10000

// pruneUsageHoursCmd deletes the hourly usage records that started more
// than retention before the hour of now, at most max of them, tenant by
// tenant in key order. now is the proposer's time, carried in the command,
// so every replica deletes the same records.
type pruneUsageHoursCmd struct {
	now       int64  // Unix ns
	retention uint64 // seconds
	max       uint64
}

func (c *pruneUsageHoursCmd) write(e *encoder) {
	e.varint(c.now)
	e.uvarint(c.retention)
	e.uvarint(c.max)
}

func decodePruneUsageHours(d *decoder) commandBody {
	return &pruneUsageHoursCmd{now: d.varint(), retention: d.uvarint(), max: d.uvarint()}
}

// apply answers a 5-byte body: the records deleted (4 bytes, big-endian)
// and whether more are due (1) or not (0).
func (c *pruneUsageHoursCmd) apply(t *txn) result {
	if c.now < 0 || c.retention < 3600 || c.retention > 1<<40 || c.max == 0 || c.max > maxPruneBatch {
		return errResult(fmt.Errorf("%w: prune usage hours: time %d, retention %ds, batch %d", ErrInvalidArgument, c.now, c.retention, c.max))
	}
	cutoff := hourStart(c.now) - int64(c.retention) // records starting before it go
	lower := []byte{prefixFSM, tblUsageHour}
	it := t.iter(lower, prefixEnd(lower))
	var doomed [][]byte
	more := false
	for ok := it.First(); ok; {
		k := it.Key()
		rest := k[len(lower):]
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) != n+8 {
			mustOK(it.Close())
			return errResult(fmt.Errorf("%w: usage hour key", ErrCorrupt))
		}
		prefix := k[:len(lower)+w+int(n)] // this tenant's records
		if int64(binary.BigEndian.Uint64(rest[w+int(n):])) >= cutoff {
			// Hours sort in time order: the tenant's others are younger.
			ok = it.SeekGE(prefixEnd(prefix))
			continue
		}
		if uint64(len(doomed)) == c.max {
			more = true
			break
		}
		doomed = append(doomed, append([]byte(nil), k...))
		ok = it.Next()
	}
	mustOK(it.Close())
	for _, k := range doomed {
		t.del(k)
	}
	body := binary.BigEndian.AppendUint32(nil, uint32(len(doomed)))
	if more {
		body = append(body, 1)
	} else {
		body = append(body, 0)
	}
	return okResult(body)
}

// PruneUsageHours deletes, in one command, up to max (at most 10,000)
// hourly usage records whose hour started more than retention (at least
// an hour) before the hour of now, and reports how many it deleted and
// whether more are due (call it again). The state machine decides from
// now as carried in the command, so every replica deletes the same
// records. It needs cluster version 2 (ErrUpgradeRequired before).
func (s *Store) PruneUsageHours(ctx context.Context, now time.Time, retention time.Duration, max int) (deleted int, more bool, err error) {
	if max <= 0 || max > maxPruneBatch {
		max = maxPruneBatch
	}
	if retention < time.Hour || now.Before(time.Unix(0, 0)) {
		return 0, false, fmt.Errorf("%w: prune usage hours: retention %v (at least 1h), time %v", ErrInvalidArgument, retention, now)
	}
	body, err := s.writeWithID(ctx, cmdPruneUsageHours, newRequestID(), now,
		&pruneUsageHoursCmd{now: now.UnixNano(), retention: uint64(retention / time.Second), max: uint64(max)})
	if err != nil {
		return 0, false, err
	}
	if len(body) != 5 {
		return 0, false, fmt.Errorf("%w: prune usage hours result", ErrCorrupt)
	}
	return int(binary.BigEndian.Uint32(body)), body[4] == 1, nil
}
