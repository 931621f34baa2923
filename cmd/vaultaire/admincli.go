package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vaultaire/vaultaire/admin"
)

// adminCLITimeout bounds one admin CLI request.
const adminCLITimeout = 60 * time.Second

const adminUsage = `Usage: vaultaire admin [flags] <command>

Flags:
  --endpoint URL   admin listener (default http://127.0.0.1:9001, or VAULTAIRE_ADMIN_ENDPOINT)
  --cacert FILE    CA certificates (PEM) of an https:// admin listener (or VAULTAIRE_ADMIN_CACERT)
  --token T        admin token (default VAULTAIRE_ADMIN_TOKEN, else read from --data)
  --data DIR       server data dir holding admin.token (default ./data)
  --json           print the API's JSON instead of tables

Commands:
  tenant create ID [--name N] [--plan P]
  tenant list
  tenant show ID
  tenant suspend ID
  tenant resume ID
  user create TENANT NAME [--password P]   (--password - reads it from standard input)
  user list TENANT
  key create TENANT USER      prints the secret key once
  key list TENANT
  key disable KEY
  key enable KEY
  key delete KEY
  tenant limits ID            limits, quotas and current usage
  tenant set-limits ID [--rps N] [--burst N] [--bytes-in N] [--bytes-out N] [--default]
                              request rate override (--default drops it) and bandwidth (bytes/s)
  tenant set-quota ID [--max-bytes N] [--max-artifacts N] [--max-egress N]
                              stored bytes, artifact count, egress bytes per month
  container quota TENANT NAME
  container set-quota TENANT NAME [--max-bytes N] [--max-artifacts N]
  scrub status                this node's scrub: pass in progress, last complete pass
  scrub start                 start a scrub pass now, unpaced
  kms rotate                  new key-encryption key for SSE-S3; re-wraps every data key (no data rewritten)
  drive list                  this node's drives: state, usage, heal job
  drive status [ID]           a drive's state and its heal job's progress
  drive heal ID               rebuild every shard the drive should hold (throttled: --heal-rate)
  drive offline ID            take a drive out of service (to pull the disk)
  drive online ID             bring it back; a blank replacement disk is adopted and healed
  blob show ID                the records that reference a blob (the ID in DRIVE/blobs/<2>/ID/), or none: garbage
  metastore snapshot > FILE   a consistent backup of the cluster's metadata
                              (restore: vaultaire server --restore-metastore FILE)

` + adminAccountsUsage + adminTiersUsage + adminAccessUsage + `
Byte amounts take K, M, G, T (10^3...) or Ki, Mi, Gi, Ti (2^10...) suffixes;
0 means unlimited; options left out keep their value.
(Usage records for billing: vaultaire usage export -h.)

Exit status: 0 ok, 1 API or connection error, 2 usage error.
`

// adminClient calls the admin API.
type adminClient struct {
	endpoint string
	token    string
	http     *http.Client
	stdin    io.Reader
}

// errUsage marks a command-line mistake (exit 2).
var errUsage = errors.New("usage")

func adminCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vaultaire admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	endpoint := fs.String("endpoint", envOr("VAULTAIRE_ADMIN_ENDPOINT", "http://127.0.0.1:9001"), "")
	token := fs.String("token", "", "")
	data := fs.String("data", envOr("VAULTAIRE_DATA", "data"), "")
	asJSON := fs.Bool("json", false, "")
	cacert := fs.String("cacert", envOr("VAULTAIRE_ADMIN_CACERT", ""), "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, adminUsage)
			return 0
		}
		fmt.Fprintf(stderr, "vaultaire admin: %v\n\n%s", err, adminUsage)
		return 2
	}
	rest := fs.Args()
	if len(rest) < 2 {
		fmt.Fprint(stderr, adminUsage)
		return 2
	}
	c, err := newAdminClient(*endpoint, *token, *data)
	if err == nil && *cacert != "" {
		err = c.trustCA(*cacert)
	}
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire admin: %v\n", err)
		return 2
	}
	err = c.run(ctx, rest[0], rest[1], rest[2:], *asJSON, stdout)
	if errors.Is(err, errUsage) {
		fmt.Fprintf(stderr, "vaultaire admin: %v\n\n%s", err, adminUsage)
		return 2
	}
	return reportAdminErr(stderr, "vaultaire admin", err)
}

// trustCA makes the client verify an HTTPS admin listener against the CA
// certificates (PEM) in file instead of the system's.
func (c *adminClient) trustCA(file string) error {
	pem, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("--cacert: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return fmt.Errorf("--cacert: no PEM certificate in %s", file)
	}
	c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	return nil
}

// newAdminClient is the client of the admin commands: endpoint (a URL, or
// host:port for http), and the token from token, else
// $VAULTAIRE_ADMIN_TOKEN, else data/admin.token.
func newAdminClient(endpoint, token, data string) (*adminClient, error) {
	if token == "" {
		token = os.Getenv("VAULTAIRE_ADMIN_TOKEN")
	}
	if token == "" {
		b, err := os.ReadFile(filepath.Join(data, "admin.token"))
		if err != nil {
			return nil, fmt.Errorf("no admin token: pass --token, set VAULTAIRE_ADMIN_TOKEN or --data DIR (%v)", err)
		}
		token = strings.TrimSpace(string(b))
	}
	ep := strings.TrimRight(endpoint, "/")
	if !strings.Contains(ep, "://") {
		ep = "http://" + ep
	}
	return &adminClient{endpoint: ep, token: token, http: &http.Client{Timeout: adminCLITimeout}, stdin: os.Stdin}, nil
}

// reportAdminErr prints an admin call's failure for prog and returns the
// exit status: 0 none, 1 the API refused or could not be reached.
func reportAdminErr(stderr io.Writer, prog string, err error) int {
	var ae *admin.Error
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ae):
		fmt.Fprintf(stderr, "%s: %s (%s, HTTP %d)\n", prog, ae.Message, ae.Code, ae.Status)
	default:
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
	}
	return 1
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// subArgs parses a subcommand's flags (which may come before or after its
// positional arguments) and wants exactly n positionals.
func subArgs(fs *flag.FlagSet, args []string, n int, usage string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %v (want: %s)", errUsage, err, usage)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != n {
		return nil, fmt.Errorf("%w: want: %s", errUsage, usage)
	}
	return pos, nil
}

func (c *adminClient) run(ctx context.Context, noun, verb string, args []string, asJSON bool, out io.Writer) error {
	if noun == "cluster" {
		return c.runCluster(ctx, verb, args, asJSON, out)
	}
	if noun == "scrub" {
		return c.runScrub(ctx, verb, args, asJSON, out)
	}
	if noun == "kms" {
		return c.runKMS(ctx, verb, args, asJSON, out)
	}
	if noun == "drive" {
		return c.runDrive(ctx, verb, args, asJSON, out)
	}
	if noun == "blob" {
		return c.runBlob(ctx, verb, args, asJSON, out)
	}
	if noun == "metastore" {
		return c.runMetastore(ctx, verb, args, out)
	}
	if noun == "tier" {
		return c.runTier(ctx, verb, args, asJSON, out)
	}
	if handled, err := c.runAccounts(ctx, noun, verb, args, asJSON, out); handled {
		return err
	}
	if handled, err := c.runAccess(ctx, noun, verb, args, asJSON, out); handled {
		return err
	}
	fs := flag.NewFlagSet(noun+" "+verb, flag.ContinueOnError)
	esc := url.PathEscape
	var (
		method, path, usage string
		body                any
		n                   int
		show                func(raw []byte) error
	)
	switch noun + " " + verb {
	case "tenant create":
		name := fs.String("name", "", "")
		plan := fs.String("plan", "", "")
		usage, n = "tenant create ID [--name N] [--plan P]", 1
		pos, err := subArgs(fs, args, n, usage)
		if err != nil {
			return err
		}
		method, path = http.MethodPost, "/admin/v1/tenants"
		body = map[string]string{"id": pos[0], "name": *name, "plan": *plan}
		show = showTenants(out, "")
	case "tenant list":
		if _, err := subArgs(fs, args, 0, "tenant list"); err != nil {
			return err
		}
		method, path, show = http.MethodGet, "/admin/v1/tenants", showTenants(out, "tenants")
	case "tenant show", "tenant suspend", "tenant resume":
		pos, err := subArgs(fs, args, 1, "tenant "+verb+" ID")
		if err != nil {
			return err
		}
		method, path = http.MethodPost, "/admin/v1/tenants/"+esc(pos[0])+"/"+verb
		if verb == "show" {
			method, path = http.MethodGet, "/admin/v1/tenants/"+esc(pos[0])
		}
		show = showTenants(out, "")
	case "user create":
		password := fs.String("password", "", "")
		pos, err := subArgs(fs, args, 2, "user create TENANT NAME [--password P]")
		if err != nil {
			return err
		}
		method, path = http.MethodPost, "/admin/v1/tenants/"+esc(pos[0])+"/users"
		in := map[string]string{"name": pos[1]}
		if *password == "-" { // keep it off the command line (ps, shell history)
			line, err := bufio.NewReader(c.stdin).ReadString('\n')
			if err != nil && line == "" {
				return fmt.Errorf("reading the password from standard input: %w", err)
			}
			*password = strings.TrimRight(line, "\r\n")
		}
		if *password != "" {
			in["password"] = *password
		}
		body, show = in, showUsers(out, "")
	case "user list":
		pos, err := subArgs(fs, args, 1, "user list TENANT")
		if err != nil {
			return err
		}
		method, path, show = http.MethodGet, "/admin/v1/tenants/"+esc(pos[0])+"/users", showUsers(out, "users")
	case "key create":
		pos, err := subArgs(fs, args, 2, "key create TENANT USER")
		if err != nil {
			return err
		}
		method, path = http.MethodPost, "/admin/v1/tenants/"+esc(pos[0])+"/users/"+esc(pos[1])+"/keys"
		show = showNewKey(out)
	case "key list":
		pos, err := subArgs(fs, args, 1, "key list TENANT")
		if err != nil {
			return err
		}
		method, path, show = http.MethodGet, "/admin/v1/tenants/"+esc(pos[0])+"/keys", showKeys(out, "keys")
	case "key disable", "key enable":
		pos, err := subArgs(fs, args, 1, "key "+verb+" KEY")
		if err != nil {
			return err
		}
		method, path, show = http.MethodPost, "/admin/v1/keys/"+esc(pos[0])+"/"+verb, showKeys(out, "")
	case "key delete":
		pos, err := subArgs(fs, args, 1, "key delete KEY")
		if err != nil {
			return err
		}
		method, path = http.MethodDelete, "/admin/v1/keys/"+esc(pos[0])
		show = func([]byte) error { _, err := fmt.Fprintf(out, "deleted %s\n", pos[0]); return err }
	case "tenant limits":
		pos, err := subArgs(fs, args, 1, "tenant limits ID")
		if err != nil {
			return err
		}
		method, path, show = http.MethodGet, "/admin/v1/tenants/"+esc(pos[0])+"/limits", showLimits(out)
	case "tenant set-limits":
		usage := "tenant set-limits ID [--rps N] [--burst N] [--bytes-in N] [--bytes-out N] [--default]"
		fs.Float64("rps", 0, "")
		fs.Int64("burst", 0, "")
		fs.Var(new(byteFlag), "bytes-in", "")
		fs.Var(new(byteFlag), "bytes-out", "")
		fs.Bool("default", false, "")
		pos, err := subArgs(fs, args, 1, usage)
		if err != nil {
			return err
		}
		in, err := setFlags(fs, map[string]string{"rps": "requests_per_sec", "burst": "burst", "bytes-in": "bytes_in_per_sec", "bytes-out": "bytes_out_per_sec", "default": "default"})
		if err != nil {
			return err
		}
		method, path, body, show = http.MethodPut, "/admin/v1/tenants/"+esc(pos[0])+"/limits", in, showLimits(out)
	case "tenant set-quota":
		fs.Var(new(byteFlag), "max-bytes", "")
		fs.Int64("max-artifacts", 0, "")
		fs.Var(new(byteFlag), "max-egress", "")
		pos, err := subArgs(fs, args, 1, "tenant set-quota ID [--max-bytes N] [--max-artifacts N] [--max-egress N]")
		if err != nil {
			return err
		}
		in, err := setFlags(fs, map[string]string{"max-bytes": "max_bytes", "max-artifacts": "max_artifacts", "max-egress": "max_egress_bytes_per_month"})
		if err != nil {
			return err
		}
		method, path, body, show = http.MethodPut, "/admin/v1/tenants/"+esc(pos[0])+"/quota", in, showLimits(out)
	case "container quota":
		pos, err := subArgs(fs, args, 2, "container quota TENANT NAME")
		if err != nil {
			return err
		}
		method, path, show = http.MethodGet, "/admin/v1/tenants/"+esc(pos[0])+"/containers/"+esc(pos[1])+"/quota", showContainerQuota(out)
	case "container set-quota":
		fs.Var(new(byteFlag), "max-bytes", "")
		fs.Int64("max-artifacts", 0, "")
		pos, err := subArgs(fs, args, 2, "container set-quota TENANT NAME [--max-bytes N] [--max-artifacts N]")
		if err != nil {
			return err
		}
		in, err := setFlags(fs, map[string]string{"max-bytes": "max_bytes", "max-artifacts": "max_artifacts"})
		if err != nil {
			return err
		}
		method, path, body, show = http.MethodPut, "/admin/v1/tenants/"+esc(pos[0])+"/containers/"+esc(pos[1])+"/quota", in, showContainerQuota(out)
	default:
		return fmt.Errorf("%w: unknown command %q", errUsage, noun+" "+verb)
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

// do sends one request and returns the body of a 2xx answer, or the
// answer's error as an *admin.Error.
func (c *adminClient) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", "vaultaire-admin/"+version)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		ae := &admin.Error{Status: resp.StatusCode}
		if json.Unmarshal(raw, ae) != nil || ae.Message == "" {
			ae.Code, ae.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(raw))
		}
		return nil, ae
	}
	return raw, nil
}

// unwrap decodes raw into a list: the field key of an object, or the
// whole object as one row when key is "".
func unwrap[T any](raw []byte, key string) ([]T, error) {
	if key == "" {
		var one T
		err := json.Unmarshal(raw, &one)
		return []T{one}, err
	}
	var m map[string][]T
	err := json.Unmarshal(raw, &m)
	return m[key], err
}

func table(out io.Writer, header string, rows [][]string) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, header)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func showTenants(out io.Writer, key string) func([]byte) error {
	return func(raw []byte) error {
		list, err := unwrap[admin.Tenant](raw, key)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, t := range list {
			rows = append(rows, []string{t.ID, t.Name, t.Plan, t.State, ts(t.Created)})
		}
		return table(out, "ID\tNAME\tPLAN\tSTATE\tCREATED", rows)
	}
}

func showUsers(out io.Writer, key string) func([]byte) error {
	return func(raw []byte) error {
		us, err := unwrap[admin.User](raw, key)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, u := range us {
			rows = append(rows, []string{u.Tenant, u.Name, fmt.Sprint(u.HasPassword), ts(u.Created)})
		}
		return table(out, "TENANT\tNAME\tPASSWORD\tCREATED", rows)
	}
}

func showKeys(out io.Writer, key string) func([]byte) error {
	return func(raw []byte) error {
		ks, err := unwrap[admin.Key](raw, key)
		if err != nil {
			return err
		}
		var rows [][]string
		for _, k := range ks {
			state := "enabled"
			if !k.Enabled {
				state = "disabled"
			}
			rows = append(rows, []string{k.AccessKeyID, k.Tenant, k.User, state, ts(k.Created)})
		}
		return table(out, "ACCESS KEY\tTENANT\tUSER\tSTATE\tCREATED", rows)
	}
}

func showNewKey(out io.Writer) func([]byte) error {
	return func(raw []byte) error {
		var k admin.NewKey
		if err := json.Unmarshal(raw, &k); err != nil {
			return err
		}
		if err := table(out, "ACCESS KEY\tSECRET KEY\tTENANT\tUSER", [][]string{{k.AccessKeyID, k.SecretKey, k.Tenant, k.User}}); err != nil {
			return err
		}
		_, err := fmt.Fprintln(out, "\nThe secret key is shown only now; store it safely.")
		return err
	}
}

// byteFlag is a byte amount: digits with an optional K, M, G, T (powers
// of 1000) or Ki, Mi, Gi, Ti (powers of 1024) suffix, optionally ending
// in B.
type byteFlag struct{ n int64 }

func (b *byteFlag) String() string { return fmt.Sprint(b.n) }
func (b *byteFlag) Set(s string) error {
	n, err := parseBytes(s)
	b.n = n
	return err
}

func parseBytes(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSpace(s), "B")
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid byte amount %q (want e.g. 1000, 10G, 5GiB)", s)
	}
	return n * mult, nil
}

// setFlags returns the JSON body of the flags given on the command line
// (named by jsonName), so options left out keep their value on the server.
func setFlags(fs *flag.FlagSet, jsonName map[string]string) (map[string]any, error) {
	in := map[string]any{}
	fs.Visit(func(f *flag.Flag) {
		name, ok := jsonName[f.Name]
		if !ok {
			return
		}
		switch v := f.Value.(type) {
		case *byteFlag:
			in[name] = v.n
		case flag.Getter:
			in[name] = v.Get()
		}
	})
	if len(in) == 0 {
		return nil, fmt.Errorf("%w: nothing to set", errUsage)
	}
	return in, nil
}

func limitText(n int64, unit string) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10) + unit
}

func showLimits(out io.Writer) func([]byte) error {
	return func(raw []byte) error {
		var l admin.Limits
		if err := json.Unmarshal(raw, &l); err != nil {
			return err
		}
		rate := "unlimited"
		if l.RequestsPerSec > 0 {
			rate = strconv.FormatFloat(l.RequestsPerSec, 'g', -1, 64) + "/s, burst " + strconv.Itoa(l.Burst)
		}
		if !l.RateOverride {
			rate += " (server default)"
		}
		return table(out, "TENANT\t"+l.Tenant, [][]string{
			{"requests", rate},
			{"bytes in", limitText(l.BytesInPerSec, " B/s")},
			{"bytes out", limitText(l.BytesOutPerSec, " B/s")},
			{"quota bytes", limitText(l.Quota.MaxBytes, "")},
			{"quota artifacts", limitText(l.Quota.MaxArtifacts, "")},
			{"quota egress/month", limitText(l.Quota.MaxEgressBytesPerMonth, "")},
			{"stored bytes", fmt.Sprintf("%d (+%d in unfinished uploads)", l.Usage.Bytes, l.Usage.UploadBytes)},
			{"artifacts", strconv.FormatInt(l.Usage.Artifacts, 10)},
			{"egress this month", strconv.FormatInt(l.Usage.MonthEgressBytes, 10)},
		})
	}
}

func showContainerQuota(out io.Writer) func([]byte) error {
	return func(raw []byte) error {
		var c admin.ContainerQuota
		if err := json.Unmarshal(raw, &c); err != nil {
			return err
		}
		return table(out, "TENANT\tCONTAINER\tQUOTA BYTES\tQUOTA ARTIFACTS\tBYTES\tARTIFACTS\tUPLOAD BYTES", [][]string{{
			c.Tenant, c.Container, limitText(c.Quota.MaxBytes, ""), limitText(c.Quota.MaxArtifacts, ""),
			strconv.FormatInt(c.Usage.Bytes, 10), strconv.FormatInt(c.Usage.Artifacts, 10), strconv.FormatInt(c.Usage.UploadBytes, 10),
		}})
	}
}
