package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckAdminTLS(t *testing.T) {
	for _, tc := range []struct {
		f    serverFlags
		want string // "" accepted, else part of the error
	}{
		{serverFlags{adminAddr: "127.0.0.1:9001"}, ""},
		{serverFlags{adminAddr: "[::1]:9001"}, ""},
		{serverFlags{adminAddr: "localhost:9001"}, ""},
		{serverFlags{adminAddr: ""}, ""},
		{serverFlags{adminAddr: "0.0.0.0:9001"}, "--admin-insecure"},
		{serverFlags{adminAddr: ":9001"}, "--admin-insecure"},
		{serverFlags{adminAddr: "10.0.0.1:9001"}, "--admin-insecure"},
		{serverFlags{adminAddr: "admin.example.com:9001"}, "--admin-insecure"},
		{serverFlags{adminAddr: "10.0.0.1:9001", adminInsecure: true}, ""},
		{serverFlags{adminAddr: "10.0.0.1:9001", adminTLSCert: "c", adminTLSKey: "k"}, ""},
		{serverFlags{adminAddr: "127.0.0.1:9001", adminTLSCert: "c"}, "go together"},
	} {
		err := checkAdminTLS(tc.f)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
}

// TestAdminListenerTLS: with --admin-tls-cert the admin listener speaks
// only HTTPS, and the admin CLI reaches it with --cacert; a non-loopback
// address without TLS is refused at startup.
func TestAdminListenerTLS(t *testing.T) {
	dir := t.TempDir()
	bin := binary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "server", "--data", filepath.Join(dir, "x"), "--admin-address", "0.0.0.0:0").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--admin-insecure") {
		t.Fatalf("non-loopback admin without TLS: %v\n%s", err, out)
	}

	args := httpsArgs(t)
	certFile, keyFile := args[1], args[3]
	caFile := filepath.Join(filepath.Dir(certFile), "ca.pem")
	admin := freeAddr(t)
	s := startServer(t, filepath.Join(dir, "data"), nil, "--admin-address", admin, "--admin-tls-cert", certFile, "--admin-tls-key", keyFile)
	waitAdmin(t, admin)
	s.waitOutput(t, "--endpoint https://"+admin)
	// Plain HTTP gets no admin answer.
	resp, err := http.Get("http://" + admin + "/health/live")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Fatalf("plain HTTP served: %s", b)
		}
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err = hc.Get("https://" + admin + "/health/live")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("health over HTTPS: %v", err)
	}
	resp.Body.Close()
	stdout, stderr, code := runCLI(t, []string{"VAULTAIRE_ADMIN_TOKEN="}, "admin", "--endpoint", "https://"+admin, "--cacert", caFile, "--data", filepath.Join(dir, "data"), "tenant", "list")
	if code != 0 || !strings.Contains(stdout, "root") {
		t.Fatalf("admin CLI over HTTPS: exit %d\n%s\n%s", code, stdout, stderr)
	}
	// Without the CA the certificate is not trusted.
	if _, _, code := runCLI(t, []string{"VAULTAIRE_ADMIN_TOKEN="}, "admin", "--endpoint", "https://"+admin, "--data", filepath.Join(dir, "data"), "tenant", "list"); code == 0 {
		t.Fatal("admin CLI trusted an unknown CA")
	}
}
