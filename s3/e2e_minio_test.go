package s3_test

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/tags"
)

// TestMinioVersionsLockAndTags drives versions, object lock and tags with
// minio-go v7, the client of many backup tools.
func TestMinioVersionsLockAndTags(t *testing.T) {
	h := newHarness(t, nil)
	mc := h.minioClient(t, false, false)
	must(t, mc.MakeBucket(ctx, "mver", minio.MakeBucketOptions{}))
	must(t, mc.EnableVersioning(ctx, "mver"))
	vc, err := mc.GetBucketVersioning(ctx, "mver")
	must(t, err)
	if !vc.Enabled() {
		t.Fatalf("versioning %+v", vc)
	}
	var ids []string
	for _, body := range []string{"one", "two", "three"} {
		info, err := mc.PutObject(ctx, "mver", "obj", strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{
			UserTags: map[string]string{"gen": body}})
		must(t, err)
		ids = append(ids, info.VersionID)
	}
	// Read an old version.
	o, err := mc.GetObject(ctx, "mver", "obj", minio.GetObjectOptions{VersionID: ids[0]})
	must(t, err)
	b, err := io.ReadAll(o)
	must(t, err)
	o.Close()
	if string(b) != "one" {
		t.Fatalf("version %s = %q", ids[0], b)
	}
	st, err := mc.StatObject(ctx, "mver", "obj", minio.StatObjectOptions{VersionID: ids[1]})
	must(t, err)
	if st.VersionID != ids[1] || st.Size != 3 || st.UserTagCount != 1 {
		t.Fatalf("stat %+v", st)
	}
	// Delete: a marker; the listing shows it with every version.
	must(t, mc.RemoveObject(ctx, "mver", "obj", minio.RemoveObjectOptions{}))
	var listed []string
	for oi := range mc.ListObjects(ctx, "mver", minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		must(t, oi.Err)
		s := oi.VersionID
		if oi.IsDeleteMarker {
			s = "marker"
		}
		if oi.IsLatest {
			s += "*"
		}
		listed = append(listed, s)
	}
	want := []string{"marker*", ids[2], ids[1], ids[0]}
	if strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Fatalf("versions %q, want %q", listed, want)
	}
	// Tags per version.
	tg, err := mc.GetObjectTagging(ctx, "mver", "obj", minio.GetObjectTaggingOptions{VersionID: ids[0]})
	must(t, err)
	if tg.ToMap()["gen"] != "one" {
		t.Fatalf("tags of %s: %v", ids[0], tg.ToMap())
	}
	nt, err := tags.NewTags(map[string]string{"k": "v"}, true)
	must(t, err)
	must(t, mc.PutObjectTagging(ctx, "mver", "obj", nt, minio.PutObjectTaggingOptions{VersionID: ids[1]}))
	tg, err = mc.GetObjectTagging(ctx, "mver", "obj", minio.GetObjectTaggingOptions{VersionID: ids[1]})
	must(t, err)
	if tg.ToMap()["k"] != "v" || len(tg.ToMap()) != 1 {
		t.Fatalf("replaced tags %v", tg.ToMap())
	}
	// Batch removal of versions.
	objs := make(chan minio.ObjectInfo, 3)
	for _, id := range ids {
		objs <- minio.ObjectInfo{Key: "obj", VersionID: id}
	}
	close(objs)
	for e := range mc.RemoveObjects(ctx, "mver", objs, minio.RemoveObjectsOptions{}) {
		t.Fatalf("remove %s: %v", e.VersionID, e.Err)
	}
	n := 0
	for oi := range mc.ListObjects(ctx, "mver", minio.ListObjectsOptions{WithVersions: true, Recursive: true}) {
		must(t, oi.Err)
		n++
	}
	if n != 1 {
		t.Fatalf("%d versions left, want the marker only", n)
	}

	// Object lock.
	must(t, mc.MakeBucket(ctx, "mlock", minio.MakeBucketOptions{ObjectLocking: true}))
	mode := minio.Governance
	days := uint(1)
	unit := minio.Days
	must(t, mc.SetObjectLockConfig(ctx, "mlock", &mode, &days, &unit))
	enabled, gotMode, gotDays, gotUnit, err := mc.GetObjectLockConfig(ctx, "mlock")
	must(t, err)
	if enabled != "Enabled" || *gotMode != minio.Governance || *gotDays != 1 || *gotUnit != minio.Days {
		t.Fatalf("lock config %s %v %v %v", enabled, *gotMode, *gotDays, *gotUnit)
	}
	info, err := mc.PutObject(ctx, "mlock", "held", bytes.NewReader([]byte("held")), 4, minio.PutObjectOptions{})
	must(t, err)
	m, until, err := mc.GetObjectRetention(ctx, "mlock", "held", info.VersionID)
	must(t, err)
	if *m != minio.Governance || time.Until(*until) < 23*time.Hour {
		t.Fatalf("default retention %v %v", *m, until)
	}
	on := minio.LegalHoldEnabled
	must(t, mc.PutObjectLegalHold(ctx, "mlock", "held", minio.PutObjectLegalHoldOptions{VersionID: info.VersionID, Status: &on}))
	lh, err := mc.GetObjectLegalHold(ctx, "mlock", "held", minio.GetObjectLegalHoldOptions{VersionID: info.VersionID})
	must(t, err)
	if *lh != minio.LegalHoldEnabled {
		t.Fatalf("legal hold %v", *lh)
	}
	err = mc.RemoveObject(ctx, "mlock", "held", minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true})
	if minio.ToErrorResponse(err).Code != "AccessDenied" {
		t.Fatalf("removing a held version: %v", err)
	}
	off := minio.LegalHoldDisabled
	must(t, mc.PutObjectLegalHold(ctx, "mlock", "held", minio.PutObjectLegalHoldOptions{VersionID: info.VersionID, Status: &off}))
	must(t, mc.RemoveObject(ctx, "mlock", "held", minio.RemoveObjectOptions{VersionID: info.VersionID, GovernanceBypass: true}))
}
