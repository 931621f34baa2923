package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/mem"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// lcClock is a clock tests move forward by days.
type lcClock struct{ skew atomic.Int64 }

func (c *lcClock) now() time.Time { return time.Now().Add(time.Duration(c.skew.Load())) }
func (c *lcClock) days(n int)     { c.skew.Add(int64(time.Duration(n) * 24 * time.Hour)) }

// auditLog collects the engine's audited actions.
type auditLog struct {
	mu   sync.Mutex
	acts []node.LifecycleAction
}

func (a *auditLog) add(x node.LifecycleAction) {
	a.mu.Lock()
	a.acts = append(a.acts, x)
	a.mu.Unlock()
}
func (a *auditLog) list() []node.LifecycleAction {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]node.LifecycleAction(nil), a.acts...)
}

// startLifecycleNode starts a node whose engine and metastore share a
// clock the test moves, and whose lifecycle loop does not run by itself
// (the test runs passes with RunLifecycle).
func startLifecycleNode(t *testing.T, dir string) (*nodetest.Node, *lcClock, *auditLog) {
	clock, audit := &lcClock{}, &auditLog{}
	n := nodetest.StartNode(t, nodetest.Options{Dir: dir, GCDelay: time.Millisecond, MinPartSize: 1, Now: clock.now, MetaNow: clock.now,
		Tune: func(c *node.Config) { c.LifecycleInterval = -1; c.LifecycleAudit = audit.add }})
	return n, clock, audit
}

func setRules(t *testing.T, e *node.Engine, container string, rules ...node.LifecycleRule) {
	t.Helper()
	if err := e.SetLifecycleConfiguration(context.Background(), tenant, container, node.LifecycleConfig{Rules: rules}); err != nil {
		t.Fatal(err)
	}
}

func runPass(t *testing.T, e *node.Engine) {
	t.Helper()
	if err := e.RunLifecycle(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// keysOf lists a container's versions as "key@version" (version "" for
// the null version, "M" suffix for delete markers), newest first per key.
func keysOf(t *testing.T, e *node.Engine, container string) []string {
	t.Helper()
	l, err := e.ListVersions(context.Background(), tenant, container, node.VersionListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, v := range l.Versions {
		s := v.Key + "@" + v.VersionID
		if v.DeleteMarker {
			s += "M"
		}
		out = append(out, s)
	}
	return out
}

func TestLifecycleExpirePlainContainer(t *testing.T) {
	n, clock, audit := startLifecycleNode(t, "")
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "plain")
	data := randBytes(1, 40<<10) // in shards
	put(t, e, "plain", "logs/a", data)
	put(t, e, "plain", "logs/b", []byte("small"))
	put(t, e, "plain", "keep/c", data)
	put(t, e, "plain", "logs/big", randBytes(2, 100<<10))
	setRules(t, e, "plain",
		node.LifecycleRule{ID: "logs", Enabled: true, Filter: node.LifecycleFilter{Prefix: "logs/", SizeLessThan: 64 << 10}, Expiration: &node.LifecycleExpiration{Days: 3}},
		node.LifecycleRule{ID: "off", Filter: node.LifecycleFilter{Prefix: "keep/"}, Expiration: &node.LifecycleExpiration{Days: 1}})

	info, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "plain", Key: "logs/a"})
	if err != nil || info.Expiration == nil || info.Expiration.RuleID != "logs" || info.Expiration.Date.Sub(clock.now()) < 3*24*time.Hour || info.Expiration.Date.Sub(clock.now()) > 4*24*time.Hour {
		t.Fatalf("expiration of logs/a = %+v, %v", info.Expiration, err)
	}
	runPass(t, e)
	clock.days(2)
	runPass(t, e)
	if got := keysOf(t, e, "plain"); len(got) != 4 {
		t.Fatalf("after 2 days: %v", got)
	}
	clock.days(2)
	runPass(t, e)
	if got := keysOf(t, e, "plain"); fmt.Sprint(got) != "[keep/c@ logs/big@]" {
		t.Fatalf("after 4 days: %v", got)
	}
	u, err := e.TenantUsage(ctx, tenant)
	if err != nil || u.Bytes != int64(len(data))+100<<10 || u.Artifacts != 2 {
		t.Fatalf("usage after expiry: %+v, %v", u, err)
	}
	st := e.Stats()
	if st.LifecycleExpired != 2 || st.LifecycleExpiredBytes != int64(len(data))+5 || st.LifecycleFailures != 0 {
		t.Fatalf("stats: %+v", st)
	}
	acts := audit.list()
	sort.Slice(acts, func(i, j int) bool { return acts[i].Key < acts[j].Key })
	if len(acts) != 2 || acts[0].Key != "logs/a" || acts[0].Action != "expire" || acts[0].Rule != "logs" || acts[0].Err != nil {
		t.Fatalf("audited: %+v", acts)
	}
	// A pass with nothing due does nothing more.
	runPass(t, e)
	if e.Stats().LifecycleExpired != 2 {
		t.Fatal("a second pass expired again")
	}
}

func TestLifecycleVersionedContainer(t *testing.T) {
	n, clock, _ := startLifecycleNode(t, "")
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "ver")
	if err := e.SetVersioning(ctx, tenant, "ver", node.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	// cur: one version, expired into a delete marker.
	put(t, e, "ver", "cur", []byte("1"))
	// nc: three versions; noncurrent ones go one day after they were
	// replaced, but the newest noncurrent one is kept.
	put(t, e, "ver", "nc", []byte("1"))
	put(t, e, "ver", "nc", []byte("2"))
	put(t, e, "ver", "nc", []byte("3"))
	// dm: a delete marker whose only version is removed by hand.
	v := put(t, e, "ver", "dm", []byte("x"))
	if _, err := e.DeleteArtifact(ctx, tenant, node.DeleteInput{Container: "ver", Key: "dm"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.DeleteArtifact(ctx, tenant, node.DeleteInput{Container: "ver", Key: "dm", VersionID: v.VersionID}); err != nil {
		t.Fatal(err)
	}
	setRules(t, e, "ver",
		node.LifecycleRule{ID: "cur", Enabled: true, Filter: node.LifecycleFilter{Prefix: "cur"}, Expiration: &node.LifecycleExpiration{Days: 5}},
		node.LifecycleRule{ID: "nc", Enabled: true, Filter: node.LifecycleFilter{Prefix: "nc"}, NoncurrentExpiration: &node.NoncurrentExpiration{NoncurrentDays: 1, NewerNoncurrentVersions: 1}},
		node.LifecycleRule{ID: "dm", Enabled: true, Filter: node.LifecycleFilter{Prefix: "dm"}, Expiration: &node.LifecycleExpiration{ExpiredObjectDeleteMarker: true}})

	runPass(t, e) // the marker of dm goes at once; nothing else is due
	count := func(prefix string) (versions, markers int) {
		for _, s := range keysOf(t, e, "ver") {
			if len(s) >= len(prefix) && s[:len(prefix)] == prefix {
				if s[len(s)-1] == 'M' {
					markers++
				} else {
					versions++
				}
			}
		}
		return
	}
	if v, m := count("dm@"); v+m != 0 {
		t.Fatalf("the lone delete marker survived: %v", keysOf(t, e, "ver"))
	}
	if v, _ := count("nc@"); v != 3 {
		t.Fatalf("noncurrent versions expired early: %v", keysOf(t, e, "ver"))
	}
	clock.days(2)
	runPass(t, e)
	if v, _ := count("nc@"); v != 2 {
		t.Fatalf("after 2 days, nc: %v (want the current and the newest noncurrent)", keysOf(t, e, "ver"))
	}
	if got := string(read(t, e, "ver", "nc", 0, -1)); got != "3" {
		t.Fatalf("nc reads %q", got)
	}
	if v, m := count("cur@"); v != 1 || m != 0 {
		t.Fatalf("cur expired early: %v", keysOf(t, e, "ver"))
	}
	clock.days(4)
	runPass(t, e)
	if v, m := count("cur@"); v != 1 || m != 1 {
		t.Fatalf("after 6 days, cur: %v (want a delete marker over the version)", keysOf(t, e, "ver"))
	}
	if _, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "ver", Key: "cur"}); !errors.Is(err, node.ErrArtifactNotFound) {
		t.Fatalf("HEAD of the expired key: %v", err)
	}
	before := e.Stats().LifecycleExpired
	clock.days(1)
	runPass(t, e) // the marker is latest: not expired again
	if v, m := count("cur@"); v != 1 || m != 1 || e.Stats().LifecycleExpired != before {
		t.Fatalf("a second expiry of cur: %v", keysOf(t, e, "ver"))
	}
}

// TestLifecycleLockedVersionsSurvive: a version under retention or legal
// hold is never expired; it goes once the lock ends.
func TestLifecycleLockedVersionsSurvive(t *testing.T) {
	n, clock, _ := startLifecycleNode(t, "")
	e, ctx := n.Engine, context.Background()
	if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "locked", ObjectLock: true}); err != nil {
		t.Fatal(err)
	}
	until := clock.now().Add(10 * 24 * time.Hour)
	for _, k := range []string{"ret", "hold"} {
		in := node.PutInput{Container: "locked", Key: k, Body: bytes.NewReader([]byte("v1")), Size: 2}
		if k == "ret" {
			in.Retention = node.Retention{Mode: metastore.LockCompliance, Until: until}
		} else {
			in.LegalHold = true
		}
		if _, err := e.PutArtifact(ctx, tenant, in); err != nil {
			t.Fatal(err)
		}
		put(t, e, "locked", k, []byte("v2"))
	}
	setRules(t, e, "locked", node.LifecycleRule{ID: "nc", Enabled: true, NoncurrentExpiration: &node.NoncurrentExpiration{NoncurrentDays: 1}})
	clock.days(3)
	runPass(t, e)
	if got := keysOf(t, e, "locked"); len(got) != 4 {
		t.Fatalf("locked noncurrent versions expired: %v", got)
	}
	if st := e.Stats(); st.LifecycleLocked != 2 || st.LifecycleExpired != 0 || st.LifecycleFailures != 0 {
		t.Fatalf("stats: %+v", st)
	}
	clock.days(10) // the retention ended; the legal hold stays
	runPass(t, e)
	if got := keysOf(t, e, "locked"); len(got) != 3 {
		t.Fatalf("after the retention: %v", got)
	}
}

func TestLifecycleAbortUploads(t *testing.T) {
	n, clock, audit := startLifecycleNode(t, "")
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "mpu")
	part := randBytes(3, 32<<10)
	var ids []string
	for _, k := range []string{"tmp/a", "tmp/b", "other"} {
		up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "mpu", Key: k})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.UploadPart(ctx, tenant, node.PartInput{Container: "mpu", Key: k, UploadID: up.UploadID, Number: 1, Body: bytes.NewReader(part), Size: int64(len(part))}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, up.UploadID)
	}
	setRules(t, e, "mpu", node.LifecycleRule{ID: "mpu", Enabled: true, Filter: node.LifecycleFilter{Prefix: "tmp/"}, AbortUploadDays: 2})
	clock.days(1)
	runPass(t, e)
	if u, _ := e.TenantUsage(ctx, tenant); u.UploadBytes != 3*int64(len(part)) {
		t.Fatalf("aborted early: %+v", u)
	}
	clock.days(2)
	runPass(t, e)
	u, err := e.TenantUsage(ctx, tenant)
	if err != nil || u.UploadBytes != int64(len(part)) {
		t.Fatalf("quota not released: %+v, %v", u, err)
	}
	l, err := e.ListUploads(ctx, tenant, "mpu", node.UploadListOptions{})
	if err != nil || len(l.Uploads) != 1 || l.Uploads[0].Key != "other" {
		t.Fatalf("uploads left: %+v, %v", l, err)
	}
	if st := e.Stats(); st.LifecycleAborted != 2 {
		t.Fatalf("stats: %+v", st)
	}
	acts := audit.list()
	if len(acts) != 2 || acts[0].Action != "abort-upload" {
		t.Fatalf("audited: %+v", acts)
	}
}

// TestLifecycleNewRuleWithinOneCycle: a rule set after a pass applies to
// the existing artifacts at the next step, without waiting for a day.
func TestLifecycleNewRuleWithinOneCycle(t *testing.T) {
	n, clock, _ := startLifecycleNode(t, "")
	e := n.Engine
	mustContainer(t, e, "late")
	put(t, e, "late", "old", []byte("x"))
	setRules(t, e, "late", node.LifecycleRule{ID: "none", Enabled: true, Filter: node.LifecycleFilter{Prefix: "zzz"}, Expiration: &node.LifecycleExpiration{Days: 1}})
	clock.days(3)
	runPass(t, e)
	runPass(t, e) // idle: nothing due, no pass
	setRules(t, e, "late", node.LifecycleRule{ID: "all", Enabled: true, Expiration: &node.LifecycleExpiration{Days: 1}})
	more, err := e.LifecycleStep(context.Background())
	if err != nil || more {
		t.Fatalf("step: %v, %v", more, err)
	}
	if got := keysOf(t, e, "late"); len(got) != 0 {
		t.Fatalf("the new rule did not apply in one cycle: %v", got)
	}
}

// TestLifecycleResumesAfterRestart: the walk's position is in the
// metastore; a node restarted mid-pass resumes there, and every artifact
// is expired exactly once.
func TestLifecycleResumesAfterRestart(t *testing.T) {
	dir := t.TempDir()
	n, clock, audit := startLifecycleNode(t, dir)
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "many")
	const keys = 25
	for i := range keys {
		put(t, e, "many", fmt.Sprintf("k%02d", i), []byte{byte(i)})
	}
	setRules(t, e, "many", node.LifecycleRule{ID: "all", Enabled: true, Expiration: &node.LifecycleExpiration{Days: 1}})
	clock.days(2)
	e.SetLifecycleBatch(10)
	more, err := e.LifecycleStep(ctx)
	if err != nil || !more {
		t.Fatalf("first step: more %v, %v", more, err)
	}
	first := len(audit.list())
	if first != 10 {
		t.Fatalf("first step expired %d", first)
	}
	skew := clock.skew.Load()
	n.Close()

	n2, clock2, audit2 := startLifecycleNode(t, dir)
	clock2.skew.Store(skew)
	n2.Engine.SetLifecycleBatch(10)
	runPass(t, n2.Engine)
	if got := keysOf(t, n2.Engine, "many"); len(got) != 0 {
		t.Fatalf("left after the resumed pass: %v", got)
	}
	if second := len(audit2.list()); first+second != keys {
		t.Fatalf("expired %d then %d, want %d in all (each once)", first, second, keys)
	}
}

// TestLifecycleDeleteIsConditional: the metastore refuses an action on a
// version that changed since the engine chose it.
func TestLifecycleDeleteIsConditional(t *testing.T) {
	n, _, _ := startLifecycleNode(t, "")
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "cond")
	old := put(t, e, "cond", "k", []byte("a"))
	time.Sleep(time.Millisecond)
	put(t, e, "cond", "k", []byte("b")) // overwritten after the choice
	_, err := n.Meta.LifecycleDelete(ctx, metastore.LifecycleDeleteInput{Tenant: tenant, Container: "cond", Key: "k", Created: old.Modified})
	if !errors.Is(err, metastore.ErrPreconditionFailed) {
		t.Fatalf("delete of a changed version: %v", err)
	}
	if got := string(read(t, e, "cond", "k", 0, -1)); got != "b" {
		t.Fatalf("k reads %q", got)
	}
}

// TestLifecycleTransitionHook: due transitions go to the Transitioner
// installed, with the tier the resolver names.
func TestLifecycleTransitionHook(t *testing.T) {
	n, clock, _ := startLifecycleNode(t, "")
	e := n.Engine
	mustContainer(t, e, "cold")
	put(t, e, "cold", "a", randBytes(4, 40<<10))
	put(t, e, "cold", "inline", []byte("x")) // kept in its record: stays local
	e.SetTierResolver(tierMap{"GLACIER": "lyve"})
	setRules(t, e, "cold", node.LifecycleRule{ID: "t", Enabled: true, Transitions: []node.LifecycleTransition{{Days: 2, StorageClass: "GLACIER"}}})
	rec := &recordingTransitioner{}
	e.SetTransitioner(rec)
	clock.days(1)
	runPass(t, e)
	if len(rec.got) != 0 {
		t.Fatalf("transition before it was due: %+v", rec.got)
	}
	clock.days(2)
	runPass(t, e)
	if len(rec.got) != 1 || rec.got[0].Key != "a" || rec.got[0].Tier != "lyve" || rec.got[0].StorageClass != "GLACIER" || rec.got[0].Rule != "t" {
		t.Fatalf("transitions: %+v", rec.got)
	}
	if e.Stats().LifecycleTransitioned != 1 {
		t.Fatalf("stats: %+v", e.Stats())
	}
}

type tierMap map[string]string

func (m tierMap) TierForClass(c string) (string, bool) { t, ok := m[c]; return t, ok }

type recordingTransitioner struct {
	mu  sync.Mutex
	got []node.Transition
}

func (r *recordingTransitioner) Transition(_ context.Context, t node.Transition) error {
	r.mu.Lock()
	r.got = append(r.got, t)
	r.mu.Unlock()
	return nil
}

// TestLifecycleTransitionsToTier: without a hook, due transitions move
// versions with the tiers' own protocol to the tier that names the
// storage class; the artifact reads back the same.
func TestLifecycleTransitionsToTier(t *testing.T) {
	remote := mem.New()
	clock := &lcClock{}
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond, Now: clock.now, MetaNow: clock.now,
		Tune: func(c *node.Config) {
			c.LifecycleInterval = -1
			c.TierOpener = func(metastore.Tier, string) (drivers.Driver, error) { return remote, nil }
		}})
	e, ctx := n.Engine, context.Background()
	mustContainer(t, e, "tiered")
	data := randBytes(9, 300<<10)
	put(t, e, "tiered", "old/a", data)
	put(t, e, "tiered", "new/b", data)
	rule := node.LifecycleRule{ID: "cold", Enabled: true, Filter: node.LifecycleFilter{Prefix: "old/"}, Transitions: []node.LifecycleTransition{{Days: 2, StorageClass: "GLACIER"}}}
	if err := e.SetLifecycleConfiguration(ctx, tenant, "tiered", node.LifecycleConfig{Rules: []node.LifecycleRule{rule}}); !errors.Is(err, node.ErrInvalidArgument) {
		t.Fatalf("a transition with no tier: %v", err)
	}
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "lyve", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK", StorageClasses: []string{"GLACIER"}}, "s"); err != nil {
		t.Fatal(err)
	}
	setRules(t, e, "tiered", rule)
	clock.days(3)
	runPass(t, e)
	a, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "tiered", Key: "old/a"})
	if err != nil || a.StorageClass != "GLACIER" {
		t.Fatalf("old/a after the pass: class %q, %v", a.StorageClass, err)
	}
	b, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "tiered", Key: "new/b"})
	if err != nil || b.StorageClass != "" {
		t.Fatalf("new/b moved: class %q, %v", b.StorageClass, err)
	}
	if len(remoteObjects(t, remote)) == 0 {
		t.Fatal("nothing on the tier")
	}
	if got := read(t, e, "tiered", "old/a", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("the transitioned artifact reads back other bytes")
	}
	if st := e.Stats(); st.LifecycleTransitioned != 1 || st.LifecycleFailures != 0 {
		t.Fatalf("stats: %+v", st)
	}
	clock.days(1)
	runPass(t, e) // already on the tier: not moved again
	if st := e.Stats(); st.LifecycleTransitioned != 1 {
		t.Fatalf("moved twice: %+v", st)
	}
}

// TestLifecycleIdleWithoutRules: with no rules anywhere the engine walks
// nothing and commits nothing, day after day.
func TestLifecycleIdleWithoutRules(t *testing.T) {
	n, clock, _ := startLifecycleNode(t, "")
	e := n.Engine
	mustContainer(t, e, "norules")
	put(t, e, "norules", "k", []byte("x"))
	before := n.Meta.AppliedIndex()
	for range 3 {
		clock.days(10)
		runPass(t, e)
	}
	if e.LifecyclePasses() != 0 || n.Meta.AppliedIndex() != before {
		t.Fatalf("passes %d, applied index %d -> %d", e.LifecyclePasses(), before, n.Meta.AppliedIndex())
	}
}
