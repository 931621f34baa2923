package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/node"
)

func TestParseDriveSpec(t *testing.T) {
	for _, tc := range []struct {
		in, id, path string
		bad          bool
	}{
		{in: "/mnt/a", path: "/mnt/a"},
		{in: "id=disk-1,path=/mnt/a", id: "disk-1", path: "/mnt/a"},
		{in: "path=/mnt/a,id=disk-1", id: "disk-1", path: "/mnt/a"},
		{in: "path=/mnt/a", path: "/mnt/a"},
		{in: "", bad: true},
		{in: "id=x", bad: true},
		{in: "id=x,path=", bad: true},
		{in: "id=x,id=y,path=/a", bad: true},
		{in: "id=a b,path=/a", bad: true},
		{in: "size=3,path=/a", bad: true},
		{in: "id=" + strings.Repeat("x", 129) + ",path=/a", bad: true},
	} {
		s, err := parseDriveSpec(tc.in)
		if (err != nil) != tc.bad || err == nil && (s.id != tc.id || s.path != tc.path) {
			t.Errorf("parseDriveSpec(%q) = %+v, %v", tc.in, s, err)
		}
	}
	got := joinDriveSpecs([]string{"id=a", "path=/x", "/y", "path=/z", "id=c", "id=d"})
	want := []string{"id=a,path=/x", "/y", "path=/z,id=c", "id=d"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("joinDriveSpecs = %q, want %q", got, want)
	}
}

func FuzzParseDriveSpec(f *testing.F) {
	for _, s := range []string{"/a", "id=x,path=/a", "path=/a,id=x", "id=,path=", "=,="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := parseDriveSpec(v)
		if err == nil && s.path == "" {
			t.Fatalf("%q parsed without a path", v)
		}
	})
}

// shardFilesOf reads every shard file under a drive directory.
func shardFilesOf(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	filepath.WalkDir(filepath.Join(dir, "data"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(path, dir)] = b
		}
		return nil
	})
	return out
}

// TestDriveReplacedUnderLoad: one drive of one node of three dies and is
// replaced by a blank one while clients keep writing through the other
// nodes. At the restart the blank directory is adopted into its slot,
// and the heal job rebuilds every shard it held, byte for byte, while a
// load runs through every node; no client request fails beyond retried
// 503s and every acknowledged artifact reads back through every node.
func TestDriveReplacedUnderLoad(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	for _, b := range []string{"before", "swap", "during"} {
		if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	victim := 2
	if c.leader() == victim {
		victim = 1
	}
	var survivors []int
	for i := range c.nodes {
		if i != victim {
			survivors = append(survivors, i)
		}
	}
	runLoad := func(l *load, workers int) (stop func()) {
		st, done := make(chan struct{}), make(chan struct{})
		for w := 0; w < workers; w++ {
			go func(w int) { defer func() { done <- struct{}{} }(); l.run(ctx, w, st) }(w)
		}
		return func() {
			close(st)
			for w := 0; w < workers; w++ {
				<-done
			}
		}
	}
	before := newLoad(c, "before", 0, 1, 2)
	stopBefore := runLoad(before, 3)
	time.Sleep(3 * time.Second)
	stopBefore()
	// Keep writing through the survivors while the disk is swapped.
	survivorLoad := newLoad(c, "swap", survivors...)
	stopSurvivors := runLoad(survivorLoad, 2)

	p := c.nodes[victim]
	p.stop(t)
	drive := filepath.Join(p.dir, "drives", "d2")
	orig := shardFilesOf(t, drive)
	if len(orig) == 0 {
		t.Fatal("the victim drive holds no shards")
	}
	if err := os.RemoveAll(drive); err != nil { // the disk died; a blank one is mounted
		t.Fatal(err)
	}
	c.restart(victim)
	c.waitMembers(3)
	if out := p.current().stderr.String(); !strings.Contains(out, "replaced drive adopted into its slot") {
		t.Fatalf("no adoption in the log:\n%s", out)
	}
	during := newLoad(c, "during", 0, 1, 2)
	stopDuring := runLoad(during, 3)

	// The heal job's progress, through the admin API, until it is done.
	var heal *node.HealJob
	deadline := time.Now().Add(3 * time.Minute)
	for {
		code, body := adminGet(t, p.admin, "/admin/v1/drives", clusterAdminToken)
		var ds []node.DriveStatus
		if code != 200 || json.Unmarshal([]byte(body), &ds) != nil {
			t.Fatalf("GET /admin/v1/drives: %d %s", code, body)
		}
		for _, d := range ds {
			if strings.HasSuffix(d.Dir, "/d2") {
				heal = d.Heal
			}
		}
		if heal != nil && !heal.Completed.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("heal job not done in time: %+v", heal)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second) // load through every node on the healed drive
	stopDuring()
	stopSurvivors()
	if heal.Failed != 0 || heal.Rebuilt == 0 {
		t.Fatalf("heal job: %+v", heal)
	}
	for _, l := range []*load{before, survivorLoad, during} {
		if len(l.errs) > 0 {
			t.Fatalf("non-retryable errors: %v", l.errs)
		}
	}
	// Every shard the drive held that is still referenced is back, byte
	// for byte (the load deletes a fifth of its artifacts).
	healed := shardFilesOf(t, drive)
	back := 0
	for name, b := range orig {
		if got, ok := healed[name]; ok {
			if !bytes.Equal(got, b) {
				t.Fatalf("healed shard %s differs", name)
			}
			back++
		}
	}
	// The drive was blank: what is back was rebuilt, and the rest were
	// shards of artifacts the load deleted.
	if back < len(orig)/2 || int64(back) != heal.Rebuilt {
		t.Fatalf("%d of %d shards back, heal job %+v", back, len(orig), heal)
	}
	for i := range c.nodes {
		for _, l := range []*load{before, survivorLoad, during} {
			l.verify(t, i)
		}
	}
	// The CLI shows the job.
	var out, errb bytes.Buffer
	if rc := run(ctx, []string{"admin", "--endpoint", p.admin, "--token", clusterAdminToken, "drive", "list"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "done") {
		t.Fatalf("drive list: rc %d\n%s%s", rc, out.String(), errb.String())
	}
	_, m := adminGet(t, p.admin, "/metrics", "")
	if sample(m, "vaultaire_drive_heal_shards_rebuilt_total") != float64(heal.Rebuilt) {
		t.Errorf("metrics: drive heal rebuilt %v, job says %d", sample(m, "vaultaire_drive_heal_shards_rebuilt_total"), heal.Rebuilt)
	}
	t.Logf("heal: %d blobs, %d present, %d rebuilt (%d bytes); %d of %d original shards back; load %d+%d+%d ops, %d+%d+%d retries",
		heal.Blobs, heal.Present, heal.Rebuilt, heal.Bytes, back, len(orig), before.okOps, survivorLoad.okOps, during.okOps,
		before.retries, survivorLoad.retries, during.retries)
}
