package audit_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vaultaire/vaultaire/audit"
)

func Example() {
	dir, _ := os.MkdirTemp("", "audit")
	defer os.RemoveAll(dir)

	file, err := audit.NewFile(audit.FileConfig{
		Path:   filepath.Join(dir, "audit.log"),
		OnDrop: func(sink string) { /* e.g. droppedTotal.WithLabelValues(sink).Inc() */ },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	log := audit.New(file) // add audit.NewWebhook(...) sinks here
	log.Emit(audit.Event{
		Time:      time.Date(2026, 11, 22, 4, 31, 0, 0, time.UTC),
		RequestID: "req-1", Node: "node-a", Tenant: "acme",
		Operation: "GetObject", Container: "photos", Key: "cat.jpg",
		Status: 200, BytesOut: 1234, Duration: 2500 * time.Microsecond,
	})
	if err := log.Close(context.Background()); err != nil {
		fmt.Println(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "audit.log"))
	fmt.Print(string(b))
	// Output:
	// {"schema_version":1,"time":"2026-11-22T04:31:00Z","request_id":"req-1","node":"node-a","tenant":"acme","user":"","access_key_id":"","operation":"GetObject","container":"photos","key":"cat.jpg","version_id":"","status":200,"error_code":"","bytes_in":0,"bytes_out":1234,"duration_seconds":0.0025,"remote_addr":"","user_agent":"","admin":false,"requester":""}
}
