package metastore

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

func remoteParts(tier string, ids ...string) []Part {
	var out []Part
	for _, id := range ids {
		out = append(out, Part{Number: 1, Size: 100, ETag: "e", Created: t0,
			Blob: Blob{ID: id, K: 1, BlockSize: 1 << 20, Shards: []ShardLoc{{Drive: TierDrive(tier)}}}})
	}
	return out
}

func TestTierRecordsSealSecret(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	tr := Tier{Name: "cold", Type: "s3", Endpoint: "http://127.0.0.1:1", Bucket: "b", AccessKey: "AK", StorageClasses: []string{"GLACIER_IR"}, Created: t0}
	mustNoErr(t, s.PutTier(ctx, tr, "very-secret-key", true))
	wantErr(t, s.PutTier(ctx, tr, "x", true), ErrExists)
	wantErr(t, s.PutTier(ctx, Tier{Name: "a/b"}, "x", true), ErrInvalidArgument)
	wantErr(t, s.PutTier(ctx, Tier{Name: "nope"}, "x", false), ErrNotFound)
	got, secret, err := s.GetTier(ctx, "cold")
	mustNoErr(t, err)
	if secret != "very-secret-key" || got.Bucket != "b" || got.StorageClass() != "GLACIER_IR" {
		t.Fatalf("GetTier = %+v %q", got, secret)
	}
	raw, err := getCopy(s.db, tierKey("cold"))
	mustNoErr(t, err)
	if bytes.Contains(raw, []byte("very-secret-key")) {
		t.Fatal("the tier record holds the secret in the clear")
	}
	// Rotation replaces the secret.
	tr.AccessKey = "AK2"
	mustNoErr(t, s.PutTier(ctx, tr, "second", false))
	if got, secret, _ = s.GetTier(ctx, "cold"); secret != "second" || got.AccessKey != "AK2" {
		t.Fatalf("after edit: %+v %q", got, secret)
	}
	tiers, usage, err := s.ListTiers(ctx)
	mustNoErr(t, err)
	if len(tiers) != 1 || usage[0] != (TierUsage{}) {
		t.Fatalf("ListTiers = %+v %+v", tiers, usage)
	}
	mustNoErr(t, s.DeleteTier(ctx, "cold"))
	wantErr(t, s.DeleteTier(ctx, "cold"), ErrNotFound)
	if _, _, err := s.GetTier(ctx, "cold"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

// TestTransitionProtocol walks the metastore half of a transition and of a
// remote delete: intent, conditional commit, the journal entry a delete
// leaves, the tier that cannot go while it holds anything.
func TestTransitionProtocol(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	mustNoErr(t, s.PutTier(ctx, Tier{Name: "cold", Type: "s3"}, "k", true))
	a := artifact("k", 100, "local1")
	_, err := s.PutArtifact(ctx, a, Cond{})
	mustNoErr(t, err)

	to := remoteParts("cold", "remote1")
	tr := Transition{Tenant: "t1", Container: "c1", Key: "k", From: []string{"local1"}, To: to, Tier: "cold", StorageClass: "STANDARD_IA"}
	// Without an intent the transition is refused.
	_, err = s.Transition(ctx, tr)
	wantErr(t, err, ErrPreconditionFailed)
	mustNoErr(t, s.AddTierIntent(ctx, "cold", "remote1"))
	wantErr(t, s.AddTierIntent(ctx, "nope", "remote9"), ErrNotFound)
	// A version that changed since the copy started is not moved.
	bad := tr
	bad.From = []string{"other"}
	_, err = s.Transition(ctx, bad)
	wantErr(t, err, ErrPreconditionFailed)
	got, err := s.Transition(ctx, tr)
	mustNoErr(t, err)
	if got.Tier != "cold" || got.StorageClass != "STANDARD_IA" || got.Parts[0].Blob.ID != "remote1" {
		t.Fatalf("transitioned record = %+v", got)
	}
	if live, _ := s.BlobLive(ctx, "local1"); live {
		t.Fatal("the local blob is still referenced")
	}
	j, err := s.TierJournal(ctx, 0)
	mustNoErr(t, err)
	if len(j) != 0 {
		t.Fatalf("journal after commit = %+v", j)
	}
	_, usage, _ := s.ListTiers(ctx)
	if usage[0] != (TierUsage{Artifacts: 1, Bytes: 100}) {
		t.Fatalf("usage = %+v", usage[0])
	}
	wantErr(t, s.DeleteTier(ctx, "cold"), ErrTierInUse)

	// An overwrite drops the remote blob: a doomed entry, same batch.
	_, err = s.PutArtifact(ctx, artifact("k", 5, "local2"), Cond{})
	mustNoErr(t, err)
	j, _ = s.TierJournal(ctx, 0)
	if len(j) != 1 || j[0].Blob != "remote1" || j[0].State != JournalDoomed || j[0].Bytes != 100 || j[0].Artifacts != 1 {
		t.Fatalf("journal after overwrite = %+v", j)
	}
	wantErr(t, s.DeleteTier(ctx, "cold"), ErrTierInUse)
	mustNoErr(t, s.ClearTierJournal(ctx, "remote1", true))
	_, usage, _ = s.ListTiers(ctx)
	if usage[0] != (TierUsage{}) {
		t.Fatalf("usage after the remote delete = %+v", usage[0])
	}

	// An abandoned intent: doomed only once older than the cutoff, after
	// which its transition can no longer commit.
	mustNoErr(t, s.AddTierIntent(ctx, "cold", "remote2"))
	wantErr(t, s.DoomTierIntent(ctx, "remote2", t0), ErrPreconditionFailed)
	wantErr(t, s.ClearTierJournal(ctx, "remote2", false), ErrPreconditionFailed)
	mustNoErr(t, s.DoomTierIntent(ctx, "remote2", time.Now().Add(time.Hour)))
	tr2 := Transition{Tenant: "t1", Container: "c1", Key: "k", From: []string{"local2"}, To: remoteParts("cold", "remote2"), Tier: "cold"}
	tr2.To[0].Size = 5
	_, err = s.Transition(ctx, tr2)
	wantErr(t, err, ErrPreconditionFailed)
	mustNoErr(t, s.ClearTierJournal(ctx, "remote2", true))
	mustNoErr(t, s.DeleteTier(ctx, "cold"))
}

func TestTierCommandsNeedClusterVersion2(t *testing.T) {
	s := openAtV1(t)
	ctx := ctxT(t)
	wantErr(t, s.PutTier(ctx, Tier{Name: "cold"}, "k", true), ErrUpgradeRequired)
	wantErr(t, s.AddTierIntent(ctx, "cold", "b"), ErrUpgradeRequired)
}
