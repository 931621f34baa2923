package s3_test

import (
	"bufio"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/checksum"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// TestErrorFidelity is the one table of S3's specific errors: each row is
// a request against a real server and the status, code and message S3
// answers it with (the AWS S3 error-code reference and what S3 sends).
func TestErrorFidelity(t *testing.T) {
	h := newHarnessNode(t, nodetest.Options{}, func(c *s3.Config) { c.MaxPutSize = 1 << 20 })
	c := h.client(false)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("fidelity")})
	must(t, err)
	put(t, c, "fidelity", "obj", "0123456789")
	cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("fidelity"), Key: aws.String("mp")})
	must(t, err)
	id := *cr.UploadId
	var etags []string
	for i, b := range []string{"a", "b"} {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("fidelity"), Key: aws.String("mp"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader(b)})
		must(t, err)
		etags = append(etags, *up.ETag)
	}
	// A COMPOSITE SHA256 upload with part 1.
	ck, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("fidelity"), Key: aws.String("ck"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	must(t, err)
	ckID := *ck.UploadId
	ckPart, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("fidelity"), Key: aws.String("ck"), UploadId: ck.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("a"), ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	must(t, err)
	ckXML := func(sum string) []byte {
		return []byte(fmt.Sprintf("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>%s</ETag>%s</Part></CompleteMultipartUpload>", *ckPart.ETag, sum))
	}
	completeXML := func(parts ...string) []byte {
		var b strings.Builder
		b.WriteString("<CompleteMultipartUpload>")
		for i := 0; i < len(parts); i += 2 {
			fmt.Fprintf(&b, "<Part><PartNumber>%s</PartNumber><ETag>%s</ETag></Part>", parts[i], parts[i+1])
		}
		b.WriteString("</CompleteMultipartUpload>")
		return []byte(b.String())
	}
	md5of := func(s string) string { m := md5.Sum([]byte(s)); return base64.StdEncoding.EncodeToString(m[:]) }
	sha := func(s string) string { m := sha256.Sum256([]byte(s)); return hex.EncodeToString(m[:]) }
	partNumberMsg := "Part number must be an integer between 1 and 10000, inclusive"
	body := []byte("payload")

	for _, tc := range []struct {
		name   string
		req    rawReq
		cut    int // > 0: send the request raw, its body cut to this many bytes
		status int
		code   string
		msg    string
	}{
		{"no such bucket", rawReq{method: "GET", path: "/no-such-bucket/k"}, 0, 404, "NoSuchBucket", "The specified bucket does not exist"},
		{"no such bucket, upload", rawReq{method: "PUT", path: "/no-such-bucket/k?partNumber=1&uploadId=" + id, body: body}, 0, 404, "NoSuchBucket", "The specified bucket does not exist"},
		{"no such key", rawReq{method: "GET", path: "/fidelity/missing"}, 0, 404, "NoSuchKey", "The specified key does not exist."},
		{"no such upload", rawReq{method: "PUT", path: "/fidelity/mp?partNumber=1&uploadId=nope", body: body}, 0, 404, "NoSuchUpload",
			"The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."},
		{"part number 0", rawReq{method: "PUT", path: "/fidelity/mp?partNumber=0&uploadId=" + id, body: body}, 0, 400, "InvalidArgument", partNumberMsg},
		{"part number 10001", rawReq{method: "PUT", path: "/fidelity/mp?partNumber=10001&uploadId=" + id, body: body}, 0, 400, "InvalidArgument", partNumberMsg},
		{"part number not a number", rawReq{method: "PUT", path: "/fidelity/mp?partNumber=one&uploadId=" + id, body: body}, 0, 400, "InvalidArgument", partNumberMsg},
		{"GET part number 0", rawReq{method: "GET", path: "/fidelity/obj?partNumber=0"}, 0, 400, "InvalidArgument", partNumberMsg},
		{"GET part number 10001", rawReq{method: "GET", path: "/fidelity/obj?partNumber=10001"}, 0, 400, "InvalidArgument", partNumberMsg},
		{"GET a part the object does not have", rawReq{method: "GET", path: "/fidelity/obj?partNumber=2"}, 0, 416, "InvalidPartNumber", "The requested partnumber is not satisfiable"},
		{"copy part number 10001", rawReq{method: "PUT", path: "/fidelity/mp?partNumber=10001&uploadId=" + id, hdr: http.Header{"X-Amz-Copy-Source": {"/fidelity/obj"}}}, 0, 400, "InvalidArgument", partNumberMsg},
		{"part number 0 in the XML", rawReq{method: "POST", path: "/fidelity/mp?uploadId=" + id, body: completeXML("0", etags[0])}, 0, 400, "InvalidArgument", partNumberMsg},
		{"body shorter than Content-Length", rawReq{method: "PUT", path: "/fidelity/cut", body: bytes.Repeat([]byte("y"), 1000), payload: sigv4.UnsignedPayload}, 500, 400, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header."},
		{"method not allowed", rawReq{method: "PATCH", path: "/fidelity/obj"}, 0, 405, "MethodNotAllowed", "The specified method is not allowed against this resource."},
		{"invalid range", rawReq{method: "GET", path: "/fidelity/obj", hdr: http.Header{"Range": {"bytes=100-200"}}}, 0, 416, "InvalidRange", "The requested range is not satisfiable"},
		{"entity too large", rawReq{method: "PUT", path: "/fidelity/big", body: bytes.Repeat([]byte("x"), 1<<20+1), payload: sigv4.UnsignedPayload}, 0, 400, "EntityTooLarge",
			"Your proposed upload exceeds the maximum allowed object size."},
		{"key too long", rawReq{method: "PUT", path: "/fidelity/" + strings.Repeat("k", 1025), body: body}, 0, 400, "KeyTooLongError", "Your key is too long."},
		{"invalid bucket name", rawReq{method: "PUT", path: "/Bad_Bucket"}, 0, 400, "InvalidBucketName", "The specified bucket is not valid."},
		{"bucket already owned", rawReq{method: "PUT", path: "/fidelity"}, 0, 409, "BucketAlreadyOwnedByYou",
			"Your previous request to create the named bucket succeeded and you already own it."},
		{"bucket not empty", rawReq{method: "DELETE", path: "/fidelity"}, 0, 409, "BucketNotEmpty", "The bucket you tried to delete is not empty"},
		{"invalid part", rawReq{method: "POST", path: "/fidelity/mp?uploadId=" + id, body: completeXML("1", `"00000000000000000000000000000000"`)}, 0, 400, "InvalidPart",
			"One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
		{"invalid part order", rawReq{method: "POST", path: "/fidelity/mp?uploadId=" + id, body: completeXML("2", etags[1], "1", etags[0])}, 0, 400, "InvalidPartOrder",
			"The list of parts was not in ascending order. The parts list must be specified in order by part number."},
		{"entity too small", rawReq{method: "POST", path: "/fidelity/mp?uploadId=" + id, body: completeXML("1", etags[0], "2", etags[1])}, 0, 400, "EntityTooSmall",
			"Your proposed upload is smaller than the minimum allowed object size."},
		{"FULL_OBJECT SHA256 upload", rawReq{method: "POST", path: "/fidelity/ck?uploads", hdr: http.Header{"X-Amz-Checksum-Algorithm": {"SHA256"}, "X-Amz-Checksum-Type": {"FULL_OBJECT"}}}, 0, 400, "InvalidRequest",
			"The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm."},
		{"COMPOSITE CRC64NVME upload", rawReq{method: "POST", path: "/fidelity/ck?uploads", hdr: http.Header{"X-Amz-Checksum-Algorithm": {"CRC64NVME"}, "X-Amz-Checksum-Type": {"COMPOSITE"}}}, 0, 400, "InvalidRequest",
			"The COMPOSITE checksum type cannot be used with the crc64nvme checksum algorithm."},
		{"unknown checksum algorithm", rawReq{method: "POST", path: "/fidelity/ck?uploads", hdr: http.Header{"X-Amz-Checksum-Algorithm": {"MD5"}}}, 0, 400, "InvalidRequest",
			"Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]"},
		{"COMPOSITE upload, part without checksum", rawReq{method: "PUT", path: "/fidelity/ck?partNumber=2&uploadId=" + ckID, body: body}, 0, 400, "InvalidRequest",
			"Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: null"},
		{"part of another algorithm", rawReq{method: "PUT", path: "/fidelity/ck?partNumber=2&uploadId=" + ckID, body: body, hdr: http.Header{"X-Amz-Checksum-Crc32": {checksumOf("CRC32", body)}}}, 0, 400, "InvalidRequest",
			"Checksum Type mismatch occurred, expected checksum Type: sha256, actual checksum Type: crc32"},
		{"COMPOSITE complete without part checksums", rawReq{method: "POST", path: "/fidelity/ck?uploadId=" + ckID, body: ckXML("")}, 0, 400, "InvalidRequest",
			"The upload was created using a sha256 checksum. The complete request must include the checksum for each part. It was missing for part 1 in the request."},
		{"complete with a wrong part checksum", rawReq{method: "POST", path: "/fidelity/ck?uploadId=" + ckID, body: ckXML("<ChecksumSHA256>" + checksumOf("SHA256", body) + "</ChecksumSHA256>")}, 0, 400, "InvalidPart",
			"One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part's entity tag."},
		{"complete with a wrong whole-object checksum", rawReq{method: "POST", path: "/fidelity/ck?uploadId=" + ckID, body: ckXML("<ChecksumSHA256>" + *ckPart.ChecksumSHA256 + "</ChecksumSHA256>"),
			hdr: http.Header{"X-Amz-Checksum-Sha256": {checksumOf("SHA256", body)}}}, 0, 400, "BadDigest", "The sha256 you specified did not match the calculated checksum."},
		{"complete with another checksum type", rawReq{method: "POST", path: "/fidelity/ck?uploadId=" + ckID, body: ckXML("<ChecksumSHA256>" + *ckPart.ChecksumSHA256 + "</ChecksumSHA256>"),
			hdr: http.Header{"X-Amz-Checksum-Type": {"FULL_OBJECT"}}}, 0, 400, "InvalidRequest",
			"The upload was created using the COMPOSITE checksum mode. The complete request must use the same checksum mode."},
		{"malformed XML", rawReq{method: "POST", path: "/fidelity/mp?uploadId=" + id, body: []byte("<CompleteMultipartUpload><Part>")}, 0, 400, "MalformedXML",
			"The XML you provided was not well-formed or did not validate against our published schema."},
		{"missing Content-Length", rawReq{method: "PUT", path: "/fidelity/nolen", payload: sigv4.UnsignedPayload, body: body, before: func(r *http.Request) {
			r.ContentLength = -1
			r.Body = io.NopCloser(bytes.NewReader(body))
		}}, 0, 411, "MissingContentLength", "You must provide the Content-Length HTTP header."},
		{"invalid Content-MD5", rawReq{method: "PUT", path: "/fidelity/md5", body: body, hdr: http.Header{"Content-Md5": {"bad"}}}, 0, 400, "InvalidDigest",
			"The Content-MD5 you specified is not valid."},
		{"wrong Content-MD5", rawReq{method: "PUT", path: "/fidelity/md5", body: body, hdr: http.Header{"Content-Md5": {md5of("other")}}}, 0, 400, "BadDigest",
			"The Content-MD5 you specified did not match what we received."},
		{"wrong x-amz-checksum-crc32", rawReq{method: "PUT", path: "/fidelity/crc", body: body, hdr: http.Header{"X-Amz-Checksum-Crc32": {"AAAAAA=="}}}, 0, 400, "BadDigest",
			"The crc32 you specified did not match the calculated checksum."},
		{"wrong x-amz-content-sha256", rawReq{method: "PUT", path: "/fidelity/sha", body: body, payload: sha("other")}, 0, 400, "XAmzContentSHA256Mismatch",
			"The provided 'x-amz-content-sha256' header does not match what was computed."},
		{"wrong secret", rawReq{method: "GET", path: "/fidelity/obj", creds: &aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: "wrong"}}, 0, 403, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided. Check your key and signing method."},
		{"unknown access key", rawReq{method: "GET", path: "/fidelity/obj", creds: &aws.Credentials{AccessKeyID: "AKIDUNKNOWN000000000", SecretAccessKey: "x"}}, 0, 403, "InvalidAccessKeyId",
			"The AWS Access Key Id you provided does not exist in our records."},
		{"clock skew", rawReq{method: "GET", path: "/fidelity/obj", at: time.Now().Add(-time.Hour)}, 0, 403, "RequestTimeTooSkewed",
			"The difference between the request time and the current time is too large."},
		{"anonymous", rawReq{method: "GET", path: "/fidelity/obj", unsigned: true}, 0, 403, "AccessDenied", "Access Denied"},
		{"invalid storage class", rawReq{method: "PUT", path: "/fidelity/sc", body: body, hdr: http.Header{"X-Amz-Storage-Class": {"FAST"}}}, 0, 400, "InvalidStorageClass",
			"The storage class you specified is not valid"},
		{"metadata too large", rawReq{method: "PUT", path: "/fidelity/meta", body: body, hdr: http.Header{"X-Amz-Meta-Big": {strings.Repeat("m", 2100)}}}, 0, 400, "MetadataTooLarge",
			"Your metadata headers exceed the maximum allowed metadata size."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var resp *http.Response
			var b []byte
			if tc.cut > 0 {
				req := h.signReq(t, tc.req)
				out := h.rawHTTP(t, dump(t, req, tc.req.body[:tc.cut]))
				r, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), req)
				if err != nil {
					t.Fatalf("raw response %.300q: %v", out, err)
				}
				resp = r
				b, _ = io.ReadAll(r.Body)
			} else {
				resp, b = h.do(t, tc.req)
			}
			expectError(t, resp, b, tc.status, tc.code)
			var e errorDoc
			if err := xml.Unmarshal(b, &e); err != nil {
				t.Fatal(err)
			}
			if e.Message != tc.msg {
				t.Errorf("%s: message %q, want %q", tc.code, e.Message, tc.msg)
			}
		})
	}
	// None of the refused requests stored anything.
	for _, k := range []string{"cut", "big", "nolen", "md5", "crc", "sha", "sc", "meta"} {
		h.absent(t, "fidelity", k)
	}
}

func checksumOf(alg string, data []byte) string {
	a, _ := checksum.ByName(alg)
	return a.Sum(data)
}
