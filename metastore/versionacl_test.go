package metastore

import (
	"strings"
	"testing"
)

// A version's owner and ACL are stored with it; set-version-acl replaces
// the ACL of exactly the version it names and leaves everything else.
func TestVersionACL(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.CreateContainer(ctx, Container{Tenant: "t1", Name: "c1", Created: t0, VersioningState: VersioningEnabled}))
	old := artifact("k", 3, "b1")
	old.Owner, old.ACL = "bob", `{"grants":["old"]}`
	r1, err := s.PutVersion(ctx, old, Cond{})
	mustNoErr(t, err)
	r2, err := s.PutVersion(ctx, artifact("k", 4, "b2"), Cond{})
	mustNoErr(t, err)
	id1, id2 := r1.Version.VersionID, r2.Version.VersionID

	got, err := s.GetVersion(ctx, "t1", "c1", "k", id1)
	mustNoErr(t, err)
	if got.Owner != "bob" || got.ACL != old.ACL {
		t.Fatalf("stored owner %q acl %q", got.Owner, got.ACL)
	}
	// By version id: the noncurrent version changes, the current does not.
	a, err := s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", HasVersion: true, VersionID: id1, SetACL: true, ACL: "new"})
	mustNoErr(t, err)
	if a.ACL != "new" || a.Owner != "bob" || a.VersionID != id1 {
		t.Fatalf("update result %+v", a)
	}
	got, err = s.GetVersion(ctx, "t1", "c1", "k", id1)
	mustNoErr(t, err)
	if got.ACL != "new" || got.Owner != "bob" || got.Size != 3 {
		t.Fatalf("after update: %+v", got)
	}
	cur, err := s.GetArtifact(ctx, "t1", "c1", "k")
	mustNoErr(t, err)
	if cur.ACL != "" || cur.Owner != "" || cur.VersionID != id2 {
		t.Fatalf("current version changed: %+v", cur)
	}
	// Without a version id: the current one.
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", SetACL: true, ACL: "cur"})
	mustNoErr(t, err)
	if cur, _ = s.GetArtifact(ctx, "t1", "c1", "k"); cur.ACL != "cur" {
		t.Fatalf("current ACL %q", cur.ACL)
	}
	// Refusals change nothing.
	for _, c := range []struct {
		u    VersionUpdate
		want error
	}{
		{VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", SetACL: true, ACL: strings.Repeat("x", MaxACL+1)}, ErrInvalidArgument},
		{VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", HasVersion: true, VersionID: "00000000000000ff", SetACL: true, ACL: "y"}, ErrNoSuchVersion},
		{VersionUpdate{Tenant: "t1", Container: "c1", Key: "nope", SetACL: true, ACL: "y"}, ErrArtifactNotFound},
		{VersionUpdate{Tenant: "t1", Container: "c9", Key: "k", SetACL: true, ACL: "y"}, ErrContainerNotFound},
		{VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", SetACL: true, ACL: "y", SetTags: true}, ErrInvalidArgument},
	} {
		_, err := s.UpdateVersion(ctx, c.u)
		wantErr(t, err, c.want)
	}
	if cur, _ = s.GetArtifact(ctx, "t1", "c1", "k"); cur.ACL != "cur" {
		t.Fatalf("a refused update changed the ACL to %q", cur.ACL)
	}
	// Clearing makes the record private again.
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", SetACL: true})
	mustNoErr(t, err)
	if cur, _ = s.GetArtifact(ctx, "t1", "c1", "k"); cur.ACL != "" {
		t.Fatalf("cleared ACL %q", cur.ACL)
	}
}

// A multipart upload carries the owner and ACL to the version it
// completes.
func TestUploadCarriesOwnerAndACL(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u1", Created: t0, Owner: "bob", ACL: "acl", Initiator: "bob/eve"}))
	u, err := s.GetUpload(ctx, "t1", "c1", "k", "u1")
	mustNoErr(t, err)
	if u.Owner != "bob" || u.ACL != "acl" || u.Initiator != "bob/eve" {
		t.Fatalf("upload owner %q acl %q initiator %q", u.Owner, u.ACL, u.Initiator)
	}
	p := Part{Number: 1, Size: 5, ETag: md5hex("p"), Created: t0, Blob: blob("b1")}
	_, err = s.PutPart(ctx, "t1", "c1", "k", "u1", p)
	mustNoErr(t, err)
	_, err = s.CompleteUploadVersion(ctx, CompleteInput{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u1", Parts: []PartRef{{Number: 1, ETag: p.ETag}}, Created: t0})
	mustNoErr(t, err)
	a, err := s.GetArtifact(ctx, "t1", "c1", "k")
	mustNoErr(t, err)
	if a.Owner != "bob" || a.ACL != "acl" {
		t.Fatalf("completed owner %q acl %q", a.Owner, a.ACL)
	}
}

// set-version-acl is a command of cluster version 2: below it the command
// is refused before the log (ErrUpgradeRequired) and nothing changes, and
// a version carrying an owner or an ACL cannot be written either.
func TestVersionACLWaitsForClusterVersion(t *testing.T) {
	s := openAtV1(t)
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	_, err := s.PutVersion(ctx, artifact("k", 3, "b1"), Cond{})
	mustNoErr(t, err)
	before := s.fsm.applied.Load()
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", SetACL: true, ACL: "public"})
	wantErr(t, err, ErrUpgradeRequired)
	if s.fsm.applied.Load() != before {
		t.Fatal("a gated command reached the log")
	}
	owned := artifact("k2", 1, "")
	owned.Owner = "bob"
	_, err = s.PutVersion(ctx, owned, Cond{})
	wantErr(t, err, ErrUpgradeRequired)
	a, err := s.GetArtifact(ctx, "t1", "c1", "k")
	mustNoErr(t, err)
	if a.ACL != "" {
		t.Fatalf("refused command changed the ACL to %q", a.ACL)
	}

	mustNoErr(t, s.SetClusterVersion(ctx, ClusterVersion2))
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "c1", Key: "k", SetACL: true, ACL: "public"})
	mustNoErr(t, err)
	if a, _ = s.GetArtifact(ctx, "t1", "c1", "k"); a.ACL != "public" {
		t.Fatalf("ACL after the raise %q", a.ACL)
	}
}

// An upload's initiator is only shown in listings: below cluster version
// 2 it is left out and the upload is still created (as a version-1
// command), and from version 2 on it is kept.
func TestUploadInitiatorBelowClusterVersion2(t *testing.T) {
	s := openAtV1(t)
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u1", Created: t0, Initiator: "t1/eve"}))
	u, err := s.GetUpload(ctx, "t1", "c1", "k", "u1")
	mustNoErr(t, err)
	if u.Initiator != "" {
		t.Fatalf("initiator %q recorded at cluster version 1", u.Initiator)
	}
	mustNoErr(t, s.SetClusterVersion(ctx, ClusterVersion2))
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u2", Created: t0, Initiator: "t1/eve"}))
	if u, err = s.GetUpload(ctx, "t1", "c1", "k", "u2"); err != nil || u.Initiator != "t1/eve" {
		t.Fatalf("initiator at cluster version 2: %q %v", u.Initiator, err)
	}
}
