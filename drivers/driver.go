// Package drivers defines the Driver: the one contract every place that holds
// bytes implements, whether a local drive (drivers/local), a remote S3 tier
// (drivers/s3), or the in-memory and fault-injecting drivers used by tests
// (drivers/mem, drivers/fault).
//
// A Driver stores opaque byte streams under slash-separated relative names
// ("ab/cd/blob.3"). It is deliberately small: the Engine (package node) builds
// shard placement, erasure coding and tiering on top of these few calls.
//
// Contract, checked for every implementation by drivers/driverstest:
//   - Put is atomic and durable: when it returns nil, a later Open sees the
//     whole stream and survives a crash; when it fails (or ctx is cancelled,
//     or the reader errors), no partial object is ever visible under name.
//   - Open(name, off, length) streams exactly [off, off+length); length < 0
//     means "to the end". Reading past the end returns what exists.
//   - Names are validated (ValidName): empty names, "..", ".", empty
//     segments, absolute paths, backslashes and NUL bytes are rejected with
//     ErrInvalidName by every method. List prefixes follow ValidPrefix.
//   - Missing objects yield ErrNotFound (wrapped; test with errors.Is) from
//     Open, Stat and Delete.
//   - List visits names in byte-wise lexicographic order of the full name
//     (so "a-b" < "a/b" < "a0"), and fn may call the driver, including
//     Delete of the name it was given.
//   - Put with a reader that fails returns an error wrapping the reader's
//     error and leaves any earlier object under name untouched.
//   - Concurrent calls are safe; a reader always sees one whole version of
//     an object, never a mix of two Puts.
//   - Every call takes a context first and honours its cancellation: a call
//     made with a cancelled context fails with an error wrapping ctx.Err()
//     and changes nothing.
//   - Usage never returns ErrOffline: it is how callers learn the health.
//
// Remote drivers add two outcomes local ones never produce: ErrUnavailable
// (the store is down or refuses us; retry later) and ErrCorrupt (what was
// read does not match the store's checksum). Callers above drivers (the
// Engine) cannot import a concrete driver, so these are sentinels here.
//
// Portability: a name must not also be a directory prefix of another stored
// name ("a" and "a/b"). File-system drivers cannot hold both and reject the
// later Put with ErrInvalidName; object-store drivers may accept both.
// Callers (the Engine's shard naming) never create such pairs.
package drivers

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Errors returned by drivers. Wrap with %w; test with errors.Is.
var (
	// ErrNotFound: no object is stored under the name.
	ErrNotFound = errors.New("drivers: not found")
	// ErrInvalidName: the name is empty, absolute, or escapes the driver's root.
	ErrInvalidName = errors.New("drivers: invalid name")
	// ErrOffline: the driver is marked offline after an I/O failure and
	// refuses work until it is brought back.
	ErrOffline = errors.New("drivers: offline")
	// ErrFull: the driver has no space (or quota) left for the write. It
	// does not take a driver offline: reads and deletes still work.
	ErrFull = errors.New("drivers: no space left")
	// ErrUnavailable: a remote store (drivers/s3) could not be reached,
	// kept failing with transient errors (5xx, throttling, resets,
	// timeouts) after the driver's own retries, or refused the driver's
	// credentials or bucket. Nothing is known to have changed and no state
	// was kept: the next call tries again. Callers treat the store as down
	// (answer 503, pause and retry later), never the object as missing.
	// Unlike ErrOffline it is not a mark set on the driver.
	ErrUnavailable = errors.New("drivers: store unavailable")
	// ErrCorrupt: bytes read back do not match the checksum the store
	// holds for them (a remote's ETag). The object exists but its bytes
	// must not be served; reading it again may succeed if the corruption
	// happened in transit. It is returned by the reader in place of io.EOF,
	// after the bytes were delivered, so a caller that streams must not
	// commit or acknowledge anything before it has seen io.EOF.
	ErrCorrupt = errors.New("drivers: corrupt data")
)

// Driver is a place that stores named byte streams.
type Driver interface {
	// Put stores everything read from r under name, atomically and durably,
	// and returns the number of bytes stored.
	Put(ctx context.Context, name string, r io.Reader) (int64, error)
	// Open returns a reader of bytes [off, off+length) of name; length < 0
	// reads to the end.
	Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error)
	// Stat describes name.
	Stat(ctx context.Context, name string) (Info, error)
	// Delete removes name. Deleting a missing name returns ErrNotFound.
	Delete(ctx context.Context, name string) error
	// List calls fn for every object whose name starts with prefix, in
	// lexicographic order. An error from fn stops the walk and is returned.
	List(ctx context.Context, prefix string, fn func(Info) error) error
	// Usage reports capacity and health.
	Usage(ctx context.Context) (Usage, error)
}

// Info describes one stored object.
type Info struct {
	Name    string
	Size    int64
	ModTime time.Time
}

// Usage is a driver's capacity and health (Used is what the whole device has
// in use, not only this driver's objects, where the driver shares a device). Capacity figures are 0 when the
// driver cannot know them (a remote tier).
type Usage struct {
	Total, Free, Used int64
	// Device identifies the file system holding the drive ("": unknown):
	// drives with the same Device share Total and Free, so capacity sums
	// count them once.
	Device string
	// Online is false when the driver has been marked offline.
	Online bool
	// Err is the failure that took the driver offline, if any.
	Err error
}

// ValidName reports whether name is a clean relative slash-separated name
// that cannot escape a driver's root.
func ValidName(name string) bool {
	if name == "" || len(name) > 4096 || strings.HasPrefix(name, "/") ||
		strings.ContainsAny(name, "\\\x00") {
		return false
	}
	for _, seg := range strings.Split(name, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// ValidPrefix reports whether prefix may be passed to List. The empty prefix
// lists everything. Every segment before the last '/' must be a valid name
// segment; the part after the last '/' is a partial segment and may be
// empty (the prefix "a/" lists everything under a) or any start of a name
// segment, including "." and ".." (which match names such as ".x" and "..x").
// A prefix is at most as long as a name, except that any valid name
// followed by "/" is a valid prefix (one of the longest names has nothing
// under it, and listing that is not an error).
func ValidPrefix(prefix string) bool {
	if prefix == "" {
		return true
	}
	if (len(prefix) > 4096 && (len(prefix) > 4097 || prefix[4096] != '/')) ||
		strings.HasPrefix(prefix, "/") || strings.ContainsAny(prefix, "\\\x00") {
		return false
	}
	i := strings.LastIndexByte(prefix, '/')
	if i < 0 {
		return true
	}
	return ValidName(prefix[:i])
}

// Section returns the span [start, start+n) of an object of size bytes that
// Open(ctx, name, off, length) must stream: length < 0 means "to the end",
// and a span reaching past the end is cut at the end (an offset at or past
// the end gives n == 0). A negative off is an error.
func Section(size, off, length int64) (start, n int64, err error) {
	if off < 0 {
		return 0, 0, fmt.Errorf("drivers: negative offset %d", off)
	}
	if off >= size {
		return size, 0, nil
	}
	n = size - off
	if length >= 0 && length < n {
		n = length
	}
	return off, n, nil
}
