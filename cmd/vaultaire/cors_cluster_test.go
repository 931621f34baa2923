package main

import (
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestClusterCORS: rules set through one node answer preflights on every
// node at once, and their removal through another node too.
func TestClusterCORS(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.client(1).PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("web"), CORSConfiguration: &types.CORSConfiguration{
		CORSRules: []types.CORSRule{{AllowedOrigins: []string{"https://app.example"}, AllowedMethods: []string{"PUT"}, MaxAgeSeconds: aws.Int32(77)}},
	}}); err != nil {
		t.Fatal(err)
	}
	preflight := func(i int) (int, string) {
		t.Helper()
		s := c.nodes[i].current()
		req, err := http.NewRequest("OPTIONS", s.endpoint+"/web/k", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "PUT")
		resp, err := s.httpClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Access-Control-Max-Age")
	}
	for i := range 3 {
		if st, age := preflight(i); st != 200 || age != "77" {
			t.Fatalf("node %d: %d, max age %q", i, st, age)
		}
	}
	if _, err := c.client(2).DeleteBucketCors(ctx, &awss3.DeleteBucketCorsInput{Bucket: aws.String("web")}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if st, _ := preflight(i); st != 403 {
			t.Fatalf("node %d after delete: %d", i, st)
		}
	}
}
