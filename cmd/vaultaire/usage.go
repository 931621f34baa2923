package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/vaultaire/vaultaire/tenancy"
)

// usageJSON is the answer of GET /admin/v1/tenants/:tenant/usage: the
// tenant's hourly records with Start in [from, to) (each the sum over
// every node), their totals, and the storage figure of an invoice in
// GB-months (tenancy.GBMonths).
type usageJSON struct {
	Tenant   string         `json:"tenant"`
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	GBMonths float64        `json:"gb_months"`
	Totals   usageTotals    `json:"totals"`
	Hours    []tenancy.Hour `json:"hours"`
}

type usageTotals struct {
	IngressBytes int64 `json:"ingress_bytes"`
	EgressBytes  int64 `json:"egress_bytes"`
	ClassA       int64 `json:"class_a"`
	ClassB       int64 `json:"class_b"`
}

// parseUsageTime accepts RFC 3339 or a UTC date (2006-01-02).
func parseUsageTime(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, badRequest("InvalidArgument", "%s must be RFC 3339 (2006-01-02T15:04:05Z) or a date (2006-01-02)", name)
}

// usageRange returns [from, to): by default the current calendar month
// (UTC) up to the end of the current hour.
func usageRange(q url.Values, now time.Time) (time.Time, time.Time, error) {
	now = now.UTC()
	from, err := parseUsageTime("from", q.Get("from"), time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return from, from, err
	}
	to, err := parseUsageTime("to", q.Get("to"), now.Truncate(time.Hour).Add(time.Hour))
	if err != nil {
		return from, to, err
	}
	if !to.After(from) {
		return from, to, badRequest("InvalidArgument", "to must be after from")
	}
	if to.Sub(from) > 400*24*time.Hour {
		return from, to, badRequest("InvalidArgument", "at most 400 days per request")
	}
	return from, to, nil
}

func (a *adminAPI) getUsage(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	from, to, err := usageRange(c.req.URL.Query(), time.Now())
	if err != nil {
		return 0, nil, err
	}
	// Report this node's latest requests first, so an export right after
	// traffic through this node includes it (other nodes report within
	// node.DefaultUsageInterval).
	if tn := a.tenancy.Load(); tn != nil {
		if err := tn.flush(ctx); err != nil {
			a.log.Warn("usage not flushed before read", "err", err)
		}
	}
	hours, err := a.eng.UsageHours(ctx, id, from, to)
	if err != nil {
		return 0, nil, err
	}
	out := usageJSON{Tenant: id, From: from, To: to, GBMonths: tenancy.GBMonths(hours), Hours: hours}
	if out.Hours == nil {
		out.Hours = []tenancy.Hour{}
	}
	for _, h := range hours {
		out.Totals.IngressBytes += h.IngressBytes
		out.Totals.EgressBytes += h.EgressBytes
		out.Totals.ClassA += h.ClassA
		out.Totals.ClassB += h.ClassB
	}
	return http.StatusOK, out, nil
}

const usageCLIUsage = `Usage: vaultaire usage export --tenant ID [--from T] [--to T] [--format csv|json] [flags]

Exports a tenant's hourly usage records with start in [from, to) for
billing: stored bytes and artifacts (sampled in the hour), ingress and
egress bytes, and requests by billing class (A: PUT/COPY/POST/LIST, B:
GET/HEAD and the rest), summed over every node of the cluster.

  --tenant ID      the tenant (required)
  --from T         RFC 3339 time or UTC date (default: start of this month)
  --to T           RFC 3339 time or UTC date, exclusive (default: end of this hour)
  --format F       csv (default) or json; csv prints the GB-months figure
                   to standard error, json carries it as gb_months
  --endpoint URL   admin listener (default http://127.0.0.1:9001, or VAULTAIRE_ADMIN_ENDPOINT)
  --token T        admin token (default VAULTAIRE_ADMIN_TOKEN, else read from --data)
  --data DIR       server data dir holding admin.token (default ./data)

CSV columns: tenant,start,stored_bytes,artifacts,ingress_bytes,egress_bytes,class_a,class_b
Exit status: 0 ok, 1 API or connection error, 2 usage error.
`

// usageCommand is "vaultaire usage export": it calls the admin API of any
// node, with the same credentials as "vaultaire admin".
func usageCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprint(stdout, usageCLIUsage)
			return 0
		}
		fmt.Fprint(stderr, usageCLIUsage)
		return 2
	}
	fs := flag.NewFlagSet("vaultaire usage export", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	endpoint := fs.String("endpoint", envOr("VAULTAIRE_ADMIN_ENDPOINT", "http://127.0.0.1:9001"), "")
	token := fs.String("token", "", "")
	data := fs.String("data", envOr("VAULTAIRE_DATA", "data"), "")
	tenant := fs.String("tenant", "", "")
	from := fs.String("from", "", "")
	to := fs.String("to", "", "")
	format := fs.String("format", "csv", "")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageCLIUsage)
			return 0
		}
		fmt.Fprintf(stderr, "vaultaire usage: %v\n\n%s", err, usageCLIUsage)
		return 2
	}
	if *tenant == "" || fs.NArg() > 0 || (*format != "csv" && *format != "json") {
		fmt.Fprintf(stderr, "vaultaire usage: want --tenant and --format csv or json\n\n%s", usageCLIUsage)
		return 2
	}
	c, err := newAdminClient(*endpoint, *token, *data)
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire usage: %v\n", err)
		return 2
	}
	q := url.Values{}
	if *from != "" {
		q.Set("from", *from)
	}
	if *to != "" {
		q.Set("to", *to)
	}
	path := "/admin/v1/tenants/" + url.PathEscape(*tenant) + "/usage"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	raw, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return reportAdminErr(stderr, "vaultaire usage", err)
	}
	var u usageJSON
	if err := json.Unmarshal(raw, &u); err != nil {
		fmt.Fprintf(stderr, "vaultaire usage: bad answer: %v\n", err)
		return 1
	}
	if *format == "json" {
		if _, err := io.Copy(stdout, bytes.NewReader(raw)); err != nil {
			return 1
		}
		return 0
	}
	if err := tenancy.WriteCSV(stdout, u.Hours); err != nil {
		fmt.Fprintf(stderr, "vaultaire usage: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "tenant %s, %s to %s: %.6f GB-months stored, %d bytes in, %d bytes out, %d class A and %d class B requests\n",
		u.Tenant, u.From.Format(time.RFC3339), u.To.Format(time.RFC3339), u.GBMonths,
		u.Totals.IngressBytes, u.Totals.EgressBytes, u.Totals.ClassA, u.Totals.ClassB)
	return 0
}
