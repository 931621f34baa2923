package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/node"
)

// "vaultaire cluster rebalance": move shards until every drive holds its
// capacity share (node/rebalance.go).

const rebalanceUsage = `cluster rebalance --plan [--tolerance F]
  cluster rebalance [--throttle RATE|off] [--tolerance F] [--detach]
  cluster rebalance status|pause|resume|cancel`

func (c *adminClient) runRebalance(ctx context.Context, args []string, asJSON bool, out io.Writer) error {
	fs := flag.NewFlagSet("rebalance", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	planOnly := fs.Bool("plan", false, "show the plan (moves, bytes, per-drive shares) and change nothing")
	throttle := fs.String("throttle", "", "bytes per second the moves may write (e.g. 100MiB; off: no limit; default 64MiB)")
	tolerance := fs.String("tolerance", "", "how far a drive may stay from its capacity share (a fraction, default 0.1)")
	detach := fs.Bool("detach", false, "start the job and return at once instead of following its progress")
	var pos []string
	for rest := args; len(rest) > 0; {
		if err := fs.Parse(rest); err != nil {
			return fmt.Errorf("%w: %v\n%s", errUsage, err, rebalanceUsage)
		}
		rest = fs.Args()
		if len(rest) > 0 {
			pos, rest = append(pos, rest[0]), rest[1:]
		}
	}
	q := url.Values{}
	if *tolerance != "" {
		v, err := strconv.ParseFloat(*tolerance, 64)
		if err != nil || !(v > 0 && v < 1) {
			return fmt.Errorf("%w: --tolerance %q: want a fraction between 0 and 1", errUsage, *tolerance)
		}
		q.Set("tolerance", *tolerance)
	}
	if *throttle != "" {
		v := int64(-1)
		if *throttle != "off" {
			n, err := parseBytes(*throttle)
			if err != nil || n == 0 {
				return fmt.Errorf("%w: --throttle %q: want bytes per second (e.g. 100MiB) or off", errUsage, *throttle)
			}
			v = n
		}
		q.Set("throttle", fmt.Sprint(v))
	}
	const base = "/admin/v1/cluster/rebalance"
	switch {
	case *planOnly && len(pos) == 0:
		raw, err := c.do(ctx, http.MethodGet, base+"/plan?"+q.Encode(), nil)
		if err != nil || asJSON {
			if err == nil {
				_, err = out.Write(raw)
			}
			return err
		}
		var plan node.RebalancePlan
		if err := json.Unmarshal(raw, &plan); err != nil {
			return err
		}
		printPlan(out, plan)
		return nil
	case len(pos) == 1 && !*planOnly && *throttle == "" && *tolerance == "":
		switch pos[0] {
		case "status":
			return c.showRebalance(ctx, http.MethodGet, base, asJSON, out)
		case "pause", "resume":
			return c.showRebalance(ctx, http.MethodPost, base+"/"+pos[0], asJSON, out)
		case "cancel":
			if _, err := c.do(ctx, http.MethodPost, base+"/cancel", nil); err != nil {
				return err
			}
			fmt.Fprintln(out, "rebalance cancelled (the moves done stay)")
			return nil
		}
	case len(pos) == 0 && !*planOnly:
		if err := c.showRebalance(ctx, http.MethodPost, base+"?"+q.Encode(), asJSON, out); err != nil {
			return err
		}
		if *detach || asJSON {
			return nil
		}
		return c.followRebalance(ctx, base, out)
	}
	return fmt.Errorf("%w: %s", errUsage, rebalanceUsage)
}

func printPlan(out io.Writer, plan node.RebalancePlan) {
	state := "balanced"
	if !plan.Balanced {
		state = "NOT balanced after the plan (too few drives may take the shards)"
	}
	fmt.Fprintf(out, "plan: %d shard moves, %s (tolerance %.0f%%); after the plan: %s\n", plan.Moves, humanBytes(plan.Bytes), plan.Tolerance*100, state)
	var rows [][]string
	for _, d := range plan.Drives {
		share := func(b int64) string {
			if d.Target == 0 {
				return "-"
			}
			return fmt.Sprintf("%.0f%%", 100*float64(b)/float64(d.Target))
		}
		rows = append(rows, []string{d.Node, d.Drive, humanBytes(d.Capacity), humanBytes(d.Bytes), humanBytes(d.After), humanBytes(d.Target), share(d.Bytes), share(d.After)})
	}
	_ = table(out, "NODE\tDRIVE\tCAPACITY\tSHARDS NOW\tAFTER\tTARGET\tNOW/TARGET\tAFTER/TARGET", rows)
}

func (c *adminClient) showRebalance(ctx context.Context, method, path string, asJSON bool, out io.Writer) error {
	raw, err := c.do(ctx, method, path, nil)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = out.Write(raw)
		return err
	}
	var st node.RebalanceStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return err
	}
	fmt.Fprintln(out, rebalanceLine(st))
	return nil
}

// followRebalance redraws the job's progress until it is done (or
// cancelled).
func (c *adminClient) followRebalance(ctx context.Context, path string, out io.Writer) error {
	started := time.Now()
	return c.followJob(ctx, path, out, func(raw []byte, apiErr *admin.Error) (string, bool, error) {
		if apiErr != nil {
			return "", false, apiErr
		}
		var st node.RebalanceStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return "", false, err
		}
		line := rebalanceLine(st)
		if st.Request == nil {
			if st.Progress != nil && st.Progress.Phase == node.RebalanceDone {
				return line, true, nil
			}
			if time.Since(started) > 5*time.Second {
				return line + "\nthe rebalance was cancelled", true, nil
			}
		}
		return line, false, nil
	})
}

func rebalanceLine(st node.RebalanceStatus) string {
	p := st.Progress
	if p == nil {
		if st.Request != nil {
			return "rebalance: " + st.Request.State + ", waiting for the metadata leader to plan"
		}
		return "no rebalance"
	}
	phase := p.Phase
	if st.Request != nil && st.Request.State == node.RebalancePaused {
		phase = "paused"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "rebalance: %s  round %d  %d moved (%d left of this round's %d)  %s moved  %s/s", phase, p.Rounds, p.Moved, p.Remaining, p.Planned, humanBytes(p.Bytes), humanBytes(int64(p.Rate)))
	if phase == node.RebalanceMoving && p.Remaining > 0 && p.Moved > 0 && p.Rate > 0 {
		eta := time.Duration(float64(p.Remaining) * float64(p.Bytes) / float64(p.Moved) / p.Rate * float64(time.Second))
		fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
	}
	if p.Failed > 0 {
		fmt.Fprintf(&b, "  %d failed (retried)", p.Failed)
	}
	return b.String()
}
