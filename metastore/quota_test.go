package metastore

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"sync"
	"testing"
	"time"
)

func mkTenant(t testing.TB, s *Store, id string) {
	t.Helper()
	mustNoErr(t, s.CreateTenant(ctxT(t), Tenant{ID: id, Name: id, State: TenantActive, Created: t0}))
}

func putSized(t testing.TB, s *Store, container, key string, size int64) error {
	t.Helper()
	a := artifact(key, size, "b-"+container+"-"+key+fmt.Sprint(size))
	a.Container = container
	_, err := s.PutArtifact(ctxT(t), a, Cond{})
	return err
}

func usageOf(t testing.TB, s *Store, tenant, container string) Usage {
	t.Helper()
	var u Usage
	var err error
	if container == "" {
		u, err = s.TenantUsage(ctxT(t), tenant)
	} else {
		u, err = s.ContainerUsage(ctxT(t), tenant, container)
	}
	mustNoErr(t, err)
	return u
}

func TestTenantSettings(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	wantErr(t, s.SetTenantLimits(ctx, "t1", TenantLimits{Override: true, RequestsPerSec: 5}), ErrNotFound)
	wantErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxBytes: 5}), ErrNotFound)
	mkTenant(t, s, "t1")
	got, err := s.GetTenantSettings(ctx, "t1")
	mustNoErr(t, err)
	if got != (TenantSettings{Tenant: "t1"}) {
		t.Fatalf("fresh settings = %+v", got)
	}
	lim := TenantLimits{Override: true, RequestsPerSec: 2.5, Burst: 7, BytesInPerSec: 1000, BytesOutPerSec: 2000}
	q := TenantQuota{MaxBytes: 100, MaxArtifacts: 3, MaxEgressBytesPerMonth: 1 << 40}
	mustNoErr(t, s.SetTenantLimits(ctx, "t1", lim))
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", q)) // keeps the limits
	got, err = s.GetTenantSettings(ctx, "t1")
	mustNoErr(t, err)
	if want := (TenantSettings{Tenant: "t1", Limits: lim, Quota: q}); got != want {
		t.Fatalf("settings = %+v, want %+v", got, want)
	}
	all, err := s.ListTenantSettings(ctx)
	mustNoErr(t, err)
	if len(all) != 1 || all[0] != got {
		t.Fatalf("ListTenantSettings = %+v", all)
	}
	for _, bad := range []TenantLimits{{RequestsPerSec: -1}, {RequestsPerSec: math.NaN()}, {Burst: -1}, {BytesInPerSec: -1}} {
		wantErr(t, s.SetTenantLimits(ctx, "t1", bad), ErrInvalidArgument)
	}
	wantErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxArtifacts: -1}), ErrInvalidArgument)

	wantErr(t, s.SetContainerQuota(ctx, "t1", "c1", 10, 1), ErrContainerNotFound)
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.UpdateContainer(ctx, Container{Tenant: "t1", Name: "c1", Versioning: true, Lifecycle: []byte("lc")}))
	mustNoErr(t, s.SetContainerQuota(ctx, "t1", "c1", 10, 1))
	c, err := s.GetContainer(ctx, "t1", "c1")
	mustNoErr(t, err)
	if c.QuotaBytes != 10 || c.QuotaArtifacts != 1 || !c.Versioning || string(c.Lifecycle) != "lc" {
		t.Fatalf("container after SetContainerQuota = %+v", c)
	}
}

func TestTenantBytesQuotaBoundary(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkTenant(t, s, "t1")
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxBytes: 100}))

	mustNoErr(t, putSized(t, s, "c1", "a", 60))
	mustNoErr(t, putSized(t, s, "c1", "b", 40)) // exactly at the quota
	wantErr(t, putSized(t, s, "c1", "c", 1), ErrQuotaExceeded)
	if u := usageOf(t, s, "t1", ""); u != (Usage{Bytes: 100, Artifacts: 2}) {
		t.Fatalf("usage after refusal = %+v", u)
	}
	// An overwrite counts the difference.
	wantErr(t, putSized(t, s, "c1", "a", 61), ErrQuotaExceeded)
	mustNoErr(t, putSized(t, s, "c1", "a", 60)) // same size: +0
	mustNoErr(t, putSized(t, s, "c1", "a", 50)) // shrinks
	mustNoErr(t, putSized(t, s, "c1", "c", 10)) // fills the freed 10
	wantErr(t, putSized(t, s, "c1", "d", 1), ErrQuotaExceeded)
	// A delete frees.
	_, err := s.DeleteArtifact(ctx, "t1", "c1", "b")
	mustNoErr(t, err)
	mustNoErr(t, putSized(t, s, "c1", "d", 40))
	if u := usageOf(t, s, "t1", ""); u != (Usage{Bytes: 100, Artifacts: 3}) {
		t.Fatalf("usage = %+v", u)
	}
	// A lowered quota refuses growth but lets usage shrink.
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxBytes: 50}))
	wantErr(t, putSized(t, s, "c1", "e", 1), ErrQuotaExceeded)
	mustNoErr(t, putSized(t, s, "c1", "a", 49))
	// 0 is unlimited; another tenant is not affected by t1's quota.
	mkTenant(t, s, "t2")
	mkContainer(t, s, "t2", "c1")
	a := artifact("big", 1000, "t2big")
	a.Tenant = "t2"
	_, err = s.PutArtifact(ctx, a, Cond{})
	mustNoErr(t, err)
}

func TestArtifactCountQuota(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkTenant(t, s, "t1")
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxArtifacts: 2}))
	mustNoErr(t, putSized(t, s, "c1", "a", 1))
	mustNoErr(t, putSized(t, s, "c1", "b", 1))
	wantErr(t, putSized(t, s, "c1", "c", 1), ErrQuotaExceeded)
	mustNoErr(t, putSized(t, s, "c1", "a", 5)) // an overwrite adds no artifact
	_, err := s.DeleteArtifact(ctx, "t1", "c1", "a")
	mustNoErr(t, err)
	mustNoErr(t, putSized(t, s, "c1", "c", 1))
}

func TestContainerQuota(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkTenant(t, s, "t1")
	mkContainer(t, s, "t1", "c1")
	mkContainer(t, s, "t1", "c2")
	mustNoErr(t, s.SetContainerQuota(ctx, "t1", "c1", 10, 2))
	mustNoErr(t, putSized(t, s, "c1", "a", 10))
	wantErr(t, putSized(t, s, "c1", "b", 1), ErrQuotaExceeded)
	mustNoErr(t, putSized(t, s, "c2", "b", 1000)) // other container: no quota
	mustNoErr(t, putSized(t, s, "c1", "a", 5))
	mustNoErr(t, putSized(t, s, "c1", "b", 5))
	wantErr(t, putSized(t, s, "c1", "c", 0), ErrQuotaExceeded) // third artifact
	// The tenant quota applies too, across containers.
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxBytes: 1010}))
	mustNoErr(t, s.SetContainerQuota(ctx, "t1", "c1", 0, 0))
	wantErr(t, putSized(t, s, "c1", "c", 1), ErrQuotaExceeded)
	mustNoErr(t, putSized(t, s, "c1", "c", 0))
}

func TestQuotaMultipart(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkTenant(t, s, "t1")
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxBytes: 100, MaxArtifacts: 2}))
	part := func(n int, size int64, blobID string) Part {
		return Part{Number: n, Size: size, ETag: md5hex(blobID), Blob: blob(blobID)}
	}
	up := Upload{Tenant: "t1", Container: "c1", Key: "big", UploadID: "u1", Created: t0}
	mustNoErr(t, s.CreateUpload(ctx, up))
	_, err := s.PutPart(ctx, "t1", "c1", "big", "u1", part(1, 60, "p1"))
	mustNoErr(t, err)
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u1", part(2, 41, "p2"))
	wantErr(t, err, ErrQuotaExceeded)
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u1", part(2, 40, "p2"))
	mustNoErr(t, err)
	if u := usageOf(t, s, "t1", "c1"); u != (Usage{UploadBytes: 100}) {
		t.Fatalf("usage with parts = %+v", u)
	}
	// Parts hold storage: no room for a single PUT.
	wantErr(t, putSized(t, s, "c1", "x", 1), ErrQuotaExceeded)
	// Replacing a part counts the difference.
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u1", part(2, 30, "p2b"))
	mustNoErr(t, err)
	// An abort frees the parts.
	_, err = s.AbortUpload(ctx, "t1", "c1", "big", "u1")
	mustNoErr(t, err)
	if u := usageOf(t, s, "t1", ""); u != (Usage{}) {
		t.Fatalf("usage after abort = %+v", u)
	}

	// Completion: parts become the artifact's bytes, unused parts are freed.
	up.UploadID = "u2"
	mustNoErr(t, s.CreateUpload(ctx, up))
	for i, size := range []int64{50, 30, 20} {
		_, err = s.PutPart(ctx, "t1", "c1", "big", "u2", part(i+1, size, fmt.Sprint("q", i)))
		mustNoErr(t, err)
	}
	a, _, unused, err := s.CompleteUpload(ctx, CompleteInput{Tenant: "t1", Container: "c1", Key: "big", UploadID: "u2", Created: t0,
		Parts: []PartRef{{1, md5hex("q0")}, {2, md5hex("q1")}}})
	mustNoErr(t, err)
	if a.Size != 80 || len(unused) != 1 {
		t.Fatalf("completed %d bytes, %d unused parts", a.Size, len(unused))
	}
	if u := usageOf(t, s, "t1", ""); u != (Usage{Bytes: 80, Artifacts: 1}) {
		t.Fatalf("usage after completion = %+v", u)
	}
	mustNoErr(t, putSized(t, s, "c1", "small", 20)) // at the bytes quota, 2 artifacts

	// A completion that would add a third artifact fails, and keeps the upload.
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxArtifacts: 2}))
	up.Key, up.UploadID = "third", "u3"
	mustNoErr(t, s.CreateUpload(ctx, up))
	_, err = s.PutPart(ctx, "t1", "c1", "third", "u3", part(1, 5, "r1"))
	mustNoErr(t, err)
	in := CompleteInput{Tenant: "t1", Container: "c1", Key: "third", UploadID: "u3", Created: t0, Parts: []PartRef{{1, md5hex("r1")}}}
	_, _, _, err = s.CompleteUpload(ctx, in)
	wantErr(t, err, ErrQuotaExceeded)
	if _, err := s.GetUpload(ctx, "t1", "c1", "third", "u3"); err != nil {
		t.Fatalf("upload gone after refused completion: %v", err)
	}
	// Completing over an existing key adds no artifact.
	in.Key, up.Key, up.UploadID = "big", "big", "u4"
	in.UploadID = "u4"
	mustNoErr(t, s.CreateUpload(ctx, up))
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u4", part(1, 5, "s1"))
	mustNoErr(t, err)
	in.Parts = []PartRef{{1, md5hex("s1")}}
	_, _, _, err = s.CompleteUpload(ctx, in)
	mustNoErr(t, err)
	if u := usageOf(t, s, "t1", ""); u != (Usage{Bytes: 25, Artifacts: 2, UploadBytes: 5}) {
		t.Fatalf("usage = %+v", u)
	}
	// Deleting the container drops its uploads and frees their parts.
	_, err = s.AbortUpload(ctx, "t1", "c1", "third", "u3")
	mustNoErr(t, err)
	if u := usageOf(t, s, "t1", ""); u.UploadBytes != 0 {
		t.Fatalf("usage = %+v", u)
	}
}

func TestDeleteContainerFreesParts(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkTenant(t, s, "t1")
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u", Created: t0}))
	_, err := s.PutPart(ctx, "t1", "c1", "k", "u", Part{Number: 1, Size: 7, ETag: md5hex("x"), Blob: blob("x")})
	mustNoErr(t, err)
	if u := usageOf(t, s, "t1", ""); u != (Usage{UploadBytes: 7}) {
		t.Fatalf("usage = %+v", u)
	}
	_, err = s.DeleteContainer(ctx, "t1", "c1")
	mustNoErr(t, err)
	if u := usageOf(t, s, "t1", ""); u != (Usage{}) {
		t.Fatalf("usage after container delete = %+v", u)
	}
}

// TestConcurrentPutsCannotOvershoot races many writers at a quota: the
// state machine decides each in turn, so exactly the quota's worth pass.
func TestConcurrentPutsCannotOvershoot(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkTenant(t, s, "t1")
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.SetTenantQuota(ctx, "t1", TenantQuota{MaxBytes: 100}))
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := putSized(t, s, "c1", fmt.Sprint("k", i), 10)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			default:
				wantErr(t, err, ErrQuotaExceeded)
				refused++
			}
		}()
	}
	wg.Wait()
	if ok != 10 || refused != 30 {
		t.Fatalf("%d puts passed, %d refused; want 10 and 30", ok, refused)
	}
	if u := usageOf(t, s, "t1", ""); u != (Usage{Bytes: 100, Artifacts: 10}) {
		t.Fatalf("usage = %+v", u)
	}
}

func TestUsageHours(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkTenant(t, s, "t1")
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, putSized(t, s, "c1", "a", 300))
	h0 := time.Date(2024, 5, 31, 22, 0, 0, 0, time.UTC)
	h1 := h0.Add(time.Hour)
	h2 := h1.Add(time.Hour) // June
	id := newRequestID()
	deltas := []UsageDelta{
		{Tenant: "t1", Start: h0.Add(5 * time.Minute), IngressBytes: 10, EgressBytes: 20, ClassA: 1, ClassB: 2},
		{Tenant: "t1", Start: h0, IngressBytes: 1, ClassA: 1},
		{Tenant: "t1", Start: h1, EgressBytes: 5, ClassB: 1},
		{Tenant: "t2", Start: h1, ClassB: 9},
	}
	mustNoErr(t, s.RecordUsage(ctx, id, h1.Add(time.Minute), deltas))
	// A retry of the same report (same request id) counts once.
	mustNoErr(t, s.RecordUsage(ctx, id, h1.Add(time.Minute), deltas))
	mustNoErr(t, s.RecordUsage(ctx, [16]byte{}, h2.Add(time.Minute), []UsageDelta{{Tenant: "t1", Start: h2, EgressBytes: 7}}))

	got, err := s.UsageHours(ctx, "t1", h0, h2.Add(time.Hour))
	mustNoErr(t, err)
	want := []UsageHour{
		{Tenant: "t1", Start: h0, IngressBytes: 11, EgressBytes: 20, ClassA: 2, ClassB: 2},
		// The current hour of the report takes the stored figures.
		{Tenant: "t1", Start: h1, StoredBytes: 300, Artifacts: 1, EgressBytes: 5, ClassB: 1},
		{Tenant: "t1", Start: h2, StoredBytes: 300, Artifacts: 1, EgressBytes: 7},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("UsageHours =\n%+v\nwant\n%+v", got, want)
	}
	// [from, to) bounds.
	got, err = s.UsageHours(ctx, "t1", h1, h2)
	mustNoErr(t, err)
	if len(got) != 1 || !got[0].Start.Equal(h1) {
		t.Fatalf("UsageHours [h1,h2) = %+v", got)
	}
	may, err := s.MonthEgress(ctx, "t1", h0)
	mustNoErr(t, err)
	june, err := s.MonthEgress(ctx, "t1", h2)
	mustNoErr(t, err)
	if may != 25 || june != 7 {
		t.Fatalf("month egress May %d June %d, want 25 and 7", may, june)
	}

	// Sampling gives an idle tenant's hour its stored figures.
	h5 := h2.Add(3 * time.Hour)
	mustNoErr(t, s.SampleStorage(ctx, h5.Add(10*time.Minute)))
	got, err = s.UsageHours(ctx, "t1", h5, h5.Add(time.Hour))
	mustNoErr(t, err)
	if want := []UsageHour{{Tenant: "t1", Start: h5, StoredBytes: 300, Artifacts: 1}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("sampled hour = %+v", got)
	}
	// Tenants with nothing stored get no record.
	got, err = s.UsageHours(ctx, "t2", h5, h5.Add(time.Hour))
	mustNoErr(t, err)
	if len(got) != 0 {
		t.Fatalf("t2 sampled = %+v", got)
	}
	wantErr(t, s.RecordUsage(ctx, [16]byte{}, h0, []UsageDelta{{Tenant: "t1", Start: h0, ClassA: -1}}), ErrInvalidArgument)
	wantErr(t, s.RecordUsage(ctx, [16]byte{}, h0, []UsageDelta{{Tenant: "", Start: h0}}), ErrInvalidArgument)
}

func TestTenantSettingsCodec(t *testing.T) {
	in := TenantSettings{Tenant: "x", Limits: TenantLimits{Override: true, RequestsPerSec: 0.5, Burst: 3, BytesInPerSec: 9, BytesOutPerSec: 10},
		Quota: TenantQuota{MaxBytes: 1, MaxArtifacts: 2, MaxEgressBytesPerMonth: 3}}
	out, err := decodeTenantSettings(encodeTenantSettings(in))
	mustNoErr(t, err)
	if out != in {
		t.Fatalf("round trip %+v", out)
	}
	for _, u := range []Usage{{}, {Bytes: 5, Artifacts: 1}, {Bytes: -1, UploadBytes: 7}} {
		b := encodeUsage(u)
		if (u.UploadBytes == 0) != (b[0] == recordV1) {
			t.Fatalf("usage %+v encoded as version %d", u, b[0])
		}
		got, err := decodeUsage(b)
		mustNoErr(t, err)
		if got != u {
			t.Fatalf("usage round trip %+v -> %+v", u, got)
		}
	}
	_, err = decodeUsageHour([]byte{recordV1, 1})
	wantErr(t, err, ErrCorrupt)
}

// TestFSMQuotaDeterministic runs the random workload under tight quotas:
// different raft batchings must refuse the same writes and end identical,
// and usage must stay within the quota and equal what is stored.
func TestFSMQuotaDeterministic(t *testing.T) {
	setup := [][]byte{
		cmdOf(cmdCreateTenant, &createTenantCmd{Tenant{ID: "t1", State: TenantActive, Created: t0}}),
		cmdOf(cmdCreateContainer, &createContainerCmd{Container{Tenant: "t1", Name: "c1", Created: t0}}),
		cmdOf(cmdSetTenantQuota, &setTenantQuotaCmd{"t1", TenantQuota{MaxBytes: 60, MaxArtifacts: 4}}),
		cmdOf(cmdSetContainerQuota, &setContainerQuotaCmd{"t1", "c1", 50, 3}),
	}
	cmds := append(setup, randomCommands(11, 600)...)
	a := newFSMHarness(t, t.TempDir())
	b := newFSMHarness(t, t.TempDir())
	var refusedA, refusedB int
	for i := 0; i < len(cmds); i += 37 {
		for _, err := range a.apply(cmds[i:min(i+37, len(cmds))]...) {
			if errors.Is(err, ErrQuotaExceeded) {
				refusedA++
			}
		}
	}
	for _, c := range cmds {
		if errors.Is(b.apply(c)[0], ErrQuotaExceeded) {
			refusedB++
		}
	}
	if a.state() != b.state() || refusedA != refusedB {
		t.Fatalf("state machines diverged (%d and %d refusals)", refusedA, refusedB)
	}
	if refusedA == 0 {
		t.Fatal("the workload never hit a quota")
	}
	u := a.usage("t1")
	if u.Bytes+u.UploadBytes > 50 || u.Artifacts > 3 {
		t.Fatalf("usage %+v over the container quota", u)
	}
}
