package node_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/sse"
)

func putSSE(t testing.TB, e *node.Engine, container, key string, data []byte) node.ArtifactInfo {
	t.Helper()
	info, err := e.PutArtifact(context.Background(), tenant, node.PutInput{
		Container: container, Key: key, Body: bytes.NewReader(data), Size: int64(len(data)),
		Encryption: node.Encryption{Mode: node.EncryptionSSES3},
	})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return info
}

// TestSSETamperDetectedAndHealed flips one ciphertext byte of one shard
// on disk: the erasure layer's block checksums catch it, the read
// reconstructs from parity (the plaintext is right), and the shard is
// healed.
func TestSSETamperDetectedAndHealed(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1})
	e := n.Engine
	mustContainer(t, e, "c")
	data := randBytes(11, 3*sse.PackageSize+99)
	info := putSSE(t, e, "c", "k", data)
	if info.Encryption != node.EncryptionSSES3 || info.ETag != md5hex(data) || info.Size != int64(len(data)) {
		t.Fatalf("info %+v", info)
	}
	var shard string
	filepath.WalkDir(filepath.Join(n.Dir, "drives"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/blobs/") && filepath.Base(path) == "0" {
			shard = path
		}
		return nil
	})
	if shard == "" {
		t.Fatal("no shard 0 on disk")
	}
	b, err := os.ReadFile(shard)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, data[:64]) {
		t.Fatal("plaintext in the shard")
	}
	b[len(b)/2] ^= 0x01
	if err := os.WriteFile(shard, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before := e.Stats()
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("wrong bytes after tampering")
	}
	if bad := e.Stats().ShardsBad - before.ShardsBad; bad < 1 {
		t.Fatalf("tampering not detected (ShardsBad +%d)", bad)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.Stats().Healed <= before.Healed {
		if time.Now().After(deadline) {
			t.Fatal("tampered shard not healed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	healed, err := os.ReadFile(shard)
	if err != nil || bytes.Equal(healed, b) {
		t.Fatalf("shard file not rewritten: %v", err)
	}
	after := e.Stats()
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("wrong bytes after healing")
	}
	if e.Stats().ShardsBad != after.ShardsBad {
		t.Fatal("healed shard still bad")
	}
}

// TestSSERangeReadsOnePackage: a 1-byte range of a large SSE object opens
// exactly one package, wherever it is.
func TestSSERangeReadsOnePackage(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{InlineThreshold: -1})
	e := n.Engine
	mustContainer(t, e, "c")
	const size = 8<<20 + 12345
	data := randBytes(12, size)
	putSSE(t, e, "c", "big", data)
	for _, off := range []int64{0, sse.PackageSize - 1, sse.PackageSize, 4<<20 + 7, size - 1} {
		before := e.Stats().SSEPackages
		got := read(t, e, "c", "big", off, 1)
		if len(got) != 1 || got[0] != data[off] {
			t.Fatalf("byte %d wrong", off)
		}
		if opened := e.Stats().SSEPackages - before; opened != 1 {
			t.Fatalf("1-byte read at %d opened %d packages, want 1", off, opened)
		}
	}
	// Two bytes across a package boundary: two packages.
	before := e.Stats().SSEPackages
	if got := read(t, e, "c", "big", sse.PackageSize-1, 2); !bytes.Equal(got, data[sse.PackageSize-1:sse.PackageSize+1]) {
		t.Fatal("boundary range wrong")
	}
	if opened := e.Stats().SSEPackages - before; opened != 2 {
		t.Fatalf("boundary read opened %d packages, want 2", opened)
	}
	// Ranges over several of the decrypting writer's batches open
	// exactly the packages they touch, and the whole object reads back.
	for _, rg := range [][2]int64{{sse.PackageSize + 7, 20*sse.PackageSize + 3}, {3<<20 + 1, 2 << 20}, {0, size}} {
		off, length := rg[0], rg[1]
		before := e.Stats().SSEPackages
		if got := read(t, e, "c", "big", off, length); !bytes.Equal(got, data[off:off+length]) {
			t.Fatalf("range [%d,+%d) wrong", off, length)
		}
		want := (off+length-1)/sse.PackageSize - off/sse.PackageSize + 1
		if opened := e.Stats().SSEPackages - before; opened != want {
			t.Fatalf("range [%d,+%d) opened %d packages, want %d", off, length, opened, want)
		}
	}
}

// TestSSEInlineAndCustomerKey covers inline SSE artifacts and the SSE-C
// key checks of the engine.
func TestSSEInlineAndCustomerKey(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{})
	e := n.Engine
	ctx := context.Background()
	mustContainer(t, e, "c")
	data := []byte("a small secret")
	putSSE(t, e, "c", "s3", data)
	if got := read(t, e, "c", "s3", 2, 5); string(got) != string(data[2:7]) {
		t.Fatalf("inline SSE-S3 range %q", got)
	}
	key := bytes.Repeat([]byte{7}, 32)
	if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "c", Body: bytes.NewReader(data), Size: int64(len(data)),
		Encryption: node.Encryption{Mode: node.EncryptionCustomer, CustomerKey: key}}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  []byte
		want error
	}{{nil, node.ErrSSECustomerKeyMissing}, {bytes.Repeat([]byte{8}, 32), node.ErrSSECustomerKeyMismatch}, {key, nil}} {
		_, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "c", CustomerKey: tc.key})
		if !errors.Is(err, tc.want) {
			t.Fatalf("key %x: %v, want %v", tc.key, err, tc.want)
		}
	}
	if _, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "s3", CustomerKey: key}); !errors.Is(err, node.ErrSSENotApplicable) {
		t.Fatalf("key for an SSE-S3 artifact: %v", err)
	}
	// The inline record holds ciphertext only.
	a, err := n.Meta.GetLatest(ctx, tenant, "c", "c")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(a.Inline, data) || a.InlineKey == nil || a.Encryption.CustomerKeyMAC == nil || bytes.Contains(a.Encryption.CustomerKeyMAC, key) {
		t.Fatalf("record %+v", a)
	}
}

// BenchmarkSSEPutGet16MiB compares SSE-S3 PUT and GET of 16 MiB with
// unencrypted ones (goal: >= 0.8x). Each iteration does one of each,
// alternately, so a shared machine's load falls on both alike; the
// ratio metric is SSE throughput over plain.
// Run: go test -run '^$' -bench SSEPutGet ./node
func BenchmarkSSEPutGet16MiB(b *testing.B) {
	const size = 16 << 20
	data := randBytes(13, size)
	n := nodetest.StartNode(b, nodetest.Options{})
	ctx := context.Background()
	if err := n.Engine.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "b"}); err != nil {
		b.Fatal(err)
	}
	modes := []string{node.EncryptionNone, node.EncryptionSSES3}
	put := func(mode string) error {
		_, err := n.Engine.PutArtifact(ctx, tenant, node.PutInput{Container: "b", Key: "k" + mode, Body: bytes.NewReader(data), Size: size,
			Encryption: node.Encryption{Mode: mode}})
		return err
	}
	get := func(mode string) error {
		r, err := n.Engine.OpenArtifact(ctx, tenant, node.VersionRef{Container: "b", Key: "k" + mode})
		if err != nil {
			return err
		}
		return r.WriteRange(ctx, discard{}, 0, size)
	}
	for _, op := range []struct {
		name string
		do   func(string) error
	}{{"put", put}, {"get", get}} {
		b.Run(op.name, func(b *testing.B) {
			for _, m := range modes {
				if err := put(m); err != nil {
					b.Fatal(err)
				}
			}
			var took [2]time.Duration
			for b.Loop() {
				for i, m := range modes {
					t0 := time.Now()
					if err := op.do(m); err != nil {
						b.Fatal(err)
					}
					took[i] += time.Since(t0)
				}
			}
			reportRatio(b, size, took)
		})
	}
}

// reportRatio reports the plain and SSE throughputs of b.N operations of
// size bytes each and their ratio.
func reportRatio(b *testing.B, size int64, took [2]time.Duration) {
	mbs := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(took[0]), "plain-MB/s")
	b.ReportMetric(mbs(took[1]), "sse-MB/s")
	b.ReportMetric(took[0].Seconds()/took[1].Seconds(), "sse/plain")
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestSSERotateKEK re-wraps the data keys of every SSE-S3 artifact, version
// and uploaded part under a new KEK: the shard files do not change, the
// sealed keys name the new KEK, and everything reads back.
func TestSSERotateKEK(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{MinPartSize: 1})
	e := n.Engine
	ctx := context.Background()
	mustContainer(t, e, "c")
	if err := e.SetVersioning(ctx, tenant, "c", node.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	small, big := []byte("inline secret"), randBytes(14, 2*sse.PackageSize+5)
	putSSE(t, e, "c", "small", small)
	putSSE(t, e, "c", "big", big)
	putSSE(t, e, "c", "big", randBytes(15, 100<<10)) // makes the first a noncurrent version
	ck := bytes.Repeat([]byte{9}, 32)
	if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "cust", Body: bytes.NewReader(big), Size: int64(len(big)),
		Encryption: node.Encryption{Mode: node.EncryptionCustomer, CustomerKey: ck}}); err != nil {
		t.Fatal(err)
	}
	put(t, e, "c", "plain", big)
	up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "c", Key: "mp", Encryption: node.Encryption{Mode: node.EncryptionSSES3}})
	if err != nil {
		t.Fatal(err)
	}
	p1, err := e.UploadPart(ctx, tenant, node.PartInput{Container: "c", Key: "mp", UploadID: up.UploadID, Number: 1, Body: bytes.NewReader(big), Size: int64(len(big))})
	if err != nil {
		t.Fatal(err)
	}
	shards := func() map[string]string {
		m := map[string]string{}
		filepath.WalkDir(filepath.Join(n.Dir, "drives"), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/blobs/") {
				b, _ := os.ReadFile(path)
				m[path] = string(b)
			}
			return nil
		})
		return m
	}
	before := shards()
	kekOf := func(sealed []byte) uint32 {
		id, err := sse.SealedKEKID(sealed)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	for round, want := range []struct {
		from, to  uint32
		rewrapped int
	}{{1, 2, 4}, {2, 3, 4}} {
		rep, err := e.RotateKEK(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// small (inline), big (current and noncurrent), the uploaded part.
		if rep.From != want.from || rep.To != want.to || rep.Rewrapped != want.rewrapped || rep.Skipped != 0 {
			t.Fatalf("round %d: %+v, want %+v", round, rep, want)
		}
		a, err := n.Meta.GetLatest(ctx, tenant, "c", "small")
		if err != nil || kekOf(a.InlineKey) != want.to {
			t.Fatalf("small: %v", err)
		}
		a, err = n.Meta.GetLatest(ctx, tenant, "c", "big")
		if err != nil || kekOf(a.Parts[0].SealedKey) != want.to {
			t.Fatalf("big: %v", err)
		}
		a, err = n.Meta.GetLatest(ctx, tenant, "c", "cust")
		if err != nil || kekOf(a.Parts[0].SealedKey) != sse.CustomerKEKID {
			t.Fatalf("cust: %v", err)
		}
	}
	if after := shards(); len(after) != len(before) {
		t.Fatalf("%d shard files, %d before", len(after), len(before))
	} else {
		for p, b := range before {
			if after[p] != b {
				t.Fatalf("shard %s rewritten by the rotation", p)
			}
		}
	}
	if got := read(t, e, "c", "small", 0, -1); !bytes.Equal(got, small) {
		t.Fatal("small differs")
	}
	vl, err := e.ListVersions(ctx, tenant, "c", node.VersionListOptions{Prefix: "big"})
	if err != nil || len(vl.Versions) != 2 {
		t.Fatalf("versions %v %v", vl.Versions, err)
	}
	r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "big", VersionID: vl.Versions[1].VersionID})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteRange(ctx, &buf, 0, int64(len(big))); err != nil || !bytes.Equal(buf.Bytes(), big) {
		t.Fatalf("noncurrent version after rotation: %v", err)
	}
	r, err = e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "cust", CustomerKey: ck})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := r.WriteRange(ctx, &buf, 0, int64(len(big))); err != nil || !bytes.Equal(buf.Bytes(), big) {
		t.Fatalf("SSE-C artifact after rotation: %v", err)
	}
	if _, err := e.CompleteUpload(ctx, tenant, "c", "mp", up.UploadID, []node.PartRef{{Number: 1, ETag: p1.ETag}}, node.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if got := read(t, e, "c", "mp", 0, -1); !bytes.Equal(got, big) {
		t.Fatal("multipart completed after rotation differs")
	}
	// New writes seal under the current KEK.
	putSSE(t, e, "c", "new", big)
	if a, err := n.Meta.GetLatest(ctx, tenant, "c", "new"); err != nil || kekOf(a.Parts[0].SealedKey) != 3 {
		t.Fatalf("new write: %v", err)
	}
}

// TestSSETransitionKeepsCiphertext: an SSE-S3 artifact moved to a cold
// tier travels as ciphertext (the remote object holds no plaintext), reads
// back by range through its data key, and comes back intact on recall.
func TestSSETransitionKeepsCiphertext(t *testing.T) {
	tn := startTierNode(t)
	ctx := context.Background()
	e := tn.Engine
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: "http://x", Bucket: "b", AccessKey: "AK", StorageClasses: []string{"STANDARD_IA"}}, "good"); err != nil {
		t.Fatal(err)
	}
	mustContainer(t, e, "c")
	data := bytes.Repeat([]byte("plaintext-marker-"), 3*sse.PackageSize/17)
	putSSE(t, e, "c", "k", data)
	if _, err := e.TransitionVersion(ctx, tenant, "c", "k", "", "cold"); err != nil {
		t.Fatal(err)
	}
	names := remoteObjects(t, tn.remote)
	if len(names) != 1 {
		t.Fatalf("remote objects %v", names)
	}
	if remote := readAll(t, tn.remote, names[0]); bytes.Contains(remote, []byte("plaintext-marker-")) || int64(len(remote)) < sse.EncryptedSize(int64(len(data))) {
		t.Fatalf("remote object of %d bytes holds plaintext or too little", len(remote))
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("transitioned SSE artifact differs")
	}
	if got := read(t, e, "c", "k", sse.PackageSize-3, 7); !bytes.Equal(got, data[sse.PackageSize-3:sse.PackageSize+4]) {
		t.Fatal("range of a transitioned SSE artifact differs")
	}
	if _, err := e.RecallTier(ctx, "cold", 0, nil); err != nil {
		t.Fatal(err)
	}
	if got := read(t, e, "c", "k", 0, -1); !bytes.Equal(got, data) {
		t.Fatal("recalled SSE artifact differs")
	}
}

// TestSSECustomerETag: the ETag of an SSE-C version is not the MD5 of its
// plaintext (S3 does not expose it) but sse.CustomerETag of it under the
// customer's key, inline or in shards, for each part of an upload and so
// for the multipart ETag built from them; plaintext and SSE-S3 keep the
// MD5. An SSE-C record stored with the MD5 (by an earlier release) keeps
// its ETag.
func TestSSECustomerETag(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{MinPartSize: 1})
	e := n.Engine
	ctx := context.Background()
	mustContainer(t, e, "c")
	key, key2 := bytes.Repeat([]byte{7}, 32), bytes.Repeat([]byte{9}, 32)
	customer := func(k []byte) node.Encryption { return node.Encryption{Mode: node.EncryptionCustomer, CustomerKey: k} }
	keyed := func(k, data []byte) string {
		t.Helper()
		sum := md5.Sum(data)
		s, err := sse.CustomerETag(k, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, size := range []int{10, 3*sse.PackageSize + 5} {
		data := randBytes(uint64(size), size)
		if keyed(key, data) == md5hex(data) || keyed(key, data) == keyed(key2, data) {
			t.Fatal("CustomerETag is the MD5 or ignores the key")
		}
		for _, tc := range []struct {
			name string
			enc  node.Encryption
			want string
		}{
			{"plain", node.Encryption{}, md5hex(data)},
			{"sse-s3", node.Encryption{Mode: node.EncryptionSSES3}, md5hex(data)},
			{"sse-c", customer(key), keyed(key, data)},
			{"sse-c-key2", customer(key2), keyed(key2, data)},
		} {
			k := fmt.Sprintf("%s-%d", tc.name, size)
			info, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: k, Body: bytes.NewReader(data), Size: int64(size), Encryption: tc.enc})
			if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			head, err := e.HeadArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: k})
			if err != nil {
				t.Fatal(err)
			}
			if info.ETag != tc.want || head.ETag != tc.want {
				t.Fatalf("%s: etag %s (head %s), want %s", k, info.ETag, head.ETag, tc.want)
			}
		}
	}

	// Multipart: each part's ETag is keyed, and the upload's ETag is the
	// MD5 of the parts' ETags, as for any upload.
	data := randBytes(5, 2*sse.PackageSize+77)
	halves := [][]byte{data[:sse.PackageSize+3], data[sse.PackageSize+3:]}
	up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "c", Key: "mp", Encryption: customer(key)})
	if err != nil {
		t.Fatal(err)
	}
	var refs []node.PartRef
	whole := md5.New()
	for i, h := range halves {
		p, err := e.UploadPart(ctx, tenant, node.PartInput{Container: "c", Key: "mp", UploadID: up.UploadID, Number: i + 1,
			Body: bytes.NewReader(h), Size: int64(len(h)), CustomerKey: key})
		if err != nil {
			t.Fatal(err)
		}
		if p.ETag != keyed(key, h) {
			t.Fatalf("part %d: etag %s, want %s", i+1, p.ETag, keyed(key, h))
		}
		raw, _ := hex.DecodeString(p.ETag)
		whole.Write(raw)
		refs = append(refs, node.PartRef{Number: i + 1, ETag: p.ETag})
	}
	info, err := e.CompleteUpload(ctx, tenant, "c", "mp", up.UploadID, refs, node.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := hex.EncodeToString(whole.Sum(nil)) + "-2"; info.ETag != want {
		t.Fatalf("multipart etag %s, want %s", info.ETag, want)
	}
	r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "mp", CustomerKey: key})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteRange(ctx, &buf, 0, int64(len(data))); err != nil || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("multipart read: %v", err)
	}

	// A record an earlier release wrote: SSE-C, its ETag the plaintext's
	// MD5. It reads back with that ETag.
	old := []byte("written before keyed ETags")
	kr, err := sse.NewKeyring([]byte("nodetest-sse-root-key-32-bytes!!"))
	if err != nil {
		t.Fatal(err)
	}
	kek, err := sse.CustomerKEK(key)
	if err != nil {
		t.Fatal(err)
	}
	dk, err := sse.NewDataKey()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := sse.SealKey(kek, dk, []byte(tenant+"\x00c\x00old"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Meta.PutVersion(ctx, metastore.Artifact{Tenant: tenant, Container: "c", Key: "old", Size: int64(len(old)), ETag: md5hex(old),
		Created: time.Now(), Inline: sse.Encrypt(dk, old), InlineKey: sealed,
		Encryption: metastore.Encryption{Mode: node.EncryptionCustomer, CustomerKeyMAC: sse.CustomerKeyMAC(kr.MACKey(), key)}}, metastore.Cond{}); err != nil {
		t.Fatal(err)
	}
	r, err = e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "old", CustomerKey: key})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := r.WriteRange(ctx, &buf, 0, int64(len(old))); err != nil || buf.String() != string(old) || r.Info().ETag != md5hex(old) {
		t.Fatalf("old record: %q %s %v", buf.String(), r.Info().ETag, err)
	}
}
