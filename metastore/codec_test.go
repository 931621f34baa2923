package metastore

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func sampleArtifact() Artifact {
	a := artifact("photos/2024/05/01/IMG_0001.jpg", 4<<20, "blob-0001")
	a.Parts = append(a.Parts, Part{Number: 2, Size: 1 << 20, ETag: md5hex("2"), Created: t0, Blob: blob("blob-0002")})
	a.Inline = nil
	a.Tier = "lyve"
	return a
}

func randString(r *rand.Rand, max int) string {
	n := r.IntN(max + 1)
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

func randMap(r *rand.Rand) map[string]string {
	n := r.IntN(4)
	if n == 0 {
		return nil
	}
	m := map[string]string{}
	for i := 0; i < n; i++ {
		m[randString(r, 8)] = randString(r, 8)
	}
	return m
}

func randTime(r *rand.Rand) time.Time {
	if r.IntN(5) == 0 {
		return time.Time{}
	}
	return time.Unix(r.Int64N(1<<40)-1<<39, r.Int64N(1e9)).UTC()
}

func randBytes(r *rand.Rand) []byte {
	if r.IntN(3) == 0 {
		return nil
	}
	b := make([]byte, 1+r.IntN(20))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

func randPart(r *rand.Rand) Part {
	p := Part{Number: r.IntN(10001), Size: r.Int64() - r.Int64(), ETag: randString(r, 32), Created: randTime(r),
		Blob: Blob{ID: randString(r, 10), K: r.IntN(20), M: -r.IntN(5), BlockSize: r.IntN(1 << 22)}}
	for i := r.IntN(4); i > 0; i-- {
		p.Blob.Shards = append(p.Blob.Shards, ShardLoc{Node: randString(r, 5), Drive: randString(r, 5)})
	}
	if r.IntN(2) == 0 {
		p.Checksums = randMap(r)
	}
	if r.IntN(3) == 0 {
		p.SealedKey, p.StoredSize = []byte(randString(r, 65)+"x"), r.Int64()
	}
	return p
}

func randRetention(r *rand.Rand) Retention {
	if r.IntN(2) == 0 {
		return Retention{}
	}
	return Retention{Mode: randString(r, 6), Until: randTime(r)}
}

// v1Artifact drops the version-2 fields of a.
func v1Artifact(a Artifact) Artifact {
	b := Artifact{Tenant: a.Tenant, Container: a.Container, Key: a.Key, VersionID: a.VersionID, Size: a.Size, ETag: a.ETag,
		ContentType: a.ContentType, Headers: a.Headers, Meta: a.Meta, Checksums: a.Checksums, Created: a.Created,
		Inline: a.Inline, Tier: a.Tier}
	for _, p := range a.Parts {
		p.Checksums, p.SealedKey, p.StoredSize = nil, nil, 0
		b.Parts = append(b.Parts, p)
	}
	return b
}

func randArtifact(r *rand.Rand) Artifact {
	a := Artifact{Tenant: randString(r, 10), Container: randString(r, 10), Key: randString(r, 30),
		VersionID: randString(r, 5), Size: r.Int64(), ETag: randString(r, 34), ContentType: randString(r, 10),
		Headers: randMap(r), Meta: randMap(r), Checksums: randMap(r), Created: randTime(r), Inline: randBytes(r),
		Tier: randString(r, 4)}
	for i := r.IntN(3); i > 0; i-- {
		a.Parts = append(a.Parts, randPart(r))
	}
	if r.IntN(2) == 0 {
		// Version-2 fields.
		a.Seq = r.Uint64()
		a.DeleteMarker = r.IntN(2) == 0
		a.StorageClass = randString(r, 8)
		a.Tags = randMap(r)
		a.Retention = randRetention(r)
		a.LegalHold = r.IntN(2) == 0
		a.UploadID = randString(r, 8)
		a.ChecksumType = randString(r, 8)
		a.Encryption = Encryption{Mode: randString(r, 5) + "m", CustomerKeyMAC: []byte(randString(r, 32) + "x")}
		a.InlineKey = []byte(randString(r, 65) + "x")
		a.Owner = randString(r, 6)
		a.ACL = randString(r, 40)
	}
	if !artifactNeedsV2(&a) {
		a.VersionID = "" // a version-1 record is the null version
	}
	return a
}

// TestRecordRoundTrip encodes random records and decodes them back; every
// strict prefix of an encoding and every unknown version must fail as
// ErrCorrupt.
func TestRecordRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	type codec struct {
		name   string
		value  func() interface{}
		encode func(interface{}) []byte
		decode func([]byte) (interface{}, error)
	}
	codecs := []codec{
		{"tenant", func() interface{} {
			return Tenant{ID: randString(r, 8), Name: randString(r, 8), Plan: randString(r, 4), State: TenantState(randString(r, 6)), Created: randTime(r)}
		}, func(v interface{}) []byte { return encodeTenant(v.(Tenant)) },
			func(b []byte) (interface{}, error) { return decodeTenant(b) }},
		{"user", func() interface{} {
			return User{Tenant: randString(r, 8), Name: randString(r, 8), PasswordHash: randBytes(r), Created: randTime(r)}
		}, func(v interface{}) []byte { return encodeUser(v.(User)) },
			func(b []byte) (interface{}, error) { return decodeUser(b) }},
		{"access key", func() interface{} {
			return accessKeyRecord{AccessKey{ID: randString(r, 8), Tenant: randString(r, 8), User: randString(r, 8), Enabled: r.IntN(2) == 0, Created: randTime(r)}, randBytes(r)}
		}, func(v interface{}) []byte { return encodeAccessKey(v.(accessKeyRecord)) },
			func(b []byte) (interface{}, error) { return decodeAccessKey(b) }},
		{"container", func() interface{} {
			c := Container{Tenant: randString(r, 8), Name: randString(r, 8), Created: randTime(r), Versioning: r.IntN(2) == 0,
				QuotaBytes: r.Int64() - r.Int64(), QuotaArtifacts: r.Int64(), Lifecycle: randBytes(r)}
			if r.IntN(2) == 0 {
				c.VersioningState = randString(r, 7)
				c.ObjectLock = ObjectLockConfig{Enabled: r.IntN(2) == 0, Mode: randString(r, 4), Days: r.IntN(100), Years: r.IntN(3)}
				c.Tags = randMap(r)
				c.Location = randString(r, 9)
				c.Config = randMap(r)
			}
			return c
		}, func(v interface{}) []byte { return encodeContainer(v.(Container)) },
			func(b []byte) (interface{}, error) { return decodeContainer(b) }},
		{"artifact", func() interface{} { return randArtifact(r) },
			func(v interface{}) []byte { a := v.(Artifact); return encodeArtifact(&a) },
			func(b []byte) (interface{}, error) { return decodeArtifact(b) }},
		{"part", func() interface{} { return randPart(r) },
			func(v interface{}) []byte { return encodePart(v.(Part)) },
			func(b []byte) (interface{}, error) { return decodePart(b) }},
		{"upload", func() interface{} {
			u := Upload{Tenant: randString(r, 8), Container: randString(r, 8), Key: randString(r, 20), UploadID: randString(r, 8),
				Created: randTime(r), ContentType: randString(r, 8), Headers: randMap(r), Meta: randMap(r)}
			if r.IntN(2) == 0 {
				u.StorageClass, u.Tags = randString(r, 5), randMap(r)
				u.Retention, u.LegalHold = randRetention(r), r.IntN(2) == 0
				u.ChecksumAlgorithm, u.ChecksumType = randString(r, 5), randString(r, 5)
				u.Encryption = Encryption{Mode: "SSE-C", CustomerKeyMAC: []byte(randString(r, 32) + "x")}
				u.Owner, u.ACL = randString(r, 6), randString(r, 40)
				u.Initiator = randString(r, 6) + "/" + randString(r, 6)
			}
			return u
		}, func(v interface{}) []byte { u := v.(Upload); return encodeUpload(&u) },
			func(b []byte) (interface{}, error) { return decodeUpload(b) }},
		{"usage", func() interface{} { return Usage{Bytes: r.Int64() - r.Int64(), Artifacts: r.Int64()} },
			func(v interface{}) []byte { return encodeUsage(v.(Usage)) },
			func(b []byte) (interface{}, error) { return decodeUsage(b) }},
	}
	for _, c := range codecs {
		for i := 0; i < 200; i++ {
			v := c.value()
			enc := c.encode(v)
			got, err := c.decode(enc)
			if err != nil {
				t.Fatalf("%s: decode: %v", c.name, err)
			}
			if !reflect.DeepEqual(got, v) {
				t.Fatalf("%s: round trip\n got %#v\nwant %#v", c.name, got, v)
			}
			if i < 20 {
				for n := 0; n < len(enc); n++ {
					if _, err := c.decode(enc[:n]); !errors.Is(err, ErrCorrupt) {
						t.Fatalf("%s: prefix of %d/%d bytes: err = %v", c.name, n, len(enc), err)
					}
				}
				bad := append([]byte{99}, enc[1:]...)
				if _, err := c.decode(bad); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: version 99 accepted: %v", c.name, err)
				}
				if _, err := c.decode(append(enc, 0)); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%s: trailing byte accepted: %v", c.name, err)
				}
			}
		}
	}
}

func TestDecoderRejectsUnsortedMap(t *testing.T) {
	e := encoder{}
	e.uvarint(2)
	e.str("b")
	e.str("1")
	e.str("a")
	e.str("2")
	d := decoder{b: e.b}
	d.strMap()
	if !errors.Is(d.done(), ErrCorrupt) {
		t.Fatal("unsorted map accepted")
	}
}

func TestEscapedKeysKeepOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []byte{0, 1, 0xFF, 'a', '/'}
	gen := func() string {
		b := make([]byte, r.IntN(5))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	for i := 0; i < 5000; i++ {
		a, b := gen(), gen()
		ea, eb := appendEscaped(nil, a), appendEscaped(nil, b)
		if (a < b) != (string(ea) < string(eb)) || (a == b) != (string(ea) == string(eb)) {
			t.Fatalf("order of %q, %q not kept: %x %x", a, b, ea, eb)
		}
		got, rest, err := unescape(append(ea, "tail"...))
		if err != nil || got != a || string(rest) != "tail" {
			t.Fatalf("unescape(%x) = %q %q %v", ea, got, rest, err)
		}
	}
}

func TestCommandRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	bodies := []struct {
		typ  cmdType
		body commandBody
	}{
		{cmdNoop, noopCmd{}},
		{cmdPutTenant, &putTenantCmd{Tenant{ID: "t", Created: t0}}},
		{cmdPutUser, &putUserCmd{User{Tenant: "t", Name: "u", PasswordHash: []byte{1}}}},
		{cmdDeleteUser, &deleteUserCmd{"t", "u"}},
		{cmdCreateTenant, &createTenantCmd{Tenant{ID: "t", Name: "n", State: TenantActive, Created: t0}}},
		{cmdCreateUser, &createUserCmd{User{Tenant: "t", Name: "u", PasswordHash: []byte{2}, Created: t0}}},
		{cmdSetTenantState, &setTenantStateCmd{"t", "suspended"}},
		{cmdCreateAccessKey, &createAccessKeyCmd{accessKeyRecord{AccessKey{ID: "k", Tenant: "t", Enabled: true}, []byte{1, 2}}}},
		{cmdSetAccessKeyEnabled, &setAccessKeyEnabledCmd{"k", true}},
		{cmdDeleteAccessKey, &deleteAccessKeyCmd{"k"}},
		{cmdCreateContainer, &createContainerCmd{Container{Tenant: "t", Name: "c", QuotaBytes: 5}}},
		{cmdUpdateContainer, &updateContainerCmd{Container{Tenant: "t", Name: "c", Versioning: true}}},
		{cmdDeleteContainer, &deleteContainerCmd{"t", "c"}},
		{cmdPutArtifact, &putArtifactCmd{a: v1Artifact(randArtifact(r)), cond: Cond{IfNoneMatch: true, IfMatchETag: "x"}}},
		{cmdPutArtifact, &putArtifactCmd{v: commandV2, a: randArtifact(r), cond: Cond{IfMatchETag: "y"}}},
		{cmdDeleteArtifact, &deleteArtifactCmd{in: DeleteInput{Tenant: "t", Container: "c", Key: "k"}}},
		{cmdDeleteArtifact, &deleteArtifactCmd{v: commandV2, in: DeleteInput{Tenant: "t", Container: "c", Key: "k", HasVersion: true, VersionID: "null", IfMatch: "e", BypassGovernance: true}}},
		{cmdCreateUpload, &createUploadCmd{Upload{Tenant: "t", Container: "c", Key: "k", UploadID: "u", Meta: map[string]string{"a": "b"}}}},
		{cmdPutPart, &putPartCmd{uploadRef{"t", "c", "k", "u"}, randPart(r)}},
		{cmdCompleteUpload, &completeUploadCmd{in: CompleteInput{Tenant: "t", Container: "c", Key: "k", UploadID: "u", VersionID: "v",
			Created: t0, Parts: []PartRef{{1, "a"}, {2, "b"}}, Cond: Cond{IfMatchETag: "e"}, MinPartSize: 5 << 20}}},
		{cmdCompleteUpload, &completeUploadCmd{v: commandV2, in: CompleteInput{Tenant: "t", Container: "c", Key: "k", UploadID: "u",
			Created: t0, Parts: []PartRef{{1, "a"}}}}},
		{cmdCompleteUpload, &completeUploadCmd{v: commandV2, in: CompleteInput{Tenant: "t", Container: "c", Key: "k", UploadID: "u",
			Created: t0, Parts: []PartRef{{1, "a"}, {2, "b"}}, Checksums: map[string]string{"CRC32C": "AAAAAA==-2"}, ChecksumType: "COMPOSITE",
			PartChecksums: []string{"p1", "p2"}}}},
		{cmdCreateContainer, &createContainerCmd{Container{Tenant: "t", Name: "c2", VersioningState: VersioningEnabled, ObjectLock: ObjectLockConfig{Enabled: true}}}},
		{cmdCreateUpload, &createUploadCmd{Upload{Tenant: "t", Container: "c", Key: "k", UploadID: "u2", StorageClass: "GLACIER", Tags: map[string]string{"a": "b"}}}},
		{cmdPutPart, &putPartCmd{uploadRef{"t", "c", "k", "u"}, Part{Number: 2, Checksums: map[string]string{"CRC32": "x"}}}},
		{cmdUpdateVersion, &updateVersionCmd{VersionUpdate{Tenant: "t", Container: "c", Key: "k", HasVersion: true, VersionID: "0000000000000001", SetTags: true, Tags: map[string]string{"a": "b"}}}},
		{cmdUpdateVersion, &updateVersionCmd{VersionUpdate{Tenant: "t", Container: "c", Key: "k", SetRetention: true, Retention: Retention{Mode: LockGovernance, Until: t0}, BypassGovernance: true}}},
		{cmdUpdateVersion, &updateVersionCmd{VersionUpdate{Tenant: "t", Container: "c", Key: "k", SetLegalHold: true, LegalHold: true}}},
		{cmdSetContainerConfig, &setContainerConfigCmd{ContainerChange{Tenant: "t", Name: "c", SetVersioning: true, Versioning: VersioningSuspended}}},
		{cmdSetContainerConfig, &setContainerConfigCmd{ContainerChange{Tenant: "t", Name: "c", SetObjectLock: true, ObjectLock: ObjectLockConfig{Enabled: true, Mode: LockCompliance, Days: 3}}}},
		{cmdSetContainerConfig, &setContainerConfigCmd{ContainerChange{Tenant: "t", Name: "c", SetTags: true, Tags: map[string]string{"k": "v"}}}},
		{cmdSetContainerConfig, &setContainerConfigCmd{ContainerChange{Tenant: "t", Name: "c", SetConfig: "cors", ConfigValue: "<x/>"}}},
		{cmdAbortUpload, &abortUploadCmd{uploadRef{"t", "c", "k", "u"}}},
		{cmdSetTenantLimits, &setTenantLimitsCmd{"t", TenantLimits{Override: true, RequestsPerSec: 1.5, Burst: 2, BytesInPerSec: 3, BytesOutPerSec: 4}}},
		{cmdSetTenantQuota, &setTenantQuotaCmd{"t", TenantQuota{MaxBytes: 1, MaxArtifacts: 2, MaxEgressBytesPerMonth: 3}}},
		{cmdSetContainerQuota, &setContainerQuotaCmd{"t", "c", 5, 6}},
		{cmdRecordUsage, &recordUsageCmd{now: t0.UnixNano(), deltas: []usageDelta{{"t", 3600, 1, 2, 3, 4}, {"u", 7200, 0, 0, 0, 1}}}},
		{cmdSampleStorage, &sampleStorageCmd{now: t0.UnixNano()}},
		{cmdRelocateShard, &relocateShardCmd{blob: "b1", index: 3, from: ShardLoc{Node: "n1", Drive: "d1"}, to: ShardLoc{Node: "n2", Drive: "d7"}}},
		{cmdSetClusterVersion, &setClusterVersionCmd{v: 2}},
		{cmdSetKEK, &setKEKCmd{id: 7}},
		{cmdRewrapKeys, &rewrapKeysCmd{owner: []byte{prefixFSM, tblArtifact, 1, 't'}, keys: []Rewrap{{Old: []byte{1, 2}, New: []byte{3, 4}}, {Old: []byte{5}, New: []byte{6}}}}},
		{cmdPutOperator, &putOperatorCmd{op: Operator{Name: "ops", PasswordHash: []byte{3}, Created: t0}, create: true}},
		{cmdDeleteOperator, &deleteOperatorCmd{name: "ops"}},
		{cmdRevokeSession, &revokeSessionCmd{sid: "s1", expiry: 1700000000, now: t0.UnixNano()}},
		{cmdRecordLogin, &recordLoginCmd{tenant: "t", name: "u", ok: true, now: t0.UnixNano(), policy: LoginPolicy{MaxFailures: 5, Window: time.Minute, Lockout: time.Hour}}},
		{cmdDeleteAccount, &deleteAccountCmd{tenant: "t", name: "u"}},
		{cmdDeleteTenant, &deleteTenantCmd{id: "t"}},
		{cmdAssignPlan, &assignPlanCmd{tenant: "t", plan: "free", limits: TenantLimits{Override: true, RequestsPerSec: 5, Burst: 10}, quota: TenantQuota{MaxBytes: 1 << 30}}},
		{cmdUpdateBilling, &updateBillingCmd{ch: BillingChange{Tenant: "t", SetCustomer: true, CustomerID: "cus_1", SubscriptionID: "sub_1", SubscriptionPlan: "metered",
			SetStatus: true, Status: "past_due", PastDueSince: t0, SetSuspended: true, Suspended: true, EventID: "evt_1", EventCreated: t0}, now: t0.UnixNano()}},
		{cmdSetUsagePushed, &setUsagePushedCmd{tenant: "t", through: 7200, now: t0.UnixNano()}},
		{cmdSetPassword, &setPasswordCmd{tenant: "", name: "ops", hash: []byte{4, 5}}},
		{cmdPruneUsageHours, &pruneUsageHoursCmd{now: t0.UnixNano(), retention: 400 * 24 * 3600, max: 10000}},
		{cmdPutTier, &putTierCmd{rec: tierRecord{Tier: Tier{Name: "cold", Type: "s3", Endpoint: "https://x", Bucket: "b", PathStyle: true, Archive: true, StorageClasses: []string{"GLACIER"}, Created: t0}, Sealed: []byte{1, 2}}, create: true}},
		{cmdDeleteTier, &deleteTierCmd{name: "cold"}},
		{cmdRestore, &restoreCmd{RestoreChange{Tenant: "t", Container: "c", Key: "k", VersionID: "v", op: restoreOpComplete, Expiry: t0, From: []string{"b1"}, Parts: remoteParts("cold", "b2"), Cutoff: t0}}},
		{cmdTierJournal, &tierJournalCmd{op: journalOpDoom, blob: "b1", tier: "cold", cutoff: t0, freed: true}},
		{cmdTransition, &transitionCmd{Transition{Tenant: "t", Container: "c", Key: "k", VersionID: "v", From: []string{"b1"}, To: remoteParts("cold", "b2"), Tier: "cold", StorageClass: "GLACIER"}}},
		{cmdSetAccess, &setAccessCmd{tenant: "acme", name: "user/alice", value: `{"Statement":[]}`}},
		{cmdSetVersionACL, &setVersionACLCmd{VersionUpdate{Tenant: "t", Container: "c", Key: "k", HasVersion: true, VersionID: "0000000000000002", SetACL: true, ACL: `{"grants":[]}`}}},
		{cmdSetLifecycleState, &setLifecycleStateCmd{state: []byte(`{"pass":1}`)}},
		{cmdLifecycleDelete, &lifecycleDeleteCmd{LifecycleDeleteInput{Tenant: "t", Container: "c", Key: "k", HasVersion: true, VersionID: "0000000000000001", Created: t0, SoleMarker: true}}},
		{cmdSetOpJob, &setOpJobCmd{name: "decom/node-b", value: []byte(`{"state":"draining"}`)}},
	}
	seen := map[cmdType]bool{}
	for _, b := range bodies {
		seen[b.typ] = true
		id := newRequestID()
		enc := encodeCommand(b.typ, id, t0, b.body)
		c, err := decodeCommand(enc)
		if err != nil {
			t.Fatalf("%v: %v", b.typ, err)
		}
		wantVer := uint8(commandV1)
		if vb, ok := b.body.(versionedBody); ok {
			wantVer = vb.payloadVersion()
		}
		if c.typ != b.typ || c.version != wantVer || c.reqID != id || c.time != t0.UnixNano() || !reflect.DeepEqual(c.body, b.body) {
			t.Fatalf("%v: round trip = %+v", b.typ, c)
		}
		for n := 0; n < len(enc); n++ {
			if _, err := decodeCommand(enc[:n]); err == nil && b.typ != cmdNoop {
				t.Fatalf("%v: prefix of %d bytes decoded", b.typ, n)
			}
		}
	}
	for typ, spec := range cmdTable {
		if spec != nil && !seen[cmdType(typ)] {
			t.Errorf("command %s has no round-trip case", spec.name)
		}
	}
	// Unknown types and versions.
	enc := encodeCommand(cmdType(100), [16]byte{1}, t0, noopCmd{})
	if _, err := decodeCommand(enc); !errors.Is(err, ErrUnsupportedCommand) {
		t.Fatalf("unknown type: %v", err)
	}
	enc = encodeCommand(cmdType(100)|cmdIgnorable, [16]byte{1}, t0, noopCmd{})
	if c, err := decodeCommand(enc); err != nil || c.body != nil {
		t.Fatalf("ignorable unknown type: %+v %v", c, err)
	}
	enc = encodeCommand(cmdPutTenant, [16]byte{1}, t0, &putTenantCmd{Tenant{ID: "t"}})
	enc[1] = 2
	if _, err := decodeCommand(enc); !errors.Is(err, ErrUnsupportedCommand) {
		t.Fatalf("future version: %v", err)
	}
}

// BenchmarkRecordCodec compares the record encoding with encoding/json on
// a typical two-part artifact record; it is the measurement behind the
// choice of a hand-written binary encoding (doc.go).
func BenchmarkRecordCodec(b *testing.B) {
	a := sampleArtifact()
	bin := encodeArtifact(&a)
	js, _ := json.Marshal(a)
	b.Run("binary/encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			encodeArtifact(&a)
		}
		b.ReportMetric(float64(len(bin)), "bytes/record")
	})
	b.Run("binary/decode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := decodeArtifact(bin); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json/encode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := json.Marshal(a); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(js)), "bytes/record")
	})
	b.Run("json/decode", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			var out Artifact
			if err := json.Unmarshal(js, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
