package metastore

import "fmt"

// Record encodings. Every stored record value starts with a one-byte schema
// version (recordV1); the fields follow in declaration order with the
// primitive encodings of codec.go. A decoder accepts exactly the versions it
// knows and the exact length of their encoding: anything else is ErrCorrupt
// (corruption, or a record written by a newer release that this one must
// not silently truncate).

const (
	recordV1 = 1
	// recordV2 adds an extension section (ext.go) to artifacts, parts,
	// uploads and containers; written only when a field needs it.
	recordV2 = 2
)

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

// Container extension tags (record version 2). By feature area: 1-15
// versions, lock, tags, object surface; 16-23 access control and
// encryption; 24-31 lifecycle and tiers.
const (
	contExtVersioning = 1 // str
	contExtObjectLock = 2 // bool enabled, str mode, int days, int years
	contExtTags       = 3 // strMap
	contExtLocation   = 4 // str
	contExtConfig     = 5 // strMap of opaque sub-resources
)

func containerExt(c *Container) extFields {
	var f extFields
	if c.VersioningState != "" {
		f.add(contExtVersioning, func(e *encoder) { e.str(c.VersioningState) })
	}
	if ol := c.ObjectLock; ol != (ObjectLockConfig{}) {
		f.add(contExtObjectLock, func(e *encoder) { e.bool(ol.Enabled); e.str(ol.Mode); e.int(ol.Days); e.int(ol.Years) })
	}
	if len(c.Tags) > 0 {
		f.add(contExtTags, func(e *encoder) { e.strMap(c.Tags) })
	}
	if c.Location != "" {
		f.add(contExtLocation, func(e *encoder) { e.str(c.Location) })
	}
	if len(c.Config) > 0 {
		f.add(contExtConfig, func(e *encoder) { e.strMap(c.Config) })
	}
	return f
}

func encodeContainer(c Container) []byte {
	ext := containerExt(&c)
	e := encoder{b: make([]byte, 0, 48+len(c.Tenant)+len(c.Name)+len(c.Lifecycle))}
	if len(ext) == 0 {
		e.u8(recordV1)
	} else {
		e.u8(recordV2)
	}
	e.str(c.Tenant)
	e.str(c.Name)
	e.time(c.Created)
	e.bool(c.Versioning)
	e.varint(c.QuotaBytes)
	e.varint(c.QuotaArtifacts)
	e.bytes(c.Lifecycle)
	if len(ext) > 0 {
		ext.write(&e)
	}
	return e.b
}

func decodeContainer(b []byte) (Container, error) {
	d := decoder{b: b}
	var c Container
	v := d.u8()
	if v != recordV1 && v != recordV2 && d.err == nil {
		return c, corrupt("container", fmt.Errorf("unknown version %d", v))
	}
	c.Tenant = d.str()
	c.Name = d.str()
	c.Created = d.time()
	c.Versioning = d.bool()
	c.QuotaBytes = d.varint()
	c.QuotaArtifacts = d.varint()
	c.Lifecycle = d.bytes()
	if v == recordV2 {
		readExt(&d, func(tag uint64, x *decoder) bool {
			switch tag {
			case contExtVersioning:
				c.VersioningState = x.str()
			case contExtObjectLock:
				c.ObjectLock = ObjectLockConfig{Enabled: x.bool(), Mode: x.str(), Days: x.int(), Years: x.int()}
			case contExtTags:
				c.Tags = x.strMap()
			case contExtLocation:
				c.Location = x.str()
			case contExtConfig:
				c.Config = x.strMap()
			default:
				return false
			}
			return true
		})
	}
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

// Part extension tags (record version 2, and parts inside a version-2
// artifact). 1-15 object surface; 16-23 encryption.
const (
	partExtChecksums = 1 // strMap
	// 16-23: encryption.
	partExtSealedKey  = 16 // bytes
	partExtStoredSize = 17 // varint
)

func partExt(p *Part) extFields {
	var f extFields
	if len(p.Checksums) > 0 {
		f.add(partExtChecksums, func(e *encoder) { e.strMap(p.Checksums) })
	}
	if p.SealedKey != nil {
		f.add(partExtSealedKey, func(e *encoder) { e.bytes(p.SealedKey) })
		f.add(partExtStoredSize, func(e *encoder) { e.varint(p.StoredSize) })
	}
	return f
}

func readPartExt(d *decoder, p *Part) {
	readExt(d, func(tag uint64, x *decoder) bool {
		switch tag {
		case partExtChecksums:
			p.Checksums = x.strMap()
		case partExtSealedKey:
			p.SealedKey = x.bytes()
		case partExtStoredSize:
			p.StoredSize = x.varint()
		default:
			return false
		}
		return true
	})
}

// writePart writes the version-1 fields of a part (command payloads of
// version 1 embed parts this way).
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

// writePartsV2 and readPartsV2 are the parts of a version-2 artifact: each
// part followed by its extension section.
func writePartsV2(e *encoder, ps []Part) {
	e.uvarint(uint64(len(ps)))
	for i := range ps {
		writePart(e, ps[i])
		partExt(&ps[i]).write(e)
	}
}

func readPartsV2(d *decoder) []Part {
	n := d.count(10)
	if n == 0 {
		return nil
	}
	ps := make([]Part, n)
	for i := range ps {
		ps[i] = readPart(d)
		readPartExt(d, &ps[i])
	}
	return ps
}

func encodePart(p Part) []byte {
	ext := partExt(&p)
	e := encoder{b: make([]byte, 0, 64+len(p.Blob.Shards)*16)}
	if len(ext) == 0 {
		e.u8(recordV1)
	} else {
		e.u8(recordV2)
	}
	writePart(&e, p)
	if len(ext) > 0 {
		ext.write(&e)
	}
	return e.b
}

func decodePart(b []byte) (Part, error) {
	d := decoder{b: b}
	v := d.u8()
	if v != recordV1 && v != recordV2 && d.err == nil {
		return Part{}, corrupt("part", fmt.Errorf("unknown version %d", v))
	}
	p := readPart(&d)
	if v == recordV2 {
		readPartExt(&d, &p)
	}
	if err := d.done(); err != nil {
		return Part{}, corrupt("part", err)
	}
	return p, nil
}

// Artifact extension tags (record version 2). By feature area: 1-15
// versions, lock, tags, object surface; 16-23 encryption; 24-31 lifecycle
// and tiers.
const (
	artExtSeq          = 1 // uvarint
	artExtDeleteMarker = 2 // bool (present only when true)
	artExtStorageClass = 3 // str
	artExtTags         = 4 // strMap
	artExtRetention    = 5 // str mode, time until
	artExtLegalHold    = 6 // bool (present only when true)
	artExtUploadID     = 7 // str
	artExtChecksumType = 8 // str
	// 16-23: encryption.
	artExtEncryption = 16 // str mode, bytes customer key MAC
	artExtInlineKey  = 17 // bytes

	// Tiers (28-31).
	artExtRestore = 28 // bool ongoing, time expiry, parts (v2) of the restored copy

	// 32-35: access control (object ACLs, issue 16).
	artExtOwner = 32 // str
	artExtACL   = 33 // str (opaque: the s3 layer's encoding)
)

func artifactExt(a *Artifact) extFields {
	var f extFields
	if a.Seq != 0 {
		f.add(artExtSeq, func(e *encoder) { e.uvarint(a.Seq) })
	}
	if a.DeleteMarker {
		f.add(artExtDeleteMarker, func(e *encoder) { e.bool(true) })
	}
	if a.StorageClass != "" {
		f.add(artExtStorageClass, func(e *encoder) { e.str(a.StorageClass) })
	}
	if len(a.Tags) > 0 {
		f.add(artExtTags, func(e *encoder) { e.strMap(a.Tags) })
	}
	if a.Retention != (Retention{}) {
		f.add(artExtRetention, func(e *encoder) { e.str(a.Retention.Mode); e.time(a.Retention.Until) })
	}
	if a.LegalHold {
		f.add(artExtLegalHold, func(e *encoder) { e.bool(true) })
	}
	if a.UploadID != "" {
		f.add(artExtUploadID, func(e *encoder) { e.str(a.UploadID) })
	}
	if a.ChecksumType != "" {
		f.add(artExtChecksumType, func(e *encoder) { e.str(a.ChecksumType) })
	}
	if a.Encryption.Mode != "" {
		f.add(artExtEncryption, func(e *encoder) { e.str(a.Encryption.Mode); e.bytes(a.Encryption.CustomerKeyMAC) })
	}
	if a.InlineKey != nil {
		f.add(artExtInlineKey, func(e *encoder) { e.bytes(a.InlineKey) })
	}
	if a.Restore.Ongoing || !a.Restore.Expiry.IsZero() || len(a.Restore.Parts) > 0 {
		f.add(artExtRestore, func(e *encoder) {
			e.bool(a.Restore.Ongoing)
			e.time(a.Restore.Expiry)
			writePartsV2(e, a.Restore.Parts)
		})
	}
	if a.Owner != "" {
		f.add(artExtOwner, func(e *encoder) { e.str(a.Owner) })
	}
	if a.ACL != "" {
		f.add(artExtACL, func(e *encoder) { e.str(a.ACL) })
	}
	return f
}

// artifactNeedsV2 reports whether a has a field only version 2 carries.
func artifactNeedsV2(a *Artifact) bool {
	if len(artifactExt(a)) > 0 {
		return true
	}
	for i := range a.Parts {
		if len(partExt(&a.Parts[i])) > 0 {
			return true
		}
	}
	return false
}

// writeArtifact writes the version-1 fields of an artifact (command
// payloads of version 1 embed artifacts this way).
func writeArtifact(e *encoder, a *Artifact) { writeArtifactFields(e, a, false) }

func writeArtifactFields(e *encoder, a *Artifact, v2 bool) {
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
	if v2 {
		writePartsV2(e, a.Parts)
	} else {
		writeParts(e, a.Parts)
	}
	e.str(a.Tier)
	if v2 {
		artifactExt(a).write(e)
	}
}

func readArtifact(d *decoder) Artifact { return readArtifactFields(d, false) }

func readArtifactFields(d *decoder, v2 bool) Artifact {
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
	if v2 {
		a.Parts = readPartsV2(d)
	} else {
		a.Parts = readParts(d)
	}
	a.Tier = d.str()
	if v2 {
		readExt(d, func(tag uint64, x *decoder) bool {
			switch tag {
			case artExtSeq:
				a.Seq = x.uvarint()
			case artExtDeleteMarker:
				a.DeleteMarker = x.bool()
			case artExtStorageClass:
				a.StorageClass = x.str()
			case artExtTags:
				a.Tags = x.strMap()
			case artExtRetention:
				a.Retention = Retention{Mode: x.str(), Until: x.time()}
			case artExtLegalHold:
				a.LegalHold = x.bool()
			case artExtUploadID:
				a.UploadID = x.str()
			case artExtChecksumType:
				a.ChecksumType = x.str()
			case artExtEncryption:
				a.Encryption = Encryption{Mode: x.str(), CustomerKeyMAC: x.bytes()}
			case artExtInlineKey:
				a.InlineKey = x.bytes()
			case artExtRestore:
				a.Restore = RestoreState{Ongoing: x.bool(), Expiry: x.time(), Parts: readPartsV2(x)}
			case artExtOwner:
				a.Owner = x.str()
			case artExtACL:
				a.ACL = x.str()
			default:
				return false
			}
			return true
		})
	}
	return a
}

// encodeArtifact encodes a record: version 1 unless a has a field only
// version 2 carries.
func encodeArtifact(a *Artifact) []byte {
	v2 := artifactNeedsV2(a)
	e := encoder{b: make([]byte, 0, 128+len(a.Key)+len(a.Inline)+len(a.Parts)*96)}
	if v2 {
		e.u8(recordV2)
	} else {
		e.u8(recordV1)
	}
	writeArtifactFields(&e, a, v2)
	return e.b
}

// decodeArtifact decodes a record. A version-1 record was written while
// its container was never versioned, so it is the null version whatever
// its stored VersionID (the first release stamped every record with a
// random id it never honoured).
func decodeArtifact(b []byte) (Artifact, error) {
	d := decoder{b: b}
	v := d.u8()
	if v != recordV1 && v != recordV2 && d.err == nil {
		return Artifact{}, corrupt("artifact", fmt.Errorf("unknown version %d", v))
	}
	a := readArtifactFields(&d, v == recordV2)
	if err := d.done(); err != nil {
		return Artifact{}, corrupt("artifact", err)
	}
	if v == recordV1 {
		a.VersionID = ""
	}
	return a, nil
}

// Upload extension tags (record version 2). 1-15 versions, lock, tags,
// object surface; 16-23 encryption.
const (
	upExtStorageClass = 1 // str
	upExtTags         = 2 // strMap
	upExtRetention    = 3 // str mode, time until
	upExtLegalHold    = 4 // bool (present only when true)
	upExtChecksum     = 5 // str algorithm, str type
	// 16-23: encryption.
	upExtEncryption = 16 // str mode, bytes customer key MAC
	// 32-35: access control (the artifact's tags 32-33).
	upExtOwner     = 32 // str
	upExtACL       = 33 // str
	upExtInitiator = 34 // str
)

func uploadExt(u *Upload) extFields {
	var f extFields
	if u.StorageClass != "" {
		f.add(upExtStorageClass, func(e *encoder) { e.str(u.StorageClass) })
	}
	if len(u.Tags) > 0 {
		f.add(upExtTags, func(e *encoder) { e.strMap(u.Tags) })
	}
	if u.Retention != (Retention{}) {
		f.add(upExtRetention, func(e *encoder) { e.str(u.Retention.Mode); e.time(u.Retention.Until) })
	}
	if u.LegalHold {
		f.add(upExtLegalHold, func(e *encoder) { e.bool(true) })
	}
	if u.ChecksumAlgorithm != "" || u.ChecksumType != "" {
		f.add(upExtChecksum, func(e *encoder) { e.str(u.ChecksumAlgorithm); e.str(u.ChecksumType) })
	}
	if u.Encryption.Mode != "" {
		f.add(upExtEncryption, func(e *encoder) { e.str(u.Encryption.Mode); e.bytes(u.Encryption.CustomerKeyMAC) })
	}
	if u.Owner != "" {
		f.add(upExtOwner, func(e *encoder) { e.str(u.Owner) })
	}
	if u.ACL != "" {
		f.add(upExtACL, func(e *encoder) { e.str(u.ACL) })
	}
	if u.Initiator != "" {
		f.add(upExtInitiator, func(e *encoder) { e.str(u.Initiator) })
	}
	return f
}

// writeUpload writes the version-1 fields of an upload (command payloads
// of version 1 embed uploads this way).
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
	ext := uploadExt(u)
	e := encoder{b: make([]byte, 0, 64+len(u.Key))}
	if len(ext) == 0 {
		e.u8(recordV1)
	} else {
		e.u8(recordV2)
	}
	writeUpload(&e, u)
	if len(ext) > 0 {
		ext.write(&e)
	}
	return e.b
}

func readUploadExt(d *decoder, u *Upload) {
	readExt(d, func(tag uint64, x *decoder) bool {
		switch tag {
		case upExtStorageClass:
			u.StorageClass = x.str()
		case upExtTags:
			u.Tags = x.strMap()
		case upExtRetention:
			u.Retention = Retention{Mode: x.str(), Until: x.time()}
		case upExtLegalHold:
			u.LegalHold = x.bool()
		case upExtChecksum:
			u.ChecksumAlgorithm, u.ChecksumType = x.str(), x.str()
		case upExtEncryption:
			u.Encryption = Encryption{Mode: x.str(), CustomerKeyMAC: x.bytes()}
		case upExtOwner:
			u.Owner = x.str()
		case upExtACL:
			u.ACL = x.str()
		case upExtInitiator:
			u.Initiator = x.str()
		default:
			return false
		}
		return true
	})
}

func decodeUpload(b []byte) (Upload, error) {
	d := decoder{b: b}
	v := d.u8()
	if v != recordV1 && v != recordV2 && d.err == nil {
		return Upload{}, corrupt("upload", fmt.Errorf("unknown version %d", v))
	}
	u := readUpload(&d)
	if v == recordV2 {
		readUploadExt(&d, &u)
	}
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
