package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
)

const adminAccessUsage = `  user policy set TENANT NAME FILE       attach an IAM identity policy (FILE - reads stdin)
  user policy show TENANT NAME           print it ("null": no policy, the user may do everything in its tenant)
  user policy delete TENANT NAME         remove it: back to everything in its tenant
  tenant public-access-block ID [--block-public-acls] [--ignore-public-acls] [--block-public-policy]
                              [--restrict-public-buckets] [--delete]
                                         set the tenant's PublicAccessBlock (no flag: show it)
`

// runAccess runs the commands of adminAccessUsage; handled is false for
// other commands.
func (c *adminClient) runAccess(ctx context.Context, noun, verb string, args []string, asJSON bool, out io.Writer) (handled bool, err error) {
	esc := url.PathEscape
	switch noun + " " + verb {
	case "user policy":
		if len(args) == 0 {
			return true, fmt.Errorf("%w: user policy set|show|delete TENANT NAME", errUsage)
		}
		sub := args[0]
		fs := flag.NewFlagSet("user policy "+sub, flag.ContinueOnError)
		var method string
		var body any
		n := 2
		switch sub {
		case "set":
			method, n = http.MethodPut, 3
		case "show":
			method = http.MethodGet
		case "delete":
			method = http.MethodDelete
		default:
			return true, fmt.Errorf("%w: user policy set|show|delete TENANT NAME", errUsage)
		}
		pos, err := subArgs(fs, args[1:], n, "user policy "+sub+" TENANT NAME"+map[bool]string{true: " FILE"}[n == 3])
		if err != nil {
			return true, err
		}
		if sub == "set" {
			var doc []byte
			if pos[2] == "-" {
				doc, err = io.ReadAll(io.LimitReader(c.stdin, 1<<20))
			} else {
				doc, err = os.ReadFile(pos[2])
			}
			if err != nil {
				return true, err
			}
			if !json.Valid(doc) {
				return true, fmt.Errorf("%s: not valid JSON", pos[2])
			}
			body = map[string]json.RawMessage{"policy": bytes.TrimSpace(doc)}
		}
		raw, err := c.do(ctx, method, "/admin/v1/tenants/"+esc(pos[0])+"/users/"+esc(pos[1])+"/policy", body)
		if err != nil {
			return true, err
		}
		if asJSON {
			_, err := out.Write(raw)
			return true, err
		}
		var p struct {
			Policy json.RawMessage `json:"policy"`
		}
		if err := json.Unmarshal(raw, &p); err != nil {
			return true, err
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, p.Policy, "", "  ") != nil {
			pretty.Write(p.Policy)
		}
		_, err = fmt.Fprintf(out, "%s\n", pretty.Bytes())
		return true, err
	case "tenant public-access-block":
		fs := flag.NewFlagSet("tenant public-access-block", flag.ContinueOnError)
		acls := fs.Bool("block-public-acls", false, "")
		ignore := fs.Bool("ignore-public-acls", false, "")
		pol := fs.Bool("block-public-policy", false, "")
		restrict := fs.Bool("restrict-public-buckets", false, "")
		del := fs.Bool("delete", false, "")
		pos, err := subArgs(fs, args, 1, "tenant public-access-block ID [flags]")
		if err != nil {
			return true, err
		}
		method, body := http.MethodGet, any(nil)
		set := false
		fs.Visit(func(f *flag.Flag) { set = set || f.Name != "delete" })
		switch {
		case *del:
			method = http.MethodDelete
		case set:
			method = http.MethodPut
			body = map[string]bool{"BlockPublicAcls": *acls, "IgnorePublicAcls": *ignore, "BlockPublicPolicy": *pol, "RestrictPublicBuckets": *restrict}
		}
		raw, err := c.do(ctx, method, "/admin/v1/tenants/"+esc(pos[0])+"/public-access-block", body)
		if err != nil {
			return true, err
		}
		if asJSON {
			_, err := out.Write(raw)
			return true, err
		}
		var b map[string]any
		if err := json.Unmarshal(raw, &b); err != nil {
			return true, err
		}
		return true, table(out, "TENANT\tBLOCK_PUBLIC_ACLS\tIGNORE_PUBLIC_ACLS\tBLOCK_PUBLIC_POLICY\tRESTRICT_PUBLIC_BUCKETS",
			[][]string{{fmt.Sprint(b["tenant"]), fmt.Sprint(b["BlockPublicAcls"]), fmt.Sprint(b["IgnorePublicAcls"]), fmt.Sprint(b["BlockPublicPolicy"]), fmt.Sprint(b["RestrictPublicBuckets"])}})
	}
	return false, nil
}
