package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/admin"
)

// TestAdminAnswersWhileStarting: before the node is open, the admin
// listener answers liveness with admin.Starting, and swapping in the full
// handler takes effect at once.
func TestAdminAnswersWhileStarting(t *testing.T) {
	sw := newSwapHandler(admin.Starting(time.Now()))
	srv := httptest.NewServer(sw)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("live while starting: %d", resp.StatusCode)
	}
	sw.set(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	resp, err = http.Get(srv.URL + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTeapot {
		t.Fatalf("swapped handler not used: %d", resp.StatusCode)
	}
}
