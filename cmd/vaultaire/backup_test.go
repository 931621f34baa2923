package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestMetastoreBackupRestore: a node with data is backed up through the
// CLI; its metastore is lost; a node started with --restore-metastore on
// the same drives serves every artifact of the backup byte for byte, and
// not the one written after it. A restore over an existing metastore, and
// a snapshot without the token, are refused.
func TestMetastoreBackupRestore(t *testing.T) {
	const token = "backup-test-admin-token"
	env := []string{"VAULTAIRE_ADMIN_TOKEN=" + token}
	dir := filepath.Join(t.TempDir(), "n")
	s := startServer(t, dir, env)
	var adminAddr string
	for deadline := time.Now().Add(30 * time.Second); adminAddr == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := bannerAdmin.FindStringSubmatch(s.output()); m != nil {
			adminAddr = m[1]
		}
	}
	if adminAddr == "" {
		t.Fatalf("no admin address in the banner:\n%s", s.output())
	}
	ctx := context.Background()
	cl := s.client(testKey, testSecret)
	if _, err := cl.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	sizes := []int{0, 1000, 70 << 10, 300 << 10, 2 << 20}
	for i, n := range sizes {
		if err := putObject(ctx, cl, "keep", fmt.Sprint(i), payload(n, byte(i))); err != nil {
			t.Fatal(err)
		}
	}
	if code, _ := adminGet(t, adminAddr, "/admin/v1/metastore/snapshot", "wrong"); code != http.StatusUnauthorized {
		t.Fatalf("snapshot with a wrong token: %d", code)
	}
	backup := filepath.Join(t.TempDir(), "meta.snapshot")
	f, err := os.Create(backup)
	if err != nil {
		t.Fatal(err)
	}
	var errb bytes.Buffer
	rc := run(ctx, []string{"admin", "--endpoint", adminAddr, "--token", token, "metastore", "snapshot"}, f, &errb)
	f.Close()
	if rc != 0 {
		t.Fatalf("metastore snapshot: rc %d %s", rc, errb.String())
	}
	if err := putObject(ctx, cl, "keep", "after", payload(300<<10, 99)); err != nil {
		t.Fatal(err)
	}
	s.stop(t)

	// The restore refuses to overwrite a metastore.
	out, err := exec.Command(binary(t), "server", "--data", dir, "--restore-metastore", backup).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "already holds a metastore") {
		t.Fatalf("restore over a metastore: %v\n%s", err, out)
	}
	// The metadata disk is lost; the drives are not.
	if err := os.RemoveAll(filepath.Join(dir, "meta")); err != nil {
		t.Fatal(err)
	}
	r := startServer(t, dir, env, "--restore-metastore", backup)
	if !strings.Contains(r.stderr.String(), "metastore restored from a backup") {
		t.Fatalf("no restore in the log:\n%s", r.stderr.String())
	}
	cl = r.client(testKey, testSecret)
	for i, n := range sizes {
		got, err := getObject(ctx, cl, "keep", fmt.Sprint(i))
		if err != nil || !bytes.Equal(got, payload(n, byte(i))) {
			t.Fatalf("artifact %d after the restore: %v, %d bytes (want %d)", i, err, len(got), n)
		}
	}
	if _, err := getObject(ctx, cl, "keep", "after"); s3Code(err) != "NoSuchKey" {
		t.Fatalf("an artifact written after the backup: %v", err)
	}
	// The restored node takes writes.
	if err := putObject(ctx, cl, "keep", "new", payload(100<<10, 7)); err != nil {
		t.Fatal(err)
	}
}
