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

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/tenancy"
)

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
	var u admin.Usage
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
