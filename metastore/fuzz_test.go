package metastore

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

// Every decoder of this package is fuzzed with one property: it never
// panics, fails only with ErrCorrupt (or ErrUnsupportedCommand for
// commands), and what it accepts re-encodes to something that decodes to
// the same value.

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range randomCommands(1, 40) {
		f.Add(c)
	}
	f.Add(encodeCommand(cmdCompleteUpload, [16]byte{1}, t0, &completeUploadCmd{in: CompleteInput{Tenant: "t", Container: "c", Key: "k",
		UploadID: "u", Parts: []PartRef{{1, "a"}, {2, "b"}}, MinPartSize: 5}}))
	f.Add(encodeCommand(cmdRelocateShard, [16]byte{3}, t0, &relocateShardCmd{blob: "b", index: 2,
		from: ShardLoc{Node: "n1", Drive: "d1"}, to: ShardLoc{Node: "n2", Drive: "d2"}}))
	f.Add(encodeCommand(cmdType(90)|cmdIgnorable, [16]byte{2}, t0, noopCmd{}))
	f.Add(encodeCommand(cmdSetVersionACL, [16]byte{4}, t0, &setVersionACLCmd{VersionUpdate{Tenant: "t", Container: "c", Key: "k",
		HasVersion: true, VersionID: "0000000000000001", SetACL: true, ACL: `{"grants":[{"g":"uri:AllUsers","p":"READ"}]}`}}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeCommand(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrUnsupportedCommand) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if c.body == nil {
			return // ignorable unknown type
		}
		e := encoder{}
		e.u8(uint8(c.typ))
		e.u8(c.version)
		e.raw(c.reqID[:])
		e.varint(c.time)
		c.body.write(&e)
		c2, err := decodeCommand(e.b)
		if err != nil || !reflect.DeepEqual(c, c2) {
			t.Fatalf("re-encoded command differs: %v\n%#v\n%#v", err, c, c2)
		}
	})
}

func FuzzDecodeRecords(f *testing.F) {
	a := sampleArtifact()
	u := Upload{Tenant: "t", Container: "c", Key: "k", UploadID: "u", Meta: map[string]string{"a": "b"}}
	seeds := [][]byte{
		encodeTenant(Tenant{ID: "t", Name: "n", Created: t0}),
		encodeUser(User{Tenant: "t", Name: "u", PasswordHash: []byte("h")}),
		encodeAccessKey(accessKeyRecord{AccessKey{ID: "k", Tenant: "t", Enabled: true}, []byte{1, 2, 3}}),
		encodeContainer(Container{Tenant: "t", Name: "c", Lifecycle: []byte("x")}),
		encodeArtifact(&a),
		encodePart(a.Parts[0]),
		encodeUpload(&u),
		encodeUsage(Usage{Bytes: 1, Artifacts: 2}),
	}
	for i, s := range seeds {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		var v interface{}
		var err error
		var reenc func() []byte
		switch kind % 8 {
		case 0:
			var x Tenant
			x, err = decodeTenant(b)
			v, reenc = x, func() []byte { return encodeTenant(x) }
		case 1:
			var x User
			x, err = decodeUser(b)
			v, reenc = x, func() []byte { return encodeUser(x) }
		case 2:
			var x accessKeyRecord
			x, err = decodeAccessKey(b)
			v, reenc = x, func() []byte { return encodeAccessKey(x) }
		case 3:
			var x Container
			x, err = decodeContainer(b)
			v, reenc = x, func() []byte { return encodeContainer(x) }
		case 4:
			var x Artifact
			x, err = decodeArtifact(b)
			v, reenc = x, func() []byte { return encodeArtifact(&x) }
		case 5:
			var x Part
			x, err = decodePart(b)
			v, reenc = x, func() []byte { return encodePart(x) }
		case 6:
			var x Upload
			x, err = decodeUpload(b)
			v, reenc = x, func() []byte { return encodeUpload(&x) }
		case 7:
			var x Usage
			x, err = decodeUsage(b)
			v, reenc = x, func() []byte { return encodeUsage(x) }
		}
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		enc := reenc()
		var v2 interface{}
		switch kind % 8 {
		case 0:
			v2, err = decodeTenant(enc)
		case 1:
			v2, err = decodeUser(enc)
		case 2:
			v2, err = decodeAccessKey(enc)
		case 3:
			v2, err = decodeContainer(enc)
		case 4:
			v2, err = decodeArtifact(enc)
		case 5:
			v2, err = decodePart(enc)
		case 6:
			v2, err = decodeUpload(enc)
		case 7:
			v2, err = decodeUsage(enc)
		}
		if err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("kind %d: re-encoded record differs: %v\n%#v\n%#v", kind%8, err, v, v2)
		}
	})
}

func FuzzDecodeLog(f *testing.F) {
	for i := uint64(1); i < 6; i++ {
		f.Add(encodeLog(nil, testLog(i)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, 7, &l); err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		var l2 raft.Log
		if err := decodeLog(encodeLog(nil, &l), 7, &l2); err != nil || !reflect.DeepEqual(l, l2) {
			t.Fatalf("re-encoded log entry differs: %v", err)
		}
	})
}

func FuzzSnapshotStream(f *testing.F) {
	h := newFSMHarness(f, f.TempDir())
	h.apply(randomCommands(4, 30)...)
	f.Add(snapshotOf(f, h.f))
	h.close()
	var empty bytes.Buffer
	empty.Write(snapMagic[:])
	empty.WriteByte(snapVersion)
	empty.Write(be64(3))
	mustNoErr(f, writeFrame(&empty, frameEnd, be64(0)))
	f.Add(empty.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := newSnapReader(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		var keys, vals [][]byte
		_, err = sr.each(func(payload []byte) (int, error) {
			return forEachRecord(payload, func(k, v []byte) error {
				keys = append(keys, append([]byte(nil), k...))
				vals = append(vals, append([]byte(nil), v...))
				return nil
			})
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		for _, k := range keys {
			if len(k) < 2 || k[0] != prefixFSM {
				t.Fatalf("accepted key outside the state machine: %x", k)
			}
		}
	})
}

func FuzzUnescape(f *testing.F) {
	f.Add(appendEscaped(nil, "a\x00b"))
	f.Add([]byte{0, 2})
	f.Add([]byte("abc"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, rest, err := unescape(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		enc := appendEscaped(nil, s)
		if !bytes.Equal(append(enc, rest...), b) {
			t.Fatalf("unescape(%x) = %q, %x: does not re-encode", b, s, rest)
		}
	})
}

func FuzzDecodeResult(f *testing.F) {
	f.Add(okResult(encodeOptArtifact(nil)).encode())
	f.Add(errResult(ErrPreconditionFailed).encode())
	f.Add(MarshalError(ErrNotLeader))
	f.Fuzz(func(t *testing.T, b []byte) {
		body, err := decodeResult(b)
		if err == nil {
			// Result bodies are decoded by the typed readers: no panics.
			_, _ = decodeBody(body, readOptArtifact)
			_, _ = decodeBody(body, readParts)
			_, _ = decodeBody(body, func(d *decoder) Artifact {
				a := readArtifact(d)
				readOptArtifact(d)
				readParts(d)
				return a
			})
		}
		_ = UnmarshalError(b)
	})
}
