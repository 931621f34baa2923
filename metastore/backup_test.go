package metastore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// A backup restored into a new directory opens as a new cluster of one
// with the same state, at the same cluster version, and takes writes; a
// directory that holds a metastore is refused, and a damaged backup
// leaves nothing behind.
func TestBackupRestoreRoundTrip(t *testing.T) {
	s := openSingle(t, t.TempDir())
	for _, id := range []string{"acme", "beta"} {
		mustNoErr(t, s.CreateTenant(ctxT(t), Tenant{ID: id, Name: "n-" + id, State: TenantActive}))
	}
	var buf bytes.Buffer
	mustNoErr(t, s.Backup(ctxT(t), &buf))
	backup := buf.Bytes()

	dir := filepath.Join(t.TempDir(), "meta")
	n, at, err := RestoreBackup(dir, bytes.NewReader(backup))
	mustNoErr(t, err)
	if n == 0 || at == 0 {
		t.Fatalf("restored %d records taken at %d", n, at)
	}
	if _, _, err := RestoreBackup(dir, bytes.NewReader(backup)); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore over a metastore: %v", err)
	}
	r := openSingle(t, dir)
	for _, id := range []string{"acme", "beta"} {
		ten, err := r.GetTenant(ctxT(t), id)
		if err != nil || ten.Name != "n-"+id {
			t.Fatalf("restored tenant %s: %+v %v", id, ten, err)
		}
	}
	if r.ClusterVersion() != s.ClusterVersion() {
		t.Fatalf("cluster version %d, backup's %d", r.ClusterVersion(), s.ClusterVersion())
	}
	mustNoErr(t, r.CreateTenant(ctxT(t), Tenant{ID: "gamma", State: TenantActive}))
	if _, err := r.GetTenant(ctxT(t), "gamma"); err != nil {
		t.Fatalf("write after restore: %v", err)
	}

	for name, bad := range map[string][]byte{
		"truncated": backup[:len(backup)-5],
		"flipped":   append(append([]byte{}, backup[:20]...), append([]byte{backup[20] ^ 0xff}, backup[21:]...)...),
		"not one":   []byte("hello, world"),
	} {
		d := filepath.Join(t.TempDir(), "meta")
		if _, _, err := RestoreBackup(d, bytes.NewReader(bad)); err == nil {
			t.Fatalf("%s backup restored", name)
		}
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s backup left %s behind: %v", name, d, err)
		}
	}
}
