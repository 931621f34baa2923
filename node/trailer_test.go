package node_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// trailerBody is a part body whose checksum, as a trailer's, lands in
// sums only when the body has been read to its end.
type trailerBody struct {
	r     io.Reader
	sums  map[string]string
	alg   string
	value string
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF && b.value != "" {
		b.sums[b.alg] = b.value
	}
	return n, err
}

// TestUploadPartTrailerChecksum: a part whose checksum the caller
// verifies from a trailer (PartInput.TrailerChecksum) is not hashed again
// by the engine, which stores the caller's value; a value that never
// arrives is an error and stores no part; a trailer of another algorithm
// than the upload's is still refused.
func TestUploadPartTrailerChecksum(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{})
	e := n.Engine
	ctx := context.Background()
	mustContainer(t, e, "c")
	up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "c", Key: "k", ChecksumAlgorithm: "CRC32C", ChecksumType: "COMPOSITE"})
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(7, 200<<10)
	h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
	h.Write(data)
	real := base64.StdEncoding.EncodeToString(h.Sum(nil))
	// The caller's value, deliberately not the data's: the engine must
	// take it as verified rather than compute its own.
	callers := "AAAAAQ=="
	if callers == real {
		t.Fatal("test values collide")
	}
	part := func(number int, alg, value, trailer string) (node.PartInfo, error) {
		sums := map[string]string{}
		return e.UploadPart(ctx, tenant, node.PartInput{Container: "c", Key: "k", UploadID: up.UploadID, Number: number,
			Body: &trailerBody{r: bytes.NewReader(data), sums: sums, alg: alg, value: value}, Size: int64(len(data)),
			Checksums: sums, TrailerChecksum: trailer, FromClient: true})
	}

	p, err := part(1, "CRC32C", callers, "CRC32C")
	if err != nil {
		t.Fatal(err)
	}
	if p.Checksums["CRC32C"] != callers {
		t.Fatalf("part checksums %v, want the caller's %s", p.Checksums, callers)
	}

	if _, err := part(2, "CRC32C", "", "CRC32C"); err == nil || !strings.Contains(err.Error(), "not in Checksums") {
		t.Fatalf("missing trailer value: %v", err)
	}
	if _, err := part(3, "CRC32", "AAAAAA==", "CRC32"); !errors.Is(err, node.ErrChecksumRequest) {
		t.Fatalf("trailer of another algorithm: %v", err)
	}
	parts, err := e.ListParts(ctx, tenant, "c", "k", up.UploadID, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts.Parts) != 1 || parts.Parts[0].Number != 1 || parts.Parts[0].Checksums["CRC32C"] != callers {
		t.Fatalf("stored parts %+v", parts.Parts)
	}
}

// TestUploadDefaultChecksum: an upload created without a checksum
// algorithm gets S3's default, a FULL_OBJECT CRC64NVME of the whole
// object, combined from its parts' CRC64NVMEs: computed by the engine for
// a part that sent none, or one that sent another algorithm, and taken
// from a trailer when the client sent CRC64NVME itself. A completion
// that names a whole-object value is still refused.
func TestUploadDefaultChecksum(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{MinPartSize: 1})
	e := n.Engine
	ctx := context.Background()
	mustContainer(t, e, "c")
	up, err := e.CreateUpload(ctx, tenant, node.UploadInput{Container: "c", Key: "k"})
	if err != nil {
		t.Fatal(err)
	}
	crc64 := func(b []byte) string {
		a, _ := checksum.ByName("CRC64NVME")
		return a.Sum(b)
	}
	parts := [][]byte{randBytes(11, 100<<10), randBytes(12, 70<<10), randBytes(13, 333)}
	var refs []node.PartRef
	for i, data := range parts {
		sums := map[string]string{}
		in := node.PartInput{Container: "c", Key: "k", UploadID: up.UploadID, Number: i + 1, Size: int64(len(data)), Checksums: sums, FromClient: true}
		switch i {
		case 0: // no checksum
			in.Body = bytes.NewReader(data)
		case 1: // the client's CRC32
			a, _ := checksum.ByName("CRC32")
			sums["CRC32"] = a.Sum(data)
			in.Body = bytes.NewReader(data)
		case 2: // the client's CRC64NVME, in a trailer
			in.Body = &trailerBody{r: bytes.NewReader(data), sums: sums, alg: "CRC64NVME", value: crc64(data)}
			in.TrailerChecksum = "CRC64NVME"
		}
		p, err := e.UploadPart(ctx, tenant, in)
		if err != nil {
			t.Fatal(err)
		}
		if p.Checksums["CRC64NVME"] != crc64(data) {
			t.Fatalf("part %d checksums %v, want CRC64NVME %s", i+1, p.Checksums, crc64(data))
		}
		refs = append(refs, node.PartRef{Number: i + 1, ETag: p.ETag})
	}
	if _, err := e.CompleteUpload(ctx, tenant, "c", "k", up.UploadID, refs, node.Conditions{Checksums: map[string]string{"CRC64NVME": crc64(bytes.Join(parts, nil))}}); !errors.Is(err, node.ErrChecksumRequest) {
		t.Fatalf("whole-object value on an upload without algorithm: %v", err)
	}
	info, err := e.CompleteUpload(ctx, tenant, "c", "k", up.UploadID, refs, node.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := crc64(bytes.Join(parts, nil)); info.Checksums["CRC64NVME"] != want || info.ChecksumType != "FULL_OBJECT" || len(info.Checksums) != 1 {
		t.Fatalf("completed with %v %q, want CRC64NVME %s FULL_OBJECT", info.Checksums, info.ChecksumType, want)
	}
}
