package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestClusterSSE: an object encrypted through one node (its bytes spread
// over all three) reads back through the others, the bucket default set
// through one node applies on another, and a KEK rotation through a
// follower's admin API re-wraps it without rewriting the shards. Every
// node derives the same keys from the cluster secret.
func TestClusterSSE(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("sse")}); err != nil {
		t.Fatal(err)
	}
	data := payload(700<<10, 3)
	if _, err := c.client(0).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("sse"), Key: aws.String("k"), Body: bytes.NewReader(data),
		ServerSideEncryption: types.ServerSideEncryptionAes256}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client(1).PutBucketEncryption(ctx, &awss3.PutBucketEncryptionInput{Bucket: aws.String("sse"),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}}); err != nil {
		t.Fatal(err)
	}
	// The default binds the next PUT through node 2 (read with the
	// request's barrier: TestClusterBucketConfigReadYourWrites).
	if _, err := c.client(2).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("sse"), Key: aws.String("d"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if h, err := c.client(0).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("sse"), Key: aws.String("d")}); err != nil ||
		h.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("the bucket default set through node 1 missed the next PUT through node 2: %v", err)
	}
	check := func(when string) {
		for i := 0; i < 3; i++ {
			got, err := getObject(ctx, c.client(i), "sse", "k")
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("%s: GET through node %d: %v", when, i, err)
			}
		}
	}
	check("before rotation")
	follower := (c.leader() + 1) % 3
	stdout, stderr, code := runCLI(t, nil, "admin", "--endpoint", "http://"+c.nodes[follower].admin, "--token", clusterAdminToken, "kms", "rotate")
	if code != 0 || !strings.Contains(stdout, "key-encryption key 1 -> 2:") {
		t.Fatalf("kms rotate through a follower: exit %d\n%s\n%s", code, stdout, stderr)
	}
	check("after rotation")
}
