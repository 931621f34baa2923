package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/billing"
)

// The admin CLI's commands for console accounts, deletions, plans and
// invoices (admin/accounts.go serves them).
const adminAccountsUsage = `  operator create NAME --password P     an operator account of the web console (- reads it from stdin)
  operator list
  operator passwd NAME --password P     reset an operator's password
  operator delete NAME
  user passwd TENANT NAME --password P  reset a user's password: unlocks it, ends its sessions
  user delete TENANT NAME               deletes the user and its access keys
  tenant delete ID [--force]            --force deletes its containers and artifacts first
  tenant plan ID PLAN                   assign a plan: its limits and quotas apply at once
  plan list                             the plan catalog
  tenant invoice ID [--month YYYY-MM] [--csv]
                                        the invoice of a month (default: this month so far)
`

// readPassword returns p, or a line of standard input when p is "-" (so
// the password stays out of ps and shell history).
func (c *adminClient) readPassword(p string) (string, error) {
	if p != "-" {
		return p, nil
	}
	line, err := bufio.NewReader(c.stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// runAccounts runs the commands of adminAccountsUsage; handled is false
// for other commands.
func (c *adminClient) runAccounts(ctx context.Context, noun, verb string, args []string, asJSON bool, out io.Writer) (handled bool, err error) {
	fs := flag.NewFlagSet(noun+" "+verb, flag.ContinueOnError)
	esc := url.PathEscape
	var (
		method, path string
		body         any
		show         func(raw []byte) error
	)
	done := func(format string, a ...any) func([]byte) error {
		return func([]byte) error { _, err := fmt.Fprintf(out, format+"\n", a...); return err }
	}
	switch noun + " " + verb {
	case "operator create", "operator passwd":
		password := fs.String("password", "", "")
		pos, err := subArgs(fs, args, 1, "operator "+verb+" NAME --password P")
		if err != nil {
			return true, err
		}
		pw, err := c.readPassword(*password)
		if err != nil {
			return true, err
		}
		if pw == "" {
			return true, fmt.Errorf("%w: --password is required", errUsage)
		}
		if verb == "create" {
			method, path, body = http.MethodPost, "/admin/v1/operators", map[string]string{"name": pos[0], "password": pw}
			show = done("created operator %s", pos[0])
		} else {
			method, path, body = http.MethodPut, "/admin/v1/operators/"+esc(pos[0])+"/password", map[string]string{"password": pw}
			show = done("password of operator %s reset; their sessions ended", pos[0])
		}
	case "operator list":
		if _, err := subArgs(fs, args, 0, "operator list"); err != nil {
			return true, err
		}
		method, path = http.MethodGet, "/admin/v1/operators"
		show = func(raw []byte) error {
			os, err := unwrap[admin.Operator](raw, "operators")
			if err != nil {
				return err
			}
			var rows [][]string
			for _, o := range os {
				rows = append(rows, []string{o.Name, ts(o.Created)})
			}
			return table(out, "NAME\tCREATED", rows)
		}
	case "operator delete":
		pos, err := subArgs(fs, args, 1, "operator delete NAME")
		if err != nil {
			return true, err
		}
		method, path, show = http.MethodDelete, "/admin/v1/operators/"+esc(pos[0]), done("deleted operator %s", pos[0])
	case "user passwd":
		password := fs.String("password", "", "")
		pos, err := subArgs(fs, args, 2, "user passwd TENANT NAME --password P")
		if err != nil {
			return true, err
		}
		pw, err := c.readPassword(*password)
		if err != nil {
			return true, err
		}
		if pw == "" {
			return true, fmt.Errorf("%w: --password is required", errUsage)
		}
		method, path, body = http.MethodPut, "/admin/v1/tenants/"+esc(pos[0])+"/users/"+esc(pos[1])+"/password", map[string]string{"password": pw}
		show = done("password of %s/%s reset; the account is unlocked and its sessions ended", pos[0], pos[1])
	case "user delete":
		pos, err := subArgs(fs, args, 2, "user delete TENANT NAME")
		if err != nil {
			return true, err
		}
		method, path = http.MethodDelete, "/admin/v1/tenants/"+esc(pos[0])+"/users/"+esc(pos[1])
		show = done("deleted user %s/%s and its access keys", pos[0], pos[1])
	case "tenant delete":
		force := fs.Bool("force", false, "")
		pos, err := subArgs(fs, args, 1, "tenant delete ID [--force]")
		if err != nil {
			return true, err
		}
		method, path = http.MethodDelete, "/admin/v1/tenants/"+esc(pos[0])
		if *force {
			path += "?force=true"
		}
		show = func(raw []byte) error {
			var d admin.Deleted
			if err := json.Unmarshal(raw, &d); err != nil {
				return err
			}
			_, err := fmt.Fprintf(out, "deleted tenant %s (%d containers, %d artifacts, %d unfinished uploads)\n", d.Tenant, d.Containers, d.Artifacts, d.Uploads)
			return err
		}
	case "tenant plan":
		pos, err := subArgs(fs, args, 2, "tenant plan ID PLAN")
		if err != nil {
			return true, err
		}
		method, path, body = http.MethodPut, "/admin/v1/tenants/"+esc(pos[0])+"/plan", map[string]string{"plan": pos[1]}
		show = showTenants(out, "")
	case "plan list":
		if _, err := subArgs(fs, args, 0, "plan list"); err != nil {
			return true, err
		}
		method, path = http.MethodGet, "/admin/v1/plans"
		show = func(raw []byte) error {
			var cat billing.Catalog
			if err := json.Unmarshal(raw, &cat); err != nil {
				return err
			}
			var rows [][]string
			for _, p := range cat.Plans {
				name := p.Name
				if p.Name == cat.Default {
					name += " (default)"
				}
				rows = append(rows, []string{name, p.Prices.StorageGBMonth.String(), p.Prices.ClassAPer1000.String(), p.Prices.ClassBPer1000.String(),
					p.Prices.EgressGB.String(), limitText(p.MaxBytes, ""), p.Description})
			}
			return table(out, "PLAN\tGB-MONTH\tCLASS A/1000\tCLASS B/1000\tEGRESS/GB\tQUOTA BYTES\tDESCRIPTION", rows)
		}
	case "tenant invoice":
		month := fs.String("month", "", "")
		asCSV := fs.Bool("csv", false, "")
		pos, err := subArgs(fs, args, 1, "tenant invoice ID [--month YYYY-MM] [--csv]")
		if err != nil {
			return true, err
		}
		q := url.Values{}
		if *month != "" {
			q.Set("month", *month)
		}
		if *asCSV {
			q.Set("format", "csv")
		}
		method, path = http.MethodGet, "/admin/v1/tenants/"+esc(pos[0])+"/invoice"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		show = func(raw []byte) error {
			if *asCSV {
				_, err := out.Write(raw)
				return err
			}
			var inv billing.Invoice
			if err := json.Unmarshal(raw, &inv); err != nil {
				return err
			}
			fmt.Fprintf(out, "tenant %s, plan %s, %s to %s (%s)\n", inv.Tenant, inv.Plan, inv.Start.Format("2006-01-02"), inv.End.Format("2006-01-02"), strings.ToUpper(inv.Currency))
			var rows [][]string
			for _, l := range inv.Lines {
				rows = append(rows, []string{l.Description, l.Quantity + " " + l.Unit, l.Included, l.Billable, l.UnitPrice.String(), l.Amount.String()})
			}
			rows = append(rows, []string{"Total", "", "", "", "", inv.Total.String()})
			return table(out, "ITEM\tQUANTITY\tINCLUDED\tBILLABLE\tUNIT PRICE\tAMOUNT", rows)
		}
		if *asCSV {
			raw, err := c.do(ctx, method, path, nil)
			if err != nil {
				return true, err
			}
			return true, show(raw)
		}
	default:
		return false, nil
	}
	raw, err := c.do(ctx, method, path, body)
	if err != nil {
		return true, err
	}
	if asJSON {
		_, err := out.Write(raw)
		return true, err
	}
	return true, show(raw)
}
