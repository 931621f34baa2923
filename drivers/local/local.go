package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vaultaire/vaultaire/drivers"
)

var _ drivers.Driver = (*Drive)(nil)

// Errors of the local drive, beside the drivers sentinels it returns.
var (
	// ErrClosed: the Drive was closed.
	ErrClosed = errors.New("local: drive closed")
	// ErrLocked: another Drive (in this or another process) holds the
	// directory's LOCK.
	ErrLocked = errors.New("local: drive directory in use")
	// ErrDriveMismatch: the directory's format file names another drive ID.
	ErrDriveMismatch = errors.New("local: drive id mismatch")
	// ErrFormat: the format file is unreadable or of an unknown version.
	ErrFormat = errors.New("local: bad drive format")
	// ErrRootFS: the drive directory is blank and on the root file system
	// while its sibling drives are separate mounts: most likely a disk
	// that did not mount. It is not formatted (Config.AllowRootFS).
	ErrRootFS = errors.New("local: blank drive directory on the root file system")
	// ErrNotBlank: Adopt found a directory that is not blank.
	ErrNotBlank = errors.New("local: drive directory not blank")
	// ErrHeld: an operator took the drive offline (Hold); only Release
	// brings it back.
	ErrHeld = errors.New("local: drive taken offline by the operator")
)

const (
	// putBufferSize bounds the memory of one Put: the stream is copied to
	// the temp file through one buffer of this size. 1 MiB makes each
	// write(2) large enough for a disk's sequential speed.
	putBufferSize = 1 << 20
	// maxDirRetries bounds how often Put re-creates a parent directory that
	// a concurrent Delete pruned between mkdir and rename. Losing that race
	// more than a few times in a row needs a pathological workload.
	maxDirRetries = 16
	// probeSize is the size of the file Recheck writes to probe a drive.
	probeSize = 4096
	// dirPerm and filePerm: the drive belongs to the server's user.
	dirPerm  = 0o750
	filePerm = 0o640
)

// Layout names inside Config.Dir (see the package comment).
const (
	formatFile = "format.json"
	lockFile   = "LOCK"
	dataDir    = "data"
	tmpDir     = "tmp"
)

// Config configures a Drive.
type Config struct {
	// Dir is the drive's directory (required). It is created if missing.
	Dir string
	// ID names the drive. It is written into the format file at the first
	// New and must match on every later New. Empty means "whatever the
	// format file says": an existing drive keeps its identity and a new one
	// gets a generated ID, so placement survives reordered or remounted
	// drive paths.
	ID string
	// Logger receives the drive's events; nil discards them.
	Logger *slog.Logger
	// OnOffline, if set, is called once each time the drive goes offline,
	// with its ID and the cause, from the goroutine of the call that hit the
	// failure. It must not block for long and must not call back into the
	// Drive synchronously (Recheck it later, from elsewhere).
	OnOffline func(id string, err error)
	// Siblings are the directories of the node's other drives. A blank
	// Dir on the root file system is formatted only when AllowRootFS is
	// set or no sibling is a separate mount (see CheckRootFS).
	Siblings    []string
	AllowRootFS bool
}

// Validate reports every problem of the configuration at once.
func (c Config) Validate() error {
	var errs []error
	if c.Dir == "" {
		errs = append(errs, errors.New("local: Config.Dir is empty"))
	}
	if strings.ContainsAny(c.ID, "\x00\n") {
		errs = append(errs, fmt.Errorf("local: Config.ID %q has a control character", c.ID))
	}
	return errors.Join(errs...)
}

// Drive is one local drive. It is safe for concurrent use.
type Drive struct {
	id        string
	root      string // absolute Config.Dir
	data      string // root/data
	tmp       string // root/tmp
	log       *slog.Logger
	onOffline func(string, error)

	siblings    []string
	allowRootFS bool
	// formatted: New (or Adopt) wrote the format file of a blank
	// directory.
	formatted atomic.Bool
	// held: the operator took the drive offline (Hold).
	held atomic.Bool

	lockMu  sync.Mutex // guards lock (Adopt replaces it)
	lock    *os.File   // holds the flock on root/LOCK
	closed  atomic.Bool
	offline atomic.Pointer[failure] // nil while online
	// ioErrors counts I/O errors that said something about the drive:
	// failures that take it offline and a full file system (IOErrors).
	ioErrors atomic.Int64
	// direct: whether the file system takes O_DIRECT (direct.go).
	direct directState

	// pending counts directories being created under data whose parent
	// directory is not yet fsynced; a Put that finds such a directory
	// already there fsyncs the parent itself before it trusts the entry.
	pending struct {
		sync.Mutex
		dirs map[string]int
	}
}

// failure is why the drive is offline.
type failure struct {
	cause error
	at    time.Time
}

var bufPool = sync.Pool{New: func() any {
	b := alignedBuffer(putBufferSize)
	return &b
}}

// New opens the drive in cfg.Dir, creating its layout on first use, locks
// it for this Drive, checks its identity, and removes temp files left by
// writes that a crash interrupted.
func New(cfg Config) (*Drive, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	root, err := filepath.Abs(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("local: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Drive{
		id:        cfg.ID,
		root:      root,
		data:      filepath.Join(root, dataDir),
		tmp:       filepath.Join(root, tmpDir),
		log:       log,
		onOffline: cfg.OnOffline,

		siblings:    cfg.Siblings,
		allowRootFS: cfg.AllowRootFS,
	}
	d.pending.dirs = make(map[string]int)
	if err := os.MkdirAll(root, dirPerm); err != nil {
		return nil, fmt.Errorf("local: drive %s: %w", d.id, err)
	}
	lock, err := d.lockRoot()
	if err != nil {
		return nil, err
	}
	d.lock = lock
	if err := d.initLayout(); err != nil {
		d.lock.Close()
		return nil, fmt.Errorf("local: drive %s: %w", d.id, err)
	}
	return d, nil
}

// lockRoot flocks root/LOCK and returns the file holding the lock.
func (d *Drive) lockRoot() (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(d.root, lockFile), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("local: drive %s: %w", d.id, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("local: drive %s: %s: %w", d.id, d.root, ErrLocked)
		}
		return nil, fmt.Errorf("local: drive %s: lock: %w", d.id, err)
	}
	return f, nil
}

// initLayout checks or writes the format file, creates data/ and tmp/, and
// empties tmp/.
func (d *Drive) initLayout() error {
	fpath := filepath.Join(d.root, formatFile)
	b, err := readLimited(fpath, maxFormatSize+1)
	switch {
	case err == nil:
		id, err := decodeFormat(b)
		if err != nil {
			return fmt.Errorf("%s: %w", fpath, err)
		}
		if d.id == "" {
			d.id = id
		}
		if id != d.id {
			return fmt.Errorf("%w: %s belongs to drive %q, configured as %q", ErrDriveMismatch, d.root, id, d.id)
		}
		d.log = d.log.With("drive", d.id, "dir", d.root)
	case errors.Is(err, fs.ErrNotExist):
		if !d.allowRootFS {
			if err := CheckRootFS(d.root, d.siblings); err != nil {
				return err
			}
		}
		if d.id == "" {
			d.id = newDriveID()
		}
		d.log = d.log.With("drive", d.id, "dir", d.root)
		if err := writeFileDurably(fpath, encodeFormat(d.id)); err != nil {
			return err
		}
		d.formatted.Store(true)
		d.log.Info("local: formatted new drive")
	default:
		return err
	}
	for _, dir := range []string{d.data, d.tmp} {
		if err := os.Mkdir(dir, dirPerm); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	if err := syncDir(d.root); err != nil {
		return err
	}
	return d.cleanTmp()
}

// cleanTmp removes everything in tmp/: at New no Put is in flight (the LOCK
// says this Drive is the only user), so all of it is left from a crash.
func (d *Drive) cleanTmp() error {
	entries, err := os.ReadDir(d.tmp)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(d.tmp, e.Name())); err != nil {
			return err
		}
	}
	if len(entries) > 0 {
		d.log.Info("local: removed temp files of interrupted writes", "count", len(entries))
	}
	return nil
}

// Close releases the drive's lock. Later calls fail with ErrClosed; calls
// in flight finish. Close is idempotent.
func (d *Drive) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.lockMu.Lock()
	defer d.lockMu.Unlock()
	return d.lock.Close()
}

// newDriveID generates the identity of a freshly formatted drive.
func newDriveID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("local: crypto/rand: " + err.Error())
	}
	return "drive-" + hex.EncodeToString(b[:])
}

// ID returns the drive's ID.
func (d *Drive) ID() string { return d.id }

// path maps a valid object name to its file, checking that it stays below
// data/ (ValidName already guarantees it; this is the belt to its braces).
func (d *Drive) path(name string) (string, bool) {
	if !drivers.ValidName(name) {
		return "", false
	}
	p := filepath.Join(d.data, filepath.FromSlash(name))
	if !strings.HasPrefix(p, d.data+string(filepath.Separator)) {
		return "", false
	}
	return p, true
}

// begin is the common entry of the driver methods: name mapping, closed
// and offline state, context.
func (d *Drive) begin(ctx context.Context, op, name string) (string, error) {
	p, ok := d.path(name)
	if !ok {
		return "", fmt.Errorf("local %s: %s %q: %w", d.id, op, name, drivers.ErrInvalidName)
	}
	if err := d.usable(); err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("local %s: %s %q: %w", d.id, op, name, err)
	}
	return p, nil
}

func (d *Drive) usable() error {
	if d.closed.Load() {
		return fmt.Errorf("local %s: %w", d.id, ErrClosed)
	}
	if f := d.offline.Load(); f != nil {
		return d.offlineErr(f.cause)
	}
	return nil
}

// Put implements drivers.Driver (see the package comment for the steps).
func (d *Drive) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	p, err := d.begin(ctx, "put", name)
	if err != nil {
		return 0, err
	}
	f, err := d.createTemp("")
	if err != nil {
		return 0, d.fail("put", name, err)
	}
	tmp := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close() // may already be closed; the error is moot
			if err := os.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
				d.log.Warn("local: cannot remove temp file", "path", tmp, "err", err)
			}
		}
	}()

	n, rerr, werr := copyToFile(ctx, f, r, &d.direct)
	switch {
	case werr != nil:
		return n, d.fail("put", name, werr)
	case rerr != nil:
		// The caller's reader (or context) failed, not the drive.
		return n, fmt.Errorf("local %s: put %q: %w", d.id, name, rerr)
	}
	if err := datasync(f); err != nil {
		return n, d.fail("put", name, err)
	}
	if err := f.Close(); err != nil {
		return n, d.fail("put", name, err)
	}
	if err := ctx.Err(); err != nil {
		return n, fmt.Errorf("local %s: put %q: %w", d.id, name, err)
	}
	if err := d.install(tmp, p); err != nil {
		return n, d.putFail(name, err)
	}
	committed = true
	if err := syncDir(filepath.Dir(p)); err != nil {
		// The object is in place but may not survive a crash: report
		// the failure; the caller must not count this write.
		return n, d.fail("put", name, err)
	}
	return n, nil
}

// errConflict: a name's path collides with a directory or a file of
// another name ("a" and "a/b").
var errConflict = errors.New("name conflicts with another object's path")

// install renames tmp to p, creating p's parent directories. A concurrent
// Delete may prune a directory between mkdirs and rename: retry then.
func (d *Drive) install(tmp, p string) error {
	var err error
	for range maxDirRetries {
		err = d.mkdirs(filepath.Dir(p))
		if err == nil {
			err = os.Rename(tmp, p)
		}
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		// A directory vanished under us: pruned by a concurrent Delete
		// (retry), or the drive's own directories are gone (the root
		// check then takes the drive offline).
		if rerr := d.checkRoot(); rerr != nil {
			return err
		}
		if _, serr := os.Lstat(tmp); serr != nil {
			return serr // the temp file is gone: not a race
		}
	}
	switch {
	case errors.Is(err, unix.EISDIR), errors.Is(err, unix.ENOTEMPTY), errors.Is(err, unix.EEXIST):
		return fmt.Errorf("%w: %w", errConflict, err)
	}
	return err
}

// putFail classifies an error of install.
func (d *Drive) putFail(name string, err error) error {
	if errors.Is(err, unix.ENOTDIR) {
		// A file where a directory is needed: a conflict, unless the
		// drive's own directories are what is broken.
		if rerr := d.checkRoot(); rerr != nil {
			return d.markOffline(rerr)
		}
		err = fmt.Errorf("%w: %w", errConflict, err)
	}
	if errors.Is(err, errConflict) {
		return fmt.Errorf("local %s: put %q: %w: %w", d.id, name, drivers.ErrInvalidName, err)
	}
	if errors.Is(err, fs.ErrNotExist) {
		// Not a missing object: the drive's directories or our temp
		// file vanished, or the directory race was lost too often.
		if rerr := d.checkRoot(); rerr != nil {
			return d.markOffline(rerr)
		}
		return fmt.Errorf("local %s: put %q: %w", d.id, name, err)
	}
	return d.fail("put", name, err)
}

// fill reads into buf until it is full or r fails. Unlike io.ReadFull it
// passes r's error through untouched: an io.ErrUnexpectedEOF from a body
// that was cut short must stay an error, not become the end.
func fill(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty > 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

// createTemp creates a new file in tmp/.
func (d *Drive) createTemp(prefix string) (*os.File, error) {
	var rnd [12]byte
	_, _ = rand.Read(rnd[:]) // never fails (crypto/rand)
	p := filepath.Join(d.tmp, prefix+hex.EncodeToString(rnd[:]))
	return os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
}

// mkdirs creates dir (below data/) and its missing parents. The entry of
// each new directory is made durable by fsyncing its parent; a directory
// found already there while its creator has not yet fsynced its parent
// (pending) gets that fsync here too, so this Put never relies on an entry
// a crash could lose.
func (d *Drive) mkdirs(dir string) error {
	if dir == d.data {
		return nil
	}
	fi, err := os.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("%w: %s is a file", errConflict, dir)
		}
		return d.syncPendingAncestors(dir)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := d.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	d.pendingAdd(dir, 1)
	defer d.pendingAdd(dir, -1)
	if err := os.Mkdir(dir, dirPerm); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		// Another Put made it first, or it is a file.
		if fi, err := os.Stat(dir); err != nil {
			return err
		} else if !fi.IsDir() {
			return fmt.Errorf("%w: %s is a file", errConflict, dir)
		}
	}
	return syncDir(filepath.Dir(dir))
}

func (d *Drive) pendingAdd(dir string, delta int) {
	d.pending.Lock()
	defer d.pending.Unlock()
	if d.pending.dirs[dir] += delta; d.pending.dirs[dir] == 0 {
		delete(d.pending.dirs, dir)
	}
}

// syncPendingAncestors fsyncs the parent of dir and of each of its
// ancestors whose creation is still pending.
func (d *Drive) syncPendingAncestors(dir string) error {
	var toSync []string
	d.pending.Lock()
	if len(d.pending.dirs) > 0 {
		for a := dir; a != d.data && len(a) > len(d.data); a = filepath.Dir(a) {
			if d.pending.dirs[a] > 0 {
				toSync = append(toSync, filepath.Dir(a))
			}
		}
	}
	d.pending.Unlock()
	for _, p := range toSync {
		if err := syncDir(p); err != nil {
			return err
		}
	}
	return nil
}

// Open implements drivers.Driver. The reader reads only the requested
// range (pread through an io.SectionReader), fails once ctx is done, and
// closes the file on Close.
func (d *Drive) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	p, err := d.begin(ctx, "open", name)
	if err != nil {
		return nil, err
	}
	// O_NOFOLLOW: a symlink under data/ is not an object this drive
	// wrote, and must not lead reads out of the drive.
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, d.fail("open", name, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, d.fail("open", name, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("local %s: open %q: %w", d.id, name, drivers.ErrNotFound)
	}
	start, n, err := drivers.Section(fi.Size(), off, length)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("local %s: open %q: %w", d.id, name, err)
	}
	return &reader{ctx: ctx, d: d, name: name, f: f, sr: io.NewSectionReader(f, start, n)}, nil
}

// reader is an object reader returned by Open.
type reader struct {
	ctx  context.Context
	d    *Drive
	name string
	f    *os.File
	sr   *io.SectionReader
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, fmt.Errorf("local %s: read %q: %w", r.d.id, r.name, err)
	}
	n, err := r.sr.Read(p)
	if err != nil && err != io.EOF {
		err = r.d.fail("read", r.name, err)
	}
	return n, err
}

func (r *reader) Close() error { return r.f.Close() }

// Stat implements drivers.Driver.
func (d *Drive) Stat(ctx context.Context, name string) (drivers.Info, error) {
	p, err := d.begin(ctx, "stat", name)
	if err != nil {
		return drivers.Info{}, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return drivers.Info{}, d.fail("stat", name, err)
	}
	if !fi.Mode().IsRegular() {
		return drivers.Info{}, fmt.Errorf("local %s: stat %q: %w", d.id, name, drivers.ErrNotFound)
	}
	return drivers.Info{Name: name, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// Delete implements drivers.Driver. It removes the file, prunes parent
// directories it leaves empty (never data/ itself), and fsyncs the
// deepest directory that remains so the removal is durable.
func (d *Drive) Delete(ctx context.Context, name string) error {
	p, err := d.begin(ctx, "delete", name)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return d.fail("delete", name, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("local %s: delete %q: %w", d.id, name, drivers.ErrNotFound)
	}
	if err := unix.Unlink(p); err != nil {
		return d.fail("delete", name, &fs.PathError{Op: "unlink", Path: p, Err: err})
	}
	dir := filepath.Dir(p)
	for dir != d.data && len(dir) > len(d.data) {
		// rmdir, never unlink: if a Put has meanwhile put a file where
		// this directory was, it must survive.
		if err := unix.Rmdir(dir); err != nil {
			if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) &&
				!errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EBUSY) {
				// The object is gone; a failing drive shows on the
				// next call.
				_ = d.fail("delete", name, &fs.PathError{Op: "rmdir", Path: dir, Err: err})
			}
			break
		}
		dir = filepath.Dir(dir)
	}
	if err := syncDir(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return d.fail("delete", name, err)
	}
	return nil
}

// Usage implements drivers.Driver from statfs(2) of the drive: Total and
// Free (available to unprivileged users) of the whole file system, Used
// its blocks in use, Device the file system's device number (stat(2)). It
// never fails because the drive is offline.
func (d *Drive) Usage(ctx context.Context) (drivers.Usage, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Usage{}, fmt.Errorf("local %s: usage: %w", d.id, err)
	}
	if d.closed.Load() {
		return drivers.Usage{}, fmt.Errorf("local %s: %w", d.id, ErrClosed)
	}
	var u drivers.Usage
	var st unix.Statfs_t
	if err := unix.Statfs(d.data, &st); err != nil {
		_ = d.fail("usage", "", &fs.PathError{Op: "statfs", Path: d.data, Err: err})
	} else {
		bs := int64(st.Bsize)
		u.Total = int64(st.Blocks) * bs
		u.Free = int64(st.Bavail) * bs
		u.Used = int64(st.Blocks-st.Bfree) * bs
		var sd unix.Stat_t
		if unix.Stat(d.data, &sd) == nil {
			u.Device = fmt.Sprintf("dev:%x", sd.Dev)
		}
	}
	if f := d.offline.Load(); f != nil {
		u.Err = f.cause
	} else {
		u.Online = true
	}
	return u, nil
}

// readLimited reads at most limit bytes of a file.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}

// writeFileDurably writes a small file atomically: temp file beside it,
// fsync, rename, fsync of the directory.
func writeFileDurably(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, filePerm)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, making the entries created, renamed or
// removed in it durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
