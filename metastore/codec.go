package metastore

import (
	"encoding/binary"
	"math"
	"slices"
	"time"
)

// encoder appends the primitive encodings used by records, commands and
// results (see doc.go, "Encoding"). All integers are varints; strings and
// byte slices are length-prefixed; maps are written with sorted keys so an
// encoding is a deterministic function of its value.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)       { e.b = append(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) raw(b []byte)     { e.b = append(e.b, b...) }
func (e *encoder) str(s string)     { e.uvarint(uint64(len(s))); e.b = append(e.b, s...) }
func (e *encoder) bytes(b []byte)   { e.uvarint(uint64(len(b))); e.b = append(e.b, b...) }
func (e *encoder) int(v int)        { e.varint(int64(v)) }
func (e *encoder) bool(v bool) {
	if v {
		e.u8(1)
	} else {
		e.u8(0)
	}
}

// time encodes t as a presence byte, then seconds and nanoseconds since the
// Unix epoch. The location and monotonic reading are dropped; decoding
// yields UTC. The zero time round-trips as the zero time.
func (e *encoder) time(t time.Time) {
	if t.IsZero() {
		e.u8(0)
		return
	}
	e.u8(1)
	e.varint(t.Unix())
	e.uvarint(uint64(t.Nanosecond()))
}

// strs writes a list of strings: its length, then each (decoder.strs).
func (e *encoder) strs(l []string) {
	e.uvarint(uint64(len(l)))
	for _, s := range l {
		e.str(s)
	}
}

func (e *encoder) strMap(m map[string]string) {
	e.uvarint(uint64(len(m)))
	if len(m) == 0 {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e.str(k)
		e.str(m[k])
	}
}

// decoder reads what encoder wrote. The first failure sticks in err (always
// wrapping ErrCorrupt) and every later read returns a zero value, so callers
// check err once at the end. Lengths and counts are checked against the
// remaining input before anything is allocated.
type decoder struct {
	b   []byte
	err error
	// ver is the payload version of the command being decoded (set by
	// decodeCommand for the type's decode function).
	ver uint8
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
	d.b = nil
}

func (d *decoder) u8() uint8 {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	v := d.varint()
	if v < math.MinInt || v > math.MaxInt {
		d.fail()
		return 0
	}
	return int(v)
}

func (d *decoder) bool() bool {
	switch d.u8() {
	case 0:
		return false
	case 1:
		return true
	default:
		d.fail()
		return false
	}
}

// span returns the next length-prefixed byte string without copying.
func (d *decoder) span() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) str() string { return string(d.span()) }

// bytes returns a copy of the next length-prefixed byte string, nil when
// it is empty.
func (d *decoder) bytes() []byte {
	s := d.span()
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

func (d *decoder) time() time.Time {
	switch d.u8() {
	case 0:
		return time.Time{}
	case 1:
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail()
			return time.Time{}
		}
		if d.err != nil {
			return time.Time{}
		}
		return time.Unix(sec, int64(nsec)).UTC()
	default:
		d.fail()
		return time.Time{}
	}
}

// count reads an element count and checks that at least minSize bytes per
// element remain, so corrupt input cannot make us allocate without bound.
func (d *decoder) count(minSize int) int {
	n := d.uvarint()
	if minSize < 1 {
		minSize = 1
	}
	if n > uint64(len(d.b)/minSize) {
		d.fail()
		return 0
	}
	return int(n)
}

// strs reads what encoder.strs wrote (nil for an empty list).
func (d *decoder) strs() []string {
	n := d.count(1)
	var l []string
	for i := 0; i < n && d.err == nil; i++ {
		l = append(l, d.str())
	}
	return l
}

func (d *decoder) strMap() map[string]string {
	n := d.count(2)
	if n == 0 {
		return nil
	}
	m := make(map[string]string, n)
	prev := ""
	for i := 0; i < n; i++ {
		k := d.str()
		v := d.str()
		if d.err != nil {
			return nil
		}
		// Keys are written sorted and unique: anything else is not our
		// encoding.
		if i > 0 && k <= prev {
			d.fail()
			return nil
		}
		prev = k
		m[k] = v
	}
	return m
}

// done reports the decoding error, also when input is left over.
func (d *decoder) done() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	return d.err
}
