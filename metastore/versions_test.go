package metastore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
)

// --- a model of S3 versioning: each key's versions, newest first ---

type mVersion struct {
	id     string // "" for the null version
	marker bool
	size   int64
	blob   string
}

type vModel struct {
	state string
	keys  map[string][]mVersion
}

func (m *vModel) dropNull(key string) (removed *mVersion) {
	vs := m.keys[key]
	for i, v := range vs {
		if v.id == "" {
			removed = &v
			m.keys[key] = slices.Delete(vs, i, i+1)
			return removed
		}
	}
	return nil
}

func (m *vModel) put(key string, v mVersion) (removed *mVersion) {
	switch m.state {
	case "":
		if vs := m.keys[key]; len(vs) > 0 {
			removed = &vs[0]
		}
		m.keys[key] = []mVersion{v}
	case VersioningEnabled:
		m.keys[key] = append([]mVersion{v}, m.keys[key]...)
	case VersioningSuspended:
		removed = m.dropNull(key)
		m.keys[key] = append([]mVersion{v}, m.keys[key]...)
	}
	return removed
}

func (m *vModel) delete(key string, marker mVersion) (removed *mVersion, created bool) {
	switch m.state {
	case "":
		if vs := m.keys[key]; len(vs) > 0 {
			removed = &vs[0]
			delete(m.keys, key)
		}
		return removed, false
	case VersioningSuspended:
		removed = m.dropNull(key)
	}
	m.keys[key] = append([]mVersion{marker}, m.keys[key]...)
	return removed, true
}

func (m *vModel) deleteVersion(key, id string) *mVersion {
	vs := m.keys[key]
	for i, v := range vs {
		if v.id == id || id == NullVersion && v.id == "" {
			m.keys[key] = slices.Delete(vs, i, i+1)
			if len(m.keys[key]) == 0 {
				delete(m.keys, key)
			}
			return &v
		}
	}
	return nil
}

func (m *vModel) sortedKeys() []string {
	var ks []string
	for k := range m.keys {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func (m *vModel) usage() Usage {
	var u Usage
	for _, vs := range m.keys {
		for _, v := range vs {
			if !v.marker {
				u.Bytes += v.size
				u.Artifacts++
			}
		}
	}
	return u
}

// listing is what ListVersions should return over all pages.
func (m *vModel) listing(prefix, delim string) (versions []string, prefixes []string) {
	seen := map[string]bool{}
	for _, k := range m.sortedKeys() {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					prefixes = append(prefixes, cp)
				}
				continue
			}
		}
		for i, v := range m.keys[k] {
			versions = append(versions, describe(k, v.id, v.marker, i == 0))
		}
	}
	return versions, prefixes
}

func describe(key, id string, marker, latest bool) string {
	if id == "" {
		id = NullVersion
	}
	return fmt.Sprintf("%s@%s marker=%v latest=%v", key, id, marker, latest)
}

// --- driving a store and the model together ---

type vHarness struct {
	t         testing.TB
	s         *Store
	ctx       context.Context
	tenant    string
	container string
	m         vModel
	blobN     int
	freed     map[string]bool // blobs the store said it freed
}

func newVHarness(t testing.TB, s *Store, container string) *vHarness {
	h := &vHarness{t: t, s: s, ctx: context.Background(), tenant: "t1", container: container,
		m: vModel{keys: map[string][]mVersion{}}, freed: map[string]bool{}}
	mustNoErr(t, s.CreateContainer(h.ctx, Container{Tenant: h.tenant, Name: container, Created: t0}))
	return h
}

func (h *vHarness) setVersioning(state string) {
	_, err := h.s.ChangeContainer(h.ctx, ContainerChange{Tenant: h.tenant, Name: h.container, SetVersioning: true, Versioning: state})
	mustNoErr(h.t, err)
	h.m.state = state
}

func (h *vHarness) noteFreed(r WriteResult, removed *mVersion) {
	h.t.Helper()
	var got []string
	for _, p := range r.Freed {
		got = append(got, p.Blob.ID)
		h.freed[p.Blob.ID] = true
	}
	var want []string
	if removed != nil && removed.blob != "" {
		want = []string{removed.blob}
	}
	if !reflect.DeepEqual(got, want) {
		h.t.Fatalf("freed %v, want %v", got, want)
	}
	if (r.Removed == nil) != (removed == nil) {
		h.t.Fatalf("removed %+v, model removed %+v", r.Removed, removed)
	}
	if removed != nil && r.Removed.VersionID != removed.id {
		h.t.Fatalf("removed version %q, model %q", r.Removed.VersionID, removed.id)
	}
}

func (h *vHarness) put(key string, size int64) {
	h.t.Helper()
	h.blobN++
	blob := fmt.Sprintf("blob-%s-%d", h.container, h.blobN)
	a := Artifact{Tenant: h.tenant, Container: h.container, Key: key, Size: size, ETag: md5hex(blob), Created: t0,
		Parts: []Part{{Number: 0, Size: size, ETag: md5hex(blob), Created: t0, Blob: Blob{ID: blob, K: 1}}}}
	r, err := h.s.PutVersion(h.ctx, a, Cond{})
	mustNoErr(h.t, err)
	id := r.Version.VersionID
	switch h.m.state {
	case VersioningEnabled:
		if _, ok := parseVersionID(id); !ok {
			h.t.Fatalf("versioned put got version id %q", id)
		}
	default:
		if id != "" {
			h.t.Fatalf("put in state %q got version id %q", h.m.state, id)
		}
	}
	removed := h.m.put(key, mVersion{id: id, size: size, blob: blob})
	h.noteFreed(r, removed)
}

func (h *vHarness) delete(key string) {
	h.t.Helper()
	r, err := h.s.DeleteVersion(h.ctx, DeleteInput{Tenant: h.tenant, Container: h.container, Key: key})
	mustNoErr(h.t, err)
	var marker mVersion
	if r.Version != nil {
		if !r.Version.DeleteMarker {
			h.t.Fatalf("delete created a version that is no marker: %+v", r.Version)
		}
		marker = mVersion{id: r.Version.VersionID, marker: true}
	}
	removed, created := h.m.delete(key, marker)
	if created != (r.Version != nil) {
		h.t.Fatalf("delete in state %q: marker %+v", h.m.state, r.Version)
	}
	h.noteFreed(r, removed)
}

func (h *vHarness) deleteVersion(key, id string) {
	h.t.Helper()
	r, err := h.s.DeleteVersion(h.ctx, DeleteInput{Tenant: h.tenant, Container: h.container, Key: key, HasVersion: true, VersionID: id})
	mustNoErr(h.t, err)
	if r.Version != nil {
		h.t.Fatalf("delete by version created %+v", r.Version)
	}
	removed := h.m.deleteVersion(key, id)
	h.noteFreed(r, removed)
}

// check compares everything readable with the model.
func (h *vHarness) check(pageSize int) {
	h.t.Helper()
	ctx := h.ctx
	for _, delim := range []string{"", "/"} {
		for _, prefix := range []string{"", "a"} {
			wantV, wantP := h.m.listing(prefix, delim)
			var gotV, gotP []string
			o := VersionListOptions{Prefix: prefix, Delimiter: delim, MaxKeys: pageSize}
			for pages := 0; ; pages++ {
				if pages > 1000 {
					h.t.Fatal("listing does not end")
				}
				res, err := h.s.ListVersions(ctx, h.tenant, h.container, o)
				mustNoErr(h.t, err)
				if n := len(res.Versions) + len(res.CommonPrefixes); n > pageSize || res.Truncated && n != pageSize {
					h.t.Fatalf("page of %d entries (max %d, truncated %v)", n, pageSize, res.Truncated)
				}
				for _, v := range res.Versions {
					gotV = append(gotV, describe(v.Key, v.VersionID, v.DeleteMarker, v.IsLatest))
				}
				gotP = append(gotP, res.CommonPrefixes...)
				if !res.Truncated {
					break
				}
				o.KeyMarker, o.VersionIDMarker = res.NextKeyMarker, res.NextVersionIDMarker
			}
			if !reflect.DeepEqual(gotV, wantV) || !reflect.DeepEqual(gotP, wantP) {
				h.t.Fatalf("ListVersions(prefix %q, delimiter %q, pages of %d):\n got %q %q\nwant %q %q", prefix, delim, pageSize, gotV, gotP, wantV, wantP)
			}
		}
	}
	// The current artifacts list as ListObjects.
	res, err := h.s.ListArtifacts(ctx, h.tenant, h.container, ListOptions{})
	mustNoErr(h.t, err)
	var gotCur, wantCur []string
	for _, a := range res.Artifacts {
		gotCur = append(gotCur, a.Key+"@"+a.VersionID)
	}
	for _, k := range h.m.sortedKeys() {
		if v := h.m.keys[k][0]; !v.marker {
			wantCur = append(wantCur, k+"@"+v.id)
		}
	}
	if !reflect.DeepEqual(gotCur, wantCur) {
		h.t.Fatalf("ListArtifacts = %q, want %q", gotCur, wantCur)
	}
	for _, k := range append(h.m.sortedKeys(), "never") {
		vs := h.m.keys[k]
		latest, err := h.s.GetLatest(ctx, h.tenant, h.container, k)
		switch {
		case len(vs) == 0:
			wantErr(h.t, err, ErrArtifactNotFound)
		default:
			mustNoErr(h.t, err)
			if latest.VersionID != vs[0].id || latest.DeleteMarker != vs[0].marker {
				h.t.Fatalf("GetLatest(%q) = %q marker=%v, want %+v", k, latest.VersionID, latest.DeleteMarker, vs[0])
			}
		}
		_, err = h.s.GetArtifact(ctx, h.tenant, h.container, k)
		if len(vs) == 0 || vs[0].marker {
			wantErr(h.t, err, ErrArtifactNotFound)
		} else {
			mustNoErr(h.t, err)
		}
		for _, v := range vs {
			id := v.id
			if id == "" {
				id = NullVersion
			}
			got, err := h.s.GetVersion(ctx, h.tenant, h.container, k, id)
			mustNoErr(h.t, err)
			if got.VersionID != v.id || got.DeleteMarker != v.marker || got.Size != v.size {
				h.t.Fatalf("GetVersion(%q, %s) = %+v, want %+v", k, id, got, v)
			}
			if v.blob != "" {
				live, err := h.s.BlobLive(ctx, v.blob)
				mustNoErr(h.t, err)
				if !live {
					h.t.Fatalf("blob %s of %s@%s not live", v.blob, k, id)
				}
			}
		}
	}
	for b := range h.freed {
		live, err := h.s.BlobLive(ctx, b)
		mustNoErr(h.t, err)
		if live {
			h.t.Fatalf("freed blob %s is still referenced", b)
		}
	}
	u, err := h.s.ContainerUsage(ctx, h.tenant, h.container)
	mustNoErr(h.t, err)
	if want := h.m.usage(); u.Bytes != want.Bytes || u.Artifacts != want.Artifacts {
		h.t.Fatalf("usage %+v, model %+v", u, want)
	}
}

// run applies the operations encoded in ops (two bytes each) to store and
// model, checking after every few.
func (h *vHarness) run(ops []byte, pageSize int) {
	keys := []string{"a", "a/x", "a/y", "b", "ab", "c/d/e"}
	for i := 0; i+1 < len(ops); i += 2 {
		op, arg := ops[i], ops[i+1]
		key := keys[int(arg)%len(keys)]
		switch op % 8 {
		case 0, 1, 2:
			h.put(key, int64(arg)+1)
		case 3:
			h.delete(key)
		case 4:
			if vs := h.m.keys[key]; len(vs) > 0 {
				id := vs[int(arg/8)%len(vs)].id
				if id == "" {
					id = NullVersion
				}
				h.deleteVersion(key, id)
			} else {
				h.deleteVersion(key, NullVersion)
			}
		case 5:
			h.deleteVersion(key, versionIDOf(uint64(arg)+1_000_000)) // no such version
		case 6:
			h.setVersioning(VersioningEnabled)
		case 7:
			if h.m.state != "" {
				h.setVersioning(VersioningSuspended)
			}
		}
		if i%8 == 6 || i+3 >= len(ops) {
			h.check(pageSize)
		}
	}
	h.check(pageSize)
}

func TestVersioningAgainstModel(t *testing.T) {
	s := openSingle(t, t.TempDir())
	mkContainer(t, s, "t1", "seed")
	// Hand-written sequences for the rules S3 documents, then random ones.
	t.Run("states", func(t *testing.T) {
		h := newVHarness(t, s, "states")
		h.put("a", 1) // null, unversioned
		h.put("a", 2) // replaces it
		h.check(2)
		h.setVersioning(VersioningEnabled)
		h.put("a", 3) // the null version becomes noncurrent
		h.put("a", 4)
		h.delete("a") // marker
		h.check(1)
		h.setVersioning(VersioningSuspended)
		h.put("a", 5) // a new null version replaces the old null
		h.check(2)
		h.delete("a") // null marker replaces the null version
		h.put("a", 6) // replaces the null marker
		h.delete("b") // a marker for a key that never existed
		h.check(3)
		h.setVersioning(VersioningEnabled)
		for _, v := range slices.Clone(h.m.keys["a"]) {
			id := v.id
			if id == "" {
				id = NullVersion
			}
			h.deleteVersion("a", id)
			h.check(2)
		}
	})
	r := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 12; i++ {
		t.Run(fmt.Sprintf("random%d", i), func(t *testing.T) {
			h := newVHarness(t, s, fmt.Sprintf("rnd%d", i))
			ops := make([]byte, 2*(20+r.IntN(60)))
			for j := range ops {
				ops[j] = byte(r.Uint32())
			}
			h.run(ops, 1+r.IntN(4))
		})
	}
}

func FuzzVersioning(f *testing.F) {
	f.Add([]byte{0, 0, 6, 0, 0, 0, 3, 0, 7, 0, 0, 0, 4, 0})
	f.Add([]byte{0, 1, 6, 1, 0, 1, 0, 2, 3, 1, 4, 9, 7, 0, 3, 1, 0, 1})
	s := openSingle(f, f.TempDir())
	n := 0
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 400 {
			return
		}
		n++
		h := newVHarness(t, s, fmt.Sprintf("fz%d", n))
		h.run(ops, 1+len(ops)%4)
	})
}

func TestListVersionsCostIsThePage(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	_, err := s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "c1", SetVersioning: true, Versioning: VersioningEnabled})
	mustNoErr(t, err)
	// 2,000 versions of one key and 500 keys of one version each.
	var ids []string
	for i := 0; i < 2000; i++ {
		r, err := s.PutVersion(ctx, artifact("hot", 1, ""), Cond{})
		mustNoErr(t, err)
		ids = append(ids, r.Version.VersionID)
	}
	for i := 0; i < 500; i++ {
		_, err := s.PutVersion(ctx, artifact(fmt.Sprintf("k%04d", i), 1, ""), Cond{})
		mustNoErr(t, err)
	}
	for _, o := range []VersionListOptions{
		{MaxKeys: 100},
		{MaxKeys: 100, KeyMarker: "hot", VersionIDMarker: ids[1000]},
		{MaxKeys: 100, KeyMarker: "hot", VersionIDMarker: ids[5]},
		{MaxKeys: 100, KeyMarker: "k0100"},
		{MaxKeys: 100, Delimiter: "0"}, // every k key rolls up into "k0"
	} {
		res, steps, err := listVersions(s.db, "t1", "c1", o)
		mustNoErr(t, err)
		n := len(res.Versions) + len(res.CommonPrefixes)
		if n == 0 || steps > n+6 {
			t.Fatalf("%+v: %d entries cost %d iterator steps", o, n, steps)
		}
	}
	// Resuming at a version id lists the next older ones.
	res, err := s.ListVersions(ctx, "t1", "c1", VersionListOptions{MaxKeys: 2, KeyMarker: "hot", VersionIDMarker: ids[1000]})
	mustNoErr(t, err)
	if res.Versions[0].VersionID != ids[999] || res.Versions[1].VersionID != ids[998] || res.Versions[0].IsLatest {
		t.Fatalf("page after %s: %+v", ids[1000], res.Versions)
	}
	_, err = s.ListVersions(ctx, "t1", "c1", VersionListOptions{KeyMarker: "hot", VersionIDMarker: "bogus"})
	wantErr(t, err, ErrInvalidArgument)
}

// --- object lock ---

func lockedStore(t *testing.T) (*Store, context.Context, *time.Time) {
	now := t0
	s := openSingle(t, t.TempDir(), func(c *Config) { c.Now = func() time.Time { return now } })
	ctx := ctxT(t)
	mustNoErr(t, s.CreateContainer(ctx, Container{Tenant: "t1", Name: "vault", Created: t0,
		VersioningState: VersioningEnabled, ObjectLock: ObjectLockConfig{Enabled: true}}))
	return s, ctx, &now
}

func TestObjectLockForbidsEveryRemoval(t *testing.T) {
	s, ctx, now := lockedStore(t)
	until := t0.Add(30 * 24 * time.Hour)
	a := artifact("backup", 10, "bk1")
	a.Container = "vault"
	a.Retention = Retention{Mode: LockCompliance, Until: until}
	r, err := s.PutVersion(ctx, a, Cond{})
	mustNoErr(t, err)
	id := r.Version.VersionID

	del := func(in DeleteInput) error {
		in.Tenant, in.Container, in.Key = "t1", "vault", "backup"
		_, err := s.DeleteVersion(ctx, in)
		return err
	}
	wantErr(t, del(DeleteInput{HasVersion: true, VersionID: id}), ErrObjectLocked)
	wantErr(t, del(DeleteInput{HasVersion: true, VersionID: id, BypassGovernance: true}), ErrObjectLocked)
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "vault", Key: "backup", HasVersion: true, VersionID: id,
		SetRetention: true, Retention: Retention{Mode: LockCompliance, Until: until.Add(-time.Hour)}})
	wantErr(t, err, ErrObjectLocked)
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "vault", Key: "backup", HasVersion: true, VersionID: id,
		SetRetention: true, Retention: Retention{Mode: LockGovernance, Until: until.Add(time.Hour)}, BypassGovernance: true})
	wantErr(t, err, ErrObjectLocked)
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "vault", Key: "backup", HasVersion: true, VersionID: id,
		SetRetention: true, BypassGovernance: true})
	wantErr(t, err, ErrObjectLocked)
	// Extending is allowed.
	until = until.Add(24 * time.Hour)
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "vault", Key: "backup", HasVersion: true, VersionID: id,
		SetRetention: true, Retention: Retention{Mode: LockCompliance, Until: until}})
	mustNoErr(t, err)
	// A plain delete only adds a marker; the version stays.
	mustNoErr(t, del(DeleteInput{}))
	got, err := s.GetVersion(ctx, "t1", "vault", "backup", id)
	mustNoErr(t, err)
	if got.Retention.Until != until {
		t.Fatalf("retention %v", got.Retention)
	}
	_, err = s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "vault", SetVersioning: true, Versioning: VersioningSuspended})
	wantErr(t, err, ErrInvalidContainerState)
	_, err = s.DeleteContainer(ctx, "t1", "vault")
	wantErr(t, err, ErrContainerNotEmpty)

	// After the date, the version can go.
	*now = until.Add(time.Second)
	mustNoErr(t, del(DeleteInput{HasVersion: true, VersionID: id}))
	_, err = s.GetVersion(ctx, "t1", "vault", "backup", id)
	wantErr(t, err, ErrNoSuchVersion)
}

func TestGovernanceAndLegalHold(t *testing.T) {
	s, ctx, now := lockedStore(t)
	_, err := s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "vault", SetObjectLock: true,
		ObjectLock: ObjectLockConfig{Enabled: true, Mode: LockGovernance, Days: 1}})
	mustNoErr(t, err)
	a := artifact("doc", 1, "d1")
	a.Container = "vault"
	a.Created = *now
	r, err := s.PutVersion(ctx, a, Cond{})
	mustNoErr(t, err)
	v := r.Version
	if v.Retention.Mode != LockGovernance || !v.Retention.Until.Equal(now.AddDate(0, 0, 1)) {
		t.Fatalf("default retention %+v", v.Retention)
	}
	in := DeleteInput{Tenant: "t1", Container: "vault", Key: "doc", HasVersion: true, VersionID: v.VersionID}
	_, err = s.DeleteVersion(ctx, in)
	wantErr(t, err, ErrObjectLocked)
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "vault", Key: "doc", SetLegalHold: true, LegalHold: true})
	mustNoErr(t, err)
	in.BypassGovernance = true
	_, err = s.DeleteVersion(ctx, in) // the legal hold holds whatever the bypass
	wantErr(t, err, ErrObjectLocked)
	_, err = s.UpdateVersion(ctx, VersionUpdate{Tenant: "t1", Container: "vault", Key: "doc", SetLegalHold: true, LegalHold: false})
	mustNoErr(t, err)
	_, err = s.DeleteVersion(ctx, in)
	mustNoErr(t, err)

	// Retention and legal hold need lock on the container.
	mkContainer(t, s, "t1", "plain")
	b := artifact("x", 1, "")
	b.Container = "plain"
	b.LegalHold = true
	_, err = s.PutVersion(ctx, b, Cond{})
	wantErr(t, err, ErrLockNotEnabled)
	_, err = s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "plain", SetObjectLock: true, ObjectLock: ObjectLockConfig{Enabled: true}})
	wantErr(t, err, ErrInvalidContainerState)
	_, err = s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "vault", SetObjectLock: true, ObjectLock: ObjectLockConfig{Enabled: false}})
	wantErr(t, err, ErrInvalidArgument)
}

func TestRetentionChangeRules(t *testing.T) {
	now := t0
	day := 24 * time.Hour
	g := func(d time.Duration) Retention { return Retention{Mode: LockGovernance, Until: now.Add(d)} }
	c := func(d time.Duration) Retention { return Retention{Mode: LockCompliance, Until: now.Add(d)} }
	for _, tc := range []struct {
		name     string
		old, new Retention
		bypass   bool
		want     error
	}{
		{"set on none", Retention{}, g(day), false, nil},
		{"extend governance", g(day), g(2 * day), false, nil},
		{"shorten governance", g(2 * day), g(day), false, ErrObjectLocked},
		{"shorten governance with bypass", g(2 * day), g(day), true, nil},
		{"remove governance", g(day), Retention{}, false, ErrObjectLocked},
		{"remove governance with bypass", g(day), Retention{}, true, nil},
		{"governance to compliance", g(day), c(day), false, nil},
		{"extend compliance", c(day), c(2 * day), false, nil},
		{"shorten compliance", c(2 * day), c(day), true, ErrObjectLocked},
		{"compliance to governance", c(day), g(2 * day), true, ErrObjectLocked},
		{"remove compliance", c(day), Retention{}, true, ErrObjectLocked},
		{"expired compliance", c(-day), g(day), false, nil},
		{"in the past", Retention{}, g(-day), false, ErrInvalidArgument},
		{"unknown mode", Retention{}, Retention{Mode: "FOREVER", Until: now.Add(day)}, false, ErrInvalidArgument},
	} {
		err := checkRetentionChange(tc.old, tc.new, now, tc.bypass)
		if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func TestRepeatedCompletionIsIdempotent(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	_, err := s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "c1", SetVersioning: true, Versioning: VersioningEnabled})
	mustNoErr(t, err)
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u1", Created: t0}))
	p := Part{Number: 1, Size: 5, ETag: md5hex("p"), Created: t0, Blob: blob("pb")}
	_, err = s.PutPart(ctx, "t1", "c1", "k", "u1", p)
	mustNoErr(t, err)
	in := CompleteInput{Tenant: "t1", Container: "c1", Key: "k", UploadID: "u1", Created: t0, Parts: []PartRef{{1, p.ETag}}}
	// Five racing completions: all succeed with the same version.
	type out struct {
		r   WriteResult
		err error
	}
	ch := make(chan out, 5)
	for i := 0; i < 5; i++ {
		go func() { r, err := s.CompleteUploadVersion(ctx, in); ch <- out{r, err} }()
	}
	var ids []string
	for i := 0; i < 5; i++ {
		o := <-ch
		mustNoErr(t, o.err)
		ids = append(ids, o.r.Version.VersionID+" "+o.r.Version.ETag)
	}
	for _, id := range ids[1:] {
		if id != ids[0] {
			t.Fatalf("completions answered %q", ids)
		}
	}
	// Once another version is current, the upload is gone for good.
	_, err = s.PutVersion(ctx, artifact("k", 1, ""), Cond{})
	mustNoErr(t, err)
	_, err = s.CompleteUploadVersion(ctx, in)
	wantErr(t, err, ErrUploadNotFound)
}

// A gated cluster (version 1) keeps writing with the first release's
// payloads, and versioning cannot be turned on.
func TestVersionedPayloadsWaitForClusterVersion(t *testing.T) {
	s := openAtV1(t)
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	r, err := s.PutVersion(ctx, artifact("k", 3, "b1"), Cond{})
	mustNoErr(t, err)
	if r.Version.VersionID != "" {
		t.Fatalf("version id %q in a cluster at version 1", r.Version.VersionID)
	}
	r, err = s.PutVersion(ctx, artifact("k", 4, "b2"), Cond{})
	mustNoErr(t, err)
	if len(r.Freed) != 1 || r.Freed[0].Blob.ID != "b1" {
		t.Fatalf("freed %+v", r.Freed)
	}
	_, err = s.ChangeContainer(ctx, ContainerChange{Tenant: "t1", Name: "c1", SetVersioning: true, Versioning: VersioningEnabled})
	wantErr(t, err, ErrUpgradeRequired)
	tagged := artifact("k2", 1, "")
	tagged.Tags = map[string]string{"a": "b"}
	_, err = s.PutVersion(ctx, tagged, Cond{})
	wantErr(t, err, ErrUpgradeRequired)
	r, err = s.DeleteVersion(ctx, DeleteInput{Tenant: "t1", Container: "c1", Key: "k"})
	mustNoErr(t, err)
	if r.Removed == nil || len(r.Freed) != 1 || r.Freed[0].Blob.ID != "b2" {
		t.Fatalf("delete at version 1: %+v", r)
	}
}

// A small artifact's body is written to Pebble in the Raft log and in its
// record, not a third time in the put's dedupe entry; PutVersion still
// returns the version with its inline bytes.
func TestPutResultLeavesInlineBytesToTheProposer(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mkContainer(t, s, "t1", "c1")
	if !s.v2() {
		t.Fatal("a fresh single node is below cluster version 2")
	}
	a := artifact("small", 4096, "")
	a.Inline = bytes.Repeat([]byte("0123456789abcdef"), 256)
	a.Size = int64(len(a.Inline))
	r, err := s.PutVersion(ctx, a, Cond{})
	mustNoErr(t, err)
	if !bytes.Equal(r.Version.Inline, a.Inline) {
		t.Fatalf("the result's inline bytes are %d bytes, want the %d put", len(r.Version.Inline), len(a.Inline))
	}
	got, err := s.GetArtifact(ctx, "t1", "c1", "small")
	mustNoErr(t, err)
	if !bytes.Equal(got.Inline, a.Inline) {
		t.Fatalf("the record holds %d inline bytes, want %d", len(got.Inline), len(a.Inline))
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: tableKey(tblDedupe, 0), UpperBound: tableKey(tblDedupe+1, 0)})
	mustNoErr(t, err)
	defer it.Close()
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
		if bytes.Contains(it.Value(), a.Inline[:64]) {
			t.Fatalf("a dedupe entry of %d bytes holds the artifact's body", len(it.Value()))
		}
	}
	if n == 0 {
		t.Fatal("no dedupe entry: the test no longer sees what it checks")
	}
}
