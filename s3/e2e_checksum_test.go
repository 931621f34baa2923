package s3_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/minio/minio-go/v7"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// setWhole puts a whole-object value of alg in the field of the
// CompleteMultipartUpload input the SDK sends as x-amz-checksum-*.
func setWhole(in *awss3.CompleteMultipartUploadInput, alg, v string) {
	switch alg {
	case "CRC32":
		in.ChecksumCRC32 = &v
	case "CRC32C":
		in.ChecksumCRC32C = &v
	case "CRC64NVME":
		in.ChecksumCRC64NVME = &v
	case "SHA1":
		in.ChecksumSHA1 = &v
	case "SHA256":
		in.ChecksumSHA256 = &v
	}
}

// sumOf reads alg's value from any of the SDK's output structs that
// carry the five Checksum* fields.
func sumOf(alg string, crc32, crc32c, crc64, sha1, sha256 *string) string {
	p := map[string]*string{"CRC32": crc32, "CRC32C": crc32c, "CRC64NVME": crc64, "SHA1": sha1, "SHA256": sha256}[alg]
	if p == nil {
		return ""
	}
	return *p
}

// TestE2EMultipartChecksums: whole-object checksums of multipart uploads
// with aws-sdk-go-v2, for every algorithm and type S3 allows: part
// checksums verified and stored, the whole-object value computed from them
// (FULL_OBJECT equal to the CRC of the bytes), checked against the value
// sent on Complete, and reported on Complete, HEAD, GET, GetObjectAttributes
// and ListParts.
func TestE2EMultipartChecksums(t *testing.T) {
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil)
	c := h.client(false)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("cksums")})
	must(t, err)
	partData := [][]byte{make([]byte, 70<<10), make([]byte, 70<<10), make([]byte, 1234)}
	for _, p := range partData {
		rand.Read(p)
	}
	whole := bytes.Join(partData, nil)

	for _, tc := range []struct {
		alg, typ string
	}{
		{"CRC32", "COMPOSITE"}, {"CRC32", "FULL_OBJECT"},
		{"CRC32C", "COMPOSITE"}, {"CRC32C", "FULL_OBJECT"},
		{"CRC64NVME", "FULL_OBJECT"}, {"CRC64NVME", ""},
		{"SHA1", "COMPOSITE"}, {"SHA256", ""},
	} {
		t.Run(tc.alg+"-"+tc.typ, func(t *testing.T) {
			alg, _ := checksum.ByName(tc.alg)
			typ := tc.typ
			if typ == "" {
				typ = alg.DefaultType()
			}
			key := "mp-" + tc.alg + "-" + tc.typ
			cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("cksums"), Key: aws.String(key),
				ChecksumAlgorithm: types.ChecksumAlgorithm(tc.alg), ChecksumType: types.ChecksumType(tc.typ)})
			must(t, err)
			if string(cr.ChecksumAlgorithm) != tc.alg || string(cr.ChecksumType) != typ {
				t.Fatalf("create: algorithm %q type %q", cr.ChecksumAlgorithm, cr.ChecksumType)
			}
			var parts []types.CompletedPart
			var wp []checksum.Part
			for i, b := range partData {
				up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("cksums"), Key: aws.String(key), UploadId: cr.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b), ChecksumAlgorithm: types.ChecksumAlgorithm(tc.alg)})
				must(t, err)
				got := sumOf(tc.alg, up.ChecksumCRC32, up.ChecksumCRC32C, up.ChecksumCRC64NVME, up.ChecksumSHA1, up.ChecksumSHA256)
				if got != alg.Sum(b) {
					t.Fatalf("part %d checksum %q, want %q", i+1, got, alg.Sum(b))
				}
				cp := types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32,
					ChecksumCRC32C: up.ChecksumCRC32C, ChecksumCRC64NVME: up.ChecksumCRC64NVME, ChecksumSHA1: up.ChecksumSHA1, ChecksumSHA256: up.ChecksumSHA256}
				parts = append(parts, cp)
				wp = append(wp, checksum.Part{Sum: got, Size: int64(len(b))})
			}
			lp, err := c.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("cksums"), Key: aws.String(key), UploadId: cr.UploadId})
			must(t, err)
			if string(lp.ChecksumAlgorithm) != tc.alg || string(lp.ChecksumType) != typ || len(lp.Parts) != 3 ||
				sumOf(tc.alg, lp.Parts[2].ChecksumCRC32, lp.Parts[2].ChecksumCRC32C, lp.Parts[2].ChecksumCRC64NVME, lp.Parts[2].ChecksumSHA1, lp.Parts[2].ChecksumSHA256) != alg.Sum(partData[2]) {
				t.Fatalf("ListParts: %q %q %+v", lp.ChecksumAlgorithm, lp.ChecksumType, lp.Parts)
			}
			want, err := checksum.Whole(alg, typ, wp)
			must(t, err)
			if typ == checksum.FullObject && want != alg.Sum(whole) {
				t.Fatalf("FULL_OBJECT %s of the parts %s, of the bytes %s", tc.alg, want, alg.Sum(whole))
			}
			// A wrong whole-object value is refused, and the upload stays.
			in := &awss3.CompleteMultipartUploadInput{Bucket: aws.String("cksums"), Key: aws.String(key), UploadId: cr.UploadId,
				MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}
			setWhole(in, tc.alg, alg.Sum([]byte("other")))
			_, err = c.CompleteMultipartUpload(ctx, in)
			wantCode(t, err, "BadDigest")
			// The right one, sent as SDKs send it (a COMPOSITE value without
			// its -N, the type when the caller gives the value), completes.
			setWhole(in, tc.alg, strings.Split(want, "-")[0])
			in.ChecksumType = types.ChecksumType(typ)
			cm, err := c.CompleteMultipartUpload(ctx, in)
			must(t, err)
			if got := sumOf(tc.alg, cm.ChecksumCRC32, cm.ChecksumCRC32C, cm.ChecksumCRC64NVME, cm.ChecksumSHA1, cm.ChecksumSHA256); got != want || string(cm.ChecksumType) != typ {
				t.Fatalf("complete: %q %q, want %q %q", got, cm.ChecksumType, want, typ)
			}
			hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("cksums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			must(t, err)
			if got := sumOf(tc.alg, hd.ChecksumCRC32, hd.ChecksumCRC32C, hd.ChecksumCRC64NVME, hd.ChecksumSHA1, hd.ChecksumSHA256); got != want || string(hd.ChecksumType) != typ {
				t.Fatalf("HEAD: %q %q, want %q %q", got, hd.ChecksumType, want, typ)
			}
			hd, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("cksums"), Key: aws.String(key)})
			must(t, err)
			if hd.ChecksumCRC32 != nil || hd.ChecksumCRC64NVME != nil || hd.ChecksumSHA256 != nil || hd.ChecksumType != "" {
				t.Fatalf("HEAD without checksum mode: %+v", hd)
			}
			// GET with checksum mode: the SDK validates a FULL_OBJECT value
			// against the bytes it receives.
			g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("cksums"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
			must(t, err)
			body, err := io.ReadAll(g.Body)
			g.Body.Close()
			must(t, err)
			if !bytes.Equal(body, whole) || string(g.ChecksumType) != typ ||
				sumOf(tc.alg, g.ChecksumCRC32, g.ChecksumCRC32C, g.ChecksumCRC64NVME, g.ChecksumSHA1, g.ChecksumSHA256) != want {
				t.Fatalf("GET: %d bytes, type %q", len(body), g.ChecksumType)
			}
			// One part (partNumber) with checksum mode: a COMPOSITE
			// object's part reports its own checksum (the SDK validates it
			// against the part's bytes); a FULL_OBJECT one of several
			// parts reports none, as S3 does.
			hp, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("cksums"), Key: aws.String(key), PartNumber: aws.Int32(2), ChecksumMode: types.ChecksumModeEnabled})
			must(t, err)
			gp, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("cksums"), Key: aws.String(key), PartNumber: aws.Int32(2), ChecksumMode: types.ChecksumModeEnabled})
			must(t, err)
			pbody, err := io.ReadAll(gp.Body)
			gp.Body.Close()
			must(t, err)
			if !bytes.Equal(pbody, partData[1]) {
				t.Fatalf("GET part 2: %d bytes", len(pbody))
			}
			wantPart, wantType := wp[1].Sum, typ
			if typ == checksum.FullObject {
				wantPart, wantType = "", ""
			}
			for what, r := range map[string][2]string{
				"HEAD": {sumOf(tc.alg, hp.ChecksumCRC32, hp.ChecksumCRC32C, hp.ChecksumCRC64NVME, hp.ChecksumSHA1, hp.ChecksumSHA256), string(hp.ChecksumType)},
				"GET":  {sumOf(tc.alg, gp.ChecksumCRC32, gp.ChecksumCRC32C, gp.ChecksumCRC64NVME, gp.ChecksumSHA1, gp.ChecksumSHA256), string(gp.ChecksumType)},
			} {
				if r[0] != wantPart || r[1] != wantType {
					t.Fatalf("%s part 2 with checksum mode: %q %q, want %q %q", what, r[0], r[1], wantPart, wantType)
				}
			}
			at, err := c.GetObjectAttributes(ctx, &awss3.GetObjectAttributesInput{Bucket: aws.String("cksums"), Key: aws.String(key),
				ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts}})
			must(t, err)
			ck, op := at.Checksum, at.ObjectParts
			if ck == nil || sumOf(tc.alg, ck.ChecksumCRC32, ck.ChecksumCRC32C, ck.ChecksumCRC64NVME, ck.ChecksumSHA1, ck.ChecksumSHA256) != want ||
				string(ck.ChecksumType) != typ || op == nil || len(op.Parts) != 3 {
				t.Fatalf("attributes: %+v %+v", ck, op)
			}
			for i, p := range op.Parts {
				if sumOf(tc.alg, p.ChecksumCRC32, p.ChecksumCRC32C, p.ChecksumCRC64NVME, p.ChecksumSHA1, p.ChecksumSHA256) != wp[i].Sum {
					t.Fatalf("attributes part %d: %+v", i+1, p)
				}
			}
			// A retried Complete answers the same.
			cm2, err := c.CompleteMultipartUpload(ctx, in)
			must(t, err)
			if *cm2.ETag != *cm.ETag {
				t.Fatalf("retried complete: %s, first %s", *cm2.ETag, *cm.ETag)
			}
		})
	}
}

// TestE2EMultipartChecksumRefusals: what S3 refuses about multipart
// checksums, refused with its codes, and nothing completed.
func TestE2EMultipartChecksumRefusals(t *testing.T) {
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil)
	c := h.client(false)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("ckrefuse")})
	must(t, err)
	create := func(alg, typ string) (*awss3.CreateMultipartUploadOutput, error) {
		return c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k"),
			ChecksumAlgorithm: types.ChecksumAlgorithm(alg), ChecksumType: types.ChecksumType(typ)})
	}
	for _, tc := range []struct{ alg, typ string }{{"SHA256", "FULL_OBJECT"}, {"SHA1", "FULL_OBJECT"}, {"", "COMPOSITE"}, {"CRC32", "BOTH"}, {"MD5", ""}} {
		_, err := create(tc.alg, tc.typ)
		wantCode(t, err, "InvalidRequest")
	}

	// A part of another algorithm than the upload's.
	cr, err := create("CRC32C", "FULL_OBJECT")
	must(t, err)
	_, err = c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part one"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	wantCode(t, err, "InvalidRequest")
	// A part without a checksum gets the upload's, computed by the server.
	up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part one")}, func(o *awss3.Options) {
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	must(t, err)
	alg, _ := checksum.ByName("CRC32C")
	if up.ChecksumCRC32C == nil || *up.ChecksumCRC32C != alg.Sum([]byte("part one")) {
		t.Fatalf("server-computed part checksum: %v", up.ChecksumCRC32C)
	}
	complete := func(part types.CompletedPart, whole map[string]string) error {
		in := &awss3.CompleteMultipartUploadInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k"), UploadId: cr.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{part}}}
		for a, v := range whole {
			setWhole(in, a, v)
		}
		_, err := c.CompleteMultipartUpload(ctx, in)
		return err
	}
	good := types.CompletedPart{PartNumber: aws.Int32(1), ETag: up.ETag, ChecksumCRC32C: up.ChecksumCRC32C}
	bad := good
	bad.ChecksumCRC32C = aws.String(alg.Sum([]byte("other")))
	wantCode(t, complete(bad, nil), "InvalidPart")
	other := good
	other.ChecksumCRC32C, other.ChecksumCRC32 = nil, aws.String("AAAAAA==")
	wantCode(t, complete(other, nil), "InvalidRequest")
	wantCode(t, complete(good, map[string]string{"CRC32": "AAAAAA=="}), "InvalidRequest")
	wantCode(t, complete(good, map[string]string{"CRC32C": "AAAAAA=="}), "BadDigest")
	_, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k")})
	wantCode(t, err, "NotFound")
	must(t, complete(good, map[string]string{"CRC32C": alg.Sum([]byte("part one"))}))

	// A whole-object value on an upload created without an algorithm.
	cr, err = c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k2")})
	must(t, err)
	up, err = c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k2"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	must(t, err)
	in := &awss3.CompleteMultipartUploadInput{Bucket: aws.String("ckrefuse"), Key: aws.String("k2"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}}
	setWhole(in, "CRC32", "AAAAAA==")
	_, err = c.CompleteMultipartUpload(ctx, in)
	wantCode(t, err, "InvalidRequest")
	// A malformed whole-object value.
	setWhole(in, "CRC32", "not base64")
	_, err = c.CompleteMultipartUpload(ctx, in)
	wantCode(t, err, "InvalidRequest")
	in.ChecksumCRC32 = nil
	_, err = c.CompleteMultipartUpload(ctx, in)
	must(t, err)
}

// TestMinioMultipartChecksums: minio-go's checksum-enabled multipart
// FPutObject (whole-object values on CreateMultipartUpload and Complete),
// over signed and unsigned streaming (minio-go sends checksums as
// trailers), and the values it reads back.
func TestMinioMultipartChecksums(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	data := make([]byte, 5<<20+100<<10)
	rand.Read(data)
	path := filepath.Join(t.TempDir(), "big.bin")
	must(t, os.WriteFile(path, data, 0o600))
	mc := h.minioClient(t, false, true)
	for _, unsigned := range []bool{false, true} {
		bucket := fmt.Sprintf("mck-unsigned-%v", unsigned)
		must(t, mc.MakeBucket(ctx, bucket, minio.MakeBucketOptions{}))
		for _, tc := range []struct {
			ck       minio.ChecksumType
			alg, typ string
		}{
			{minio.ChecksumCRC32C, "CRC32C", "COMPOSITE"},
			{minio.ChecksumFullObjectCRC32, "CRC32", "FULL_OBJECT"},
			{minio.ChecksumFullObjectCRC32C, "CRC32C", "FULL_OBJECT"},
			{minio.ChecksumCRC64NVME, "CRC64NVME", "FULL_OBJECT"},
			{minio.ChecksumSHA256, "SHA256", "COMPOSITE"},
		} {
			key := "fput/" + tc.ck.String() + "-" + tc.typ
			if _, err := mc.FPutObject(ctx, bucket, key, path, minio.PutObjectOptions{Checksum: tc.ck, PartSize: 5 << 20, DisableContentSha256: unsigned}); err != nil {
				t.Fatalf("FPutObject %s: %v", key, err)
			}
			st, err := mc.StatObject(ctx, bucket, key, minio.StatObjectOptions{Checksum: true})
			must(t, err)
			got := map[string]string{"CRC32": st.ChecksumCRC32, "CRC32C": st.ChecksumCRC32C, "CRC64NVME": st.ChecksumCRC64NVME,
				"SHA256": st.ChecksumSHA256}[tc.alg]
			alg, _ := checksum.ByName(tc.alg)
			want := alg.Sum(data)
			if tc.typ == "COMPOSITE" {
				want, err = checksum.Whole(alg, tc.typ, []checksum.Part{{Sum: alg.Sum(data[:5<<20])}, {Sum: alg.Sum(data[5<<20:])}})
				must(t, err)
			}
			if got != want || st.ChecksumMode != tc.typ {
				t.Fatalf("%s: stat %s %q %q, want %q %q", bucket, key, got, st.ChecksumMode, want, tc.typ)
			}
			o, err := mc.GetObject(ctx, bucket, key, minio.GetObjectOptions{Checksum: true})
			must(t, err)
			b, err := io.ReadAll(o)
			o.Close()
			must(t, err)
			if !bytes.Equal(b, data) {
				t.Fatalf("%s: read back %d bytes", key, len(b))
			}
		}
	}
}

// TestE2EMultipartDefaultChecksum: an upload created without a checksum
// algorithm completes with S3's default FULL_OBJECT CRC64NVME, reported on
// Complete and on HEAD and GET with checksum mode (the SDK validates the
// GET's bytes against it).
func TestE2EMultipartDefaultChecksum(t *testing.T) {
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil)
	c := h.client(false)
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("dflt")})
	must(t, err)
	partData := [][]byte{make([]byte, 90<<10), make([]byte, 4321)}
	for _, p := range partData {
		rand.Read(p)
	}
	cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("dflt"), Key: aws.String("k")})
	must(t, err)
	var parts []types.CompletedPart
	for i, b := range partData {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("dflt"), Key: aws.String("k"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
		must(t, err)
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	cm, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("dflt"), Key: aws.String("k"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	must(t, err)
	alg, _ := checksum.ByName("CRC64NVME")
	whole := bytes.Join(partData, nil)
	want := alg.Sum(whole)
	if aws.ToString(cm.ChecksumCRC64NVME) != want || cm.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("complete: %q %q, want %q FULL_OBJECT", aws.ToString(cm.ChecksumCRC64NVME), cm.ChecksumType, want)
	}
	hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("dflt"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err)
	if aws.ToString(hd.ChecksumCRC64NVME) != want || hd.ChecksumType != types.ChecksumTypeFullObject {
		t.Fatalf("HEAD: %q %q", aws.ToString(hd.ChecksumCRC64NVME), hd.ChecksumType)
	}
	g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("dflt"), Key: aws.String("k"), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err)
	body, err := io.ReadAll(g.Body)
	g.Body.Close()
	must(t, err)
	if !bytes.Equal(body, whole) || aws.ToString(g.ChecksumCRC64NVME) != want {
		t.Fatalf("GET: %d bytes, checksum %q", len(body), aws.ToString(g.ChecksumCRC64NVME))
	}
}
