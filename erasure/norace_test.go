//go:build !race

package erasure

// raceEnabled shrinks the largest tests under the race detector.
const raceEnabled = false
