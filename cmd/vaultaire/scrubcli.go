package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

// runScrub is the "scrub" noun of the admin CLI.
func (c *adminClient) runScrub(ctx context.Context, verb string, args []string, asJSON bool, out io.Writer) error {
	if len(args) != 0 {
		return fmt.Errorf("%w: scrub %s takes no arguments", errUsage, verb)
	}
	switch verb {
	case "status":
		raw, err := c.do(ctx, http.MethodGet, "/admin/v1/scrub", nil)
		if err != nil {
			return err
		}
		if asJSON {
			_, err = out.Write(raw)
			return err
		}
		var st node.ScrubStatus
		if err := json.Unmarshal(raw, &st); err != nil {
			return err
		}
		when := func(t time.Time) string {
			if t.IsZero() {
				return "never"
			}
			return t.UTC().Format(time.RFC3339)
		}
		state := "idle"
		switch {
		case st.Period <= 0:
			state = "off"
		case st.Running && st.Fast:
			state = "running (unpaced)"
		case st.Running:
			state = "running"
		case !st.PassStarted.IsZero():
			state = "paused (resumes at the next start)"
		}
		fmt.Fprintf(out, "state:               %s\nperiod:              %v\n", state, st.Period)
		if !st.PassStarted.IsZero() {
			fmt.Fprintf(out, "pass started:        %s\nprogress:            %.1f%% (%d blobs, %d shards verified, %d bad, %d errors, %s)\n",
				when(st.PassStarted), 100*st.Progress, st.PassBlobs, st.PassShards, st.PassBad, st.PassErrors, humanBytes(st.PassBytes))
		}
		fmt.Fprintf(out, "last pass completed: %s (%d blobs, %d bad shards, %d errors)\n", when(st.LastPassCompleted), st.LastPassBlobs, st.LastPassBad, st.LastPassErrors)
		if !st.NextPass.IsZero() {
			fmt.Fprintf(out, "next pass:           %s\n", when(st.NextPass))
		}
		if len(st.Errors) > 0 {
			fmt.Fprintf(out, "latest errors (blobs or records not verified, skipped):\n")
			for _, se := range st.Errors {
				what := "blob " + se.Blob
				if se.Record != "" {
					what = se.Record
				}
				fmt.Fprintf(out, "  %s  %s: %s\n", when(se.Time), what, se.Err)
			}
		}
		return nil
	case "start":
		if _, err := c.do(ctx, http.MethodPost, "/admin/v1/scrub/start", nil); err != nil {
			return err
		}
		fmt.Fprintln(out, "scrub pass started (unpaced); see: vaultaire admin scrub status")
		return nil
	}
	return fmt.Errorf("%w: unknown scrub command %q (status, start)", errUsage, verb)
}
