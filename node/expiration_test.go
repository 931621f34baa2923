package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

// TestExpirationOfEveryVersion: x-amz-expiration (ArtifactInfo.Expiration)
// is reported for a version read by its id too: the current-version rule
// for the latest, the noncurrent-version rule for older ones, counted from
// when the next newer version was written, and none for a version a
// NewerNoncurrentVersions rule keeps. The engine expires exactly the
// versions on the dates the header announced.
func TestExpirationOfEveryVersion(t *testing.T) {
	n, clock, _ := startLifecycleNode(t, "")
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "ver")
	if err := e.SetVersioning(ctx, tenant, "ver", node.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	// Four versions (and another key with the same prefix); the newest
	// noncurrent one is kept.
	var vs []node.ArtifactInfo
	for i := range 4 {
		vs = append(vs, put(t, e, "ver", "k", []byte{byte('a' + i)}))
		put(t, e, "ver", "k0", []byte("another key with the prefix"))
	}
	setRules(t, e, "ver",
		node.LifecycleRule{ID: "cur", Enabled: true, Expiration: &node.LifecycleExpiration{Days: 30}},
		node.LifecycleRule{ID: "nc", Enabled: true, NoncurrentExpiration: &node.NoncurrentExpiration{NoncurrentDays: 2, NewerNoncurrentVersions: 1}})
	head := func(v string) *node.Expiration {
		t.Helper()
		info, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "ver", Key: "k", VersionID: v})
		if err != nil {
			t.Fatal(err)
		}
		return info.Expiration
	}
	// The latest, by id and without: the current-version rule.
	for _, v := range []string{"", vs[3].VersionID} {
		if x := head(v); x == nil || x.RuleID != "cur" || !x.Date.After(vs[3].Modified.Add(29*24*time.Hour)) {
			t.Fatalf("latest (%q): %+v", v, x)
		}
	}
	// vs[2] is the newest noncurrent version: kept by NewerNoncurrentVersions.
	if x := head(vs[2].VersionID); x != nil {
		t.Fatalf("kept version: %+v", x)
	}
	// vs[1] and vs[0]: 2 days after their successor was written, rounded
	// up to midnight UTC.
	for _, i := range []int{0, 1} {
		x := head(vs[i].VersionID)
		want := vs[i+1].Modified.Add(2 * 24 * time.Hour).UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
		if x == nil || x.RuleID != "nc" || !x.Date.Equal(want) {
			t.Fatalf("version %d: %+v, want %v", i, x, want)
		}
	}
	// The engine agrees: before those dates nothing goes; after them
	// vs[0] and vs[1] are gone, vs[2] is kept.
	for _, day := range []int{0, 3} {
		clock.days(day)
		runPass(t, e)
		for i, v := range vs {
			_, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "ver", Key: "k", VersionID: v.VersionID})
			if gone := err != nil; gone != (day > 0 && i < 2) {
				t.Fatalf("after a pass on day %d, version %d: %v", day, i, err)
			}
		}
	}
}
