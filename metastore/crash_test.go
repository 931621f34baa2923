package metastore

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

const (
	// crashChildEnv holds the data directory of the crash test's child;
	// its presence makes TestCrashChild run the child's workload.
	crashChildEnv   = "METASTORE_CRASH_CHILD_DIR"
	crashRoundEnv   = "METASTORE_CRASH_ROUND"
	crashNodeAddr   = "crash-node"
	crashChildLimit = 100000
)

// crashConfig is the child's (and the verifier's) configuration: snapshots
// and log compaction happen all the time, so kills land around them too.
func crashConfig(dir string) Config {
	cfg := testConfig("crash", dir)
	cfg.Bootstrap = true
	cfg.SnapshotThreshold = 100
	cfg.TrailingLogs = 16
	cfg.SnapshotInterval = 30 * time.Millisecond
	return cfg
}

// TestCrashChild is the crash test's child process: it runs a single-node
// store on the directory named by crashChildEnv and writes fresh keys from
// several goroutines, printing "ack <key>" only after each write returned.
// Run directly (without the variable) it has nothing to do.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		return
	}
	round := os.Getenv(crashRoundEnv)
	cfg := crashConfig(dir)
	_, trans := raft.NewInmemTransport(crashNodeAddr)
	cfg.Transport = trans
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	if err := s.WaitLeader(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "wait leader:", err)
		os.Exit(3)
	}
	if err := s.CreateContainer(ctx, Container{Tenant: "t1", Name: "c1", Created: t0}); err != nil && !errors.Is(err, ErrExists) {
		fmt.Fprintln(os.Stderr, "create container:", err)
		os.Exit(3)
	}
	// Snapshots (and log compaction) all the time, so kills also land
	// in the middle of them.
	go func() {
		for ctx.Err() == nil {
			_ = s.Raft().Snapshot().Error()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	var out sync.Mutex
	w := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(w, "ready")
	w.Flush()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < crashChildLimit/8 && ctx.Err() == nil; i++ {
				key := fmt.Sprintf("r%s/g%d/%06d", round, g, i)
				_, err := s.PutArtifact(ctx, Artifact{Tenant: "t1", Container: "c1", Key: key, Size: 3, Created: t0,
					Parts: []Part{{Number: 1, Size: 3, Blob: blob("b-" + key)}}}, Cond{IfNoneMatch: true})
				if err != nil {
					fmt.Fprintln(os.Stderr, "put:", key, err)
					os.Exit(4)
				}
				out.Lock()
				fmt.Fprintln(w, "ack", key)
				w.Flush()
				out.Unlock()
			}
		}(g)
	}
	wg.Wait()
	os.Exit(5) // the parent was meant to kill us long before
}

// TestCrashRecovery kills a child process running the store with SIGKILL
// in the middle of a write load, three times on the same directory, then
// opens the store and checks that every write the child acknowledged is
// there, exactly once.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	var acked []string
	for round := 0; round < 3; round++ {
		acked = append(acked, runCrashChild(t, dir, round, 150+round*75)...)
	}
	if len(acked) < 3*150 {
		t.Fatalf("only %d acks collected", len(acked))
	}
	// The children took snapshots (and compacted the log) under load.
	if snaps, err := os.ReadDir(filepath.Join(dir, "snapshots")); err != nil || len(snaps) == 0 {
		t.Fatalf("no snapshot was taken during the load (%v)", err)
	}

	cfg := crashConfig(dir)
	_, trans := raft.NewInmemTransport(crashNodeAddr)
	defer trans.Close()
	cfg.Transport = trans
	s, err := Open(ctxT(t), cfg)
	mustNoErr(t, err)
	defer func() { mustNoErr(t, s.Close()) }()
	ctx := ctxT(t)
	mustNoErr(t, s.WaitLeader(ctx))
	for _, k := range acked {
		if _, err := s.GetArtifact(ctx, "t1", "c1", k); err != nil {
			t.Fatalf("acknowledged write %s lost: %v", k, err)
		}
		live, err := s.BlobLive(ctx, "b-"+k)
		mustNoErr(t, err)
		if !live {
			t.Fatalf("blob of %s not referenced", k)
		}
	}
	var listed int64
	o := ListOptions{}
	for {
		res, err := s.ListArtifacts(ctx, "t1", "c1", o)
		mustNoErr(t, err)
		listed += int64(len(res.Artifacts))
		if !res.Truncated {
			break
		}
		o.StartAfter = res.Next
	}
	u, err := s.ContainerUsage(ctx, "t1", "c1")
	mustNoErr(t, err)
	if u.Artifacts != listed || u.Bytes != 3*listed {
		t.Fatalf("usage %+v for %d artifacts: an entry was lost or applied twice", u, listed)
	}
	if listed < int64(len(acked)) {
		t.Fatalf("%d artifacts for %d acks", listed, len(acked))
	}
	t.Logf("%d acked writes survived 3 kills (%d artifacts in all)", len(acked), listed)
}

// runCrashChild runs one child on dir until it has acked killAfter writes,
// kills it with SIGKILL and returns every key it acked.
func runCrashChild(t *testing.T, dir string, round, killAfter int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, fmt.Sprintf("%s=%d", crashRoundEnv, round))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	mustNoErr(t, err)
	mustNoErr(t, cmd.Start())
	var acked []string
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "ack "); ok {
			acked = append(acked, k)
			if len(acked) == killAfter && !killed {
				mustNoErr(t, cmd.Process.Kill()) // SIGKILL: no defer, no flush, no close
				killed = true
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("round %d: child ended on its own after %d acks: %v\n%s", round, len(acked), err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(interface{ Signaled() bool }); ok && !ws.Signaled() {
		t.Fatalf("round %d: child exited (%v) instead of being killed\n%s", round, err, stderr.String())
	}
	return acked
}
