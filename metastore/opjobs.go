package metastore

import (
	"context"
	"fmt"
	"strings"

	"github.com/cockroachdb/pebble"
)

// Operations jobs (range: tables 0x28-0x2f, commands 60-69, cluster
// version 2): the replicated state of long cluster operations —
// decommission and rebalance — so that a new metadata leader resumes a
// job where the old one stopped, and every node sees which nodes drain:
//
//   - table 0x28, op-job: name -> one opaque value (encoded by node, JSON).
//     Names are "<kind>/<subject>", e.g. "decom/node-b" (the operator's
//     request) and "decom-progress/node-b" (the worker's progress), kept
//     apart so the worker's progress never overwrites the operator's
//     pause, resume or cancel;
//   - command 60, set-op-job, replaces a value (empty: deletes it).

// cmdSetOpJob replaces one operations job value.
const cmdSetOpJob cmdType = 60

// maxOpJob bounds one job value; maxOpJobName its name.
const (
	maxOpJob     = 16 << 10
	maxOpJobName = 512
)

func opJobKey(name string) []byte {
	return append([]byte{prefixFSM, tblOpJob}, name...)
}

type setOpJobCmd struct {
	name  string
	value []byte
}

func (c *setOpJobCmd) write(e *encoder) {
	e.str(c.name)
	e.bytes(c.value)
}

func decodeSetOpJob(d *decoder) commandBody {
	return &setOpJobCmd{name: d.str(), value: d.bytes()}
}

func checkOpJob(name string, value []byte) error {
	if name == "" || len(name) > maxOpJobName || !strings.Contains(name, "/") {
		return fmt.Errorf("%w: operations job name %q (kind/subject, at most %d bytes)", ErrInvalidArgument, name, maxOpJobName)
	}
	if len(value) > maxOpJob {
		return fmt.Errorf("%w: operations job value of %d bytes", ErrInvalidArgument, len(value))
	}
	return nil
}

func (c *setOpJobCmd) apply(t *txn) result {
	if err := checkOpJob(c.name, c.value); err != nil {
		return errResult(err)
	}
	if len(c.value) == 0 {
		t.del(opJobKey(c.name))
	} else {
		t.set(opJobKey(c.name), append([]byte(nil), c.value...))
	}
	return okResult(nil)
}

// SetOpJob replaces the value of an operations job (nil or empty deletes
// it). Cluster version 2.
func (s *Store) SetOpJob(ctx context.Context, name string, value []byte) error {
	if err := checkOpJob(name, value); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdSetOpJob, &setOpJobCmd{name: name, value: value})
	return err
}

// OpJobs returns every operations job whose name starts with prefix, by
// name.
func (s *Store) OpJobs(ctx context.Context, prefix string, opts ...ReadOption) (map[string][]byte, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	p := opJobKey(prefix)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	base := len(opJobKey(""))
	for ok := it.First(); ok; ok = it.Next() {
		out[string(it.Key()[base:])] = append([]byte(nil), it.Value()...)
	}
	return out, it.Close()
}
