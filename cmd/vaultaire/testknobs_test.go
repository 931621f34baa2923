package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

func TestReadTestKnobs(t *testing.T) {
	guard := testModeEnv + "=" + testModeValue
	for _, tc := range []struct {
		name    string
		env     []string
		wantErr string
		want    testKnobs
	}{
		{name: "none", env: nil},
		{name: "guard alone", env: []string{guard}},
		{name: "offset without guard", env: []string{"VAULTAIRE_TEST_CLOCK_OFFSET=48h"}, wantErr: "refused without"},
		{name: "offset with a wrong guard", env: []string{"VAULTAIRE_TEST_CLOCK_OFFSET=48h", testModeEnv + "=1"}, wantErr: "refused without"},
		{name: "batch without guard", env: []string{"VAULTAIRE_TEST_LIFECYCLE_BATCH=5"}, wantErr: "refused without"},
		{name: "interval without guard", env: []string{"VAULTAIRE_TEST_LIFECYCLE_INTERVAL=1s"}, wantErr: "refused without"},
		{name: "malformed offset", env: []string{guard, "VAULTAIRE_TEST_CLOCK_OFFSET=two days"}, wantErr: "VAULTAIRE_TEST_CLOCK_OFFSET"},
		{name: "zero interval", env: []string{guard, "VAULTAIRE_TEST_LIFECYCLE_INTERVAL=0s"}, wantErr: "not positive"},
		{name: "negative batch", env: []string{guard, "VAULTAIRE_TEST_LIFECYCLE_BATCH=-1"}, wantErr: "not positive"},
		{name: "pause without guard", env: []string{"VAULTAIRE_TEST_LIFECYCLE_PAUSE=1s"}, wantErr: "refused without"},
		{name: "zero pause", env: []string{guard, "VAULTAIRE_TEST_LIFECYCLE_PAUSE=0s"}, wantErr: "not positive"},
		{name: "all", env: []string{guard, "VAULTAIRE_TEST_CLOCK_OFFSET=-3h", "VAULTAIRE_TEST_LIFECYCLE_INTERVAL=200ms", "VAULTAIRE_TEST_LIFECYCLE_BATCH=7", "VAULTAIRE_TEST_LIFECYCLE_PAUSE=2s"},
			want: testKnobs{clockOffset: -3 * time.Hour, lcInterval: 200 * time.Millisecond, lcBatch: 7, lcPause: 2 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := map[string]string{}
			for _, kv := range tc.env {
				k, v, _ := strings.Cut(kv, "=")
				m[k] = v
			}
			k, err := readTestKnobs(func(s string) string { return m[s] })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if k.clockOffset != tc.want.clockOffset || k.lcInterval != tc.want.lcInterval || k.lcBatch != tc.want.lcBatch || k.lcPause != tc.want.lcPause {
				t.Fatalf("knobs %+v, want %+v", k, tc.want)
			}
			if k.on() != (len(tc.env) > 1 || len(tc.env) == 1 && tc.env[0] != guard) {
				t.Fatalf("on() = %v with %v", k.on(), tc.env)
			}
			// Only the lifecycle clock moves.
			var c node.Config
			k.apply(&c)
			if c.LifecycleStepPause != tc.want.lcPause {
				t.Fatalf("step pause %v, want %v", c.LifecycleStepPause, tc.want.lcPause)
			}
			if tc.want.clockOffset == 0 {
				if c.LifecycleNow != nil {
					t.Fatal("a lifecycle clock set without an offset")
				}
				return
			}
			if c.Now != nil {
				t.Fatal("the engine's general clock was changed")
			}
			if d := c.LifecycleNow().Sub(time.Now()); d > tc.want.clockOffset+time.Minute || d < tc.want.clockOffset-time.Minute {
				t.Fatalf("lifecycle clock is %v off, want %v", d, tc.want.clockOffset)
			}
		})
	}
}

// TestServerRefusesTestClockWithoutGuard: the real binary does not start
// with a test clock offset unless the test-mode guard is set too.
func TestServerRefusesTestClockWithoutGuard(t *testing.T) {
	cmd := exec.Command(binary(t), "server", "--data", t.TempDir(), "--address", "127.0.0.1:0", "--admin-address", "", "--console-address", "",
		"--rpc-address", "127.0.0.1:0", "--gossip-address", "127.0.0.1:0")
	cmd.Env = append(cmd.Environ(), "VAULTAIRE_TEST_CLOCK_OFFSET=240h", testModeEnv+"=")
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "refused without "+testModeEnv) {
		t.Fatalf("server with an unguarded test clock: %v\n%s", err, out)
	}
}
