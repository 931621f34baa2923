package main

import (
	"bytes"
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3"
)

// TestInlineThresholdFlag: 0 turns inlining off (it used to mean the
// 16 KiB default), and values past node.MaxInlineThreshold, which a
// follower could not always forward, or below 0 are refused at start.
func TestInlineThresholdFlag(t *testing.T) {
	for _, bad := range []string{"-1", "1048577", "67108864"} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"server", "--data", t.TempDir(), "--admin-address", "", "--inline-threshold", bad}, &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), "invalid --inline-threshold "+bad) || !strings.Contains(errOut.String(), "1048576") {
			t.Errorf("--inline-threshold %s: exit %d, stderr %q; want a refusal naming the maximum", bad, code, errOut.String())
		}
	}

	dir := t.TempDir()
	srv := startServer(t, dir, nil, "--inline-threshold", "0")
	c := srv.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("tiny")}); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, c, "tiny", "k", []byte("ten bytes!")); err != nil {
		t.Fatal(err)
	}
	if got, err := getObject(ctx, c, "tiny", "k"); err != nil || string(got) != "ten bytes!" {
		t.Fatalf("get: %q %v", got, err)
	}
	shards := 0
	filepath.WalkDir(filepath.Join(dir, "drives"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/data/blobs/") {
			shards++
		}
		return nil
	})
	if shards != 4 {
		t.Fatalf("a 10-byte artifact with --inline-threshold 0 left %d shard files, want 4 (2+2)", shards)
	}
}

// TestMaxInlineFitsForwarding: the largest inline artifact, with the
// largest headers a request may carry, fits a forwarded command.
func TestMaxInlineFitsForwarding(t *testing.T) {
	if need := node.MaxInlineThreshold + 2*s3.DefaultMaxHeaderBytes; need >= cluster.MaxApplyBytes/4 {
		t.Fatalf("an inline command may need %d bytes; forwarding carries %d", need, cluster.MaxApplyBytes)
	}
}
