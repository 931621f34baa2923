// Package mem is an in-memory drivers.Driver for tests of logic built on
// drivers (the Engine, healing, tiering) where real disks would only add
// time. It keeps every object as one immutable byte slice, so it needs memory
// for whole objects: it is not for production.
//
// It honours the full drivers contract (checked by drivers/driverstest):
// Put buffers the stream and publishes it only when the reader reached EOF,
// readers see the version that existed when they opened, List walks a sorted
// snapshot so fn may call back into the driver.
package mem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
)

var _ drivers.Driver = (*Driver)(nil)

// chunk is how much Put reads between checks of its context.
const chunk = 256 << 10

// object is one stored version; its data is never modified after Put.
type object struct {
	data []byte
	mod  time.Time
}

// Driver is an in-memory drivers.Driver. The zero value is not usable; call
// New.
type Driver struct {
	mu struct {
		sync.RWMutex
		objects map[string]*object
		used    int64
	}
}

// New returns an empty in-memory driver.
func New() *Driver {
	d := &Driver{}
	d.mu.objects = make(map[string]*object)
	return d
}

func invalid(op, name string) error {
	return fmt.Errorf("mem: %s %q: %w", op, name, drivers.ErrInvalidName)
}

func notFound(op, name string) error {
	return fmt.Errorf("mem: %s %q: %w", op, name, drivers.ErrNotFound)
}

// Put implements drivers.Driver.
func (d *Driver) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	if !drivers.ValidName(name) {
		return 0, invalid("put", name)
	}
	var buf bytes.Buffer
	for {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("mem: put %q: %w", name, err)
		}
		n, err := buf.ReadFrom(io.LimitReader(r, chunk))
		if err != nil {
			return 0, fmt.Errorf("mem: put %q: read: %w", name, err)
		}
		if n < chunk {
			break // a LimitReader that gave less than its limit hit EOF
		}
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("mem: put %q: %w", name, err)
	}
	o := &object{data: buf.Bytes(), mod: time.Now()}
	d.mu.Lock()
	if old := d.mu.objects[name]; old != nil {
		d.mu.used -= int64(len(old.data))
	}
	d.mu.objects[name] = o
	d.mu.used += int64(len(o.data))
	d.mu.Unlock()
	return int64(len(o.data)), nil
}

func (d *Driver) get(name string) *object {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.mu.objects[name]
}

// Open implements drivers.Driver.
func (d *Driver) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	if !drivers.ValidName(name) {
		return nil, invalid("open", name)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("mem: open %q: %w", name, err)
	}
	o := d.get(name)
	if o == nil {
		return nil, notFound("open", name)
	}
	start, n, err := drivers.Section(int64(len(o.data)), off, length)
	if err != nil {
		return nil, fmt.Errorf("mem: open %q: %w", name, err)
	}
	return io.NopCloser(bytes.NewReader(o.data[start : start+n])), nil
}

// Stat implements drivers.Driver.
func (d *Driver) Stat(ctx context.Context, name string) (drivers.Info, error) {
	if !drivers.ValidName(name) {
		return drivers.Info{}, invalid("stat", name)
	}
	if err := ctx.Err(); err != nil {
		return drivers.Info{}, fmt.Errorf("mem: stat %q: %w", name, err)
	}
	o := d.get(name)
	if o == nil {
		return drivers.Info{}, notFound("stat", name)
	}
	return drivers.Info{Name: name, Size: int64(len(o.data)), ModTime: o.mod}, nil
}

// Delete implements drivers.Driver.
func (d *Driver) Delete(ctx context.Context, name string) error {
	if !drivers.ValidName(name) {
		return invalid("delete", name)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: delete %q: %w", name, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.mu.objects[name]
	if o == nil {
		return notFound("delete", name)
	}
	delete(d.mu.objects, name)
	d.mu.used -= int64(len(o.data))
	return nil
}

// List implements drivers.Driver. It calls fn on a snapshot taken when List
// starts, without holding a lock, so fn may call back into the driver.
func (d *Driver) List(ctx context.Context, prefix string, fn func(drivers.Info) error) error {
	if !drivers.ValidPrefix(prefix) {
		return fmt.Errorf("mem: list %q: %w", prefix, drivers.ErrInvalidName)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("mem: list %q: %w", prefix, err)
	}
	var infos []drivers.Info
	d.mu.RLock()
	for name, o := range d.mu.objects {
		if strings.HasPrefix(name, prefix) {
			infos = append(infos, drivers.Info{Name: name, Size: int64(len(o.data)), ModTime: o.mod})
		}
	}
	d.mu.RUnlock()
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	for _, info := range infos {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem: list %q: %w", prefix, err)
		}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Usage implements drivers.Driver: Used is the bytes of all stored objects;
// Total and Free are 0 (unknown) and the driver is always online.
func (d *Driver) Usage(ctx context.Context) (drivers.Usage, error) {
	if err := ctx.Err(); err != nil {
		return drivers.Usage{}, fmt.Errorf("mem: usage: %w", err)
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	return drivers.Usage{Used: d.mu.used, Online: true}, nil
}
