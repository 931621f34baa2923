package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
)

// TestCapacityFallback runs a server whose four drives share a real 64 MiB
// tmpfs (root, as the chaos suite's full-drive nemesis) with a second
// Vaultaire as the default tier: writes past the high watermark (50%) make
// the leader move the oldest objects to the tier until usage is below the
// low one (30%). Every object reads back byte-identical; the moved ones are
// exactly the oldest; `cluster status`, /metrics and the audit log show it.
func TestCapacityFallback(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	bucket := remote.NewBucket(t)
	mnt := filepath.Join(t.TempDir(), "drives")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount a tmpfs for the drives (this test needs root): %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", mnt).Run() }) // after the server stops (cleanups run last first)
	args := []string{"--capacity-tier", "cold", "--capacity-high-watermark", "50", "--capacity-low-watermark", "30",
		"--capacity-interval", "200ms", "--gc-delay", "100ms"}
	for i := range 4 {
		args = append(args, "--drive", filepath.Join(mnt, fmt.Sprintf("d%d", i)))
	}
	a := startAdminServer(t, args...)
	ctx := context.Background()
	a.cli(t, 0, "tier", "add", "cold", "--endpoint", remote.Endpoint, "--path-style", "--bucket", bucket, "--prefix", "cold",
		"--access-key", remote.AccessKey, "--secret-key", remote.SecretKey)
	if out := a.cli(t, 0, "cluster", "status"); !strings.Contains(out, "capacity fallback: to tier cold above 50%, down to 30%") {
		t.Fatalf("cluster status before:\n%s", out)
	}
	c := a.client(testKey, testSecret)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	// 20 objects of 1 MiB: 2 MiB each in shape 2+2, 62% of the tmpfs.
	const n = 20
	var want [][]byte
	for i := range n {
		data := tierData(uint64(500+i), 1<<20)
		want = append(want, data)
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(fmt.Sprintf("obj%02d", i)), Body: bytes.NewReader(data)}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	// The leader spills until usage is below the low watermark.
	var m map[string]float64
	deadline := time.Now().Add(60 * time.Second)
	for {
		m = chaosMetrics(a.admin)
		if m["vaultaire_capacity_transitioned_total"] > 0 && m["vaultaire_capacity_spilling"] == 0 &&
			m["vaultaire_capacity_used_bytes"] < 0.5*m["vaultaire_capacity_total_bytes"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no spill to below the watermarks: moved %v, spilling %v, used %v of %v",
				m["vaultaire_capacity_transitioned_total"], m["vaultaire_capacity_spilling"], m["vaultaire_capacity_used_bytes"], m["vaultaire_capacity_total_bytes"])
		}
		time.Sleep(100 * time.Millisecond)
	}
	moved := int(m["vaultaire_capacity_transitioned_total"])
	if m["vaultaire_capacity_total_bytes"] != 64<<20 || m["vaultaire_capacity_high_watermark_ratio"] != 0.5 || m["vaultaire_capacity_failures_total"] != 0 {
		t.Fatalf("metrics %v", m)
	}
	if moved >= n {
		t.Fatalf("moved all %d objects", moved)
	}
	// The oldest moved (each round takes the oldest local ones), all read back.
	for i := range n {
		key := fmt.Sprintf("obj%02d", i)
		h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if onTier := h.StorageClass == "STANDARD_IA"; onTier != (i < moved) {
			t.Errorf("%s: storage class %q, %d oldest moved", key, h.StorageClass, moved)
		}
		got, err := getObject(ctx, c, "data", key)
		if err != nil || !bytes.Equal(got, want[i]) {
			t.Fatalf("%s: %d bytes, %v", key, len(got), err)
		}
	}
	waitRemoteCount(t, remote, bucket, "cold/", moved)
	var st struct {
		Capacity struct {
			Tier  string `json:"tier"`
			Used  int64  `json:"used_bytes"`
			Total int64  `json:"total_bytes"`
			Moved int64  `json:"moved"`
		} `json:"capacity"`
	}
	if err := json.Unmarshal([]byte(a.cli(t, 0, "--json", "cluster", "status")), &st); err != nil || st.Capacity.Tier != "cold" || st.Capacity.Moved != int64(moved) || st.Capacity.Total != 64<<20 {
		t.Fatalf("cluster status --json capacity %+v %v", st.Capacity, err)
	}

	// One audit event per move, marked as lifecycle work.
	a.stop(t)
	raw, err := os.ReadFile(a.audit)
	if err != nil {
		t.Fatal(err)
	}
	events := 0
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var ev struct {
			Operation string `json:"operation"`
			Lifecycle bool   `json:"lifecycle"`
			Status    int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Operation == "Lifecycle:capacity-transition" {
			if !ev.Lifecycle || ev.Status != 200 {
				t.Errorf("audit event %s", line)
			}
			events++
		}
	}
	if events != moved {
		t.Fatalf("%d audit events for %d moves", events, moved)
	}
}
