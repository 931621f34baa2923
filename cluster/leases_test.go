package cluster

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestLeases: the read-lease query answers the local view, refuses bad
// blob ids and foreign protocol versions, and the client reads it.
func TestLeases(t *testing.T) {
	mux := http.NewServeMux()
	RegisterLeases(mux, func(id string) bool { return id == "held" })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "https://")
	ctx := context.Background()
	for id, want := range map[string]bool{"held": true, "free": false} {
		got, err := BlobLeased(ctx, srv.Client(), addr, id)
		if err != nil || got != want {
			t.Fatalf("BlobLeased(%s) = %v, %v", id, got, err)
		}
	}
	for _, tc := range []struct {
		query, proto string
		status       int
		code         string
	}{
		{"", "1", 400, codeBadRequest},
		{"?blob=a%2Fb", "1", 400, codeBadRequest},
		{"?blob=" + strings.Repeat("x", 200), "1", 400, codeBadRequest},
		{"?blob=held", "", 400, codeBadProto},
		{"?blob=held", "9", 400, codeBadProto},
	} {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/rpc/leases"+tc.query, nil)
		if tc.proto != "" {
			req.Header.Set(ProtoHeader, tc.proto)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var w wireError
		json.NewDecoder(resp.Body).Decode(&w)
		resp.Body.Close()
		if resp.StatusCode != tc.status || w.Code != tc.code {
			t.Fatalf("%q proto %q: status %d code %q, want %d %q", tc.query, tc.proto, resp.StatusCode, w.Code, tc.status, tc.code)
		}
	}
	if _, err := BlobLeased(ctx, srv.Client(), addr, "a/b"); err == nil {
		t.Fatal("a bad blob id was answered")
	}
}
