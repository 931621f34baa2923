package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/node"
)

const driveUsage = "drive list | drive status [ID] | drive heal ID | drive offline ID | drive online ID"

// runDrive is the "drive" noun of the admin CLI: this node's drives.
func (c *adminClient) runDrive(ctx context.Context, verb string, args []string, asJSON bool, out io.Writer) error {
	want := 1
	switch verb {
	case "list":
		want = 0
	case "status":
		if len(args) == 0 {
			want = 0
		}
	case "heal", "offline", "online":
	default:
		return fmt.Errorf("%w: unknown drive command %q (want: %s)", errUsage, verb, driveUsage)
	}
	if len(args) != want {
		return fmt.Errorf("%w: want: %s", errUsage, driveUsage)
	}
	method, path := http.MethodGet, "/admin/v1/drives"
	if want == 1 {
		path += "/" + url.PathEscape(args[0])
		if verb != "status" {
			method, path = http.MethodPost, path+"/"+verb
		}
	}
	raw, err := c.do(ctx, method, path, nil)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = out.Write(raw)
		return err
	}
	var list []node.DriveStatus
	if want == 0 {
		err = json.Unmarshal(raw, &list)
	} else {
		var one node.DriveStatus
		err = json.Unmarshal(raw, &one)
		list = []node.DriveStatus{one}
	}
	if err != nil {
		return err
	}
	if verb == "list" {
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATE\tUSED\tSIZE\tHEAL\tDIR")
		for _, d := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.ID, driveState(d), humanBytes(d.Used), humanBytes(d.Total), healSummary(d.Heal), d.Dir)
		}
		return tw.Flush()
	}
	for i, d := range list {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "drive:    %s\nstate:    %s\n", d.ID, driveState(d))
		if d.Dir != "" {
			fmt.Fprintf(out, "dir:      %s\n", d.Dir)
		}
		if d.Cause != "" {
			fmt.Fprintf(out, "cause:    %s\n", d.Cause)
		}
		fmt.Fprintf(out, "usage:    %s of %s (%s free)\n", humanBytes(d.Used), humanBytes(d.Total), humanBytes(d.Free))
		if j := d.Heal; j != nil {
			fmt.Fprintf(out, "heal:     %s\n", healSummary(j))
			fmt.Fprintf(out, "          started %s, %d blobs visited, %d shards present, %d rebuilt (%s), %d failed\n",
				j.Started.UTC().Format(time.RFC3339), j.Blobs, j.Present, j.Rebuilt, humanBytes(j.Bytes), j.Failed)
			if j.Deferred > 0 {
				fmt.Fprintf(out, "          %d shards of the last pass wait for other nodes to be back\n", j.Deferred)
			}
			if j.Waiting != "" {
				fmt.Fprintf(out, "          waiting: %s\n", j.Waiting)
			}
		}
	}
	return nil
}

func driveState(d node.DriveStatus) string {
	switch {
	case d.Held:
		return "offline (held by the operator)"
	case d.Online:
		return "online"
	}
	return "offline"
}

func healSummary(j *node.HealJob) string {
	switch {
	case j == nil:
		return "-"
	case !j.Completed.IsZero() && j.Failed > 0:
		return fmt.Sprintf("done with %d failures (run heal again)", j.Failed)
	case !j.Completed.IsZero():
		return fmt.Sprintf("done %s (%d rebuilt)", j.Completed.UTC().Format(time.RFC3339), j.Rebuilt)
	case j.Running:
		return fmt.Sprintf("running: %d rebuilt, %s", j.Rebuilt, humanBytes(j.Bytes))
	case j.Deferred > 0:
		return fmt.Sprintf("waiting for other nodes (%d shards)", j.Deferred)
	}
	return "paused"
}

// runBlob is the "blob" noun of the admin CLI: what a shard file on a
// drive (DRIVE/blobs/<2>/<ID>/<index>) belongs to.
func (c *adminClient) runBlob(ctx context.Context, verb string, args []string, asJSON bool, out io.Writer) error {
	if verb != "show" || len(args) != 1 {
		return fmt.Errorf("%w: want: blob show ID", errUsage)
	}
	raw, err := c.do(ctx, http.MethodGet, "/admin/v1/blobs/"+url.PathEscape(args[0]), nil)
	if err != nil {
		return err
	}
	if asJSON {
		_, err = out.Write(raw)
		return err
	}
	var b admin.BlobOwners
	if err := json.Unmarshal(raw, &b); err != nil {
		return err
	}
	if len(b.Owners) == 0 {
		fmt.Fprintf(out, "blob %s: no record references it (garbage: the collector or the orphan sweep removes its shards)\n", b.Blob)
		return nil
	}
	fmt.Fprintf(out, "blob %s is referenced by:\n", b.Blob)
	for _, o := range b.Owners {
		fmt.Fprintf(out, "  %s\n", o)
	}
	return nil
}
