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
//   - Names are validated: empty names, "..", ".", absolute paths, backslashes
//     and NUL bytes are rejected with ErrInvalidName.
//   - Missing objects yield ErrNotFound (wrapped; test with errors.Is).
//   - Every call takes a context first and honours its cancellation.
package drivers

import (
	"context"
	"errors"
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

// Usage is a driver's capacity and health. Capacity figures are 0 when the
// driver cannot know them (a remote tier).
type Usage struct {
	Total, Free, Used int64
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
