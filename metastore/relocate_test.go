package metastore

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
)

var (
	locN1 = ShardLoc{Node: "n1", Drive: "d1"}
	locN2 = ShardLoc{Node: "n2", Drive: "d2"}
	locN3 = ShardLoc{Node: "n3", Drive: "d3"}
)

func TestRelocateShardArtifactsAndParts(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	// Two artifacts share blob b1 (as a tier change or a copy would); a
	// third has another blob; an uploaded part holds b1 too.
	for _, k := range []string{"k1", "k2"} {
		_, err := s.PutArtifact(ctx, artifact(k, 3, "b1"), Cond{})
		mustNoErr(t, err)
	}
	_, err := s.PutArtifact(ctx, artifact("k3", 3, "b2"), Cond{})
	mustNoErr(t, err)
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "m", UploadID: "u1", Created: t0}))
	_, err = s.PutPart(ctx, "t1", "c1", "m", "u1", Part{Number: 1, Size: 5, ETag: md5hex("p"), Created: t0, Blob: blob("b1")})
	mustNoErr(t, err)
	before, err := s.TenantUsage(ctx, "t1")
	mustNoErr(t, err)

	mustNoErr(t, s.RelocateShard(ctx, "b1", 1, locN2, locN3))

	for _, k := range []string{"k1", "k2"} {
		a, err := s.GetArtifact(ctx, "t1", "c1", k)
		mustNoErr(t, err)
		if got := a.Parts[0].Blob.Shards; !reflect.DeepEqual(got, []ShardLoc{locN1, locN3}) {
			t.Fatalf("%s shards = %v", k, got)
		}
	}
	a3, err := s.GetArtifact(ctx, "t1", "c1", "k3")
	mustNoErr(t, err)
	if got := a3.Parts[0].Blob.Shards; !reflect.DeepEqual(got, []ShardLoc{locN1, locN2}) {
		t.Fatalf("another blob's shards changed: %v", got)
	}
	parts, _, err := s.ListParts(ctx, "t1", "c1", "m", "u1", 0, 0)
	mustNoErr(t, err)
	if got := parts[0].Blob.Shards; !reflect.DeepEqual(got, []ShardLoc{locN1, locN3}) {
		t.Fatalf("part shards = %v", got)
	}
	after, err := s.TenantUsage(ctx, "t1")
	mustNoErr(t, err)
	if after != before {
		t.Fatalf("usage changed by a relocation: %+v -> %+v", before, after)
	}
	live, err := s.BlobLive(ctx, "b1")
	mustNoErr(t, err)
	if !live {
		t.Fatal("relocated blob is no longer live")
	}

	// Asked again (a retry under a new request id): the shard is already
	// there, which counts as done.
	mustNoErr(t, s.RelocateShard(ctx, "b1", 1, locN2, locN3))
	// From a drive the shard is not on: nothing changes.
	wantErr(t, s.RelocateShard(ctx, "b1", 0, locN2, locN3), ErrPreconditionFailed)
	// An index past the blob's width, or a blob nobody references.
	wantErr(t, s.RelocateShard(ctx, "b1", 7, locN1, locN3), ErrPreconditionFailed)
	wantErr(t, s.RelocateShard(ctx, "gone", 0, locN1, locN3), ErrPreconditionFailed)
	// An overwrite between the relocator's read and its commit wins.
	_, err = s.PutArtifact(ctx, artifact("k3", 3, "b3"), Cond{})
	mustNoErr(t, err)
	wantErr(t, s.RelocateShard(ctx, "b2", 0, locN1, locN3), ErrPreconditionFailed)
	// Bad arguments never reach the log.
	wantErr(t, s.RelocateShard(ctx, "b1", 0, locN1, locN1), ErrInvalidArgument)
	wantErr(t, s.RelocateShard(ctx, "b1", -1, locN1, locN3), ErrInvalidArgument)
	wantErr(t, s.RelocateShard(ctx, "b1", 0, locN1, ShardLoc{Node: "n3"}), ErrInvalidArgument)
}

// TestRelocateShardNoopWritesNothing: a relocation whose source does not
// match leaves the state byte for byte as it was.
func TestRelocateShardNoopWritesNothing(t *testing.T) {
	h := newFSMHarness(t, t.TempDir())
	a := artifact("k", 3, "b1")
	h.mustApply(cmdOf(cmdCreateContainer, &createContainerCmd{Container{Tenant: "t1", Name: "c1"}}),
		cmdOf(cmdPutArtifact, &putArtifactCmd{a: a}))
	before := h.state()
	errs := h.apply(cmdOf(cmdRelocateShard, &relocateShardCmd{blob: "b1", index: 0, from: locN3, to: locN2}))
	wantErr(t, errs[0], ErrPreconditionFailed)
	// The state differs only by the dedupe entry of the failed request,
	// which is not in the dump's tables of records.
	if got := h.state(); got != before && !onlyDedupeDiffers(before, got) {
		t.Fatalf("a no-op relocation changed the state:\n%s\n---\n%s", before, got)
	}
}

func onlyDedupeDiffers(a, b string) bool {
	strip := func(s string) []string {
		var out []string
		for _, l := range splitLines(s) {
			if len(l) >= 4 && (l[:4] == "660c" || l[:4] == "660d") {
				continue // dedupe and clock tables
			}
			out = append(out, l)
		}
		sort.Strings(out)
		return out
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// TestRelocateShardRetrySameRequest: the same request applied again (a
// retry after a lost leadership) answers the first result, even though
// the shard is no longer on from.
func TestRelocateShardRetrySameRequest(t *testing.T) {
	h := newFSMHarness(t, t.TempDir())
	h.mustApply(cmdOf(cmdCreateContainer, &createContainerCmd{Container{Tenant: "t1", Name: "c1"}}),
		cmdOf(cmdPutArtifact, &putArtifactCmd{a: artifact("k", 3, "b1")}))
	rel := encodeCommand(cmdRelocateShard, [16]byte{7}, t0, &relocateShardCmd{blob: "b1", index: 0, from: locN1, to: locN3})
	errs := h.apply(rel, rel)
	errs = append(errs, h.apply(rel)...)
	for i, err := range errs {
		if err != nil {
			t.Fatalf("application %d: %v", i, err)
		}
	}
	// Moving it back under a new id, then retrying the first request, must
	// not move it again.
	h.mustApply(cmdOf(cmdRelocateShard, &relocateShardCmd{blob: "b1", index: 0, from: locN3, to: locN1}))
	if err := h.apply(rel)[0]; err != nil {
		t.Fatalf("retry after a later move: %v", err)
	}
	tx := &txn{b: h.db.NewIndexedBatch()}
	a, err := tx.artifact("t1", "c1", "k")
	mustNoErr(t, err)
	if got := a.Parts[0].Blob.Shards[0]; got != locN1 {
		t.Fatalf("retried request applied again: shard 0 on %v", got)
	}
}

func TestForEachBlob(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	want := map[string]int64{}
	// More records than a page, so the walk resumes between pages.
	for i := 0; i < forEachBlobPage+10; i++ {
		k := string(rune('a'+i%26)) + string(rune('a'+i/26))
		_, err := s.PutArtifact(ctx, artifact(k, int64(i+1), "blob-"+k), Cond{})
		mustNoErr(t, err)
		want["blob-"+k] = int64(i + 1)
	}
	_, err := s.PutArtifact(ctx, artifact("inline", 3, ""), Cond{})
	mustNoErr(t, err)
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "m", UploadID: "u1", Created: t0}))
	_, err = s.PutPart(ctx, "t1", "c1", "m", "u1", Part{Number: 1, Size: 5, ETag: md5hex("p"), Blob: blob("part-blob")})
	mustNoErr(t, err)
	want["part-blob"] = 5
	got := map[string]int64{}
	mustNoErr(t, s.ForEachBlob(ctx, func(b Blob, size int64) error {
		if _, dup := got[b.ID]; dup {
			t.Errorf("blob %s visited twice", b.ID)
		}
		if len(b.Shards) != 2 {
			t.Errorf("blob %s without its shards", b.ID)
		}
		got[b.ID] = size
		return nil
	}))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("visited %d blobs, want %d", len(got), len(want))
	}
	stop := errorString("stop")
	n := 0
	err = s.ForEachBlob(ctx, func(Blob, int64) error { n++; return stop })
	if err != stop || n != 1 {
		t.Fatalf("callback error: %v after %d calls", err, n)
	}
}

// TestWalkBlobsResumesWithinARecord: a walk resumed from the position
// after any blob visits exactly the blobs after it, also inside a record
// of several blobs (a multipart artifact: its parts share one record), so
// a scrub or drive heal stopped there does not skip the rest of the
// record. A position inside a record that is gone resumes at the next
// record; a malformed one starts over.
func TestWalkBlobsResumesWithinARecord(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	for _, k := range []string{"a", "c"} {
		_, err := s.PutArtifact(ctx, artifact(k, 1, "blob-"+k), Cond{})
		mustNoErr(t, err)
	}
	mp := artifact("b", 30, "")
	mp.Inline = nil
	for n := 1; n <= 3; n++ {
		mp.Parts = append(mp.Parts, Part{Number: n, Size: 10, ETag: md5hex("p"), Created: t0, Blob: blob(fmt.Sprint("blob-b", n))})
	}
	_, err := s.PutArtifact(ctx, mp, Cond{})
	mustNoErr(t, err)
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "m", UploadID: "u1", Created: t0}))
	_, err = s.PutPart(ctx, "t1", "c1", "m", "u1", Part{Number: 1, Size: 5, ETag: md5hex("p"), Blob: blob("part-blob")})
	mustNoErr(t, err)

	walk := func(from []byte) (ids []string, nexts [][]byte) {
		t.Helper()
		mustNoErr(t, s.ForEachBlobFrom(ctx, from, func(b Blob, _ int64, next []byte) error {
			ids, nexts = append(ids, b.ID), append(nexts, next)
			return nil
		}))
		return ids, nexts
	}
	all, nexts := walk(nil)
	if want := []string{"blob-a", "blob-b1", "blob-b2", "blob-b3", "blob-c", "part-blob"}; !reflect.DeepEqual(all, want) {
		t.Fatalf("walk: %q, want %q", all, want)
	}
	for i, next := range nexts {
		if got, _ := walk(next); !slices.Equal(got, all[i+1:]) {
			t.Errorf("resumed after %s: %q, want %q", all[i], got, all[i+1:])
		}
	}
	// The multipart artifact is replaced by a single-part one: a position
	// inside the old record goes on at the next record, not into the new
	// one's blobs by index.
	inB := nexts[1] // after blob-b1
	_, err = s.PutArtifact(ctx, artifact("b", 1, "blob-b-new"), Cond{})
	mustNoErr(t, err)
	if got, _ := walk(inB); !reflect.DeepEqual(got, []string{"blob-c", "part-blob"}) {
		t.Errorf("resumed inside a replaced record: %q", got)
	}
	whole, _ := walk(nil)
	for _, bad := range [][]byte{{cursorInRecord}, {cursorInRecord, 0x80}, {cursorInRecord, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		if got, _ := walk(bad); !slices.Equal(got, whole) {
			t.Errorf("malformed position %x: %q, want the whole walk %q", bad, got, whole)
		}
	}
}

// TestWalkBlobsPastBadRecords: a record that does not decode (an
// artifact, a noncurrent version, an uploaded part) stops ForEachBlobFrom
// with ErrCorrupt, while WalkBlobsFrom hands it to bad in its place, with
// a position after it, and visits every other blob, across pages.
func TestWalkBlobsPastBadRecords(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	want := map[string]bool{}
	for i := 0; i < forEachBlobPage+10; i++ {
		k := string(rune('a'+i%26)) + string(rune('a'+i/26))
		_, err := s.PutArtifact(ctx, artifact(k, int64(i+1), "blob-"+k), Cond{})
		mustNoErr(t, err)
		want["blob-"+k] = true
	}
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "m", UploadID: "u1", Created: t0}))
	for n := 1; n <= 2; n++ {
		id := "part-blob-" + string(rune('0'+n))
		_, err := s.PutPart(ctx, "t1", "c1", "m", "u1", Part{Number: n, Size: 5, ETag: md5hex("p"), Blob: blob(id)})
		mustNoErr(t, err)
		want[id] = true
	}
	// Damage: a truncated artifact in the first page, garbage in the
	// second ("zc" sorts among the last ten of 266 keys), and a part
	// record cut to nothing.
	for key, id := range map[string]string{"ba": "blob-ba", "zc": "blob-zc"} {
		k := artifactKey("t1", "c1", key)
		v, closer, err := s.db.Get(k)
		mustNoErr(t, err)
		bad := append([]byte(nil), v[:len(v)/2]...)
		closer.Close()
		if key == "zc" {
			bad = []byte{0xEE, 1, 2, 3}
		}
		mustNoErr(t, s.db.Set(k, bad, pebble.Sync))
		delete(want, id)
	}
	mustNoErr(t, s.db.Set(partKey("t1", "c1", "m", "u1", 2), nil, pebble.Sync))
	delete(want, "part-blob-2")

	err := s.ForEachBlob(ctx, func(Blob, int64) error { return nil })
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("ForEachBlob over a bad record: %v, want ErrCorrupt", err)
	}
	got := map[string]bool{}
	var bads []BadRecord
	var last []byte
	mustNoErr(t, s.WalkBlobsFrom(ctx, nil, func(b Blob, _ int64, next []byte) error {
		got[b.ID] = true
		last = next
		return nil
	}, func(bad BadRecord) error {
		if !errors.Is(bad.Err, ErrCorrupt) {
			t.Errorf("bad record %s: %v, want ErrCorrupt", bad.Record, bad.Err)
		}
		if string(bad.Next) <= string(last) {
			t.Errorf("bad record %s: its next does not move past the walk's position", bad.Record)
		}
		last = bad.Next
		bads = append(bads, bad)
		return nil
	}))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("visited %d blobs, want %d", len(got), len(want))
	}
	var names []string
	for _, b := range bads {
		names = append(names, b.Record)
	}
	wantNames := []string{`artifact tenant "t1" container "c1" key "ba"`, `artifact tenant "t1" container "c1" key "zc"`, `part tenant "t1" container "c1"`}
	if len(names) != 3 || names[0] != wantNames[0] || names[1] != wantNames[1] || !strings.HasPrefix(names[2], wantNames[2]) {
		t.Fatalf("bad records %q, want %q", names, wantNames)
	}
	// Resuming after a bad record visits what follows it only.
	n := 0
	mustNoErr(t, s.WalkBlobsFrom(ctx, bads[1].Next, func(Blob, int64, []byte) error { n++; return nil }, func(BadRecord) error { return nil }))
	if n == 0 || n >= len(want) {
		t.Fatalf("a walk from after %s visited %d blobs", bads[1].Record, n)
	}
	// An error from bad stops the walk.
	stop := errorString("stop")
	if err := s.WalkBlobsFrom(ctx, nil, func(Blob, int64, []byte) error { return nil }, func(BadRecord) error { return stop }); err != stop {
		t.Fatalf("bad's error: %v", err)
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
