package main

import (
	"bytes"
	"context"
	binenc "encoding/binary"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/cockroachdb/pebble"

	"github.com/vaultaire/vaultaire/node"
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

// TestScrubAdminListsBlobsItCannotVerify: an artifact whose metadata
// record no longer decodes does not stop the scrub: `admin scrub start`
// completes a pass over the others, `scrub status` lists the record among
// the latest errors, and vaultaire_scrub_errors_total counts it.
func TestScrubAdminListsBlobsItCannotVerify(t *testing.T) {
	a := startAdminServer(t)
	c := a.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("scrub")}); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"good", "damaged"} {
		if err := putObject(ctx, c, "scrub", k, payload(300<<10, 7)); err != nil {
			t.Fatal(err)
		}
	}
	a.server.stop(t)
	// The artifact record: 'f', table 0x06, length-prefixed tenant and
	// bucket, then the key (metastore/keys.go); cut short, it no longer
	// decodes.
	db, err := pebble.Open(filepath.Join(a.dir, "meta", "pebble"), &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k := []byte{'f', 0x06}
	k = binenc.AppendUvarint(k, uint64(len(node.RootTenant)))
	k = append(k, node.RootTenant...)
	k = binenc.AppendUvarint(k, uint64(len("scrub")))
	k = append(append(k, "scrub"...), "damaged"...)
	v, closer, err := db.Get(k)
	if err != nil {
		t.Fatalf("the damaged artifact's record: %v", err)
	}
	bad := bytes.Clone(v[:len(v)-5])
	closer.Close()
	if err := db.Set(k, bad, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	a.server = startServer(t, a.dir, nil, "--admin-address", a.admin, "--audit-file", a.audit)
	waitAdmin(t, a.admin)

	a.cli(t, 0, "scrub", "start")
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := a.cli(t, 0, "scrub", "status")
		if strings.Contains(out, "(1 blobs, 0 bad shards, 1 errors)") {
			if !strings.Contains(out, "latest errors") || !strings.Contains(out, `container "scrub" key "damaged"`) {
				t.Fatalf("scrub status does not list the damaged record:\n%s", out)
			}
			t.Logf("scrub status:\n%s", out)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no pass over the damaged record within 60 s; scrub status:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, m := adminGet(t, a.admin, "/metrics", "")
	if !strings.Contains(m, "\nvaultaire_scrub_errors_total 1\n") {
		t.Fatalf("scrub metrics after the pass:\n%s", grepLines(m, "scrub"))
	}
}

// TestBlobShowAdmin: `vaultaire admin blob show ID` names the object a
// shard file on a drive belongs to, and says when nothing references it
// (garbage); malformed ids are refused, and the route needs the token.
func TestBlobShowAdmin(t *testing.T) {
	a := startAdminServer(t)
	c := a.client(testKey, testSecret)
	ctx := context.Background()
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("owners")}); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, c, "owners", "k", payload(300<<10, 3)); err != nil {
		t.Fatal(err)
	}
	var id string
	filepath.WalkDir(filepath.Join(a.dir, "drives"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(filepath.ToSlash(path), "/data/blobs/") {
			id = filepath.Base(filepath.Dir(path))
		}
		return nil
	})
	if id == "" {
		t.Fatal("no shard file on the drives")
	}
	if out := a.cli(t, 0, "blob", "show", id); !strings.Contains(out, `tenant "root" container "owners" key "k"`) {
		t.Fatalf("blob show of a live blob:\n%s", out)
	}
	var b struct {
		Blob   string
		Owners []string
	}
	if out := a.cli(t, 0, "--json", "blob", "show", id); json.Unmarshal([]byte(out), &b) != nil || b.Blob != id || len(b.Owners) != 1 {
		t.Fatalf("blob show --json:\n%s", out)
	}
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("owners"), Key: aws.String("k")}); err != nil {
		t.Fatal(err)
	}
	if out := a.cli(t, 0, "blob", "show", id); !strings.Contains(out, "no record references it") {
		t.Fatalf("blob show after the delete:\n%s", out)
	}
	for _, tc := range []struct {
		path, token string
		want        int
	}{
		{"/admin/v1/blobs/" + id, "wrong-token", http.StatusUnauthorized},
		{"/admin/v1/blobs/" + id, "", http.StatusUnauthorized},
		{"/admin/v1/blobs/" + strings.ToUpper(id), a.token, http.StatusBadRequest},
		{"/admin/v1/blobs/" + id[:31], a.token, http.StatusBadRequest},
		{"/admin/v1/blobs/" + id + "0", a.token, http.StatusBadRequest},
		{"/admin/v1/blobs/" + id[:30] + "zz", a.token, http.StatusBadRequest},
		{"/admin/v1/blobs/" + strings.Repeat("0", 32), a.token, http.StatusOK},
	} {
		if code, _ := a.call(t, http.MethodGet, tc.path, tc.token, nil); code != tc.want {
			t.Errorf("GET %s (token %q): %d, want %d", tc.path, tc.token, code, tc.want)
		}
	}
	if out := a.cli(t, 2, "blob", "show"); out != "" {
		t.Fatalf("blob show without an id printed %q", out)
	}
}
