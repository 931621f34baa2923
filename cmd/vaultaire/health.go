package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/admin"
)

// healthTimeout bounds one probe by default: below Docker's default
// HEALTHCHECK timeout (30 s) and the readiness handler's own budget.
const healthTimeout = 10 * time.Second

const healthUsage = `Usage: vaultaire health [flags]

Probes this node's admin listener: /health/ready (or /health/live with
--live). Exit status 0 when it answers 200, 1 otherwise (with the reasons
on standard error), 2 on a usage error. Meant for container health checks,
where no curl exists (the image is a static binary).

Flags:
  --endpoint URL   admin listener (default VAULTAIRE_ADMIN_ENDPOINT, else
                   derived from VAULTAIRE_ADMIN_ADDRESS with an unspecified
                   host as 127.0.0.1 and https when VAULTAIRE_ADMIN_TLS_CERT
                   is set, else http://127.0.0.1:9001)
  --cacert FILE    CA certificates (PEM) of an https:// admin listener (or
                   VAULTAIRE_ADMIN_CACERT; default: the admin TLS certificate
                   itself, VAULTAIRE_ADMIN_TLS_CERT, when it is set)
  --live           probe liveness instead of readiness
  --timeout D      give up after D (default 10s)
`

func healthCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vaultaire health", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	endpoint := fs.String("endpoint", envOr("VAULTAIRE_ADMIN_ENDPOINT", ""), "")
	cacert := fs.String("cacert", envOr("VAULTAIRE_ADMIN_CACERT", os.Getenv("VAULTAIRE_ADMIN_TLS_CERT")), "")
	live := fs.Bool("live", false, "")
	timeout := fs.Duration("timeout", healthTimeout, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, healthUsage)
			return 0
		}
		fmt.Fprintf(stderr, "vaultaire health: %v\n\n%s", err, healthUsage)
		return 2
	}
	if fs.NArg() > 0 || *timeout <= 0 {
		fmt.Fprint(stderr, healthUsage)
		return 2
	}
	ep := *endpoint
	if ep == "" {
		var err error
		if ep, err = adminEndpointFromEnv(os.Getenv("VAULTAIRE_ADMIN_ADDRESS"), os.Getenv("VAULTAIRE_ADMIN_TLS_CERT") != ""); err != nil {
			fmt.Fprintf(stderr, "vaultaire health: %v\n", err)
			return 2
		}
	}
	ep = strings.TrimRight(ep, "/")
	if !strings.Contains(ep, "://") {
		ep = "http://" + ep
	}
	client := &http.Client{Timeout: *timeout}
	if strings.HasPrefix(ep, "https://") && *cacert != "" {
		pem, err := os.ReadFile(*cacert)
		if err != nil {
			fmt.Fprintf(stderr, "vaultaire health: --cacert: %v\n", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			fmt.Fprintf(stderr, "vaultaire health: --cacert: no PEM certificate in %s\n", *cacert)
			return 2
		}
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	}
	path := "/health/ready"
	if *live {
		path = "/health/live"
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep+path, nil)
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire health: %v\n", err)
		return 2
	}
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "vaultaire health: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode == http.StatusOK {
		fmt.Fprintf(stdout, "%s: ok\n", path)
		return 0
	}
	var rd admin.Readiness
	if !*live && json.Unmarshal(body, &rd) == nil && len(rd.Reasons) > 0 {
		fmt.Fprintf(stderr, "vaultaire health: %s: HTTP %d: %s\n", path, resp.StatusCode, strings.Join(rd.Reasons, "; "))
	} else {
		fmt.Fprintf(stderr, "vaultaire health: %s: HTTP %d\n", path, resp.StatusCode)
	}
	return 1
}

// adminEndpointFromEnv turns the server's --admin-address (as set in its
// environment) into a URL this host can dial: an unspecified or empty host
// is the loopback address. Empty means the server's default.
func adminEndpointFromEnv(addr string, tlsOn bool) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:9001"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("VAULTAIRE_ADMIN_ADDRESS %q: %v", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}
