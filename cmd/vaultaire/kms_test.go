package main

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestKMSRotateAdmin: `vaultaire admin kms rotate` re-wraps the data keys
// of SSE-S3 objects in a real server: the shard files stay as they were,
// the objects read back, and the route needs the admin token.
func TestKMSRotateAdmin(t *testing.T) {
	a := startAdminServer(t)
	c := a.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("kms")}); err != nil {
		t.Fatal(err)
	}
	data := payload(300<<10, 9)
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("kms"), Key: aws.String("k"), Body: bytes.NewReader(data),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
		t.Fatal(err)
	}
	shards := func() map[string]string {
		m := map[string]string{}
		filepath.WalkDir(filepath.Join(a.dir, "drives"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/blobs/") {
				b, _ := os.ReadFile(path)
				m[path] = string(b)
			}
			return nil
		})
		return m
	}
	before := shards()
	if len(before) == 0 {
		t.Fatal("no shard files")
	}
	if code, _ := a.call(t, http.MethodPost, "/admin/v1/kms/rotate", "wrong-token", nil); code != http.StatusUnauthorized {
		t.Fatalf("rotate with a wrong token: %d", code)
	}
	out := a.cli(t, 0, "kms", "rotate")
	if !strings.Contains(out, "key-encryption key 1 -> 2: 1 data keys re-wrapped in 1 records") {
		t.Fatalf("kms rotate printed %q", out)
	}
	out = a.cli(t, 0, "kms", "rotate")
	if !strings.Contains(out, "key-encryption key 2 -> 3: 1 data keys") {
		t.Fatalf("second kms rotate printed %q", out)
	}
	after := shards()
	for p, b := range before {
		if after[p] != b {
			t.Fatalf("shard %s rewritten by the rotation", p)
		}
	}
	got, err := getObject(ctx, c, "kms", "k")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("object after rotation: %v", err)
	}
	if out := a.cli(t, 2, "kms", "nope"); out != "" {
		t.Fatalf("unknown kms verb printed %q", out)
	}
}
