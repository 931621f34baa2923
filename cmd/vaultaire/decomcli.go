package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/node"
)

// "vaultaire cluster decommission": retire a live node (node/decom.go).

const decomUsage = `cluster decommission NODE [--throttle RATE|off] [--detach]
  cluster decommission status [NODE]
  cluster decommission pause|resume|cancel NODE`

// decomPoll is how often a followed decommission is redrawn;
// decomFollowFailures how many unreachable polls in a row it tolerates.
var decomPoll = time.Second

const decomFollowFailures = 30

func (c *adminClient) runDecommission(ctx context.Context, args []string, asJSON bool, out io.Writer) error {
	fs := flag.NewFlagSet("decommission", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	throttle := fs.String("throttle", "", "bytes per second the moves may write (e.g. 100MiB; off: no limit; default 64MiB)")
	detach := fs.Bool("detach", false, "start the job and return at once instead of following its progress")
	var pos []string
	for rest := args; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("%w: %v\n%s", errUsage, err, decomUsage)
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	verb, target := "", ""
	switch {
	case len(pos) == 1 && pos[0] == "status":
		verb = "status"
	case len(pos) == 1:
		verb, target = "start", pos[0]
	case len(pos) == 2 && (pos[0] == "status" || pos[0] == "pause" || pos[0] == "resume" || pos[0] == "cancel"):
		verb, target = pos[0], pos[1]
	default:
		return fmt.Errorf("%w: %s", errUsage, decomUsage)
	}
	if *throttle != "" && verb != "start" {
		return fmt.Errorf("%w: --throttle goes with cluster decommission NODE", errUsage)
	}
	base := "/admin/v1/cluster/nodes/" + url.PathEscape(target) + "/decommission"
	switch verb {
	case "status":
		if target == "" {
			raw, err := c.do(ctx, http.MethodGet, "/admin/v1/cluster/decommissions", nil)
			if err != nil {
				return err
			}
			if asJSON {
				_, err = out.Write(raw)
				return err
			}
			var all []node.DecomStatus
			if err := json.Unmarshal(raw, &all); err != nil {
				return err
			}
			if len(all) == 0 {
				fmt.Fprintln(out, "no decommission")
				return nil
			}
			for _, st := range all {
				fmt.Fprintln(out, decomLine(st, 0))
			}
			return nil
		}
		return c.showDecom(ctx, http.MethodGet, base, asJSON, out)
	case "pause", "resume":
		return c.showDecom(ctx, http.MethodPost, base+"/"+verb, asJSON, out)
	case "cancel":
		if _, err := c.do(ctx, http.MethodPost, base+"/cancel", nil); err != nil {
			return err
		}
		fmt.Fprintf(out, "decommission of %s cancelled: it takes new shards again (shards already moved stay where they went)\n", target)
		return nil
	}
	q := ""
	if *throttle != "" {
		v := int64(-1)
		if *throttle != "off" {
			n, err := parseBytes(*throttle)
			if err != nil || n == 0 {
				return fmt.Errorf("%w: --throttle %q: want bytes per second (e.g. 100MiB) or off", errUsage, *throttle)
			}
			v = n
		}
		q = fmt.Sprintf("?throttle=%d", v)
	}
	if err := c.showDecom(ctx, http.MethodPost, base+q, asJSON, out); err != nil {
		return err
	}
	if *detach || asJSON {
		return nil
	}
	return c.followDecom(ctx, base, out)
}

func (c *adminClient) showDecom(ctx context.Context, method, path string, asJSON bool, out io.Writer) error {
	raw, err := c.do(ctx, method, path, nil)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = out.Write(raw)
		return err
	}
	var st node.DecomStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	fmt.Fprintln(out, decomLine(st, 0))
	return nil
}

// followDecom redraws the job's progress until the node is removed (or
// the job is cancelled): shards, bytes, rate and ETA.
func (c *adminClient) followDecom(ctx context.Context, path string, out io.Writer) error {
	var rate float64
	var prevBytes int64
	prevAt := time.Time{}
	return c.followJob(ctx, path, out, func(raw []byte, apiErr *admin.Error) (string, bool, error) {
		switch {
		case apiErr != nil && apiErr.Code == "NoDecommission":
			return "the decommission was cancelled", true, nil
		case apiErr != nil:
			return "", false, apiErr
		}
		var st node.DecomStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return "", false, err
		}
		if p := st.Progress; p != nil {
			now := time.Now()
			if !prevAt.IsZero() && p.Bytes > prevBytes {
				inst := float64(p.Bytes-prevBytes) / now.Sub(prevAt).Seconds()
				rate = 0.7*rate + 0.3*inst
				if rate == 0 {
					rate = inst
				}
			}
			if p.Bytes != prevBytes || prevAt.IsZero() {
				prevBytes, prevAt = p.Bytes, now
			}
			if rate == 0 {
				rate = p.Rate
			}
		}
		return decomLine(st, rate), st.Progress != nil && st.Progress.Phase == node.DecomRemoved, nil
	})
}

// followJob redraws a job's progress (decommission, rebalance): every
// decomPoll it reads path and prints the line view draws from the answer
// whenever that line changes, until view says the job has ended. The node
// answering may be restarting, or be the one leaving, so up to
// decomFollowFailures transport failures in a row are retried; an admin
// API error goes to view, which may read it as the end of the job.
func (c *adminClient) followJob(ctx context.Context, path string, out io.Writer,
	view func(raw []byte, apiErr *admin.Error) (line string, done bool, err error)) error {
	last, failures := "", 0
	for {
		raw, err := c.do(ctx, http.MethodGet, path, nil)
		var ae *admin.Error
		switch {
		case errors.As(err, &ae):
			raw = nil
		case err != nil && failures < decomFollowFailures:
			failures++
		case err != nil:
			return err
		}
		if err == nil || ae != nil {
			failures = 0
			line, done, err := view(raw, ae)
			if err != nil {
				return err
			}
			if line != "" && line != last {
				fmt.Fprintln(out, line)
				last = line
			}
			if done {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(decomPoll):
		}
	}
}

// decomLine is one line of a job's progress; rate (bytes/s) 0 uses the
// job's own figure.
func decomLine(st node.DecomStatus, rate float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: ", st.Node)
	p := st.Progress
	switch {
	case p == nil && st.Request != nil:
		fmt.Fprintf(&b, "%s, waiting for the metadata leader to start", st.Request.State)
		return b.String()
	case p == nil:
		return b.String() + "unknown"
	}
	phase := p.Phase
	if st.Request != nil && st.Request.State == node.DecomPaused && phase == node.DecomMoving {
		phase = "paused"
	}
	total := p.Moved + p.Remaining
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(p.Moved) / float64(total)
	}
	if rate == 0 {
		rate = p.Rate
	}
	fmt.Fprintf(&b, "%s  %d/%d shards (%.0f%%)  %s moved  %s/s", phase, p.Moved, total, pct, humanBytes(p.Bytes), humanBytes(int64(rate)))
	if phase == node.DecomMoving && p.Remaining > 0 && p.Moved > 0 && rate > 0 {
		eta := time.Duration(float64(p.Remaining) * float64(p.Bytes) / float64(p.Moved) / rate * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	if p.Failed > 0 {
		fmt.Fprintf(&b, "  %d failed (retried)", p.Failed)
	}
	if p.Error != "" {
		fmt.Fprintf(&b, "  last error: %s", p.Error)
	}
	return b.String()
}
