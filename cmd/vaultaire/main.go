// Command vaultaire is the one Vaultaire binary: the S3 server, admin
// commands and the benchmark harness.
//
//	vaultaire server [flags]     run a node (single-node by default)
//	vaultaire admin [flags] ...  manage tenants, users and access keys
//	vaultaire bench [flags]      load-test any S3 endpoint
//	vaultaire health [flags]     probe the node's readiness (container health checks)
//	vaultaire version            print the version
//
// Configuration precedence for every server setting, highest first:
// command-line flag, VAULTAIRE_* environment variable, config file
// (--config, "name = value" lines using the flag names), built-in default.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "server":
		return serverCommand(ctx, args[1:], stdout, stderr)
	case "admin":
		return adminCommand(ctx, args[1:], stdout, stderr)
	case "usage":
		return usageCommand(ctx, args[1:], stdout, stderr)
	case "cluster":
		return clusterCommand(ctx, args[1:], stdout, stderr)
	case "bench":
		return benchCommand(ctx, args[1:], stdout, stderr)
	case "health":
		return healthCommand(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		printVersion(stdout)
		return 0
	case "help", "--help", "-h":
		usage(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "vaultaire: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprint(w, `Vaultaire: a clustered, multi-tenant, S3-compatible object store.

Usage:
  vaultaire server [flags]   run a node; with no flags: ./data, 127.0.0.1:9000, 4 drives, erasure 2+2;
                             --join HOST:PORT adds it to a cluster
  vaultaire admin <command>  manage tenants, users and access keys (vaultaire admin -h)
  vaultaire usage export     export a tenant's hourly usage as CSV or JSON (vaultaire usage -h)
  vaultaire cluster <cmd>    cluster status and node removal (vaultaire cluster -h)
  vaultaire bench [flags]    benchmark an S3 endpoint (vaultaire bench -h)
  vaultaire health           probe this node's /health/ready (exit 0 when ready; for container health checks)
  vaultaire version          print the version, commit and the cluster versions it supports

Run "vaultaire server -h" for the server's flags and environment variables.
`)
}
