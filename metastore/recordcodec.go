package metastore

import "fmt"

// Record encodings. Every stored record value starts with a one-byte schema
// version (recordV1); the fields follow in declaration order with the
// primitive encodings of codec.go. A decoder accepts exactly the versions it
// knows and the exact length of their encoding: anything else is ErrCorrupt
// (corruption, or a record written by a newer release that this one must
// not silently truncate).

const recordV1 = 1

// accessKeyRecord is an AccessKey with its secret sealed under the master
// key (see crypto.go). It is what the state machine stores.
type accessKeyRecord struct {
	AccessKey
	Sealed []byte
}

func corrupt(what string, err error) error {
	return fmt.Errorf("%w: %s record: %v", ErrCorrupt, what, err)
}

func encodeTenant(t Tenant) []byte {
	e := encoder{b: make([]byte, 0, 32+len(t.ID)+len(t.Name)+len(t.Plan))}
	e.u8(recordV1)
	e.str(t.ID)
	e.str(t.Name)
	e.str(t.Plan)
	e.str(string(t.State))
	e.time(t.Created)
	return e.b
}

func decodeTenant(b []byte) (Tenant, error) {
	d := decoder{b: b}
	var t Tenant
	if v := d.u8(); v != recordV1 && d.err == nil {
		return t, corrupt("tenant", fmt.Errorf("unknown version %d", v))
	}
	t.ID = d.str()
	t.Name = d.str()
	t.Plan = d.str()
	t.State = TenantState(d.str())
	t.Created = d.time()
	if err := d.done(); err != nil {
		return Tenant{}, corrupt("tenant", err)
	}
	return t, nil
}

func encodeUser(u User) []byte {
	e := encoder{b: make([]byte, 0, 32+len(u.Tenant)+len(u.Name)+len(u.PasswordHash))}
	e.u8(recordV1)
	e.str(u.Tenant)
	e.str(u.Name)
	e.bytes(u.PasswordHash)
	e.time(u.Created)
	return e.b
}

func decodeUser(b []byte) (User, error) {
	d := decoder{b: b}
	var u User
	if v := d.u8(); v != recordV1 && d.err == nil {
		return u, corrupt("user", fmt.Errorf("unknown version %d", v))
	}
	u.Tenant = d.str()
	u.Name = d.str()
	u.PasswordHash = d.bytes()
	u.Created = d.time()
	if err := d.done(); err != nil {
		return User{}, corrupt("user", err)
	}
	return u, nil
}

func encodeAccessKey(k accessKeyRecord) []byte {
	e := encoder{b: make([]byte, 0, 48+len(k.ID)+len(k.Tenant)+len(k.User)+len(k.Sealed))}
	e.u8(recordV1)
	e.str(k.ID)
	e.str(k.Tenant)
	e.str(k.User)
	e.bool(k.Enabled)
	e.time(k.Created)
	e.bytes(k.Sealed)
	return e.b
}

func decodeAccessKey(b []byte) (accessKeyRecord, error) {
	d := decoder{b: b}
	var k accessKeyRecord
	if v := d.u8(); v != recordV1 && d.err == nil {
		return k, corrupt("access key", fmt.Errorf("unknown version %d", v))
	}
	k.ID = d.str()
	k.Tenant = d.str()
	k.User = d.str()
	k.Enabled = d.bool()
	k.Created = d.time()
	k.Sealed = d.bytes()
	if err := d.done(); err != nil {
		return accessKeyRecord{}, corrupt("access key", err)
	}
	return k, nil
}

func encodeContainer(c Container) []byte {
	e := encoder{b: make([]byte, 0, 48+len(c.Tenant)+len(c.Name)+len(c.Lifecycle))}
	e.u8(recordV1)
	e.str(c.Tenant)
	e.str(c.Name)
	e.time(c.Created)
	e.bool(c.Versioning)
	e.varint(c.QuotaBytes)
	e.varint(c.QuotaArtifacts)
	e.bytes(c.Lifecycle)
	return e.b
}

func decodeContainer(b []byte) (Container, error) {
	d := decoder{b: b}
	var c Container
	if v := d.u8(); v != recordV1 && d.err == nil {
		return c, corrupt("container", fmt.Errorf("unknown version %d", v))
	}
	c.Tenant = d.str()
	c.Name = d.str()
	c.Created = d.time()
	c.Versioning = d.bool()
	c.QuotaBytes = d.varint()
	c.QuotaArtifacts = d.varint()
	c.Lifecycle = d.bytes()
	if err := d.done(); err != nil {
		return Container{}, corrupt("container", err)
	}
	return c, nil
}

func writeBlob(e *encoder, b Blob) {
	e.str(b.ID)
	e.int(b.K)
	e.int(b.M)
	e.int(b.BlockSize)
	e.uvarint(uint64(len(b.Shards)))
	for _, s := range b.Shards {
		e.str(s.Node)
		e.str(s.Drive)
	}
}

func readBlob(d *decoder) Blob {
	var b Blob
	b.ID = d.str()
	b.K = d.int()
	b.M = d.int()
	b.BlockSize = d.int()
	if n := d.count(2); n > 0 {
		b.Shards = make([]ShardLoc, n)
		for i := range b.Shards {
			b.Shards[i].Node = d.str()
			b.Shards[i].Drive = d.str()
		}
	}
	return b
}

func writePart(e *encoder, p Part) {
	e.int(p.Number)
	e.varint(p.Size)
	e.str(p.ETag)
	e.time(p.Created)
	writeBlob(e, p.Blob)
}

func readPart(d *decoder) Part {
	var p Part
	p.Number = d.int()
	p.Size = d.varint()
	p.ETag = d.str()
	p.Created = d.time()
	p.Blob = readBlob(d)
	return p
}

func writeParts(e *encoder, ps []Part) {
	e.uvarint(uint64(len(ps)))
	for _, p := range ps {
		writePart(e, p)
	}
}

func readParts(d *decoder) []Part {
	n := d.count(9) // the smallest part encoding is 9 bytes
	if n == 0 {
		return nil
	}
	ps := make([]Part, n)
	for i := range ps {
		ps[i] = readPart(d)
	}
	return ps
}

func encodePart(p Part) []byte {
	e := encoder{b: make([]byte, 0, 64+len(p.Blob.Shards)*16)}
	e.u8(recordV1)
	writePart(&e, p)
	return e.b
}

func decodePart(b []byte) (Part, error) {
	d := decoder{b: b}
	if v := d.u8(); v != recordV1 && d.err == nil {
		return Part{}, corrupt("part", fmt.Errorf("unknown version %d", v))
	}
	p := readPart(&d)
	if err := d.done(); err != nil {
		return Part{}, corrupt("part", err)
	}
	return p, nil
}

func writeArtifact(e *encoder, a *Artifact) {
	e.str(a.Tenant)
	e.str(a.Container)
	e.str(a.Key)
	e.str(a.VersionID)
	e.varint(a.Size)
	e.str(a.ETag)
	e.str(a.ContentType)
	e.strMap(a.Headers)
	e.strMap(a.Meta)
	e.strMap(a.Checksums)
	e.time(a.Created)
	e.bytes(a.Inline)
	writeParts(e, a.Parts)
	e.str(a.Tier)
}

func readArtifact(d *decoder) Artifact {
	var a Artifact
	a.Tenant = d.str()
	a.Container = d.str()
	a.Key = d.str()
	a.VersionID = d.str()
	a.Size = d.varint()
	a.ETag = d.str()
	a.ContentType = d.str()
	a.Headers = d.strMap()
	a.Meta = d.strMap()
	a.Checksums = d.strMap()
	a.Created = d.time()
	a.Inline = d.bytes()
	a.Parts = readParts(d)
	a.Tier = d.str()
	return a
}

func encodeArtifact(a *Artifact) []byte {
	e := encoder{b: make([]byte, 0, 128+len(a.Key)+len(a.Inline)+len(a.Parts)*96)}
	e.u8(recordV1)
	writeArtifact(&e, a)
	return e.b
}

func decodeArtifact(b []byte) (Artifact, error) {
	d := decoder{b: b}
	if v := d.u8(); v != recordV1 && d.err == nil {
		return Artifact{}, corrupt("artifact", fmt.Errorf("unknown version %d", v))
	}
	a := readArtifact(&d)
	if err := d.done(); err != nil {
		return Artifact{}, corrupt("artifact", err)
	}
	return a, nil
}

func writeUpload(e *encoder, u *Upload) {
	e.str(u.Tenant)
	e.str(u.Container)
	e.str(u.Key)
	e.str(u.UploadID)
	e.time(u.Created)
	e.str(u.ContentType)
	e.strMap(u.Headers)
	e.strMap(u.Meta)
}

func readUpload(d *decoder) Upload {
	var u Upload
	u.Tenant = d.str()
	u.Container = d.str()
	u.Key = d.str()
	u.UploadID = d.str()
	u.Created = d.time()
	u.ContentType = d.str()
	u.Headers = d.strMap()
	u.Meta = d.strMap()
	return u
}

func encodeUpload(u *Upload) []byte {
	e := encoder{b: make([]byte, 0, 64+len(u.Key))}
	e.u8(recordV1)
	writeUpload(&e, u)
	return e.b
}

func decodeUpload(b []byte) (Upload, error) {
	d := decoder{b: b}
	if v := d.u8(); v != recordV1 && d.err == nil {
		return Upload{}, corrupt("upload", fmt.Errorf("unknown version %d", v))
	}
	u := readUpload(&d)
	if err := d.done(); err != nil {
		return Upload{}, corrupt("upload", err)
	}
	return u, nil
}

// usageV2 adds UploadBytes. A usage record is written as version 1 while
// UploadBytes is 0, so state without unfinished multipart uploads stays
// readable by a release that knows only version 1.
const usageV2 = 2

func encodeUsage(u Usage) []byte {
	e := encoder{b: make([]byte, 0, 24)}
	if u.UploadBytes == 0 {
		e.u8(recordV1)
	} else {
		e.u8(usageV2)
	}
	e.varint(u.Bytes)
	e.varint(u.Artifacts)
	if u.UploadBytes != 0 {
		e.varint(u.UploadBytes)
	}
	return e.b
}

func decodeUsage(b []byte) (Usage, error) {
	d := decoder{b: b}
	v := d.u8()
	if v != recordV1 && v != usageV2 && d.err == nil {
		return Usage{}, corrupt("usage", fmt.Errorf("unknown version %d", v))
	}
	var u Usage
	u.Bytes = d.varint()
	u.Artifacts = d.varint()
	if v == usageV2 {
		u.UploadBytes = d.varint()
	}
	if err := d.done(); err != nil {
		return Usage{}, corrupt("usage", err)
	}
	return u, nil
}
