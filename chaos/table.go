package chaos

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Round is the figures of one round of the suite.
type Round struct {
	N       int
	Nemesis string // what was done, e.g. "kill -9 leader n1"
	Skipped string // why the nemesis did not run ("" if it did)
	// Errors counts the load's failed requests by kind (S3 code, "timeout",
	// "connection").
	Errors map[string]int
	Ops    int // requests of the round, failed ones included
	// Longest is the longest request on a node the fault did not touch
	// that started more than 1 s after a new leader was known (or after
	// the fault, when the leader did not change); Bound says whether the
	// issue's 2 s bound held.
	Longest time.Duration
	// LongestAny is the longest request on an unaffected node that was
	// running at any time after the fault struck, wherever it started:
	// a request stuck across the whole window leaves Longest empty.
	LongestAny time.Duration
	// WriteGap is the longest time during the round without an
	// acknowledged PUT (from the fault to the end of the round).
	WriteGap time.Duration
	// Heal and scrub counters, summed over the nodes (since each process
	// started): shards healed, shards the scrub verified and found bad.
	Healed, ScrubOK, ScrubBad float64
	// BadLeft is how many of the shards this suite corrupted so far still
	// hold the flipped byte in blobs a record references; BadGarbage, in
	// blobs none does (left for the collector or the orphan sweep).
	BadLeft, BadGarbage int
	// Corrupt is the longest a corrupted shard of a live blob stayed
	// corrupt, among those found repaired at the round's end and those
	// still corrupt then (their age so far): at most a round more than
	// the truth. Goal: within a scrub period (CorruptBound in the suite).
	Corrupt time.Duration
	// RSS of each node's process at the end of the round, MiB.
	RSS []float64
	// Start is the longest time a node (re)started in the round took
	// from joining the cluster to serving S3 (0: none started).
	Start time.Duration
	// Ledger: keys that must exist and be gone; Lost counts ledger problems
	// (lost, wrong bytes, resurrected), Linear is "ok", "unknown" or
	// "VIOLATION" (with LinOps operations checked).
	Acked, Deleted, Lost int
	// Read is how many keys the ledger read through every node this
	// round (Ledger.Plan).
	Read   int
	Linear string
	LinOps int
	Took   time.Duration
}

// StartBound is the goal for a restarted node: it serves S3
// within this long of joining the cluster.
const StartBound = 3 * time.Second

// CorruptBound is the suite's scrub period (--scrub-period): a full scrub
// pass completes within it, so a corrupted shard should stay corrupt no
// longer, give or take the round that notices its repair.
const CorruptBound = 3 * time.Minute

// StallBound is the goal: no request on an unaffected node that
// starts more than 1 s after the new leader takes longer than this.
const StallBound = 2 * time.Second

// WriteTable writes rounds as a Markdown table, its columns padded so it
// reads as well in a terminal.
func WriteTable(w io.Writer, rounds []Round) error {
	rows := [][]string{{"round", "nemesis", "ops", "errors by kind", "longest (unaffected, >1 s after leader)", "longest (unaffected, any after fault)", "max write gap", "slowest start (joined to S3)", "healed", "scrub ok/bad", "corrupt left (live/garbage)", "longest corrupt (live)", "RSS MiB", "acked/deleted", "keys read", "lost+wrong", "linearizable", "took"}}
	for _, r := range rounds {
		nem := r.Nemesis
		if r.Skipped != "" {
			nem += " (skipped: " + r.Skipped + ")"
		}
		longest := "-"
		if r.Longest > 0 {
			longest = r.Longest.Round(time.Millisecond).String()
			if r.Longest > StallBound {
				longest += " (over 2 s)"
			}
		}
		longestAny := "-"
		if r.LongestAny > 0 {
			longestAny = r.LongestAny.Round(time.Millisecond).String()
		}
		start := "-"
		if r.Start > 0 {
			start = r.Start.Round(time.Millisecond).String()
			if r.Start > StartBound {
				start += " (over 3 s)"
			}
		}
		corrupt := "-"
		if r.Corrupt > 0 {
			corrupt = r.Corrupt.Round(time.Second).String()
			if r.Corrupt > CorruptBound {
				corrupt += " (over 3m)"
			}
		}
		var rss []string
		for _, m := range r.RSS {
			rss = append(rss, fmt.Sprintf("%.0f", m))
		}
		rows = append(rows, []string{
			fmt.Sprint(r.N), nem, fmt.Sprint(r.Ops), ErrorKinds(r.Errors), longest, longestAny, r.WriteGap.Round(time.Millisecond).String(), start,
			fmt.Sprintf("%.0f", r.Healed), fmt.Sprintf("%.0f/%.0f", r.ScrubOK, r.ScrubBad), fmt.Sprintf("%d/%d", r.BadLeft, r.BadGarbage), corrupt, strings.Join(rss, " "),
			fmt.Sprintf("%d/%d", r.Acked, r.Deleted), fmt.Sprint(r.Read), fmt.Sprint(r.Lost), fmt.Sprintf("%s (%d ops)", r.Linear, r.LinOps), r.Took.Round(time.Second).String(),
		})
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	line := func(row []string) string {
		var b strings.Builder
		for i, c := range row {
			b.WriteString("| " + c + strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)) + " ")
		}
		return b.String() + "|\n"
	}
	var b strings.Builder
	b.WriteString(line(rows[0]))
	sep := make([]string, len(width))
	for i, n := range width {
		sep[i] = strings.Repeat("-", n)
	}
	b.WriteString(line(sep))
	for _, row := range rows[1:] {
		b.WriteString(line(row))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// ErrorKinds formats counts by kind, largest first: "503 SlowDown×3, timeout×1".
func ErrorKinds(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool {
		if m[kinds[i]] != m[kinds[j]] {
			return m[kinds[i]] > m[kinds[j]]
		}
		return kinds[i] < kinds[j]
	})
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
