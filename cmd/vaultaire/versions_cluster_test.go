package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// versionsOf lists every version of a bucket through one node, as
// "key@id" plus " marker" and " latest" (the SDK gives versions and delete
// markers apart: versions first, then markers).
func versionsOf(ctx context.Context, c *awss3.Client, bucket string) ([]string, error) {
	var out []string
	in := &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(7)}
	for {
		res, err := c.ListObjectVersions(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, v := range res.Versions {
			s := *v.Key + "@" + *v.VersionId
			if *v.IsLatest {
				s += " latest"
			}
			out = append(out, s)
		}
		for _, m := range res.DeleteMarkers {
			s := *m.Key + "@" + *m.VersionId + " marker"
			if *m.IsLatest {
				s += " latest"
			}
			out = append(out, s)
		}
		if !*res.IsTruncated {
			return out, nil
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
}

// TestClusterVersions: versions written through one node list identically
// through every node; a delete marker racing an overwrite ends in one order
// that every node sees alike; a locked version survives the leader's death
// in the middle of delete attempts.
func TestClusterVersions(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	a := c.client(0)
	if _, err := a.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("vers")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client(1).PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("vers"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	// Writes spread over the nodes.
	for i := 0; i < 12; i++ {
		key := fmt.Sprintf("k%d", i%4)
		if err := putObject(ctx, c.client(i%3), "vers", key, payload(1000+i*700, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.client(2).DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String("k1")}); err != nil {
		t.Fatal(err)
	}
	var lists [3][]string
	for i := range lists {
		l, err := versionsOf(ctx, c.client(i), "vers")
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		lists[i] = l
	}
	if len(lists[0]) != 13 {
		t.Fatalf("%d versions listed, want 13: %q", len(lists[0]), lists[0])
	}
	for i := 1; i < 3; i++ {
		if strings.Join(lists[i], ",") != strings.Join(lists[0], ",") {
			t.Fatalf("node %d lists\n%q\nnode 0 lists\n%q", i, lists[i], lists[0])
		}
	}

	// A delete marker races an overwrite, through two different nodes, many
	// times: each key ends with one order, the same on every node, and the
	// latest version agrees with it.
	for round := 0; round < 8; round++ {
		key := fmt.Sprintf("race%d", round)
		if err := putObject(ctx, a, "vers", key, []byte("first")); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var putErr, delErr error
		wg.Add(2)
		go func() {
			defer wg.Done()
			putErr = putObject(ctx, c.client(1), "vers", key, []byte("second"))
		}()
		go func() {
			defer wg.Done()
			_, delErr = c.client(2).DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("vers"), Key: aws.String(key)})
		}()
		wg.Wait()
		if putErr != nil || delErr != nil {
			t.Fatalf("race %d: put %v, delete %v", round, putErr, delErr)
		}
		var first []string
		for i := 0; i < 3; i++ {
			vs, err := versionsOf(ctx, c.client(i), "vers")
			if err != nil {
				t.Fatal(err)
			}
			var mine []string
			for _, v := range vs {
				if strings.HasPrefix(v, key+"@") {
					mine = append(mine, v)
				}
			}
			if len(mine) != 3 {
				t.Fatalf("race %d through node %d: %q", round, i, mine)
			}
			if i == 0 {
				first = mine
			} else if strings.Join(mine, ",") != strings.Join(first, ",") {
				t.Fatalf("race %d: node %d sees %q, node 0 %q", round, i, mine, first)
			}
			body, err := getObject(ctx, c.client(i), "vers", key)
			markerWon := false
			for _, v := range mine {
				if strings.HasSuffix(v, " latest") {
					markerWon = strings.Contains(v, " marker")
				}
			}
			switch {
			case markerWon && err == nil:
				t.Fatalf("race %d: latest is a marker but node %d reads %q", round, i, body)
			case !markerWon && (err != nil || string(body) != "second"):
				t.Fatalf("race %d: latest is the overwrite but node %d reads %q, %v", round, i, body, err)
			}
		}
	}

	// A locked version survives the leader's death in the middle of delete
	// attempts through every node.
	if _, err := a.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("locked"), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	out, err := a.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("locked"), Key: aws.String("keep"), Body: bytes.NewReader(payload(200<<10, 7)),
		ObjectLockMode: types.ObjectLockModeCompliance, ObjectLockRetainUntilDate: aws.Time(time.Now().Add(24 * time.Hour)),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	if err != nil {
		t.Fatal(err)
	}
	ver := out.VersionId
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var deleted []string
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := c.client(i).DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("locked"), Key: aws.String("keep"),
					VersionId: ver, BypassGovernanceRetention: aws.Bool(true)})
				if err == nil {
					mu.Lock()
					deleted = append(deleted, fmt.Sprintf("node %d", i))
					mu.Unlock()
				}
				time.Sleep(20 * time.Millisecond)
			}
		}(i)
	}
	time.Sleep(300 * time.Millisecond)
	old := c.leader()
	c.nodes[old].kill()
	time.Sleep(3 * time.Second)
	c.restart(old)
	c.waitMembers(3)
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if len(deleted) > 0 {
		t.Fatalf("a delete of a locked version succeeded through %v", deleted)
	}
	for i := 0; i < 3; i++ {
		g, err := c.client(i).GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("locked"), Key: aws.String("keep"), VersionId: ver})
		if err != nil {
			t.Fatalf("node %d: locked version gone: %v", i, err)
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(g.Body)
		g.Body.Close()
		if err != nil || !bytes.Equal(buf.Bytes(), payload(200<<10, 7)) {
			t.Fatalf("node %d: locked version bytes differ: %v", i, err)
		}
	}
}
