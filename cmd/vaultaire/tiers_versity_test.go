package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
)

// TestColdTierVersity uses versitygw (posix backend, started by the test,
// as the driver conformance does) as the remote of two tiers: objects
// (single-part and multipart-sized) move there with `tier move`, read back
// byte-identical (GET, range, HEAD, listing), an archive tier needs and
// gets a restore, deleting a moved object removes its remote object, and
// `tier recall` brings the rest back so that `tier remove` succeeds and the
// remote is left empty.
func TestColdTierVersity(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs versitygw, an external server")
	}
	remote := s3test.StartVersity(t)
	bucket := remote.NewBucket(t)
	a := startAdminServer(t, "--tier-journal-interval", "200ms")
	ctx := context.Background()
	c := a.client(testKey, testSecret)
	tierAdd := func(name, prefix string, extra ...string) {
		t.Helper()
		args := append([]string{"tier", "add", name, "--endpoint", remote.Endpoint, "--path-style", "--bucket", bucket, "--prefix", prefix,
			"--access-key", remote.AccessKey, "--secret-key", remote.SecretKey}, extra...)
		a.cli(t, 0, args...)
	}
	tierAdd("versity", "cool", "--storage-class", "STANDARD_IA")
	tierAdd("vault", "deep", "--archive")
	a.cli(t, 1, "tier", "add", "wrong", "--endpoint", remote.Endpoint, "--path-style", "--bucket", bucket,
		"--access-key", remote.AccessKey, "--secret-key", "not-the-secret")

	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"small": tierData(21, 100<<10),
		"big":   tierData(22, 20<<20+77), // above the driver's multipart threshold
		"gone":  tierData(23, 1<<20),
	}
	for key, data := range objects {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		if out := a.cli(t, 0, "tier", "move", "versity", "root", "data", key); !strings.Contains(out, "STANDARD_IA") {
			t.Fatalf("move %s: %s", key, out)
		}
	}
	waitRemoteCount(t, remote, bucket, "cool/", 3)
	for key, data := range objects {
		if got, err := getObject(ctx, c, "data", key); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GET %s from versitygw: %d bytes, %v", key, len(got), err)
		}
	}
	big := objects["big"]
	rg, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("big"), Range: aws.String("bytes=9437180-9437200")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rg.Body)
	rg.Body.Close()
	if !bytes.Equal(got, big[9437180:9437201]) {
		t.Fatal("range GET through versitygw differs")
	}
	if h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("big")}); err != nil ||
		h.StorageClass != types.StorageClassStandardIa || *h.ContentLength != int64(len(big)) {
		t.Fatalf("HEAD: %+v %v", h, err)
	}
	list, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("data")})
	if err != nil || len(list.Contents) != 3 {
		t.Fatalf("listing: %+v %v", list, err)
	}
	for _, o := range list.Contents {
		if o.StorageClass != types.ObjectStorageClassStandardIa {
			t.Fatalf("listed %s as %s", *o.Key, o.StorageClass)
		}
	}

	// A delete removes the remote object.
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	waitRemoteCount(t, remote, bucket, "cool/", 2)

	// An archive tier on versitygw: restore, then GET.
	frozen := tierData(24, 300<<10)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("frozen"), Body: bytes.NewReader(frozen)}); err != nil {
		t.Fatal(err)
	}
	a.cli(t, 0, "tier", "move", "vault", "root", "data", "frozen")
	if _, err := getObject(ctx, c, "data", "frozen"); s3Code(err) != "InvalidObjectState" {
		t.Fatalf("GET on the archive tier before a restore: %v", err)
	}
	if _, err := c.RestoreObject(ctx, &awss3.RestoreObjectInput{Bucket: aws.String("data"), Key: aws.String("frozen"),
		RestoreRequest: &types.RestoreRequest{Days: aws.Int32(1)}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("frozen")})
		if err != nil || h.Restore == nil {
			t.Fatalf("HEAD during the restore: %+v %v", h, err)
		}
		if strings.Contains(*h.Restore, `ongoing-request="false"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("x-amz-restore: %q", *h.Restore)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, err := getObject(ctx, c, "data", "frozen"); err != nil || !bytes.Equal(got, frozen) {
		t.Fatalf("GET of the restored object: %d bytes, %v", len(got), err)
	}

	// Recall both tiers, then remove them: the remote is left empty.
	for _, tier := range []string{"versity", "vault"} {
		if out := a.cli(t, 0, "tier", "recall", tier); !strings.Contains(out, "0 left") {
			t.Fatalf("recall %s:\n%s", tier, out)
		}
		a.cli(t, 0, "tier", "remove", tier)
	}
	for key, data := range map[string][]byte{"small": objects["small"], "big": big, "frozen": frozen} {
		if got, err := getObject(ctx, c, "data", key); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GET %s after the recall: %d bytes, %v", key, len(got), err)
		}
		if h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String(key)}); err != nil || h.StorageClass == types.StorageClassStandardIa || h.StorageClass == types.StorageClassGlacier {
			t.Fatalf("HEAD %s after the recall: %+v %v", key, h.StorageClass, err)
		}
	}
	waitRemoteCount(t, remote, bucket, "", 0)
}
