package local_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"

	"go.uber.org/goleak"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	"github.com/vaultaire/vaultaire/drivers/local"
)

func TestMain(m *testing.M) {
	local.DirectPutChild() // the child process of TestDirectPutKilledMidStream
	goleak.VerifyTestMain(m)
}

var ctx = context.Background()

func newDrive(t *testing.T, cfg local.Config) *local.Drive {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	if cfg.ID == "" {
		cfg.ID = "d1"
	}
	d, err := local.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	driverstest.Run(t, func(t *testing.T) drivers.Driver {
		return newDrive(t, local.Config{})
	})
}

func TestConfigValidate(t *testing.T) {
	err := local.Config{ID: "a\x00"}.Validate()
	if err == nil || !strings.Contains(err.Error(), "Dir") || !strings.Contains(err.Error(), "ID") {
		t.Fatalf("Validate of an empty config = %v, want both problems", err)
	}
	if err := (local.Config{Dir: "x", ID: "a\nb"}).Validate(); err == nil {
		t.Fatal("Validate accepted an ID with a newline")
	}
	if err := (local.Config{Dir: "x"}).Validate(); err != nil {
		t.Fatalf("an empty ID (adopt or generate) was refused: %v", err)
	}
	if err := (local.Config{Dir: "x", ID: "d1"}).Validate(); err != nil {
		t.Fatalf("Validate of a good config = %v", err)
	}
	if _, err := local.New(local.Config{ID: "d1"}); err == nil {
		t.Fatal("New accepted a config without Dir")
	}
}

func TestGeneratedIDIsKept(t *testing.T) {
	dir := t.TempDir()
	d, err := local.New(local.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	id := d.ID()
	if !strings.HasPrefix(id, "drive-") {
		t.Fatalf("generated ID %q", id)
	}
	d.Close()
	d2, err := local.New(local.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if d2.ID() != id {
		t.Fatalf("reopened drive has ID %q, first had %q", d2.ID(), id)
	}
	d3, err := local.New(local.Config{Dir: t.TempDir(), ID: id})
	if err != nil {
		t.Fatalf("explicit ID on a new dir: %v", err)
	}
	d3.Close()
}

func put(t *testing.T, d drivers.Driver, name, data string) {
	t.Helper()
	if _, err := d.Put(ctx, name, strings.NewReader(data)); err != nil {
		t.Fatalf("Put(%q): %v", name, err)
	}
}

func get(t *testing.T, d drivers.Driver, name string) string {
	t.Helper()
	rc, err := d.Open(ctx, name, 0, -1)
	if err != nil {
		t.Fatalf("Open(%q): %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %q: %v", name, err)
	}
	return string(b)
}

func tmpEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(filepath.Join(dir, "tmp"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestLayout(t *testing.T) {
	dir := t.TempDir()
	d := newDrive(t, local.Config{Dir: dir})
	put(t, d, "ab/cd/blob.3", "shard bytes")
	b, err := os.ReadFile(filepath.Join(dir, "data", "ab", "cd", "blob.3"))
	if err != nil || string(b) != "shard bytes" {
		t.Fatalf("object file = %q, %v", b, err)
	}
	f, err := os.ReadFile(filepath.Join(dir, "format.json"))
	if err != nil || !strings.Contains(string(f), `"id":"d1"`) || !strings.Contains(string(f), `"version":1`) {
		t.Fatalf("format file = %q, %v", f, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "LOCK")); err != nil {
		t.Fatal(err)
	}
	if got := tmpEntries(t, dir); len(got) != 0 {
		t.Fatalf("tmp after a Put = %q", got)
	}
	// Failed and cancelled Puts remove their temp files.
	boom := errors.New("boom")
	if _, err := d.Put(ctx, "x", io.MultiReader(strings.NewReader("part"), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Fatalf("Put(failing) = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := d.Put(cctx, "y", strings.NewReader("data")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put(cancelled) = %v", err)
	}
	if got := tmpEntries(t, dir); len(got) != 0 {
		t.Fatalf("tmp after failed Puts = %q", got)
	}
	if u, _ := d.Usage(ctx); !u.Online || u.Total <= 0 || u.Free <= 0 || u.Used <= 0 || u.Free > u.Total {
		t.Fatalf("Usage = %+v", u)
	}
}

func TestTempCleanupAtNew(t *testing.T) {
	dir := t.TempDir()
	d := newDrive(t, local.Config{Dir: dir})
	put(t, d, "keep/me", "kept")
	d.Close()
	// What a crash mid-Put leaves behind.
	for _, n := range []string{"0123abcd", "probe-77"} {
		if err := os.WriteFile(filepath.Join(dir, "tmp", n), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "tmp", "sub", "dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	d2 := newDrive(t, local.Config{Dir: dir})
	if got := tmpEntries(t, dir); len(got) != 0 {
		t.Fatalf("tmp after New = %q", got)
	}
	if got := get(t, d2, "keep/me"); got != "kept" {
		t.Fatalf("object after New = %q", got)
	}
}

func TestDurableAcrossReopen(t *testing.T) {
	dir := t.TempDir()
	d := newDrive(t, local.Config{Dir: dir})
	want := map[string][]byte{
		"a/1":   driverstest.Pattern(1, 3<<20+5),
		"a/b/2": driverstest.Pattern(2, 10),
		"c":     {},
	}
	for n, b := range want {
		if _, err := d.Put(ctx, n, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	put(t, d, "gone", "x")
	if err := d.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "c"); !errors.Is(err, local.ErrClosed) {
		t.Fatalf("Stat after Close = %v, want ErrClosed", err)
	}
	if err := d.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}

	d2 := newDrive(t, local.Config{Dir: dir})
	var names []string
	if err := d2.List(ctx, "", func(i drivers.Info) error {
		names = append(names, i.Name)
		if i.Size != int64(len(want[i.Name])) {
			t.Errorf("size of %s = %d", i.Name, i.Size)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(names, []string{"a/1", "a/b/2", "c"}) {
		t.Fatalf("List after reopen = %q", names)
	}
	for n, b := range want {
		if got := get(t, d2, n); got != string(b) {
			t.Fatalf("%s after reopen differs (%d bytes, want %d)", n, len(got), len(b))
		}
	}
}

func TestLockedAndMismatch(t *testing.T) {
	dir := t.TempDir()
	d := newDrive(t, local.Config{Dir: dir})
	if _, err := local.New(local.Config{Dir: dir, ID: "d1"}); !errors.Is(err, local.ErrLocked) {
		t.Fatalf("second New on a locked dir = %v, want ErrLocked", err)
	}
	d.Close()
	if _, err := local.New(local.Config{Dir: dir, ID: "other"}); !errors.Is(err, local.ErrDriveMismatch) {
		t.Fatalf("New with another ID = %v, want ErrDriveMismatch", err)
	}
	// The failed New released the lock: the right ID opens it.
	newDrive(t, local.Config{Dir: dir}).Close()

	for _, bad := range []string{"", "{", `{"format":"x","version":1,"id":"d1"}`, `{"format":"vaultaire-drive","version":2,"id":"d1"}`} {
		if err := os.WriteFile(filepath.Join(dir, "format.json"), []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := local.New(local.Config{Dir: dir, ID: "d1"}); !errors.Is(err, local.ErrFormat) {
			t.Fatalf("New with format %q = %v, want ErrFormat", bad, err)
		}
	}
}

func TestDeletePrunesEmptyDirectories(t *testing.T) {
	dir := t.TempDir()
	d := newDrive(t, local.Config{Dir: dir})
	put(t, d, "a/b/c/d", "1")
	put(t, d, "a/x", "2")
	exists := func(rel string) bool {
		_, err := os.Stat(filepath.Join(dir, "data", rel))
		return err == nil
	}
	if err := d.Delete(ctx, "a/b/c/d"); err != nil {
		t.Fatal(err)
	}
	if exists("a/b") || !exists("a") {
		t.Fatalf("after deleting a/b/c/d: a/b exists %v, a exists %v", exists("a/b"), exists("a"))
	}
	if err := d.Delete(ctx, "a/x"); err != nil {
		t.Fatal(err)
	}
	if exists("a") || !exists("") {
		t.Fatalf("after deleting a/x: a exists %v, data exists %v", exists("a"), exists(""))
	}
	// An empty directory is not an object.
	if err := os.MkdirAll(filepath.Join(dir, "data", "e", "f"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(ctx, "e/f"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Delete of a directory = %v", err)
	}
	if !exists("e/f") {
		t.Fatal("Delete removed a directory")
	}
}

func TestSymlinksAreNotObjects(t *testing.T) {
	dir := t.TempDir()
	d := newDrive(t, local.Config{Dir: dir})
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(dir, "data", "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Open(ctx, "link", 0, -1); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Open(symlink) = %v, want ErrNotFound", err)
	}
	if _, err := d.Stat(ctx, "link"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Stat(symlink) = %v", err)
	}
	if err := d.Delete(ctx, "link"); !errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Delete(symlink) = %v", err)
	}
	n := 0
	if err := d.List(ctx, "", func(drivers.Info) error { n++; return nil }); err != nil || n != 0 {
		t.Fatalf("List shows %d objects, %v", n, err)
	}
	if u, _ := d.Usage(ctx); !u.Online {
		t.Fatal("a symlink took the drive offline")
	}
}

func TestNameTooLongIsInvalidNotOffline(t *testing.T) {
	d := newDrive(t, local.Config{})
	long := strings.Repeat("n", 300) // over NAME_MAX of every Linux file system
	if _, err := d.Put(ctx, long, strings.NewReader("x")); !errors.Is(err, drivers.ErrInvalidName) {
		t.Fatalf("Put(300-byte segment) = %v, want ErrInvalidName", err)
	}
	if u, _ := d.Usage(ctx); !u.Online {
		t.Fatalf("drive went offline: %+v", u)
	}
	if _, err := d.Stat(ctx, "ok/"+long); errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Stat(long) = %v", err)
	}
}

func TestReaderHonoursContext(t *testing.T) {
	d := newDrive(t, local.Config{})
	put(t, d, "r", "0123456789")
	rctx, cancel := context.WithCancel(ctx)
	rc, err := d.Open(rctx, "r", 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	p := make([]byte, 4)
	if n, err := rc.Read(p); n != 4 || err != nil {
		t.Fatalf("Read = %d, %v", n, err)
	}
	cancel()
	if _, err := rc.Read(p); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read after cancel = %v", err)
	}
}

// offlineRecorder records OnOffline calls.
type offlineRecorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *offlineRecorder) fn(id string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, id+": "+err.Error())
}

func (r *offlineRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func checkOffline(t *testing.T, d *local.Drive) {
	t.Helper()
	errs := map[string]error{}
	_, errs["put"] = d.Put(ctx, "n/new", strings.NewReader("x"))
	_, errs["open"] = d.Open(ctx, "n/1", 0, -1)
	_, errs["stat"] = d.Stat(ctx, "n/1")
	errs["delete"] = d.Delete(ctx, "n/1")
	errs["list"] = d.List(ctx, "", func(drivers.Info) error { return nil })
	for op, err := range errs {
		if !errors.Is(err, drivers.ErrOffline) {
			t.Errorf("%s while offline = %v, want ErrOffline", op, err)
		}
	}
	u, err := d.Usage(ctx)
	if err != nil || u.Online || u.Err == nil {
		t.Errorf("Usage while offline = %+v, %v", u, err)
	}
	if online, since, cause := d.Online(); online || since.IsZero() || cause == nil {
		t.Errorf("Online() = %v, %v, %v", online, since, cause)
	}
}

func TestOfflineWhenRootDisappears(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "drive")
	moved := filepath.Join(parent, "moved")
	rec := &offlineRecorder{}
	d := newDrive(t, local.Config{Dir: dir, ID: "disk7", OnOffline: rec.fn})
	put(t, d, "n/1", "one")

	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	// The first call to notice: a missing object would be ErrNotFound,
	// but with the drive's directories gone it is the drive that failed.
	if _, err := d.Stat(ctx, "n/1"); !errors.Is(err, drivers.ErrOffline) || errors.Is(err, drivers.ErrNotFound) {
		t.Fatalf("Stat with the root gone = %v, want ErrOffline", err)
	}
	checkOffline(t, d)
	if rec.count() != 1 || !strings.HasPrefix(rec.calls[0], "disk7: ") {
		t.Fatalf("OnOffline calls = %q, want one for disk7", rec.calls)
	}
	if err := d.Recheck(ctx); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Recheck with the root gone = %v", err)
	}
	if rec.count() != 1 {
		t.Fatalf("OnOffline called again while already offline: %q", rec.calls)
	}

	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	if err := d.Recheck(ctx); err != nil {
		t.Fatalf("Recheck with the root back = %v", err)
	}
	if got := get(t, d, "n/1"); got != "one" {
		t.Fatalf("after coming back: %q", got)
	}
	if u, _ := d.Usage(ctx); !u.Online || u.Err != nil {
		t.Fatalf("Usage after Recheck = %+v", u)
	}
	if got := tmpEntries(t, dir); len(got) != 0 {
		t.Fatalf("Recheck left %q in tmp", got)
	}

	// A second outage, noticed by a Put, calls OnOffline again.
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Put(ctx, "n/2", strings.NewReader("two")); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Put with the root gone = %v", err)
	}
	if rec.count() != 2 {
		t.Fatalf("OnOffline calls = %d, want 2", rec.count())
	}
	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	if err := d.Recheck(ctx); err != nil {
		t.Fatal(err)
	}
	put(t, d, "n/2", "two")
}

func TestOfflineWhenRootReplacedByFile(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "drive")
	moved := filepath.Join(parent, "moved")
	rec := &offlineRecorder{}
	d := newDrive(t, local.Config{Dir: dir, OnOffline: rec.fn})
	put(t, d, "n/1", "one")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, []byte("not a drive"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.List(ctx, "n/", func(drivers.Info) error { return nil }); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("List with the root a file = %v", err)
	}
	checkOffline(t, d)
	if err := d.Recheck(ctx); err == nil {
		t.Fatal("Recheck succeeded with the root a file")
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(moved, dir); err != nil {
		t.Fatal(err)
	}
	if err := d.Recheck(ctx); err != nil {
		t.Fatal(err)
	}
	if got := get(t, d, "n/1"); got != "one" || rec.count() != 1 {
		t.Fatalf("after coming back: %q, OnOffline calls %d", got, rec.count())
	}
}

func TestRecheckRefusesAnotherDrive(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "drive")
	d := newDrive(t, local.Config{Dir: dir, ID: "d1"})
	other := newDrive(t, local.Config{Dir: filepath.Join(parent, "other"), ID: "d2"})
	other.Close()
	if err := os.Rename(dir, filepath.Join(parent, "moved")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(filepath.Join(parent, "other"), dir); err != nil {
		t.Fatal(err)
	}
	if err := d.Recheck(ctx); !errors.Is(err, local.ErrDriveMismatch) || !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Recheck with another drive in place = %v, want ErrDriveMismatch", err)
	}
	if _, err := d.Stat(ctx, "x"); !errors.Is(err, drivers.ErrOffline) {
		t.Fatalf("Stat = %v", err)
	}
}

// Recheck of a healthy drive is a no-op that passes.
func TestRecheckOnline(t *testing.T) {
	rec := &offlineRecorder{}
	d := newDrive(t, local.Config{OnOffline: rec.fn})
	for range 3 {
		if err := d.Recheck(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if rec.count() != 0 {
		t.Fatal("OnOffline called for a healthy drive")
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := d.Recheck(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Recheck(cancelled) = %v", err)
	}
	if online, _, _ := d.Online(); !online || rec.count() != 0 {
		t.Fatal("a cancelled Recheck took the drive offline")
	}
	d.Close()
	if err := d.Recheck(ctx); !errors.Is(err, local.ErrClosed) {
		t.Fatalf("Recheck after Close = %v", err)
	}
}

// Concurrent Puts and Deletes in shared directories: Delete's pruning
// races Put's mkdir+rename, and Put must win by retrying.
func TestPutDeleteDirectoryRace(t *testing.T) {
	d := newDrive(t, local.Config{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				name := "race/deep/dir/" + string(rune('a'+w))
				if _, err := d.Put(ctx, name, strings.NewReader("x")); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					if err := d.Delete(ctx, name); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if u, _ := d.Usage(ctx); !u.Online {
		t.Fatalf("drive offline after the race: %+v", u.Err)
	}
}
