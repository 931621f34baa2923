package metastore

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
)

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)

func mustNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t testing.TB, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func md5hex(s string) string {
	h := md5.Sum([]byte(s))
	return hex.EncodeToString(h[:])
}

func blob(id string) Blob {
	return Blob{ID: id, K: 4, M: 2, BlockSize: 1 << 20, Shards: []ShardLoc{{Node: "n1", Drive: "d1"}, {Node: "n2", Drive: "d2"}}}
}

func artifact(key string, size int64, blobID string) Artifact {
	a := Artifact{
		Tenant: "t1", Container: "c1", Key: key, Size: size, // VersionID "": the null version
		ETag: md5hex(key), ContentType: "text/plain",
		Headers:   map[string]string{"Cache-Control": "no-cache"},
		Meta:      map[string]string{"color": "blue"},
		Checksums: map[string]string{"CRC32": "AAAAAA=="},
		Created:   t0,
	}
	if blobID != "" {
		a.Parts = []Part{{Number: 1, Size: size, ETag: a.ETag, Created: t0, Blob: blob(blobID)}}
	} else {
		a.Inline = []byte("inline")
	}
	return a
}

func mkContainer(t testing.TB, s *Store, tenant, name string) {
	t.Helper()
	mustNoErr(t, s.CreateContainer(ctxT(t), Container{Tenant: tenant, Name: name, Created: t0}))
}

func TestTenantsAndUsers(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	for _, id := range []string{"b", "a", "c"} {
		mustNoErr(t, s.PutTenant(ctx, Tenant{ID: id, Name: "N" + id, Plan: "pro", State: TenantActive, Created: t0}))
	}
	mustNoErr(t, s.PutTenant(ctx, Tenant{ID: "b", Name: "renamed", State: TenantSuspended, Created: t0}))
	got, err := s.GetTenant(ctx, "b")
	mustNoErr(t, err)
	if want := (Tenant{ID: "b", Name: "renamed", State: TenantSuspended, Created: t0}); !reflect.DeepEqual(got, want) {
		t.Fatalf("GetTenant = %+v, want %+v", got, want)
	}
	_, err = s.GetTenant(ctx, "zz")
	wantErr(t, err, ErrNotFound)
	wantErr(t, s.PutTenant(ctx, Tenant{}), ErrInvalidArgument)
	wantErr(t, s.PutTenant(ctx, Tenant{ID: strings.Repeat("x", 256)}), ErrInvalidArgument)
	ts, err := s.ListTenants(ctx)
	mustNoErr(t, err)
	if len(ts) != 3 || ts[0].ID != "a" || ts[1].ID != "b" || ts[2].ID != "c" {
		t.Fatalf("ListTenants = %+v", ts)
	}

	mustNoErr(t, s.PutUser(ctx, User{Tenant: "a", Name: "zed", PasswordHash: []byte("h1"), Created: t0}))
	mustNoErr(t, s.PutUser(ctx, User{Tenant: "a", Name: "amy", Created: t0}))
	mustNoErr(t, s.PutUser(ctx, User{Tenant: "ab", Name: "other", Created: t0}))
	u, err := s.GetUser(ctx, "a", "zed")
	mustNoErr(t, err)
	if !bytes.Equal(u.PasswordHash, []byte("h1")) || !u.Created.Equal(t0) {
		t.Fatalf("GetUser = %+v", u)
	}
	_, err = s.GetUser(ctx, "a", "nobody")
	wantErr(t, err, ErrNotFound)
	us, err := s.ListUsers(ctx, "a")
	mustNoErr(t, err)
	if len(us) != 2 || us[0].Name != "amy" || us[1].Name != "zed" {
		t.Fatalf("ListUsers = %+v", us)
	}
	wantErr(t, s.PutUser(ctx, User{Tenant: "a"}), ErrInvalidArgument)
	wantErr(t, s.PutUser(ctx, User{Name: "x"}), ErrInvalidArgument)
	mustNoErr(t, s.DeleteUser(ctx, "a", "zed"))
	wantErr(t, s.DeleteUser(ctx, "a", "zed"), ErrNotFound)
	us, err = s.ListUsers(ctx, "a")
	mustNoErr(t, err)
	if len(us) != 1 {
		t.Fatalf("ListUsers after delete = %+v", us)
	}
}

func TestAccessKeys(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	ctx := ctxT(t)
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	k := AccessKey{ID: "AKIA1", Tenant: "t1", User: "u1", Enabled: true, Created: t0}
	mustNoErr(t, s.CreateAccessKey(ctx, k, secret))
	wantErr(t, s.CreateAccessKey(ctx, k, "other"), ErrExists)
	mustNoErr(t, s.CreateAccessKey(ctx, AccessKey{ID: "AKIA0", Tenant: "t1", Created: t0}, "s0"))
	mustNoErr(t, s.CreateAccessKey(ctx, AccessKey{ID: "AKIA2", Tenant: "t2", Created: t0}, "s2"))
	wantErr(t, s.CreateAccessKey(ctx, AccessKey{Tenant: "t1"}, "x"), ErrInvalidArgument)
	wantErr(t, s.CreateAccessKey(ctx, AccessKey{ID: "x"}, "x"), ErrInvalidArgument)

	got, sec, err := s.GetAccessKey(ctx, "AKIA1")
	mustNoErr(t, err)
	if got != k || sec != secret {
		t.Fatalf("GetAccessKey = %+v %q", got, sec)
	}
	_, _, err = s.GetAccessKey(ctx, "nope")
	wantErr(t, err, ErrNotFound)

	mustNoErr(t, s.SetAccessKeyEnabled(ctx, "AKIA1", false))
	got, _, err = s.GetAccessKey(ctx, "AKIA1")
	mustNoErr(t, err)
	if got.Enabled {
		t.Fatal("key still enabled")
	}
	wantErr(t, s.SetAccessKeyEnabled(ctx, "nope", true), ErrNotFound)

	ks, err := s.ListAccessKeys(ctx, "t1")
	mustNoErr(t, err)
	if len(ks) != 2 || ks[0].ID != "AKIA0" || ks[1].ID != "AKIA1" {
		t.Fatalf("ListAccessKeys = %+v", ks)
	}
	mustNoErr(t, s.DeleteAccessKey(ctx, "AKIA0"))
	wantErr(t, s.DeleteAccessKey(ctx, "AKIA0"), ErrNotFound)
	ks, err = s.ListAccessKeys(ctx, "t1")
	mustNoErr(t, err)
	if len(ks) != 1 || ks[0].ID != "AKIA1" {
		t.Fatalf("ListAccessKeys after delete = %+v", ks)
	}

	// The secret is nowhere in clear: not in the state, not in the Raft log.
	it, err := s.db.NewIter(nil)
	mustNoErr(t, err)
	for ok := it.First(); ok; ok = it.Next() {
		if bytes.Contains(it.Value(), []byte(secret)) || bytes.Contains(it.Value(), []byte("s2")) && bytes.Contains(it.Key(), []byte("AKIA2")) {
			t.Errorf("secret in clear under key %q", it.Key())
		}
	}
	mustNoErr(t, it.Close())
}

func TestSealedSecretNeedsMasterKey(t *testing.T) {
	aead, err := newAEAD(testMasterKey)
	mustNoErr(t, err)
	sealed, err := seal(aead, "k1", "secret")
	mustNoErr(t, err)
	if got, err := unseal(aead, "k1", sealed); err != nil || got != "secret" {
		t.Fatalf("unseal = %q, %v", got, err)
	}
	_, err = unseal(aead, "k2", sealed) // bound to the key id
	wantErr(t, err, ErrCorrupt)
	other, err := newAEAD(bytes.Repeat([]byte{7}, 32))
	mustNoErr(t, err)
	_, err = unseal(other, "k1", sealed)
	wantErr(t, err, ErrCorrupt)
	_, err = unseal(aead, "k1", sealed[:5])
	wantErr(t, err, ErrCorrupt)
	_, err = newAEAD([]byte("short"))
	wantErr(t, err, ErrInvalidArgument)
}

func TestContainers(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	c := Container{Tenant: "t1", Name: "photos", Created: t0, Versioning: true, QuotaBytes: 10, QuotaArtifacts: 2, Lifecycle: []byte("<x/>")}
	mustNoErr(t, s.CreateContainer(ctx, c))
	wantErr(t, s.CreateContainer(ctx, c), ErrExists)
	mustNoErr(t, s.CreateContainer(ctx, Container{Tenant: "t1", Name: "apps", Created: t0}))
	mustNoErr(t, s.CreateContainer(ctx, Container{Tenant: "t2", Name: "photos", Created: t0})) // other tenant, same name
	wantErr(t, s.CreateContainer(ctx, Container{Tenant: "t1"}), ErrInvalidArgument)
	wantErr(t, s.CreateContainer(ctx, Container{Name: "x"}), ErrInvalidArgument)

	got, err := s.GetContainer(ctx, "t1", "photos")
	mustNoErr(t, err)
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("GetContainer = %+v, want %+v", got, c)
	}
	_, err = s.GetContainer(ctx, "t3", "photos")
	wantErr(t, err, ErrContainerNotFound)
	cs, err := s.ListContainers(ctx, "t1")
	mustNoErr(t, err)
	if len(cs) != 2 || cs[0].Name != "apps" || cs[1].Name != "photos" {
		t.Fatalf("ListContainers = %+v", cs)
	}

	upd := Container{Tenant: "t1", Name: "photos", Created: t0.Add(time.Hour), QuotaBytes: 99}
	mustNoErr(t, s.UpdateContainer(ctx, upd))
	got, err = s.GetContainer(ctx, "t1", "photos")
	mustNoErr(t, err)
	if got.QuotaBytes != 99 || got.Versioning || got.Lifecycle != nil || !got.Created.Equal(t0) {
		t.Fatalf("after UpdateContainer = %+v", got)
	}
	wantErr(t, s.UpdateContainer(ctx, Container{Tenant: "t1", Name: "none"}), ErrContainerNotFound)

	// Delete: not found, not empty, then with uploads whose parts come back.
	_, err = s.DeleteContainer(ctx, "t1", "none")
	wantErr(t, err, ErrContainerNotFound)
	_, err = s.PutArtifact(ctx, Artifact{Tenant: "t1", Container: "photos", Key: "k", Size: 3}, Cond{})
	mustNoErr(t, err)
	_, err = s.DeleteContainer(ctx, "t1", "photos")
	wantErr(t, err, ErrContainerNotEmpty)
	_, err = s.DeleteArtifact(ctx, "t1", "photos", "k")
	mustNoErr(t, err)
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "photos", Key: "big", UploadID: "u1", Created: t0}))
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "photos", Key: "big2", UploadID: "u2", Created: t0}))
	for i, ref := range []struct{ key, id string }{{"big", "u1"}, {"big", "u1"}, {"big2", "u2"}} {
		_, err := s.PutPart(ctx, "t1", "photos", ref.key, ref.id, Part{Number: i + 1, Size: 5, ETag: md5hex("p"), Blob: blob(fmt.Sprintf("pb%d", i))})
		mustNoErr(t, err)
	}
	parts, err := s.DeleteContainer(ctx, "t1", "photos")
	mustNoErr(t, err)
	if len(parts) != 3 {
		t.Fatalf("DeleteContainer returned %d parts, want 3", len(parts))
	}
	for i := 0; i < 3; i++ {
		live, err := s.BlobLive(ctx, fmt.Sprintf("pb%d", i))
		mustNoErr(t, err)
		if live {
			t.Errorf("blob pb%d still live after its container was deleted", i)
		}
	}
	_, err = s.GetContainer(ctx, "t1", "photos")
	wantErr(t, err, ErrContainerNotFound)
	_, err = s.GetUpload(ctx, "t1", "photos", "big", "u1")
	wantErr(t, err, ErrUploadNotFound)
	// Re-created, it starts empty.
	mustNoErr(t, s.CreateContainer(ctx, Container{Tenant: "t1", Name: "photos", Created: t0}))
	res, err := s.ListArtifacts(ctx, "t1", "photos", ListOptions{})
	mustNoErr(t, err)
	if len(res.Artifacts) != 0 {
		t.Fatalf("recreated container lists %+v", res)
	}
	ups, _, _, err := s.ListUploads(ctx, "t1", "photos", UploadListOptions{})
	mustNoErr(t, err)
	if len(ups) != 0 {
		t.Fatalf("recreated container has uploads %+v", ups)
	}
	cu, err := s.ContainerUsage(ctx, "t1", "photos")
	mustNoErr(t, err)
	if cu != (Usage{}) {
		t.Fatalf("recreated container usage %+v", cu)
	}
}

func TestArtifacts(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	_, err := s.PutArtifact(ctx, artifact("a", 10, "b1"), Cond{})
	wantErr(t, err, ErrContainerNotFound)
	mkContainer(t, s, "t1", "c1")
	mkContainer(t, s, "t1", "c2")

	a := artifact("a", 10, "b1")
	prev, err := s.PutArtifact(ctx, a, Cond{IfNoneMatch: true})
	mustNoErr(t, err)
	if prev != nil {
		t.Fatalf("prev = %+v", prev)
	}
	got, err := s.GetArtifact(ctx, "t1", "c1", "a")
	mustNoErr(t, err)
	if !reflect.DeepEqual(got, a) {
		t.Fatalf("GetArtifact =\n%+v\nwant\n%+v", got, a)
	}
	_, err = s.GetArtifact(ctx, "t1", "c1", "nope")
	wantErr(t, err, ErrArtifactNotFound)
	_, err = s.GetArtifact(ctx, "t1", "c9", "a")
	wantErr(t, err, ErrContainerNotFound)

	// Preconditions.
	_, err = s.PutArtifact(ctx, artifact("a", 1, "bx"), Cond{IfNoneMatch: true})
	wantErr(t, err, ErrPreconditionFailed)
	_, err = s.PutArtifact(ctx, artifact("new", 1, "bx"), Cond{IfMatchETag: "*"})
	wantErr(t, err, ErrPreconditionFailed)
	_, err = s.PutArtifact(ctx, artifact("new", 1, "bx"), Cond{IfMatchETag: md5hex("new")})
	wantErr(t, err, ErrPreconditionFailed)
	_, err = s.PutArtifact(ctx, artifact("a", 1, "bx"), Cond{IfMatchETag: "0123"})
	wantErr(t, err, ErrPreconditionFailed)
	live, err := s.BlobLive(ctx, "bx")
	mustNoErr(t, err)
	if live {
		t.Fatal("a failed put left its blob referenced")
	}
	if _, err := s.GetArtifact(ctx, "t1", "c1", "new"); !errors.Is(err, ErrArtifactNotFound) {
		t.Fatalf("failed conditional put created the artifact: %v", err)
	}

	// Overwrite with If-Match (quoted, upper case) returns the previous record.
	b := artifact("a", 25, "b2")
	prev, err = s.PutArtifact(ctx, b, Cond{IfMatchETag: `"` + strings.ToUpper(a.ETag) + `"`})
	mustNoErr(t, err)
	if prev == nil || !reflect.DeepEqual(*prev, a) {
		t.Fatalf("prev = %+v", prev)
	}
	for id, want := range map[string]bool{"b1": false, "b2": true} {
		live, err := s.BlobLive(ctx, id)
		mustNoErr(t, err)
		if live != want {
			t.Errorf("BlobLive(%s) = %v, want %v", id, live, want)
		}
	}
	_, err = s.PutArtifact(ctx, artifact("b", 5, ""), Cond{IfMatchETag: ""})
	mustNoErr(t, err)
	_, err = s.PutArtifact(ctx, Artifact{Tenant: "t1", Container: "c2", Key: "x", Size: 7}, Cond{})
	mustNoErr(t, err)

	checkUsage := func(tenant, cont string, want Usage) {
		t.Helper()
		var got Usage
		var err error
		if cont == "" {
			got, err = s.TenantUsage(ctx, tenant)
		} else {
			got, err = s.ContainerUsage(ctx, tenant, cont)
		}
		mustNoErr(t, err)
		if got != want {
			t.Fatalf("usage(%s,%s) = %+v, want %+v", tenant, cont, got, want)
		}
	}
	checkUsage("t1", "", Usage{Bytes: 37, Artifacts: 3})
	checkUsage("t1", "c1", Usage{Bytes: 30, Artifacts: 2})
	checkUsage("t1", "c2", Usage{Bytes: 7, Artifacts: 1})

	// Validation.
	bad := []Artifact{
		{Tenant: "", Container: "c1", Key: "k"},
		{Tenant: "t1", Container: "", Key: "k"},
		{Tenant: "t1", Container: "c1", Key: ""},
		{Tenant: "t1", Container: "c1", Key: strings.Repeat("k", 1025)},
		{Tenant: "t1", Container: "c1", Key: "\xff\xfe"},
		{Tenant: "t1", Container: "c1", Key: "k", Size: -1},
	}
	for _, a := range bad {
		_, err := s.PutArtifact(ctx, a, Cond{})
		wantErr(t, err, ErrInvalidArgument)
	}

	// Delete.
	_, err = s.DeleteArtifact(ctx, "t1", "c9", "a")
	wantErr(t, err, ErrContainerNotFound)
	prev, err = s.DeleteArtifact(ctx, "t1", "c1", "missing")
	if err != nil || prev != nil {
		t.Fatalf("delete missing = %+v, %v", prev, err)
	}
	prev, err = s.DeleteArtifact(ctx, "t1", "c1", "a")
	mustNoErr(t, err)
	if prev == nil || !reflect.DeepEqual(*prev, b) {
		t.Fatalf("deleted = %+v", prev)
	}
	live, err = s.BlobLive(ctx, "b2")
	mustNoErr(t, err)
	if live {
		t.Fatal("deleted artifact's blob still live")
	}
	checkUsage("t1", "", Usage{Bytes: 12, Artifacts: 2})
	checkUsage("t1", "c1", Usage{Bytes: 5, Artifacts: 1})
	checkUsage("t9", "", Usage{})
}

func TestSharedBlobStaysLive(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	// A record rewritten with the same blob (a tier change, say) keeps it live.
	a := artifact("k", 3, "shared")
	_, err := s.PutArtifact(ctx, a, Cond{})
	mustNoErr(t, err)
	a.Tier = "cold"
	_, err = s.PutArtifact(ctx, a, Cond{IfMatchETag: a.ETag})
	mustNoErr(t, err)
	live, err := s.BlobLive(ctx, "shared")
	mustNoErr(t, err)
	if !live {
		t.Fatal("blob referenced by the new record is not live")
	}
	// Two artifacts on one blob: deleting one keeps it live.
	b := artifact("k2", 3, "shared")
	_, err = s.PutArtifact(ctx, b, Cond{})
	mustNoErr(t, err)
	_, err = s.DeleteArtifact(ctx, "t1", "c1", "k")
	mustNoErr(t, err)
	live, err = s.BlobLive(ctx, "shared")
	mustNoErr(t, err)
	if !live {
		t.Fatal("blob still referenced by k2 is not live")
	}
	// BlobOwners names what references it, for an operator.
	owners, err := s.BlobOwners(ctx, "shared")
	mustNoErr(t, err)
	if want := []string{`artifact tenant "t1" container "c1" key "k2"`}; !reflect.DeepEqual(owners, want) {
		t.Fatalf("BlobOwners = %q, want %q", owners, want)
	}
	_, err = s.DeleteArtifact(ctx, "t1", "c1", "k2")
	mustNoErr(t, err)
	owners, err = s.BlobOwners(ctx, "shared")
	mustNoErr(t, err)
	if owners == nil || len(owners) != 0 {
		t.Fatalf("BlobOwners of garbage = %#v, want an empty list", owners)
	}
}

func TestMultipart(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	up := Upload{Tenant: "t1", Container: "c1", Key: "big", UploadID: "u1", Created: t0, ContentType: "video/mp4",
		Headers: map[string]string{"Content-Disposition": "inline"}, Meta: map[string]string{"m": "1"}}
	wantErr(t, s.CreateUpload(ctx, up), ErrContainerNotFound)
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.CreateUpload(ctx, up))
	wantErr(t, s.CreateUpload(ctx, up), ErrExists)
	wantErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "big"}), ErrInvalidArgument)
	got, err := s.GetUpload(ctx, "t1", "c1", "big", "u1")
	mustNoErr(t, err)
	if !reflect.DeepEqual(got, up) {
		t.Fatalf("GetUpload = %+v", got)
	}
	_, err = s.GetUpload(ctx, "t1", "c1", "big", "u2")
	wantErr(t, err, ErrUploadNotFound)

	part := func(n int, size int64, content string) Part {
		return Part{Number: n, Size: size, ETag: md5hex(content), Created: t0, Blob: blob(fmt.Sprintf("blob-%d-%s", n, content))}
	}
	_, err = s.PutPart(ctx, "t1", "c1", "big", "nope", part(1, 5, "x"))
	wantErr(t, err, ErrUploadNotFound)
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u1", part(0, 5, "x"))
	wantErr(t, err, ErrInvalidArgument)
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u1", part(10001, 5, "x"))
	wantErr(t, err, ErrInvalidArgument)

	const min = 100
	p1, p2old, p2, p3, p4 := part(1, 100, "one"), part(2, 100, "old"), part(2, 150, "two"), part(3, 7, "three"), part(4, 1, "four")
	for _, p := range []Part{p1, p2old, p3, p4} {
		prev, err := s.PutPart(ctx, "t1", "c1", "big", "u1", p)
		mustNoErr(t, err)
		if prev != nil {
			t.Fatalf("prev part = %+v", prev)
		}
	}
	prev, err := s.PutPart(ctx, "t1", "c1", "big", "u1", p2)
	mustNoErr(t, err)
	if prev == nil || !reflect.DeepEqual(*prev, p2old) {
		t.Fatalf("replaced part = %+v", prev)
	}

	// ListParts with marker and max.
	ps, trunc, err := s.ListParts(ctx, "t1", "c1", "big", "u1", 0, 2)
	mustNoErr(t, err)
	if len(ps) != 2 || !trunc || ps[0].Number != 1 || ps[1].Number != 2 || !reflect.DeepEqual(ps[1], p2) {
		t.Fatalf("ListParts page 1 = %+v %v", ps, trunc)
	}
	ps, trunc, err = s.ListParts(ctx, "t1", "c1", "big", "u1", 2, 2)
	mustNoErr(t, err)
	if len(ps) != 2 || trunc || ps[0].Number != 3 || ps[1].Number != 4 {
		t.Fatalf("ListParts page 2 = %+v %v", ps, trunc)
	}
	_, _, err = s.ListParts(ctx, "t1", "c1", "big", "nope", 0, 0)
	wantErr(t, err, ErrUploadNotFound)

	complete := func(parts []PartRef, cond Cond) (Artifact, *Artifact, []Part, error) {
		return s.CompleteUpload(ctx, CompleteInput{Tenant: "t1", Container: "c1", Key: "big", UploadID: "u1",
			VersionID: "ver1", Created: t0.Add(time.Minute), Parts: parts, Cond: cond, MinPartSize: min})
	}
	ref := func(p Part) PartRef { return PartRef{Number: p.Number, ETag: `"` + p.ETag + `"`} }
	failures := []struct {
		name  string
		parts []PartRef
		cond  Cond
		want  error
	}{
		{"empty", nil, Cond{}, ErrInvalidPart},
		{"descending", []PartRef{ref(p2), ref(p1)}, Cond{}, ErrInvalidPartOrder},
		{"duplicate", []PartRef{ref(p1), ref(p1)}, Cond{}, ErrInvalidPartOrder},
		{"missing part", []PartRef{ref(p1), {Number: 9, ETag: p1.ETag}}, Cond{}, ErrInvalidPart},
		{"wrong etag", []PartRef{ref(p1), {Number: 2, ETag: p2old.ETag}}, Cond{}, ErrInvalidPart},
		{"too small", []PartRef{ref(p1), ref(p3), ref(p4)}, Cond{}, ErrEntityTooSmall},
		{"if-match on missing", []PartRef{ref(p1), ref(p2), ref(p3)}, Cond{IfMatchETag: "*"}, ErrPreconditionFailed},
	}
	for _, f := range failures {
		_, _, _, err := complete(f.parts, f.cond)
		if !errors.Is(err, f.want) {
			t.Fatalf("%s: error = %v, want %v", f.name, err, f.want)
		}
	}
	_, _, _, err = s.CompleteUpload(ctx, CompleteInput{Tenant: "t1", Container: "c1", Key: "big", UploadID: "nope", Parts: []PartRef{ref(p1)}})
	wantErr(t, err, ErrUploadNotFound)
	// Failed completions changed nothing.
	ps, _, err = s.ListParts(ctx, "t1", "c1", "big", "u1", 0, 0)
	mustNoErr(t, err)
	if len(ps) != 4 {
		t.Fatalf("parts after failed completions: %d", len(ps))
	}

	// An existing artifact makes If-None-Match fail, then it is replaced.
	old := artifact("big", 11, "oldblob")
	_, err = s.PutArtifact(ctx, old, Cond{})
	mustNoErr(t, err)
	_, _, _, err = complete([]PartRef{ref(p1), ref(p2), ref(p3)}, Cond{IfNoneMatch: true})
	wantErr(t, err, ErrPreconditionFailed)

	a, prevA, unused, err := complete([]PartRef{ref(p1), ref(p2), ref(p3)}, Cond{IfMatchETag: old.ETag})
	mustNoErr(t, err)
	var raw []byte
	for _, p := range []Part{p1, p2, p3} {
		b, _ := hex.DecodeString(p.ETag)
		raw = append(raw, b...)
	}
	sum := md5.Sum(raw)
	// A container without versioning: the null version; the record
	// remembers its upload (a repeated completion answers with it).
	want := Artifact{Tenant: "t1", Container: "c1", Key: "big", Size: 257,
		ETag: hex.EncodeToString(sum[:]) + "-3", ContentType: "video/mp4", Headers: up.Headers, Meta: up.Meta,
		Created: t0.Add(time.Minute), Parts: []Part{p1, p2, p3}, UploadID: "u1"}
	if !reflect.DeepEqual(a, want) {
		t.Fatalf("completed =\n%+v\nwant\n%+v", a, want)
	}
	if prevA == nil || !reflect.DeepEqual(*prevA, old) {
		t.Fatalf("prev = %+v", prevA)
	}
	// Freed: the part not listed, and the replaced artifact's blob.
	if len(unused) != 2 || !reflect.DeepEqual(unused[0], p4) || unused[1].Blob.ID != "oldblob" {
		t.Fatalf("freed = %+v", unused)
	}
	stored, err := s.GetArtifact(ctx, "t1", "c1", "big")
	mustNoErr(t, err)
	if !reflect.DeepEqual(stored, want) {
		t.Fatalf("stored = %+v", stored)
	}
	_, err = s.GetUpload(ctx, "t1", "c1", "big", "u1")
	wantErr(t, err, ErrUploadNotFound)
	// Completing it again (a retry whose answer was lost) answers with the
	// version it became, and changes nothing.
	again, _, freed, err := complete([]PartRef{ref(p1)}, Cond{})
	mustNoErr(t, err)
	if !reflect.DeepEqual(again, want) || len(freed) != 0 {
		t.Fatalf("repeated completion = %+v, freed %v", again, freed)
	}
	for id, wantLive := range map[string]bool{p1.Blob.ID: true, p2.Blob.ID: true, p3.Blob.ID: true, p4.Blob.ID: false, p2old.Blob.ID: false, "oldblob": false} {
		live, err := s.BlobLive(ctx, id)
		mustNoErr(t, err)
		if live != wantLive {
			t.Errorf("BlobLive(%s) = %v, want %v", id, live, wantLive)
		}
	}
	u, err := s.ContainerUsage(ctx, "t1", "c1")
	mustNoErr(t, err)
	if u != (Usage{Bytes: 257, Artifacts: 1}) {
		t.Fatalf("usage = %+v", u)
	}

	// Abort.
	_, err = s.AbortUpload(ctx, "t1", "c1", "big", "u1")
	wantErr(t, err, ErrUploadNotFound)
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "big", UploadID: "u3", Created: t0}))
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u3", part(1, 5, "a"))
	mustNoErr(t, err)
	_, err = s.PutPart(ctx, "t1", "c1", "big", "u3", part(2, 5, "b"))
	mustNoErr(t, err)
	aborted, err := s.AbortUpload(ctx, "t1", "c1", "big", "u3")
	mustNoErr(t, err)
	if len(aborted) != 2 || aborted[0].Number != 1 || aborted[1].Number != 2 {
		t.Fatalf("aborted parts = %+v", aborted)
	}
	_, err = s.GetUpload(ctx, "t1", "c1", "big", "u3")
	wantErr(t, err, ErrUploadNotFound)
	live, err := s.BlobLive(ctx, aborted[0].Blob.ID)
	mustNoErr(t, err)
	if live {
		t.Fatal("aborted part's blob still live")
	}
	// No part records are left behind anywhere.
	p := []byte{prefixFSM, tblPart}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	mustNoErr(t, err)
	if it.First() {
		t.Fatalf("leftover part record %q", it.Key())
	}
	mustNoErr(t, it.Close())
}

func TestMinPartSizeZeroAndSinglePart(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u", Created: t0}))
	_, err := s.PutPart(ctx, "t1", "c1", "k", "u", Part{Number: 3, Size: 1, ETag: md5hex("x")})
	mustNoErr(t, err)
	_, err = s.PutPart(ctx, "t1", "c1", "k", "u", Part{Number: 5, Size: 1, ETag: md5hex("y")})
	mustNoErr(t, err)
	a, _, unused, err := s.CompleteUpload(ctx, CompleteInput{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u",
		Parts: []PartRef{{3, md5hex("x")}, {5, md5hex("y")}}})
	mustNoErr(t, err)
	if a.Size != 2 || len(a.Parts) != 2 || a.Parts[0].Number != 3 || a.Parts[1].Number != 5 || len(unused) != 0 || !strings.HasSuffix(a.ETag, "-2") {
		t.Fatalf("completed = %+v unused %v", a, unused)
	}
}

// TestCompleteChecksums: the completion stores the whole-object checksum
// it is given, and refuses when a part no longer carries the value the
// caller computed it from.
func TestCompleteChecksums(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	up := Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u", Created: t0, ChecksumAlgorithm: "CRC32", ChecksumType: "FULL_OBJECT"}
	mustNoErr(t, s.CreateUpload(ctx, up))
	got, err := s.GetUpload(ctx, "t1", "c1", "k", "u")
	mustNoErr(t, err)
	if got.ChecksumAlgorithm != "CRC32" || got.ChecksumType != "FULL_OBJECT" {
		t.Fatalf("upload = %+v", got)
	}
	for i, v := range []string{"x", "y"} {
		_, err := s.PutPart(ctx, "t1", "c1", "k", "u", Part{Number: i + 1, Size: 1, ETag: md5hex(v), Checksums: map[string]string{"CRC32": "sum-" + v}})
		mustNoErr(t, err)
	}
	in := CompleteInput{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u", Parts: []PartRef{{1, md5hex("x")}, {2, md5hex("y")}},
		Checksums: map[string]string{"CRC32": "whole"}, ChecksumType: "FULL_OBJECT", PartChecksums: []string{"sum-x", "stale"}}
	_, err = s.CompleteUploadVersion(ctx, in)
	wantErr(t, err, ErrInvalidPart)
	in.PartChecksums = in.PartChecksums[:1]
	_, err = s.CompleteUploadVersion(ctx, in)
	wantErr(t, err, ErrInvalidPart)
	in.PartChecksums = []string{"sum-x", "sum-y"}
	res, err := s.CompleteUploadVersion(ctx, in)
	mustNoErr(t, err)
	a, err := s.GetArtifact(ctx, "t1", "c1", "k")
	mustNoErr(t, err)
	if res.Version.Checksums["CRC32"] != "whole" || a.Checksums["CRC32"] != "whole" || a.ChecksumType != "FULL_OBJECT" || a.Parts[1].Checksums["CRC32"] != "sum-y" {
		t.Fatalf("completed = %+v", a)
	}
}

func TestReadOptionsAndClosed(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	if _, err := s.GetContainer(ctx, "t1", "c1", Stale); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetContainer(ctx, "t1", "c1", Linearizable); err != nil {
		t.Fatal(err)
	}
	idx, err := s.ReadIndex(ctx)
	mustNoErr(t, err)
	if idx == 0 || idx > s.AppliedIndex() {
		t.Fatalf("ReadIndex = %d, applied %d", idx, s.AppliedIndex())
	}
	mustNoErr(t, s.Close())
	mustNoErr(t, s.Close()) // idempotent
	_, err = s.GetContainer(ctx, "t1", "c1")
	wantErr(t, err, ErrClosed)
	wantErr(t, s.CreateContainer(ctx, Container{Tenant: "t1", Name: "c2"}), ErrClosed)
	_, err = s.ApplyEncoded(ctx, nil)
	wantErr(t, err, ErrClosed)
}

func TestConfigValidate(t *testing.T) {
	err := Config{}.Validate()
	if err == nil {
		t.Fatal("empty config validated")
	}
	for _, want := range []string{"NodeID", "Dir", "BindAddr", "MasterKey"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %s: %v", want, err)
		}
	}
	bad := Config{NodeID: "n", Dir: "d", BindAddr: "127.0.0.1:0", MasterKey: testMasterKey,
		HeartbeatTimeout: time.Second, LeaderLeaseTimeout: 2 * time.Second, ElectionTimeout: 10 * time.Millisecond,
		TrailingLogs: 3, MaxAppendEntries: 5000}
	err = bad.Validate()
	for _, want := range []string{"LeaderLeaseTimeout", "ElectionTimeout", "TrailingLogs", "MaxAppendEntries"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error lacks %s: %v", want, err)
		}
	}
	good := Config{NodeID: "n", Dir: "d", BindAddr: "127.0.0.1:0", MasterKey: testMasterKey}
	if err := good.Validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if _, err := Open(ctxT(t), Config{}); err == nil {
		t.Fatal("Open accepted an invalid config")
	}
}

func TestErrorWire(t *testing.T) {
	for _, e := range codeErrors {
		if e == nil {
			continue
		}
		wrapped := fmt.Errorf("%w: detail", e)
		got := UnmarshalError(MarshalError(wrapped))
		if !errors.Is(got, e) || got.Error() != wrapped.Error() {
			t.Errorf("round trip of %v = %v", wrapped, got)
		}
		// Through an apply result, too.
		_, err := decodeResult(errResult(wrapped).encode())
		if !errors.Is(err, e) {
			t.Errorf("result round trip of %v = %v", wrapped, err)
		}
	}
	other := errors.New("disk on fire")
	if got := UnmarshalError(MarshalError(other)); got == nil || got.Error() != other.Error() {
		t.Errorf("other error = %v", got)
	}
	if MarshalError(nil) != nil || UnmarshalError(nil) != nil {
		t.Error("nil error does not round-trip")
	}
	wantErr(t, UnmarshalError([]byte{9, 9}), ErrCorrupt)
}

func TestConditionalTenantAndUserCommands(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	acme := Tenant{ID: "acme", Name: "Acme", Plan: "pro", State: TenantActive, Created: t0}
	mustNoErr(t, s.CreateTenant(ctx, acme))
	wantErr(t, s.CreateTenant(ctx, Tenant{ID: "acme", Name: "other", Created: t0}), ErrExists)
	if got, err := s.GetTenant(ctx, "acme"); err != nil || got.Name != "Acme" {
		t.Fatalf("a failed create changed the tenant: %+v, %v", got, err)
	}
	wantErr(t, s.CreateTenant(ctx, Tenant{}), ErrInvalidArgument)

	mustNoErr(t, s.SetTenantState(ctx, "acme", TenantSuspended))
	if got, _ := s.GetTenant(ctx, "acme"); got.State != TenantSuspended || got.Name != "Acme" || !got.Created.Equal(t0) {
		t.Fatalf("after suspend: %+v", got)
	}
	wantErr(t, s.SetTenantState(ctx, "nobody", TenantSuspended), ErrNotFound)
	if _, err := s.GetTenant(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetTenantState of a missing tenant created it: %v", err)
	}

	mustNoErr(t, s.CreateUser(ctx, User{Tenant: "acme", Name: "alice", Created: t0}))
	wantErr(t, s.CreateUser(ctx, User{Tenant: "acme", Name: "alice", Created: t0}), ErrExists)
	wantErr(t, s.CreateUser(ctx, User{Tenant: "nobody", Name: "bob", Created: t0}), ErrNotFound)
	wantErr(t, s.CreateUser(ctx, User{Tenant: "acme"}), ErrInvalidArgument)

	// Racing creators of one tenant: exactly one wins.
	var wg sync.WaitGroup
	var wins atomic.Int32
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.CreateTenant(ctx, Tenant{ID: "race", Created: t0})
			if err == nil {
				wins.Add(1)
			} else if !errors.Is(err, ErrExists) {
				t.Errorf("racer: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d racing creators won, want 1", wins.Load())
	}
}
