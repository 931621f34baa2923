package main

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

// Test-only knobs of `vaultaire server`, for this package's process tests
// (lifecycle rules count in days; a cluster test cannot wait them out).
// They are environment variables, not flags, so they appear in no usage
// text, no config file and no operator documentation; and each is refused
// (the server does not start) unless VAULTAIRE_TEST_MODE holds exactly
// testModeValue, so a stray variable cannot turn one on. When on, the
// server says so on every start, in its log and on stderr.
//
//   - VAULTAIRE_TEST_CLOCK_OFFSET (a Go duration, may be negative): the
//     lifecycle engine's clock (node.Config.LifecycleNow) runs that far
//     from the real time. Only that clock: Raft, leases, TLS, signatures,
//     upload expiry, tier intents and restores keep the real time.
//   - VAULTAIRE_TEST_LIFECYCLE_INTERVAL (a duration): how often the
//     leader checks for a due pass (node.Config.LifecycleInterval).
//   - VAULTAIRE_TEST_LIFECYCLE_BATCH (versions): the step after which the
//     lifecycle position is committed (node.Config.LifecycleBatch).
//   - VAULTAIRE_TEST_LIFECYCLE_PAUSE (a duration): how long the leader
//     waits between the steps of a running pass, so a test can kill it
//     at a known step (node.Config.LifecycleStepPause).
const (
	testModeEnv   = "VAULTAIRE_TEST_MODE"
	testModeValue = "not-for-production"
)

// testKnobs are the test-only settings read from the environment.
type testKnobs struct {
	clockOffset time.Duration
	lcInterval  time.Duration
	lcBatch     int
	lcPause     time.Duration
	// set lists the variables given, for the startup warning.
	set []string
}

var testKnobNames = []string{"VAULTAIRE_TEST_CLOCK_OFFSET", "VAULTAIRE_TEST_LIFECYCLE_INTERVAL", "VAULTAIRE_TEST_LIFECYCLE_BATCH", "VAULTAIRE_TEST_LIFECYCLE_PAUSE"}

// readTestKnobs reads the test-only knobs through getenv (os.Getenv). It
// fails when one is set without the test-mode guard, or is malformed.
func readTestKnobs(getenv func(string) string) (testKnobs, error) {
	var k testKnobs
	for _, name := range testKnobNames {
		v := getenv(name)
		if v == "" {
			continue
		}
		if getenv(testModeEnv) != testModeValue {
			return testKnobs{}, fmt.Errorf("%s is a test-only setting of Vaultaire's own process tests; refused without %s=%s (unset it)", name, testModeEnv, testModeValue)
		}
		var err error
		switch name {
		case "VAULTAIRE_TEST_CLOCK_OFFSET":
			k.clockOffset, err = time.ParseDuration(v)
		case "VAULTAIRE_TEST_LIFECYCLE_INTERVAL":
			k.lcInterval, err = time.ParseDuration(v)
			if err == nil && k.lcInterval <= 0 {
				err = fmt.Errorf("not positive")
			}
		case "VAULTAIRE_TEST_LIFECYCLE_PAUSE":
			k.lcPause, err = time.ParseDuration(v)
			if err == nil && k.lcPause <= 0 {
				err = fmt.Errorf("not positive")
			}
		case "VAULTAIRE_TEST_LIFECYCLE_BATCH":
			k.lcBatch, err = strconv.Atoi(v)
			if err == nil && k.lcBatch <= 0 {
				err = fmt.Errorf("not positive")
			}
		}
		if err != nil {
			return testKnobs{}, fmt.Errorf("%s=%q: %v", name, v, err)
		}
		k.set = append(k.set, name+"="+v)
	}
	return k, nil
}

// on reports whether any knob is set.
func (k testKnobs) on() bool { return len(k.set) > 0 }

// warn says loudly that the server runs with test knobs.
func (k testKnobs) warn(log *slog.Logger) {
	if !k.on() {
		return
	}
	log.Warn("TEST MODE: this server runs with test-only settings and must never serve real data", "settings", strings.Join(k.set, " "))
}

// apply sets the knobs into the engine's configuration.
func (k testKnobs) apply(c *node.Config) {
	if k.clockOffset != 0 {
		off := k.clockOffset
		c.LifecycleNow = func() time.Time { return time.Now().Add(off) }
	}
	if k.lcInterval > 0 {
		c.LifecycleInterval = k.lcInterval
	}
	if k.lcBatch > 0 {
		c.LifecycleBatch = k.lcBatch
	}
	c.LifecycleStepPause = k.lcPause
}
