package metastore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"
)

// This file holds the hourly usage records billing is computed from (see
// doc.go, "Usage hours").

// UsageHour is one tenant's usage over the clock hour [Start, Start+1h),
// UTC, summed over every node that served it.
type UsageHour struct {
	Tenant string
	Start  time.Time
	// StoredBytes (artifacts plus uploaded parts) and Artifacts are the
	// tenant's counters as the state machine last sampled them in the hour.
	StoredBytes int64
	Artifacts   int64
	// IngressBytes and EgressBytes are bytes received and sent; ClassA and
	// ClassB count requests by billing class.
	IngressBytes int64
	EgressBytes  int64
	ClassA       int64
	ClassB       int64
}

// UsageDelta is what one node metered for one tenant in one hour since its
// last report. RecordUsage adds deltas to the hour's record.
type UsageDelta struct {
	Tenant       string
	Start        time.Time // truncated to the hour (UTC) by the state machine
	IngressBytes int64
	EgressBytes  int64
	ClassA       int64
	ClassB       int64
}

// maxUsageDeltas bounds one RecordUsage command: a node with more to report
// splits it over several commands.
const maxUsageDeltas = 10000

func usageHourPrefix(tenant string) []byte {
	return appendLP(tableKey(tblUsageHour, len(tenant)+9), tenant)
}

func usageHourKey(tenant string, start int64) []byte {
	return binary.BigEndian.AppendUint64(usageHourPrefix(tenant), uint64(start))
}

func monthEgressKey(tenant string, t time.Time) []byte {
	t = t.UTC()
	ym := uint32(t.Year()*100 + int(t.Month()))
	return binary.BigEndian.AppendUint32(appendLP(tableKey(tblMonthEgress, len(tenant)+5), tenant), ym)
}

// hourStart is the Unix second of the start of t's hour; negative times
// (before 1970) are refused by the callers.
func hourStart(unixNano int64) int64 {
	s := unixNano / int64(time.Second)
	return s - s%3600
}

func encodeUsageHour(h UsageHour) []byte {
	e := encoder{b: make([]byte, 0, 32)}
	e.u8(recordV1)
	for _, v := range []int64{h.StoredBytes, h.Artifacts, h.IngressBytes, h.EgressBytes, h.ClassA, h.ClassB} {
		e.varint(v)
	}
	return e.b
}

func decodeUsageHour(b []byte) (UsageHour, error) {
	d := decoder{b: b}
	var h UsageHour
	if v := d.u8(); v != recordV1 && d.err == nil {
		return h, corrupt("usage hour", fmt.Errorf("unknown version %d", v))
	}
	for _, p := range []*int64{&h.StoredBytes, &h.Artifacts, &h.IngressBytes, &h.EgressBytes, &h.ClassA, &h.ClassB} {
		*p = d.varint()
	}
	if err := d.done(); err != nil {
		return UsageHour{}, corrupt("usage hour", err)
	}
	return h, nil
}

// --- commands ---

// recordUsageCmd adds one node's metered deltas to the hourly records and
// the monthly egress counters. now is the proposer's time: the records of
// the hour it falls in also get the tenants' current stored figures.
type recordUsageCmd struct {
	now    int64 // Unix ns
	deltas []usageDelta
}

// usageDelta is UsageDelta in the command encoding: hour as Unix seconds.
type usageDelta struct {
	tenant                string
	hour                  int64
	in, out, classA, clsB int64
}

func (c *recordUsageCmd) write(e *encoder) {
	e.varint(c.now)
	e.uvarint(uint64(len(c.deltas)))
	for _, d := range c.deltas {
		e.str(d.tenant)
		e.varint(d.hour)
		e.varint(d.in)
		e.varint(d.out)
		e.varint(d.classA)
		e.varint(d.clsB)
	}
}

func decodeRecordUsage(d *decoder) commandBody {
	c := &recordUsageCmd{now: d.varint()}
	if n := d.count(7); n > 0 {
		c.deltas = make([]usageDelta, n)
		for i := range c.deltas {
			c.deltas[i] = usageDelta{tenant: d.str(), hour: d.varint(), in: d.varint(), out: d.varint(), classA: d.varint(), clsB: d.varint()}
		}
	}
	return c
}

func checkUsageDeltas(ds []usageDelta) error {
	if len(ds) > maxUsageDeltas {
		return fmt.Errorf("%w: %d usage deltas, at most %d", ErrInvalidArgument, len(ds), maxUsageDeltas)
	}
	for _, d := range ds {
		if err := checkName("tenant", d.tenant); err != nil {
			return err
		}
		if d.hour < 0 || d.hour%3600 != 0 || d.in < 0 || d.out < 0 || d.classA < 0 || d.clsB < 0 {
			return fmt.Errorf("%w: usage delta of %q out of range", ErrInvalidArgument, d.tenant)
		}
	}
	return nil
}

func (c *recordUsageCmd) apply(t *txn) result {
	if err := checkUsageDeltas(c.deltas); err != nil {
		return errResult(err)
	}
	// Staged writes are not read back within a command: sum per key first.
	type hourKey struct {
		tenant string
		hour   int64
	}
	hours := make(map[hourKey]*usageDelta)
	var order []hourKey
	egress := make(map[string]int64) // monthEgressKey -> bytes
	var egressOrder []string
	for _, d := range c.deltas {
		k := hourKey{d.tenant, d.hour}
		s := hours[k]
		if s == nil {
			s = &usageDelta{tenant: d.tenant, hour: d.hour}
			hours[k] = s
			order = append(order, k)
		}
		s.in += d.in
		s.out += d.out
		s.classA += d.classA
		s.clsB += d.clsB
		if d.out > 0 {
			mk := string(monthEgressKey(d.tenant, time.Unix(d.hour, 0)))
			if _, ok := egress[mk]; !ok {
				egressOrder = append(egressOrder, mk)
			}
			egress[mk] += d.out
		}
	}
	nowHour := hourStart(c.now)
	for _, k := range order {
		s := hours[k]
		key := usageHourKey(k.tenant, k.hour)
		var h UsageHour
		if v := t.get(key); v != nil {
			var err error
			if h, err = decodeUsageHour(v); err != nil {
				return errResult(err)
			}
		}
		h.IngressBytes += s.in
		h.EgressBytes += s.out
		h.ClassA += s.classA
		h.ClassB += s.clsB
		if k.hour == nowHour {
			u, err := t.usage(tenantUsageKey(k.tenant))
			if err != nil {
				return errResult(err)
			}
			h.StoredBytes, h.Artifacts = u.Bytes+u.UploadBytes, u.Artifacts
		}
		t.set(key, encodeUsageHour(h))
	}
	for _, mk := range egressOrder {
		var cur int64
		if v := t.get([]byte(mk)); v != nil {
			d := decoder{b: v}
			cur = d.varint()
			if err := d.done(); err != nil {
				return errResult(corrupt("month egress", err))
			}
		}
		e := encoder{}
		e.varint(cur + egress[mk])
		t.set([]byte(mk), e.b)
	}
	return okResult(nil)
}

// sampleStorageCmd records every tenant's current stored figures in the
// record of the hour containing now (creating it for idle tenants), so
// that storage is billed for hours without requests.
type sampleStorageCmd struct{ now int64 }

func (c *sampleStorageCmd) write(e *encoder) { e.varint(c.now) }
func decodeSampleStorage(d *decoder) commandBody {
	return &sampleStorageCmd{now: d.varint()}
}

func (c *sampleStorageCmd) apply(t *txn) result {
	if c.now < 0 {
		return errResult(fmt.Errorf("%w: sample time before 1970", ErrInvalidArgument))
	}
	hour := hourStart(c.now)
	p := []byte{prefixFSM, tblTenantUsage}
	it := t.iter(p, prefixEnd(p))
	type sample struct {
		tenant string
		u      Usage
	}
	var samples []sample
	for ok := it.First(); ok; ok = it.Next() {
		samples = append(samples, sample{tenant: string(it.Key()[len(p):])})
	}
	mustOK(it.Close())
	for _, s := range samples {
		// Through t.usage: the batch's coalesced counters are newer than
		// what the iterator saw.
		u, err := t.usage(tenantUsageKey(s.tenant))
		if err != nil {
			return errResult(err)
		}
		key := usageHourKey(s.tenant, hour)
		v := t.get(key)
		if v == nil && u.Bytes == 0 && u.Artifacts == 0 && u.UploadBytes == 0 {
			continue
		}
		var h UsageHour
		if v != nil {
			if h, err = decodeUsageHour(v); err != nil {
				return errResult(err)
			}
		}
		h.StoredBytes, h.Artifacts = u.Bytes+u.UploadBytes, u.Artifacts
		t.set(key, encodeUsageHour(h))
	}
	return okResult(nil)
}

// --- Store API ---

// RecordUsage adds deltas to the hourly usage records (and the monthly
// egress counters) of their tenants. reqID identifies the report: a
// caller that failed to learn the outcome retries with the same reqID and
// the state machine applies it at most once (within the dedupe window of
// 10 minutes; see doc.go). The records of the current hour also take the
// tenants' current stored figures. Deltas need not be for the same hour.
func (s *Store) RecordUsage(ctx context.Context, reqID [16]byte, now time.Time, deltas []UsageDelta) error {
	c := &recordUsageCmd{now: now.UnixNano(), deltas: make([]usageDelta, len(deltas))}
	for i, d := range deltas {
		c.deltas[i] = usageDelta{
			tenant: d.Tenant, hour: d.Start.UTC().Truncate(time.Hour).Unix(),
			in: d.IngressBytes, out: d.EgressBytes, classA: d.ClassA, clsB: d.ClassB,
		}
	}
	if err := checkUsageDeltas(c.deltas); err != nil {
		return err
	}
	if reqID == ([16]byte{}) {
		reqID = newRequestID()
	}
	_, err := s.writeWithID(ctx, cmdRecordUsage, reqID, now, c)
	return err
}

// SampleStorage records every tenant's current stored bytes and artifact
// count in its usage record of the hour containing now. Sampling twice in
// an hour keeps the later figures; any node may do it.
func (s *Store) SampleStorage(ctx context.Context, now time.Time) error {
	if now.Before(time.Unix(0, 0)) {
		return fmt.Errorf("%w: sample time before 1970", ErrInvalidArgument)
	}
	_, err := s.writeWithID(ctx, cmdSampleStorage, newRequestID(), now, &sampleStorageCmd{now: now.UnixNano()})
	return err
}

// UsageHours returns a tenant's hourly records with Start in [from, to),
// in time order.
func (s *Store) UsageHours(ctx context.Context, tenant string, from, to time.Time, opts ...ReadOption) ([]UsageHour, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	lo := max(from.Unix(), 0)
	lo = (lo + 3599) / 3600 * 3600 // first hour starting at or after from
	hi := max(to.Unix(), 0)
	if hi <= lo {
		return nil, nil
	}
	p := usageHourPrefix(tenant)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: usageHourKey(tenant, lo), UpperBound: usageHourKey(tenant, hi)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []UsageHour
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(p)+8 {
			return nil, fmt.Errorf("%w: usage hour key", ErrCorrupt)
		}
		h, err := decodeUsageHour(it.Value())
		if err != nil {
			return nil, err
		}
		h.Tenant = tenant
		h.Start = time.Unix(int64(binary.BigEndian.Uint64(k[len(p):])), 0).UTC()
		out = append(out, h)
	}
	return out, it.Error()
}

// MonthEgress returns the egress bytes recorded for a tenant in the
// calendar month (UTC) containing t. It lags what nodes have served by
// what they have not reported yet.
func (s *Store) MonthEgress(ctx context.Context, tenant string, t time.Time, opts ...ReadOption) (int64, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return 0, err
	}
	defer end()
	v, err := getCopy(s.db, monthEgressKey(tenant, t))
	if err != nil || v == nil {
		return 0, err
	}
	d := decoder{b: v}
	n := d.varint()
	if err := d.done(); err != nil {
		return 0, corrupt("month egress", err)
	}
	return n, nil
}

// writeWithID is write with a caller-chosen request id and time, for
// commands whose retries span calls (RecordUsage).
func (s *Store) writeWithID(ctx context.Context, typ cmdType, reqID [16]byte, at time.Time, body commandBody) ([]byte, error) {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	resp, err := s.propose(ctx, encodeCommand(typ, reqID, at, body))
	if err != nil {
		return nil, err
	}
	return decodeResult(resp)
}
