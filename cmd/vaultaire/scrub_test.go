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
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestScrubAdmin: `vaultaire admin scrub start` runs a pass that repairs
// a corrupted parity shard; `scrub status` and the metrics show the pass;
// the routes need the admin token; the position is kept in the data dir.
func TestScrubAdmin(t *testing.T) {
	a := startAdminServer(t)
	c := a.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("scrub")}); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, c, "scrub", "k", payload(500<<10, 5)); err != nil {
		t.Fatal(err)
	}
	// One node of 4 drives: 2+2, shards 2 and 3 are parity.
	var parity string
	filepath.WalkDir(filepath.Join(a.dir, "drives"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/data/blobs/") && filepath.Base(path) == "3" {
			parity = path
		}
		return nil
	})
	orig, err := os.ReadFile(parity)
	if err != nil {
		t.Fatalf("parity shard: %v", err)
	}
	bad := bytes.Clone(orig)
	bad[len(bad)-100] ^= 1
	if err := os.WriteFile(parity, bad, 0o600); err != nil {
		t.Fatal(err)
	}

	if code, _ := a.call(t, http.MethodPost, "/admin/v1/scrub/start", "wrong-token", nil); code != http.StatusUnauthorized {
		t.Fatalf("scrub start with a wrong token: %d", code)
	}
	a.cli(t, 0, "scrub", "start")
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(parity)
		out := a.cli(t, 0, "scrub", "status")
		if bytes.Equal(b, orig) && !strings.Contains(out, "last pass completed: never") {
			if !strings.Contains(out, "(1 blobs, 1 bad shards, 0 errors)") {
				t.Fatalf("scrub status after the pass:\n%s", out)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("parity not repaired within 60 s; scrub status:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, m := adminGet(t, a.admin, "/metrics", "")
	if sample(m, "vaultaire_scrub_passes_total") < 1 || sample(m, "vaultaire_scrub_shards_bad_total") != 1 ||
		!strings.Contains(m, "\nvaultaire_scrub_errors_total 0\n") ||
		sample(m, "vaultaire_scrub_last_pass_completed_timestamp_seconds") < float64(time.Now().Add(-time.Hour).Unix()) {
		t.Fatalf("scrub metrics after a pass:\n%s", grepLines(m, "scrub"))
	}
	if _, err := os.Stat(filepath.Join(a.dir, "scrub.state")); err != nil {
		t.Fatalf("scrub position not kept: %v", err)
	}
	if out := a.cli(t, 2, "scrub", "nope"); out != "" {
		t.Fatalf("unknown scrub verb printed %q", out)
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
