package vaultaire_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readINI reads a systemd unit or a "name = value" file into its keys
// (a repeated key keeps every value, in order).
func readINI(t *testing.T, path, sep string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, sep)
		if !ok {
			t.Fatalf("%s: line %q has no %q", path, line, sep)
		}
		out[strings.TrimSpace(k)] = append(out[strings.TrimSpace(k)], strings.TrimSpace(v))
	}
	return out
}

// TestSystemdUnit checks the hardened unit, its config and environment
// files: the settings that matter are there, the stop timeout outlasts
// the drain, every config key is a server flag, and systemd-analyze
// verify accepts the unit where systemd is installed.
func TestSystemdUnit(t *testing.T) {
	unit := readINI(t, "deploy/systemd/vaultaire.service", "=")
	for k, want := range map[string]string{
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "Restart": "on-failure",
		"KillSignal": "SIGTERM", "LimitNOFILE": "1048576", "User": "vaultaire",
		"EnvironmentFile": "/etc/vaultaire/vaultaire.env",
	} {
		if got := unit[k]; len(got) != 1 || got[0] != want {
			t.Errorf("unit %s = %q, want %q", k, got, want)
		}
	}
	conf := readINI(t, "deploy/systemd/vaultaire.conf", "=")
	rw := strings.Fields(strings.Join(unit["ReadWritePaths"], " "))
	writable := func(p string) bool {
		for _, w := range rw {
			if p == w || strings.HasPrefix(p, w+"/") {
				return true
			}
		}
		return false
	}
	paths := append([]string{}, conf["data"]...)
	for _, d := range conf["drive"] {
		paths = append(paths, strings.Split(d, ",")...)
	}
	for _, p := range paths {
		if !writable(p) {
			t.Errorf("%s (data or drive) is not in ReadWritePaths %v: ProtectSystem=strict makes it read-only", p, rw)
		}
	}
	stop, err := strconv.Atoi(unit["TimeoutStopSec"][0])
	if err != nil {
		t.Fatal(err)
	}
	drain, err := time.ParseDuration(conf["shutdown-timeout"][0])
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(stop)*time.Second <= drain {
		t.Errorf("TimeoutStopSec %ds does not outlast --shutdown-timeout %v", stop, drain)
	}
	// Every config key is a flag of `vaultaire server`.
	src, err := os.ReadFile("cmd/vaultaire/server.go")
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`fs\.\w+\(&f\.\w+, "([a-z0-9-]+)"`).FindAllSubmatch(src, -1) {
		flags[string(m[1])] = true
	}
	for _, m := range regexp.MustCompile(`fs\.Var\(&f\.\w+, "([a-z0-9-]+)"`).FindAllSubmatch(src, -1) {
		flags[string(m[1])] = true
	}
	for k := range conf {
		if !flags[k] {
			t.Errorf("config key %q is not a server flag", k)
		}
	}
	for k := range readINI(t, "deploy/systemd/vaultaire.env", "=") {
		if !strings.HasPrefix(k, "VAULTAIRE_") {
			t.Errorf("env file sets %q", k)
		}
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze not installed: unit not verified by systemd")
		return
	}
	b, err := os.ReadFile("deploy/systemd/vaultaire.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify wants the executable to exist.
	tmp := filepath.Join(t.TempDir(), "vaultaire.service")
	if err := os.WriteFile(tmp, []byte(strings.Replace(string(b), "/usr/local/bin/vaultaire", "/bin/true", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sa, "verify", tmp).CombinedOutput(); err != nil || len(out) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}
