package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/admin"
)

const adminTiersUsage = `  tier add NAME --endpoint URL --bucket B --access-key AK --secret-key SK|-
      [--type s3] [--prefix P] [--region R] [--path-style] [--ca-file F]
      [--archive] [--storage-class C,...]
                              a cold tier, verified by a write/read/delete round trip
                              before it is saved; the secret is never shown again
  tier list                   tiers with the versions and bytes they hold
  tier verify NAME            the round trip again
  tier edit NAME [--access-key AK --secret-key SK|-] [--endpoint URL] [--region R]
      [--ca-file F] [--storage-class C,...]      verified before it is saved
  tier move NAME TENANT BUCKET KEY [--version-id V]   move one version to the tier now
  tier recall NAME            bring every version back to local drives (resumable)
  tier remove NAME            refused while the tier holds a version
`

// runTier runs the tier commands.
func (c *adminClient) runTier(ctx context.Context, verb string, args []string, asJSON bool, out io.Writer) error {
	fs := flag.NewFlagSet("tier "+verb, flag.ContinueOnError)
	esc := url.PathEscape
	var (
		method, path string
		body         any
		show         func(raw []byte) error
	)
	done := func(format string, a ...any) func([]byte) error {
		return func([]byte) error { _, err := fmt.Fprintf(out, format+"\n", a...); return err }
	}
	classes := func(s string) []string {
		if s == "" {
			return nil
		}
		var out []string
		for _, c := range strings.Split(s, ",") {
			out = append(out, strings.ToUpper(strings.TrimSpace(c)))
		}
		return out
	}
	switch verb {
	case "add":
		typ := fs.String("type", "s3", "")
		endpoint := fs.String("endpoint", "", "")
		bucket := fs.String("bucket", "", "")
		prefix := fs.String("prefix", "", "")
		region := fs.String("region", "", "")
		pathStyle := fs.Bool("path-style", false, "")
		caFile := fs.String("ca-file", "", "")
		ak := fs.String("access-key", "", "")
		sk := fs.String("secret-key", "", "")
		archive := fs.Bool("archive", false, "")
		sc := fs.String("storage-class", "", "")
		pos, err := subArgs(fs, args, 1, "tier add NAME --endpoint URL --bucket B --access-key AK --secret-key SK|-")
		if err != nil {
			return err
		}
		secret, err := c.readPassword(*sk)
		if err != nil {
			return err
		}
		if *endpoint == "" || *bucket == "" || *ak == "" || secret == "" {
			return fmt.Errorf("%w: --endpoint, --bucket, --access-key and --secret-key are required", errUsage)
		}
		method, path = http.MethodPost, "/admin/v1/tiers"
		body = map[string]any{"name": pos[0], "type": *typ, "endpoint": *endpoint, "bucket": *bucket, "prefix": *prefix,
			"region": *region, "path_style": *pathStyle, "ca_file": *caFile, "access_key": *ak, "secret_key": secret,
			"archive": *archive, "storage_classes": classes(*sc)}
		show = showTier(out, "added and verified")
	case "edit":
		endpoint := fs.String("endpoint", "", "")
		region := fs.String("region", "", "")
		caFile := fs.String("ca-file", "", "")
		ak := fs.String("access-key", "", "")
		sk := fs.String("secret-key", "", "")
		sc := fs.String("storage-class", "", "")
		pos, err := subArgs(fs, args, 1, "tier edit NAME [--access-key AK --secret-key SK|-] [--endpoint URL] [--region R] [--ca-file F] [--storage-class C,...]")
		if err != nil {
			return err
		}
		secret, err := c.readPassword(*sk)
		if err != nil {
			return err
		}
		in := map[string]any{"access_key": *ak, "secret_key": secret, "endpoint": *endpoint, "region": *region, "ca_file": *caFile}
		if cs := classes(*sc); cs != nil {
			in["storage_classes"] = cs
		}
		method, path, body, show = http.MethodPatch, "/admin/v1/tiers/"+esc(pos[0]), in, showTier(out, "changed and verified")
	case "list":
		if _, err := subArgs(fs, args, 0, "tier list"); err != nil {
			return err
		}
		method, path = http.MethodGet, "/admin/v1/tiers"
		show = func(raw []byte) error {
			ts, err := unwrap[admin.Tier](raw, "tiers")
			if err != nil {
				return err
			}
			var rows [][]string
			for _, t := range ts {
				kind := "s3"
				if t.Archive {
					kind = "s3 archive"
				}
				rows = append(rows, []string{t.Name, kind, t.Endpoint + "/" + t.Bucket + "/" + t.Prefix, t.StorageClass,
					fmt.Sprint(t.Artifacts), humanBytes(t.Bytes), fmt.Sprint(t.Pending)})
			}
			return table(out, "NAME\tTYPE\tWHERE\tCLASS\tARTIFACTS\tBYTES\tPENDING DELETES", rows)
		}
	case "verify", "remove":
		pos, err := subArgs(fs, args, 1, "tier "+verb+" NAME")
		if err != nil {
			return err
		}
		if verb == "verify" {
			method, path, show = http.MethodPost, "/admin/v1/tiers/"+esc(pos[0])+"/verify", done("tier %s: write, read and delete round trip ok", pos[0])
		} else {
			method, path, show = http.MethodDelete, "/admin/v1/tiers/"+esc(pos[0]), done("removed tier %s", pos[0])
		}
	case "move":
		vid := fs.String("version-id", "", "")
		pos, err := subArgs(fs, args, 4, "tier move NAME TENANT BUCKET KEY [--version-id V]")
		if err != nil {
			return err
		}
		method, path = http.MethodPost, "/admin/v1/tiers/"+esc(pos[0])+"/move"
		body = map[string]string{"tenant": pos[1], "container": pos[2], "key": pos[3], "version_id": *vid}
		show = func(raw []byte) error {
			var m admin.TierMove
			if err := json.Unmarshal(raw, &m); err != nil {
				return err
			}
			_, err := fmt.Fprintf(out, "moved %s (%s) to tier %s: storage class %s\n", m.Key, humanBytes(m.Size), pos[0], m.StorageClass)
			return err
		}
	case "recall":
		pos, err := subArgs(fs, args, 1, "tier recall NAME")
		if err != nil {
			return err
		}
		return c.recall(ctx, pos[0], asJSON, out)
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, "tier "+verb)
	}
	raw, err := c.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if asJSON {
		_, err := out.Write(raw)
		return err
	}
	return show(raw)
}

// recall calls the recall endpoint until the tier holds nothing, printing
// progress (versions, bytes, ETA) after each call. Interrupted, it can be
// run again: it continues with what is left.
func (c *adminClient) recall(ctx context.Context, name string, asJSON bool, out io.Writer) error {
	start := time.Now()
	var total TierRecallTotals
	for {
		raw, err := c.do(ctx, http.MethodPost, "/admin/v1/tiers/"+url.PathEscape(name)+"/recall", nil)
		if err != nil {
			return err
		}
		var r admin.TierRecall
		if err := json.Unmarshal(raw, &r); err != nil {
			return err
		}
		total.add(r)
		if asJSON {
			if _, err := out.Write(append(raw, '\n')); err != nil {
				return err
			}
		} else {
			fmt.Fprintf(out, "recalled %d versions (%s), %d left (%s)%s\n", total.n, humanBytes(total.bytes),
				r.Remaining, humanBytes(r.RemainingBytes), total.eta(time.Since(start), r.RemainingBytes))
		}
		if r.Remaining == 0 {
			if !asJSON {
				fmt.Fprintf(out, "tier %s holds nothing: `vaultaire admin tier remove %s` may remove it\n", name, name)
			}
			return nil
		}
		if r.Recalled == 0 {
			return fmt.Errorf("tier %s: %d versions left but none could be recalled; run again later", name, r.Remaining)
		}
	}
}

// TierRecallTotals sums a recall's progress.
type TierRecallTotals struct{ n, bytes int64 }

func (t *TierRecallTotals) add(r admin.TierRecall) { t.n += r.Recalled; t.bytes += r.Bytes }

func (t *TierRecallTotals) eta(elapsed time.Duration, left int64) string {
	if t.bytes == 0 || left == 0 {
		return ""
	}
	d := time.Duration(float64(elapsed) * float64(left) / float64(t.bytes))
	return ", ETA " + d.Round(time.Second).String()
}

func showTier(out io.Writer, what string) func([]byte) error {
	return func(raw []byte) error {
		var t admin.Tier
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		_, err := fmt.Fprintf(out, "tier %s %s: %s bucket %s prefix %q, storage class %s, archive %v\n",
			t.Name, what, t.Endpoint, t.Bucket, t.Prefix, t.StorageClass, t.Archive)
		return err
	}
}
