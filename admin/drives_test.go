package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/vaultaire/vaultaire/node"
)

// The drive routes: token required, malformed and unknown IDs refused,
// and offline, online, heal and status doing what they say.
func TestDriveRoutes(t *testing.T) {
	a := startAPI(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/admin/v1/drives"}, {"GET", "/admin/v1/drives/d0"},
		{"POST", "/admin/v1/drives/d0/heal"}, {"POST", "/admin/v1/drives/d0/offline"}, {"POST", "/admin/v1/drives/d0/online"},
	} {
		if st, _, _ := a.do(r.method, r.path, "", ""); st != http.StatusUnauthorized {
			t.Errorf("%s %s without a token: %d", r.method, r.path, st)
		}
		if st, _, _ := a.do(r.method, r.path, "wrong", ""); st != http.StatusUnauthorized {
			t.Errorf("%s %s with a wrong token: %d", r.method, r.path, st)
		}
	}
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/admin/v1/drives/nope", 404, "NoSuchDrive"},
		{"POST", "/admin/v1/drives/nope/heal", 404, "NoSuchDrive"},
		{"POST", "/admin/v1/drives/nope/offline", 404, "NoSuchDrive"},
		{"POST", "/admin/v1/drives/nope/online", 404, "NoSuchDrive"},
		{"GET", "/admin/v1/drives/" + strings.Repeat("x", 200), 400, "InvalidDriveID"},
		{"POST", "/admin/v1/drives/a%20b/heal", 400, "InvalidDriveID"},
	} {
		st, m := a.call(tc.method, tc.path, "")
		if st != tc.status || m["code"] != tc.code {
			t.Errorf("%s %s: %d %v, want %d %s", tc.method, tc.path, st, m, tc.status, tc.code)
		}
	}
	st, _, raw := a.do("GET", "/admin/v1/drives", testToken, "")
	var list []node.DriveStatus
	if st != 200 || json.Unmarshal(raw, &list) != nil || len(list) != 4 || !list[0].Online {
		t.Fatalf("list: %d %s", st, raw)
	}
	one := func(st int, raw []byte) node.DriveStatus {
		t.Helper()
		var d node.DriveStatus
		if err := json.Unmarshal(raw, &d); err != nil {
			t.Fatalf("%d %s", st, raw)
		}
		return d
	}
	if st, _, raw := a.do("POST", "/admin/v1/drives/d1/offline", testToken, ""); st != 200 || !one(st, raw).Held || one(st, raw).Online {
		t.Fatalf("offline: %d %s", st, raw)
	}
	if st, _, raw := a.do("POST", "/admin/v1/drives/d1/online", testToken, ""); st != 200 || one(st, raw).Held || !one(st, raw).Online {
		t.Fatalf("online: %d %s", st, raw)
	}
	if st, _, raw := a.do("POST", "/admin/v1/drives/d1/heal", testToken, ""); st != 202 || one(st, raw).Heal == nil {
		t.Fatalf("heal: %d %s", st, raw)
	}
	if st, _, _ := a.do("DELETE", "/admin/v1/drives/d1", testToken, ""); st == 200 {
		t.Fatal("DELETE on a drive answered 200")
	}
}
