package main

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestClusterBucketConfigReadYourWrites: a bucket configuration change
// acknowledged through one node binds the very next request through
// another, with no retry (docs/design.md, "Bucket configuration across
// nodes"): the default encryption, switched on and off through each node
// in turn, decides the next PUT through the next node; versioning, the
// object lock default retention and the lifecycle rules likewise. (Bucket
// and identity policies: TestClusterAccessPolicies.)
func TestClusterBucketConfigReadYourWrites(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("cfg"), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	data := payload(40<<10, 7)
	for round := 0; round < 12; round++ {
		via, next := round%3, (round+1)%3
		on := round%2 == 0
		var err error
		if on {
			_, err = c.client(via).PutBucketEncryption(ctx, &awss3.PutBucketEncryptionInput{Bucket: aws.String("cfg"),
				ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{{
					ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}})
		} else {
			_, err = c.client(via).DeleteBucketEncryption(ctx, &awss3.DeleteBucketEncryptionInput{Bucket: aws.String("cfg")})
		}
		if err != nil {
			t.Fatalf("round %d: bucket encryption through node %d: %v", round, via, err)
		}
		key := fmt.Sprintf("r%d", round)
		put, err := c.client(next).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("cfg"), Key: aws.String(key), Body: bytes.NewReader(data)})
		if err != nil {
			t.Fatal(err)
		}
		if want := map[bool]types.ServerSideEncryption{true: types.ServerSideEncryptionAes256}[on]; put.ServerSideEncryption != want {
			t.Fatalf("round %d: default %v set through node %d, the next PUT through node %d reported %q", round, on, via, next, put.ServerSideEncryption)
		}
		if head, err := c.client((next+1)%3).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("cfg"), Key: aws.String(key)}); err != nil ||
			head.ServerSideEncryption != put.ServerSideEncryption {
			t.Fatalf("round %d: HEAD %v", round, err)
		}
	}
	// The object lock default retention set through node 1 applies to
	// the next PUT through node 2.
	if _, err := c.client(1).PutObjectLockConfiguration(ctx, &awss3.PutObjectLockConfigurationInput{Bucket: aws.String("cfg"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client(2).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("cfg"), Key: aws.String("locked"), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	if head, err := c.client(0).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("cfg"), Key: aws.String("locked")}); err != nil ||
		head.ObjectLockMode != types.ObjectLockModeGovernance {
		t.Fatalf("default retention set through node 1 missed the PUT through node 2: %v", err)
	}
	// Lifecycle rules set through node 2 are read back through node 0.
	if _, err := c.client(2).PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("cfg"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("old"), Status: types.ExpirationStatusEnabled,
			Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(3)}}}}}); err != nil {
		t.Fatal(err)
	}
	lc, err := c.client(0).GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("cfg")})
	if err != nil || len(lc.Rules) != 1 || aws.ToString(lc.Rules[0].ID) != "old" {
		t.Fatalf("lifecycle through node 0 right after node 2 set it: %v", err)
	}
}
