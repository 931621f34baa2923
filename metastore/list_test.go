package metastore

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble"
)

// refList is S3 ListObjects semantics written the obvious way, over a
// sorted key list: the model ListArtifacts is checked against.
func refList(keys []string, o ListOptions) (arts, prefixes []string, truncated bool) {
	max := o.MaxKeys
	if max <= 0 || max > MaxListKeys {
		max = MaxListKeys
	}
	skipUnder := ""
	if o.Delimiter != "" && isCommonPrefix(o.StartAfter, o.Prefix, o.Delimiter) {
		skipUnder = o.StartAfter
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, o.Prefix) || k <= o.StartAfter || (skipUnder != "" && strings.HasPrefix(k, skipUnder)) {
			continue
		}
		entry, isPrefix := k, false
		if o.Delimiter != "" {
			if i := strings.Index(k[len(o.Prefix):], o.Delimiter); i >= 0 {
				entry, isPrefix = k[:len(o.Prefix)+i+len(o.Delimiter)], true
				if len(prefixes) > 0 && prefixes[len(prefixes)-1] == entry {
					continue
				}
			}
		}
		if len(arts)+len(prefixes) == max {
			return arts, prefixes, true
		}
		if isPrefix {
			prefixes = append(prefixes, entry)
		} else {
			arts = append(arts, entry)
		}
	}
	return arts, prefixes, false
}

func keysOf(as []Artifact) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Key)
	}
	return out
}

// writeArtifactsDirect puts artifact records straight into Pebble (for
// listing tests and benchmarks that need many keys fast; the container
// record is written too).
func writeArtifactsDirect(t testing.TB, db *pebble.DB, tenant, container string, keys []string) {
	t.Helper()
	b := db.NewBatch()
	mustNoErr(t, b.Set(containerKey(tenant, container), encodeContainer(Container{Tenant: tenant, Name: container}), nil))
	for i, k := range keys {
		a := Artifact{Tenant: tenant, Container: container, Key: k, Size: int64(len(k)), ETag: "e"}
		mustNoErr(t, b.Set(artifactKey(tenant, container, k), encodeArtifact(&a), nil))
		if i%10000 == 9999 {
			mustNoErr(t, b.Commit(pebble.NoSync))
			b.Close()
			b = db.NewBatch()
		}
	}
	mustNoErr(t, b.Commit(pebble.NoSync))
	b.Close()
}

func TestListArtifactsMatchesModel(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	alphabet := []string{"a", "b", "/", "-", "\x00", "\xff", "é", "ab/", "a/b/"}
	keySet := map[string]bool{}
	for len(keySet) < 400 {
		var sb strings.Builder
		for i := 1 + r.IntN(5); i > 0; i-- {
			sb.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		keySet[sb.String()] = true
	}
	keys := make([]string, 0, len(keySet))
	for k := range keySet {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	db := openTestDB(t, t.TempDir())
	defer db.Close()
	writeArtifactsDirect(t, db, "t1", "c1", keys)
	// Neighbours that must never show up: another container whose name
	// extends this one, another tenant.
	writeArtifactsDirect(t, db, "t1", "c11", []string{"a", "zz"})
	writeArtifactsDirect(t, db, "t", "1c1", []string{"a"})

	pick := func() string {
		if r.IntN(3) == 0 {
			return ""
		}
		k := keys[r.IntN(len(keys))]
		return k[:r.IntN(len(k)+1)]
	}
	for i := 0; i < 3000; i++ {
		o := ListOptions{Prefix: pick(), StartAfter: pick(), MaxKeys: r.IntN(12)}
		if r.IntN(3) > 0 {
			o.Delimiter = []string{"/", "b", "ab", "\x00"}[r.IntN(4)]
		}
		if r.IntN(4) == 0 && o.Delimiter != "" {
			o.StartAfter = o.Prefix + "a" + o.Delimiter // shaped like a common prefix
		}
		res, steps, err := listArtifacts(db, "t1", "c1", o)
		mustNoErr(t, err)
		wantA, wantP, wantT := refList(keys, o)
		if !reflect.DeepEqual(keysOf(res.Artifacts), wantA) || !reflect.DeepEqual(res.CommonPrefixes, wantP) || res.Truncated != wantT {
			t.Fatalf("ListArtifacts(%#v)\n got %q %q %v\nwant %q %q %v", o, keysOf(res.Artifacts), res.CommonPrefixes, res.Truncated, wantA, wantP, wantT)
		}
		// Each returned entry costs one iterator step, plus the seek and
		// the look-ahead that finds the page truncated.
		if n := len(res.Artifacts) + len(res.CommonPrefixes); steps > n+2 {
			t.Fatalf("%#v: %d steps for %d entries", o, steps, n)
		}
		if res.Truncated {
			last := ""
			if len(wantP) > 0 && (len(wantA) == 0 || wantP[len(wantP)-1] > wantA[len(wantA)-1]) {
				last = wantP[len(wantP)-1]
			} else {
				last = wantA[len(wantA)-1]
			}
			if res.Next != last {
				t.Fatalf("%#v: Next = %q, want %q", o, res.Next, last)
			}
		}
	}

	// Paging through with Next as StartAfter yields exactly the full listing.
	for _, o := range []ListOptions{{}, {Delimiter: "/"}, {Prefix: "a", Delimiter: "/"}, {Delimiter: "b"}, {Prefix: "a/", Delimiter: "\x00"}} {
		fullA, fullP, _ := refList(keys, ListOptions{Prefix: o.Prefix, Delimiter: o.Delimiter, MaxKeys: MaxListKeys})
		var gotA, gotP []string
		page := o
		page.MaxKeys = 7
		for n := 0; ; n++ {
			res, _, err := listArtifacts(db, "t1", "c1", page)
			mustNoErr(t, err)
			gotA = append(gotA, keysOf(res.Artifacts)...)
			gotP = append(gotP, res.CommonPrefixes...)
			if !res.Truncated {
				break
			}
			if n > 1000 {
				t.Fatal("paging does not end")
			}
			page.StartAfter = res.Next
		}
		if !reflect.DeepEqual(gotA, fullA) || !reflect.DeepEqual(gotP, fullP) {
			t.Fatalf("paged %#v:\n got %q %q\nwant %q %q", o, gotA, gotP, fullA, fullP)
		}
	}
}

// TestListSkipsCommonPrefixesWithoutIterating builds a container where
// nearly all keys sit under two prefixes and checks a delimited listing
// touches a handful of keys, not the 100,000 under those prefixes.
func TestListSkipsCommonPrefixesWithoutIterating(t *testing.T) {
	db := openTestDB(t, t.TempDir())
	defer db.Close()
	var keys []string
	for i := 0; i < 50000; i++ {
		keys = append(keys, fmt.Sprintf("logs/%06d", i), fmt.Sprintf("tmp/%06d", i))
	}
	keys = append(keys, "a", "readme", "z")
	writeArtifactsDirect(t, db, "t1", "c1", keys)
	res, steps, err := listArtifacts(db, "t1", "c1", ListOptions{Delimiter: "/"})
	mustNoErr(t, err)
	if !reflect.DeepEqual(keysOf(res.Artifacts), []string{"a", "readme", "z"}) || !reflect.DeepEqual(res.CommonPrefixes, []string{"logs/", "tmp/"}) {
		t.Fatalf("listing = %q %q", keysOf(res.Artifacts), res.CommonPrefixes)
	}
	if steps > 6 {
		t.Fatalf("listing took %d iterator steps", steps)
	}
	res, steps, err = listArtifacts(db, "t1", "c1", ListOptions{Prefix: "logs/", StartAfter: "logs/030000", MaxKeys: 1000})
	mustNoErr(t, err)
	if len(res.Artifacts) != 1000 || res.Artifacts[0].Key != "logs/030001" || !res.Truncated || steps > 1002 {
		t.Fatalf("page: %d artifacts from %q, truncated %v, %d steps", len(res.Artifacts), res.Artifacts[0].Key, res.Truncated, steps)
	}
}

func TestListUploads(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	_, _, _, err := s.ListUploads(ctx, "t1", "c1", UploadListOptions{})
	wantErr(t, err, ErrContainerNotFound)
	mkContainer(t, s, "t1", "c1")
	type ku struct{ key, id string }
	all := []ku{{"a", "2"}, {"a", "1"}, {"a/x", "1"}, {"a/y", "1"}, {"a\x00", "1"}, {"b", "1"}, {"dir/1", "9"}, {"dir/2", "1"}}
	for _, u := range all {
		mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c1", Key: u.key, UploadID: u.id, Created: t0}))
	}
	mkContainer(t, s, "t1", "c2")
	mustNoErr(t, s.CreateUpload(ctx, Upload{Tenant: "t1", Container: "c2", Key: "a", UploadID: "other"}))
	list := func(o UploadListOptions) ([]ku, []string, bool) {
		t.Helper()
		ups, prefixes, trunc, err := s.ListUploads(ctx, "t1", "c1", o)
		mustNoErr(t, err)
		var out []ku
		for _, u := range ups {
			out = append(out, ku{u.Key, u.UploadID})
		}
		return out, prefixes, trunc
	}
	check := func(o UploadListOptions, wantU []ku, wantP []string, wantT bool) {
		t.Helper()
		u, p, tr := list(o)
		if !reflect.DeepEqual(u, wantU) || !reflect.DeepEqual(p, wantP) || tr != wantT {
			t.Fatalf("ListUploads(%#v) = %q %q %v, want %q %q %v", o, u, p, tr, wantU, wantP, wantT)
		}
	}
	// "a\x00" sorts before "a/x": 0x00 < '/'.
	check(UploadListOptions{}, []ku{{"a", "1"}, {"a", "2"}, {"a\x00", "1"}, {"a/x", "1"}, {"a/y", "1"}, {"b", "1"}, {"dir/1", "9"}, {"dir/2", "1"}}, nil, false)
	check(UploadListOptions{Delimiter: "/"}, []ku{{"a", "1"}, {"a", "2"}, {"a\x00", "1"}, {"b", "1"}}, []string{"a/", "dir/"}, false)
	check(UploadListOptions{Prefix: "a", Delimiter: "/", MaxUploads: 3}, []ku{{"a", "1"}, {"a", "2"}, {"a\x00", "1"}}, nil, true)
	check(UploadListOptions{Prefix: "a", Delimiter: "/", MaxUploads: 4}, []ku{{"a", "1"}, {"a", "2"}, {"a\x00", "1"}}, []string{"a/"}, false)
	check(UploadListOptions{Delimiter: "/", KeyMarker: "a/"}, []ku{{"b", "1"}}, []string{"dir/"}, false)
	check(UploadListOptions{KeyMarker: "a", UploadIDMarker: "1", MaxUploads: 2}, []ku{{"a", "2"}, {"a\x00", "1"}}, nil, true)
	check(UploadListOptions{KeyMarker: "a"}, []ku{{"a\x00", "1"}, {"a/x", "1"}, {"a/y", "1"}, {"b", "1"}, {"dir/1", "9"}, {"dir/2", "1"}}, nil, false)
	check(UploadListOptions{KeyMarker: "a/x", UploadIDMarker: "0"}, []ku{{"a/x", "1"}, {"a/y", "1"}, {"b", "1"}, {"dir/1", "9"}, {"dir/2", "1"}}, nil, false)
	check(UploadListOptions{Prefix: "dir/"}, []ku{{"dir/1", "9"}, {"dir/2", "1"}}, nil, false)
	check(UploadListOptions{Prefix: "zzz"}, nil, nil, false)
}

func TestListArtifactsThroughStore(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	_, err := s.ListArtifacts(ctx, "t1", "c1", ListOptions{})
	wantErr(t, err, ErrContainerNotFound)
	mkContainer(t, s, "t1", "c1")
	for _, k := range []string{"x/1", "x/2", "y", "z/3"} {
		_, err := s.PutArtifact(ctx, artifact(k, 1, ""), Cond{})
		mustNoErr(t, err)
	}
	res, err := s.ListArtifacts(ctx, "t1", "c1", ListOptions{Delimiter: "/", MaxKeys: 2})
	mustNoErr(t, err)
	if !reflect.DeepEqual(res.CommonPrefixes, []string{"x/"}) || !reflect.DeepEqual(keysOf(res.Artifacts), []string{"y"}) || !res.Truncated || res.Next != "y" {
		t.Fatalf("page 1 = %+v", res)
	}
	res, err = s.ListArtifacts(ctx, "t1", "c1", ListOptions{Delimiter: "/", MaxKeys: 2, StartAfter: res.Next}, Stale)
	mustNoErr(t, err)
	if !reflect.DeepEqual(res.CommonPrefixes, []string{"z/"}) || len(res.Artifacts) != 0 || res.Truncated || res.Next != "" {
		t.Fatalf("page 2 = %+v", res)
	}
}
