package bench

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildVaultaire builds ./cmd/vaultaire into a temporary directory.
func buildVaultaire(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "vaultaire")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/vaultaire").CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/vaultaire: %v\n%s", err, out)
	}
	return bin
}

// runCLI runs the binary with args and returns stdout, stderr and the exit
// code. The environment carries no AWS_* or VAULTAIRE_BENCH_* variables.
func runCLI(t *testing.T, bin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "VAULTAIRE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// TestBenchCLI drives `vaultaire bench` end to end against its in-process
// sink: a run writing --out, compare, plot, and usage errors.
func TestBenchCLI(t *testing.T) {
	bin := buildVaultaire(t)
	dir := t.TempDir()
	var reports []*Report
	for _, name := range []string{"a", "b"} {
		out := filepath.Join(dir, name)
		stdout, stderr, code := runCLI(t, bin, "bench", "--sink", "--workload", "mixed", "--duration", "1s", "--concurrency", "2",
			"--keys", "20", "--size", "1KiB..8KiB", "--seed", "7", "--out", out)
		if code != 0 {
			t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
		}
		if strings.Contains(stderr, "\r") {
			t.Errorf("progress line written although stderr is not a terminal: %q", stderr)
		}
		for _, want := range []string{"workload mixed", "ops/s", "get", "stat"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("table lacks %q:\n%s", want, stdout)
			}
		}
		for _, f := range []string{FileJSON, FileCSV, FileSeriesCSV, FileSVG} {
			if _, err := os.Stat(filepath.Join(out, f)); err != nil {
				t.Errorf("--out: %v", err)
			}
		}
		rep, err := LoadReport(filepath.Join(out, FileJSON))
		if err != nil {
			t.Fatal(err)
		}
		checkConsistent(t, rep)
		for _, o := range rep.Ops {
			if o.Errors != 0 || o.Count == 0 {
				t.Errorf("%s: %d ops, %d errors %v", o.Op, o.Count, o.Errors, o.ErrorKinds)
			}
		}
		reports = append(reports, rep)
	}

	stdout, stderr, code := runCLI(t, bin, "bench", "compare", filepath.Join(dir, "a", FileJSON), filepath.Join(dir, "b", FileJSON))
	if code != 0 || !strings.Contains(stdout, "B/A") || !strings.Contains(stdout, "ops/s") {
		t.Fatalf("compare exit %d\n%s\n%s", code, stdout, stderr)
	}

	svg := filepath.Join(dir, "plot.svg")
	if _, stderr, code := runCLI(t, bin, "bench", "plot", filepath.Join(dir, "a", FileJSON), "-o", svg); code != 0 {
		t.Fatalf("plot exit %d: %s", code, stderr)
	}
	doc, err := os.ReadFile(svg)
	if err != nil {
		t.Fatal(err)
	}
	checkWellFormed(t, doc)
	// Default output name: next to the input.
	if _, stderr, code := runCLI(t, bin, "bench", "plot", filepath.Join(dir, "b", FileJSON)); code != 0 {
		t.Fatalf("plot exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "b", "result.svg")); err != nil {
		t.Fatal(err)
	}

	for _, args := range [][]string{
		{"bench", "--workload", "nope", "--sink"},
		{"bench", "compare", "only-one.json"},
		{"bench", "plot"},
		{"bench", "--endpoint", "http://127.0.0.1:1"}, // no credentials
	} {
		if _, _, code := runCLI(t, bin, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if _, _, code := runCLI(t, bin, "bench", "compare", filepath.Join(dir, "missing.json"), filepath.Join(dir, "a", FileJSON)); code != 1 {
		t.Errorf("compare of a missing file: exit %d, want 1", code)
	}
	if stdout, stderr, code := runCLI(t, bin, "bench", "-h"); code != 0 || !strings.Contains(stdout+stderr, "Usage: vaultaire bench") {
		t.Errorf("-h: exit %d", code)
	}
}

const (
	vaultaireTestKey    = "BENCHROOTKEY"
	vaultaireTestSecret = "bench-root-secret-key"
)

// TestBenchAgainstVaultaire runs every workload for about two seconds
// against a real single-node `vaultaire server` started from this module.
func TestBenchAgainstVaultaire(t *testing.T) {
	bin := buildVaultaire(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	// No admin listener: its default port could be taken on a shared machine.
	srv := exec.Command(bin, "server", "--address", addr, "--data", t.TempDir(), "--admin-address=")
	srv.Env = append(os.Environ(), "VAULTAIRE_ROOT_ACCESS_KEY="+vaultaireTestKey, "VAULTAIRE_ROOT_SECRET_KEY="+vaultaireTestSecret)
	var srvOut syncBuffer
	srv.Stdout, srv.Stderr = &srvOut, &srvOut
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- srv.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = srv.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		// Wait for the server's own announcement: a bare dial could reach
		// whoever else grabbed the port after it was probed.
		if strings.Contains(srvOut.String(), "is serving S3 at http://"+addr+" ") {
			break
		}
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("server exited before listening: %v\n%s", err, srvOut.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not listen on %s within 60s\n%s", addr, srvOut.String())
		}
	}

	for _, w := range Workloads {
		t.Run(string(w), func(t *testing.T) {
			out := t.TempDir()
			args := []string{"bench", "--endpoint", "http://" + addr, "--access-key", vaultaireTestKey, "--secret-key", vaultaireTestSecret,
				"--workload", string(w), "--duration", "2s", "--concurrency", "4", "--keys", "30", "--out", out, "--seed", "99"}
			switch w {
			case WorkloadMultipart:
				args = append(args, "--size", "11MiB", "--part-size", "5MiB", "--concurrency", "2", "--part-concurrency", "2")
			case WorkloadList:
				args = append(args, "--size", "0", "--list-page-size", "7")
			case WorkloadPut:
				args = append(args, "--size", "1..256KiB")
			default:
				args = append(args, "--size", "32KiB")
			}
			stdout, stderr, code := runCLI(t, bin, args...)
			if code != 0 {
				t.Fatalf("bench exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
			}
			rep, err := LoadReport(filepath.Join(out, FileJSON))
			if err != nil {
				t.Fatal(err)
			}
			checkConsistent(t, rep)
			if len(rep.Ops) == 0 {
				t.Fatal("no ops in the report")
			}
			for _, o := range rep.Ops {
				if o.Count == 0 || o.Errors != 0 {
					t.Errorf("%s: %d ops, %d errors %v\n%s", o.Op, o.Count, o.Errors, o.ErrorKinds, stdout)
				}
			}
			if len(rep.Warnings) > 0 {
				t.Errorf("warnings: %v", rep.Warnings)
			}
		})
	}

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v\n%s", err, srvOut.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("server did not stop within 60s of SIGTERM\n%s", srvOut.String())
	}
}
