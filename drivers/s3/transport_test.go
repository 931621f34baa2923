package s3

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// TestHTTPClientResumesTLSSessions: when the remote closes connections (as
// S3 servers do after refusing a body), the driver's reconnects resume the
// TLS session rather than paying a full handshake each time.
func TestHTTPClientResumesTLSSessions(t *testing.T) {
	var resumed, full atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS.DidResume {
			resumed.Add(1)
		} else {
			full.Add(1)
		}
	}))
	srv.Config.SetKeepAlivesEnabled(false)
	srv.StartTLS()
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	hc, tr, err := newHTTPClient(Config{CAFile: ca}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	defer tr.CloseIdleConnections()
	for i := 0; i < 4; i++ {
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	if full.Load() != 1 || resumed.Load() != 3 {
		t.Fatalf("%d full handshakes, %d resumed; want 1 and 3", full.Load(), resumed.Load())
	}
}
