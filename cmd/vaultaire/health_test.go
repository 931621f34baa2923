package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/admin"
)

// TestHealthCommand probes real admin handlers: a starting node (live,
// not ready, with its reason), a ready one, one behind TLS, and addresses
// nothing listens on; usage errors exit 2.
func TestHealthCommand(t *testing.T) {
	for _, name := range []string{"VAULTAIRE_ADMIN_ENDPOINT", "VAULTAIRE_ADMIN_ADDRESS", "VAULTAIRE_ADMIN_TLS_CERT", "VAULTAIRE_ADMIN_CACERT"} {
		t.Setenv(name, "")
	}
	starting := httptest.NewServer(admin.Starting(time.Now()))
	defer starting.Close()
	ready := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health/ready" && r.URL.Path != "/health/live" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"ready":true}`))
	}))
	defer ready.Close()
	tlsSrv := httptest.NewTLSServer(admin.Starting(time.Now()))
	defer tlsSrv.Close()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A port nothing listens on: a closed listener's.
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	for _, tc := range []struct {
		name    string
		args    []string
		wantRC  int
		wantOut string
	}{
		{"ready", []string{"--endpoint", ready.URL}, 0, "/health/ready: ok"},
		{"ready without scheme", []string{"--endpoint", strings.TrimPrefix(ready.URL, "http://")}, 0, "ok"},
		{"starting is not ready", []string{"--endpoint", starting.URL}, 1, "HTTP 503: node: starting"},
		{"starting is live", []string{"--endpoint", starting.URL, "--live"}, 0, "/health/live: ok"},
		{"tls with its CA", []string{"--endpoint", tlsSrv.URL, "--cacert", caFile, "--live"}, 0, "ok"},
		{"tls without its CA", []string{"--endpoint", tlsSrv.URL, "--live"}, 1, "certificate"},
		{"cacert not PEM", []string{"--endpoint", tlsSrv.URL, "--cacert", notPEM}, 2, "no PEM certificate"},
		{"cacert missing", []string{"--endpoint", tlsSrv.URL, "--cacert", filepath.Join(t.TempDir(), "none")}, 2, "--cacert"},
		{"nothing listening", []string{"--endpoint", closedURL, "--timeout", "2s"}, 1, "vaultaire health:"},
		{"unknown flag", []string{"--bogus"}, 2, "Usage: vaultaire health"},
		{"stray argument", []string{"now"}, 2, "Usage: vaultaire health"},
		{"zero timeout", []string{"--timeout", "0s"}, 2, "Usage: vaultaire health"},
		{"help", []string{"-h"}, 0, "Usage: vaultaire health"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			rc := run(context.Background(), append([]string{"health"}, tc.args...), &out, &errb)
			if rc != tc.wantRC {
				t.Fatalf("rc %d, want %d\nstdout: %s\nstderr: %s", rc, tc.wantRC, out.String(), errb.String())
			}
			if got := out.String() + errb.String(); !strings.Contains(got, tc.wantOut) {
				t.Fatalf("output lacks %q:\n%s", tc.wantOut, got)
			}
		})
	}

	// With no --endpoint, the server's own environment names the listener.
	t.Setenv("VAULTAIRE_ADMIN_ADDRESS", strings.TrimPrefix(starting.URL, "http://"))
	var out, errb bytes.Buffer
	if rc := run(context.Background(), []string{"health", "--live"}, &out, &errb); rc != 0 {
		t.Fatalf("health from VAULTAIRE_ADMIN_ADDRESS: rc %d: %s", rc, errb.String())
	}
}

func TestAdminEndpointFromEnv(t *testing.T) {
	for _, tc := range []struct {
		addr  string
		tls   bool
		want  string
		isErr bool
	}{
		{"", false, "http://127.0.0.1:9001", false},
		{"0.0.0.0:9001", false, "http://127.0.0.1:9001", false},
		{":9101", true, "https://127.0.0.1:9101", false},
		{"[::]:9001", false, "http://127.0.0.1:9001", false},
		{"10.0.0.5:9001", false, "http://10.0.0.5:9001", false},
		{"[fd00::1]:9001", true, "https://[fd00::1]:9001", false},
		{"no-port", false, "", true},
	} {
		got, err := adminEndpointFromEnv(tc.addr, tc.tls)
		if (err != nil) != tc.isErr || got != tc.want {
			t.Errorf("adminEndpointFromEnv(%q, %v) = %q, %v; want %q (error %v)", tc.addr, tc.tls, got, err, tc.want, tc.isErr)
		}
	}
}
