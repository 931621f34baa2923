package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestClusterSlowReaderKeepsOldVersion: a GET through one node that reads
// slowly, past the GC delay, while another node overwrites the artifact,
// still gets every byte of the version it opened: the overwriting node
// asks its peers for read leases before it deletes the old blobs. (The
// second part of a multipart artifact used to be gone when the stream
// reached it.)
func TestClusterSlowReaderKeepsOldVersion(t *testing.T) {
	c := startCluster(t, 3, "--gc-delay", "1s")
	ctx := context.Background()
	s3c := c.client(0)
	if _, err := s3c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("slow")}); err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{payload(16<<20, 1), payload(1<<20, 2)}
	up, err := s3c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("slow"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	var done []types.CompletedPart
	for i, p := range parts {
		out, err := s3c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("slow"), Key: aws.String("big"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		if err != nil {
			t.Fatal(err)
		}
		done = append(done, types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))})
	}
	if _, err := s3c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("slow"), Key: aws.String("big"), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}); err != nil {
		t.Fatal(err)
	}
	want := append(bytes.Clone(parts[0]), parts[1]...)

	// A slow client of node 1: a small receive buffer, so the server
	// cannot run ahead of it.
	pre, err := awss3.NewPresignClient(c.client(1)).PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("slow"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 32<<10) })
	}}
	hc := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	resp, err := hc.Get(pre.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := make([]byte, 1<<20)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	// Overwritten through node 2 meanwhile; its GC delay passes several
	// times over while the reader pauses.
	if err := putObject(ctx, c.client(2), "slow", "big", []byte("new")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(6 * time.Second)
	rest, err := io.ReadAll(resp.Body)
	got = append(got, rest...)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("slow GET of the old version: %d of %d bytes, %v", len(got), len(want), err)
	}
	if b, err := getObject(ctx, c.client(1), "slow", "big"); err != nil || string(b) != "new" {
		t.Fatalf("new version: %q %v", b, err)
	}
}
