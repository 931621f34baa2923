package metastore

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
)

// Server-side encryption state: the id of the key-encryption key (KEK)
// new data keys are sealed under, and the re-wrapping of sealed data keys
// when it rotates. The KEKs themselves are derived by the nodes (package
// sse) and never stored; sealed data keys live in artifact and part
// records (Artifact.InlineKey, Part.SealedKey), each naming its KEK id.

// keySSEKEK holds the current KEK id (uvarint); absent means 1.
var keySSEKEK = []byte{prefixFSM, tblSSEKEK}

// setKEKCmd raises the current KEK id to id (never lowers it).
//
// Payload: id uvarint.
type setKEKCmd struct{ id uint64 }

func (c *setKEKCmd) write(e *encoder)     { e.uvarint(c.id) }
func decodeSetKEK(d *decoder) commandBody { return &setKEKCmd{id: d.uvarint()} }
func (c *setKEKCmd) apply(t *txn) result {
	cur := t.kekID()
	if c.id > cur {
		e := encoder{}
		e.uvarint(c.id)
		t.set(keySSEKEK, e.b)
		cur = c.id
	}
	e := encoder{}
	e.uvarint(cur)
	return okResult(e.b)
}

func (t *txn) kekID() uint64 {
	v := t.get(keySSEKEK)
	if v == nil {
		return 1
	}
	d := decoder{b: v}
	id := d.uvarint()
	mustOK(d.done())
	return id
}

// KEKID returns the current KEK id (stale read: this node's applied
// state).
func (s *Store) KEKID() uint64 {
	s.fsm.restoreMu.RLock()
	defer s.fsm.restoreMu.RUnlock()
	v, err := getCopy(s.db, keySSEKEK)
	if err != nil || v == nil {
		return 1
	}
	id, n := binary.Uvarint(v)
	if n != len(v) {
		return 1
	}
	return id
}

// SetKEK raises the current KEK id to id and returns the id in force
// afterwards (id, or a larger one set meanwhile).
func (s *Store) SetKEK(ctx context.Context, id uint64) (uint64, error) {
	if id < 1 {
		return 0, fmt.Errorf("%w: KEK id must be at least 1", ErrInvalidArgument)
	}
	body, err := s.write(ctx, cmdSetKEK, &setKEKCmd{id: id})
	if err != nil {
		return 0, err
	}
	d := decoder{b: body}
	got := d.uvarint()
	return got, d.done()
}

// Rewrap replaces a sealed data key with the same key sealed under
// another KEK.
type Rewrap struct{ Old, New []byte }

// rewrapKeysCmd replaces sealed data keys in one record (an artifact, a
// noncurrent version or an uploaded part), each only where the record
// still holds the old sealed bytes: a record overwritten or deleted since
// the rotation read it keeps what it has.
//
// Payload: record key bytes, count uvarint, then (old bytes, new bytes).
type rewrapKeysCmd struct {
	owner []byte
	keys  []Rewrap
}

func (c *rewrapKeysCmd) write(e *encoder) {
	e.bytes(c.owner)
	e.uvarint(uint64(len(c.keys)))
	for _, k := range c.keys {
		e.bytes(k.Old)
		e.bytes(k.New)
	}
}

func decodeRewrapKeys(d *decoder) commandBody {
	c := &rewrapKeysCmd{owner: d.bytes()}
	if n := d.count(2); n > 0 {
		c.keys = make([]Rewrap, n)
		for i := range c.keys {
			c.keys[i] = Rewrap{Old: d.bytes(), New: d.bytes()}
		}
	}
	return c
}

func (c *rewrapKeysCmd) apply(t *txn) result {
	replace := func(b []byte) ([]byte, bool) {
		for _, k := range c.keys {
			if len(b) > 0 && bytes.Equal(b, k.Old) {
				return k.New, true
			}
		}
		return b, false
	}
	v := t.get(c.owner)
	n := 0
	if v != nil {
		switch fsmTable(c.owner) {
		case tblArtifact, tblVersion:
			a, err := decodeArtifact(v)
			if err != nil {
				return errResult(err)
			}
			var ok bool
			if a.InlineKey, ok = replace(a.InlineKey); ok {
				n++
			}
			for i := range a.Parts {
				if a.Parts[i].SealedKey, ok = replace(a.Parts[i].SealedKey); ok {
					n++
				}
			}
			if n > 0 {
				t.set(c.owner, encodeArtifact(&a))
			}
		case tblPart:
			p, err := decodePart(v)
			if err != nil {
				return errResult(err)
			}
			var ok bool
			if p.SealedKey, ok = replace(p.SealedKey); ok {
				n++
				t.set(c.owner, encodePart(p))
			}
		default:
			return errResult(fmt.Errorf("%w: record key of table %#x holds no sealed keys", ErrInvalidArgument, fsmTable(c.owner)))
		}
	}
	e := encoder{}
	e.uvarint(uint64(n))
	return okResult(e.b)
}

// RewrapKeys replaces sealed data keys in the record at owner (a position
// ForEachSealedKey gave); it returns how many it replaced (0 when the
// record changed meanwhile).
func (s *Store) RewrapKeys(ctx context.Context, owner []byte, keys []Rewrap) (int, error) {
	body, err := s.write(ctx, cmdRewrapKeys, &rewrapKeysCmd{owner: owner, keys: keys})
	if err != nil {
		return 0, err
	}
	d := decoder{b: body}
	n := d.uvarint()
	return int(n), d.done()
}

// SealedKeys are the sealed data keys of one record, with the artifact
// they belong to (the additional data they are bound to).
type SealedKeys struct {
	// Owner is the record's key, for RewrapKeys.
	Owner                  []byte
	Tenant, Container, Key string
	Sealed                 [][]byte
}

// ForEachSealedKey calls fn with the sealed data keys of every artifact,
// noncurrent version and uploaded part that has some, in pages with
// nothing locked between them (as ForEachBlob).
func (s *Store) ForEachSealedKey(ctx context.Context, fn func(SealedKeys) error) error {
	return walkPages(ctx, s, []byte{tblArtifact, tblVersion, tblPart}, nil, []ReadOption{Stale},
		func(tbl byte, key, val, _ []byte, page []SealedKeys) ([]SealedKeys, error) {
			owner := append([]byte(nil), key...)
			if tbl == tblPart {
				part, err := decodePart(val)
				if err != nil {
					return page, err
				}
				if part.SealedKey == nil {
					return page, nil
				}
				tenant, container, key, ok := partKeyNames(owner)
				if !ok {
					return page, fmt.Errorf("%w: part record key", ErrCorrupt)
				}
				return append(page, SealedKeys{Owner: owner, Tenant: tenant, Container: container, Key: key, Sealed: [][]byte{part.SealedKey}}), nil
			}
			a, err := decodeArtifact(val)
			if err != nil {
				return page, err
			}
			sk := SealedKeys{Owner: owner, Tenant: a.Tenant, Container: a.Container, Key: a.Key}
			if a.InlineKey != nil {
				sk.Sealed = append(sk.Sealed, a.InlineKey)
			}
			for _, part := range a.Parts {
				if part.SealedKey != nil {
					sk.Sealed = append(sk.Sealed, part.SealedKey)
				}
			}
			if len(sk.Sealed) > 0 {
				page = append(page, sk)
			}
			return page, nil
		}, fn)
}

// partKeyNames parses tenant, container and key out of a part record key:
// prefixFSM tblPart lp(tenant) lp(container) lp(key) lp(uploadID) be32.
func partKeyNames(k []byte) (tenant, container, key string, ok bool) {
	if len(k) < 2 {
		return "", "", "", false
	}
	rest := k[2:]
	next := func() (string, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || uint64(len(rest)-w) < n {
			return "", false
		}
		s := string(rest[w : w+int(n)])
		rest = rest[w+int(n):]
		return s, true
	}
	var ok1, ok2, ok3 bool
	tenant, ok1 = next()
	container, ok2 = next()
	key, ok3 = next()
	return tenant, container, key, ok1 && ok2 && ok3
}
