package s3_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestE2ECrossTenantCopy: CopyObject and UploadPartCopy read a source in
// another tenant's bucket, named "tenant:bucket/key", when that bucket's
// policy lets the requester read it; everything else is refused and
// stores nothing.
func TestE2ECrossTenantCopy(t *testing.T) {
	h := newHarness(t, nil)
	root := h.client(false)
	h.bucket(t, "shared")
	for key, body := range map[string]string{"reports/a": "quarterly", "private/b": "secret"} {
		_, err := root.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String(key), Body: strings.NewReader(body)})
		must(t, err)
	}
	_, err := root.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("reports/enc"),
		Body: strings.NewReader("encrypted report"), ServerSideEncryption: types.ServerSideEncryptionAes256})
	must(t, err)
	must(t, putPolicy(t, root, "shared", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::acme:user/alice"},
		"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/reports/*"}]}`))
	alice := h.as(h.tenantKey(t, "acme", "alice"))
	mallory := h.as(h.tenantKey(t, "acme", "mallory"))
	_, err = alice.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("mine")})
	must(t, err)

	read := func(key string) string {
		t.Helper()
		s, err := readObject(t, alice, "mine", key)
		must(t, err)
		return s
	}
	_, err = alice.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("mine"), Key: aws.String("a"), CopySource: aws.String("root:shared/reports/a")})
	must(t, err)
	_, err = alice.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("mine"), Key: aws.String("enc"), CopySource: aws.String("root:shared/reports/enc"),
		ExpectedSourceBucketOwner: aws.String("root")})
	must(t, err)
	if a, enc := read("a"), read("enc"); a != "quarterly" || enc != "encrypted report" {
		t.Fatalf("copies read %q, %q", a, enc)
	}

	// UploadPartCopy from the other tenant.
	up, err := alice.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("mine"), Key: aws.String("mp")})
	must(t, err)
	pc, err := alice.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{Bucket: aws.String("mine"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("root:shared/reports/a")})
	must(t, err)
	_, err = alice.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mine"), Key: aws.String("mp"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: pc.CopyPartResult.ETag}}}})
	must(t, err)
	if got := read("mp"); got != "quarterly" {
		t.Fatalf("part copy read %q", got)
	}

	// Refusals: S3's code, and nothing lands in "mine".
	for _, tc := range []struct {
		name   string
		c      *awss3.Client
		src    string
		expect string
		code   string
	}{
		{"outside the granted prefix", alice, "root:shared/private/b", "", "AccessDenied"},
		{"a user the policy does not name", mallory, "root:shared/reports/a", "", "AccessDenied"},
		{"wrong expected source owner", alice, "root:shared/reports/a", "acme", "AccessDenied"},
		{"no such tenant", alice, "nosuchtenant:shared/reports/a", "", "NoSuchBucket"},
		{"no such bucket of the tenant", alice, "root:nobucket/reports/a", "", "NoSuchBucket"},
		{"a plain name is the requester's own", alice, "shared/reports/a", "", "NoSuchBucket"},
		{"bad tenant id", alice, "AC:shared/reports/a", "", "InvalidBucketName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := &awss3.CopyObjectInput{Bucket: aws.String("mine"), Key: aws.String("refused"), CopySource: aws.String(tc.src)}
			if tc.expect != "" {
				in.ExpectedSourceBucketOwner = aws.String(tc.expect)
			}
			_, err := tc.c.CopyObject(ctx, in)
			wantCode(t, err, tc.code)
			if _, err := readObject(t, alice, "mine", "refused"); err == nil {
				t.Fatal("a refused copy stored an object")
			}
		})
	}
}
