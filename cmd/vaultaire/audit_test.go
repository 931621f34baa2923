package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestAuditEveryOperation runs a server whose audit webhook never answers
// (it holds every request open until the test ends). Requests still all
// complete: a dead sink cannot slow S3 down. After a graceful stop the
// audit file holds exactly one line per request, failures and refused
// requests included, with the fields of the request. It runs over HTTPS,
// the production mode: the audit path does not depend on the scheme, and
// the HTTP side of every operation is covered in s3 and the process tests.
func TestAuditEveryOperation(t *testing.T) {
	blocked := make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-blocked
	}))
	defer hook.Close()
	defer close(blocked) // runs before hook.Close: release the held requests

	dir := t.TempDir()
	auditPath := filepath.Join(dir, "audit.jsonl")
	admin := freeAddr(t)
	s := startServer(t, filepath.Join(dir, "data"), nil, append([]string{"--audit-file", auditPath,
		"--audit-webhook", hook.URL, "--admin-address", admin}, httpsArgs(t)...)...)
	c := s.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("audited")}); err != nil {
		t.Fatal(err)
	}
	// Enough requests to overflow the webhook's bounded queue many times
	// over if it were on the request path.
	const puts = 300
	for i := 0; i < puts; i++ {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("audited"), Key: aws.String("k"), Body: bytes.NewReader([]byte("hello"))}); err != nil {
			t.Fatalf("put %d with a blocked audit webhook: %v", i, err)
		}
	}
	if _, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("audited"), Key: aws.String("missing")}); err == nil {
		t.Fatal("GET of a missing key succeeded")
	}
	if _, err := s.client(testKey, "wrong-secret").ListBuckets(ctx, &awss3.ListBucketsInput{}); err == nil {
		t.Fatal("bad signature accepted")
	}
	s.stop(t)

	f, err := os.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v: %s", err, sc.Text())
		}
		lines = append(lines, m)
	}
	if want := 1 + puts + 2; len(lines) != want {
		t.Fatalf("%d audit lines, want %d (one per request)", len(lines), want)
	}
	first, put, missing, refused := lines[0], lines[1], lines[len(lines)-2], lines[len(lines)-1]
	if first["operation"] != "CreateBucket" || first["container"] != "audited" || first["status"] != 200.0 {
		t.Fatalf("CreateBucket event: %v", first)
	}
	if put["operation"] != "PutObject" || put["key"] != "k" || put["bytes_in"] != 5.0 || put["tenant"] != "root" ||
		put["access_key_id"] != testKey || put["user"] != "root" || put["request_id"] == "" || put["node"] == "" ||
		put["remote_addr"] == "" || !strings.Contains(put["user_agent"].(string), "aws-sdk-go") {
		t.Fatalf("PutObject event: %v", put)
	}
	if missing["status"] != 404.0 || missing["error_code"] != "NoSuchKey" {
		t.Fatalf("failed GET event: %v", missing)
	}
	if refused["status"] != 403.0 || refused["error_code"] != "SignatureDoesNotMatch" || refused["tenant"] != "" {
		t.Fatalf("refused request event: %v", refused)
	}
	for _, l := range lines {
		raw, _ := json.Marshal(l)
		if strings.Contains(string(raw), testSecret) || strings.Contains(string(raw), "wrong-secret") {
			t.Fatalf("a secret reached the audit log: %s", raw)
		}
	}
}
