package tenancy

import (
	"cmp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Class is an S3 request billing class.
type Class int

const (
	// ClassB is GET, HEAD and every other request not in class A.
	ClassB Class = iota
	// ClassA is requests that write or list: PUT, COPY, POST, LIST.
	ClassA
)

func (c Class) String() string {
	if c == ClassA {
		return "A"
	}
	return "B"
}

// classA holds the operations (named as s3.Operation.String()) billed as
// class A, as AWS S3 bills them: PUT, COPY, POST and LIST requests.
var classA = map[string]bool{
	"ListBuckets":             true,
	"CreateBucket":            true,
	"ListObjects":             true,
	"ListObjectsV2":           true,
	"ListObjectVersions":      true,
	"ListMultipartUploads":    true,
	"ListParts":               true,
	"PutObject":               true,
	"CopyObject":              true,
	"CreateMultipartUpload":   true,
	"UploadPart":              true,
	"UploadPartCopy":          true,
	"CompleteMultipartUpload": true,
	"DeleteObjects":           true, // a POST
}

// ClassOf returns the billing class of an S3 operation named as
// s3.Operation.String(). Operations not listed are class A when their name
// starts with Put, Create, Copy, Upload, Complete or List (future bucket
// configuration writes such as PutBucketVersioning), else class B.
func ClassOf(operation string) Class {
	if classA[operation] {
		return ClassA
	}
	for _, p := range []string{"Put", "Create", "Copy", "Upload", "Complete", "List"} {
		if strings.HasPrefix(operation, p) {
			return ClassA
		}
	}
	return ClassB
}

// Hour is one tenant's usage over one clock hour [Start, Start+1h) in UTC,
// as measured by one node. Hours of the same tenant and Start from several
// nodes add up field by field.
type Hour struct {
	Tenant string    `json:"tenant"`
	Start  time.Time `json:"start"`
	// StoredBytes and Artifacts are the tenant's stored figures sampled
	// when the hour was flushed; 0 from nodes that do not sample storage.
	StoredBytes int64 `json:"stored_bytes"`
	Artifacts   int64 `json:"artifacts"`
	// IngressBytes and EgressBytes are artifact bytes received and sent.
	IngressBytes int64 `json:"ingress_bytes"`
	EgressBytes  int64 `json:"egress_bytes"`
	// ClassA and ClassB count requests by billing class.
	ClassA int64 `json:"class_a"`
	ClassB int64 `json:"class_b"`
}

// Meter accumulates requests and bytes per tenant per hour on one node.
// It is safe for concurrent use. Its memory is one counter set per tenant
// active in an unflushed hour plus the set of tracked tenants.
type Meter struct {
	now func() time.Time

	mu struct {
		sync.Mutex
		next    time.Time                      // start of the oldest unflushed hour
		hours   map[time.Time]map[string]*Hour // by hour start, then tenant
		tracked map[string]struct{}
	}
}

// NewMeter returns a Meter whose Record uses clock now (nil: time.Now).
func NewMeter(now func() time.Time) *Meter {
	if now == nil {
		now = time.Now
	}
	m := &Meter{now: now}
	m.mu.next = hourOf(now())
	m.mu.hours = make(map[time.Time]map[string]*Hour)
	m.mu.tracked = make(map[string]struct{})
	return m
}

func hourOf(t time.Time) time.Time { return t.UTC().Truncate(time.Hour) }

// Record counts one request of tenant, its class from operation, and the
// artifact bytes it received and sent, in the current hour. A request
// whose hour was already flushed counts in the oldest unflushed hour.
func (m *Meter) Record(tenant, operation string, bytesIn, bytesOut int64) {
	class := ClassOf(operation)
	h := hourOf(m.now())
	m.mu.Lock()
	defer m.mu.Unlock()
	if h.Before(m.mu.next) {
		h = m.mu.next
	}
	byTenant := m.mu.hours[h]
	if byTenant == nil {
		byTenant = make(map[string]*Hour)
		m.mu.hours[h] = byTenant
	}
	r := byTenant[tenant]
	if r == nil {
		r = &Hour{Tenant: tenant, Start: h}
		byTenant[tenant] = r
	}
	r.IngressBytes += max(bytesIn, 0)
	r.EgressBytes += max(bytesOut, 0)
	if class == ClassA {
		r.ClassA++
	} else {
		r.ClassB++
	}
}

// Track makes Flush emit an Hour for tenant every hour even without
// requests, so that stored bytes are billed for idle tenants. Call it for
// every tenant on the node that samples storage (see Flush).
func (m *Meter) Track(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mu.tracked[tenant] = struct{}{}
}

// Forget stops tracking tenant (it was deleted).
func (m *Meter) Forget(tenant string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.mu.tracked, tenant)
}

// Flush returns the Hour records of every completed hour (ending at or
// before now) not yet flushed, ordered by Start then Tenant, and forgets
// them; the caller persists them (through Raft). Each record of an hour
// holds the tenant's counters, and, when stored is not nil, the
// tenant's stored bytes and artifacts as stored reports them at flush
// time; tracked tenants get a record for every completed hour. Records
// with no requests and nothing stored are left out.
//
// Storage must be sampled once per cluster: exactly one node (the Raft
// leader) passes stored, the others nil, so that summing all nodes'
// records bills storage once. stored is called without the Meter's lock
// held, once per tenant per Flush.
func (m *Meter) Flush(now time.Time, stored func(tenant string) (bytes, artifacts int64)) []Hour {
	end := hourOf(now)
	m.mu.Lock()
	var out []Hour
	tenants := make(map[string]struct{})
	for h := m.mu.next; h.Before(end); h = h.Add(time.Hour) {
		byTenant := m.mu.hours[h]
		delete(m.mu.hours, h)
		for t, r := range byTenant {
			out = append(out, *r)
			tenants[t] = struct{}{}
		}
		if stored != nil {
			for t := range m.mu.tracked {
				if _, ok := byTenant[t]; !ok {
					out = append(out, Hour{Tenant: t, Start: h})
				}
				tenants[t] = struct{}{}
			}
		}
	}
	// Hours can only be older than next if the clock went backwards; they
	// were folded into next by Record, so nothing else remains to drop.
	if end.After(m.mu.next) {
		m.mu.next = end
	}
	m.mu.Unlock()

	if stored != nil {
		samples := make(map[string][2]int64, len(tenants))
		for t := range tenants {
			b, a := stored(t)
			samples[t] = [2]int64{b, a}
		}
		for i := range out {
			s := samples[out[i].Tenant]
			out[i].StoredBytes, out[i].Artifacts = s[0], s[1]
		}
	}
	out = slices.DeleteFunc(out, func(r Hour) bool {
		return r.ClassA == 0 && r.ClassB == 0 && r.IngressBytes == 0 && r.EgressBytes == 0 &&
			r.StoredBytes == 0 && r.Artifacts == 0
	})
	slices.SortFunc(out, func(a, b Hour) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Tenant, b.Tenant)
	})
	return out
}

// Drain returns everything counted so far, the current hour included, as
// Hour records (StoredBytes and Artifacts 0), ordered by Start then
// Tenant, and resets the counters. It is Flush for callers that persist
// deltas every few seconds: records of the same tenant and hour add up,
// so the parts of an hour drained at different times sum to the whole.
func (m *Meter) Drain() []Hour {
	m.mu.Lock()
	var out []Hour
	for h, byTenant := range m.mu.hours {
		for _, r := range byTenant {
			out = append(out, *r)
		}
		delete(m.mu.hours, h)
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Hour) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.Tenant, b.Tenant)
	})
	return out
}
