package metastore

import (
	"fmt"
	"time"
)

// Raft command encoding (see doc.go, "Commands"):
//
//	type    1 byte   command type; bit 0x80 set = ignorable by nodes that do not know it
//	version 1 byte   payload version of that type
//	reqID   16 bytes request id chosen by the proposer; retries reuse it
//	time    varint   proposer wall clock, Unix nanoseconds (the FSM's only clock)
//	payload ...      type-specific, see the write methods below
//
// Results (the apply response, also what ApplyEncoded returns):
//
//	version 1 byte (resultV1), code 1 byte (errCode), msg string, body bytes

type cmdType uint8

// cmdIgnorable marks a command type that a node which does not know it may
// skip instead of stopping. Only commands that do not change replicated
// state may carry it.
const cmdIgnorable cmdType = 0x80

// Command types. Never renumber: they are the Raft log format.
const (
	cmdNoop                cmdType = 1
	cmdPutTenant           cmdType = 2
	cmdPutUser             cmdType = 3
	cmdDeleteUser          cmdType = 4
	cmdCreateAccessKey     cmdType = 5
	cmdSetAccessKeyEnabled cmdType = 6
	cmdDeleteAccessKey     cmdType = 7
	cmdCreateContainer     cmdType = 8
	cmdUpdateContainer     cmdType = 9
	cmdDeleteContainer     cmdType = 10
	cmdPutArtifact         cmdType = 11
	cmdDeleteArtifact      cmdType = 12
	cmdCreateUpload        cmdType = 13
	cmdPutPart             cmdType = 14
	cmdCompleteUpload      cmdType = 15
	cmdAbortUpload         cmdType = 16
	cmdCreateTenant        cmdType = 17
	cmdCreateUser          cmdType = 18
	cmdSetTenantState      cmdType = 19
	cmdSetTenantLimits     cmdType = 20
	cmdSetTenantQuota      cmdType = 21
	cmdSetContainerQuota   cmdType = 22
	cmdRecordUsage         cmdType = 23
	cmdSampleStorage       cmdType = 24
	cmdRelocateShard       cmdType = 25
	cmdSetClusterVersion   cmdType = 26
	cmdUpdateVersion       cmdType = 27
	cmdSetContainerConfig  cmdType = 28

	// Console, sessions and billing (range 70-79; cluster version 2).
	cmdPutOperator    cmdType = 70
	cmdDeleteOperator cmdType = 71
	cmdRevokeSession  cmdType = 72
	cmdRecordLogin    cmdType = 73
	cmdDeleteAccount  cmdType = 74
	cmdDeleteTenant   cmdType = 75
	cmdAssignPlan     cmdType = 76
	cmdUpdateBilling  cmdType = 77
	cmdSetUsagePushed cmdType = 78
	cmdSetPassword    cmdType = 79

	// Reliability range (50-59, keys.go).
	cmdPruneUsageHours cmdType = 50

	// Tiers (range 85-89; cluster version 2).
	cmdPutTier     cmdType = 85
	cmdDeleteTier  cmdType = 86
	cmdTierJournal cmdType = 87
	cmdTransition  cmdType = 88
	cmdRestore     cmdType = 89
	// Access control range (90-94, keys.go).
	cmdSetAccess     cmdType = 90
	cmdSetVersionACL cmdType = 91
	// Encryption (range 95-99).
	cmdSetKEK     cmdType = 95
	cmdRewrapKeys cmdType = 96
)

// commandV2 is the second payload version of a command type.
const commandV2 = 2

const (
	commandV1 = 1
	resultV1  = 1
	// cmdHeaderLen is the fixed part of the header (type, version, reqID).
	cmdHeaderLen = 18
)

// command is a decoded Raft command.
type command struct {
	typ     cmdType
	version uint8
	reqID   [16]byte
	time    int64 // proposer wall clock, Unix ns
	body    commandBody
}

// commandBody is the payload of one command type.
type commandBody interface {
	// write appends the payload encoding.
	write(e *encoder)
	// apply executes the command against the transaction. It must be
	// deterministic (a function of the replicated state and the command
	// only) and must write nothing when it returns an error result.
	apply(tx *txn) result
}

// cmdSpec is one row of the dispatch table.
type cmdSpec struct {
	name       string
	maxVersion uint8
	decode     func(d *decoder) commandBody
}

// cmdTable is the dispatch table, indexed by command type (without the
// ignorable bit).
var cmdTable = [...]*cmdSpec{
	cmdNoop:                {"noop", commandV1, func(d *decoder) commandBody { return noopCmd{} }},
	cmdPutTenant:           {"put-tenant", commandV1, decodePutTenant},
	cmdPutUser:             {"put-user", commandV1, decodePutUser},
	cmdDeleteUser:          {"delete-user", commandV1, decodeDeleteUser},
	cmdCreateAccessKey:     {"create-access-key", commandV1, decodeCreateAccessKey},
	cmdSetAccessKeyEnabled: {"set-access-key-enabled", commandV1, decodeSetAccessKeyEnabled},
	cmdDeleteAccessKey:     {"delete-access-key", commandV1, decodeDeleteAccessKey},
	cmdCreateContainer:     {"create-container", commandV2, decodeCreateContainer},
	cmdUpdateContainer:     {"update-container", commandV2, decodeUpdateContainer},
	cmdDeleteContainer:     {"delete-container", commandV1, decodeDeleteContainer},
	cmdPutArtifact:         {"put-artifact", commandV2, decodePutArtifact},
	cmdDeleteArtifact:      {"delete-artifact", commandV2, decodeDeleteArtifact},
	cmdCreateUpload:        {"create-upload", commandV2, decodeCreateUpload},
	cmdPutPart:             {"put-part", commandV2, decodePutPart},
	cmdCompleteUpload:      {"complete-upload", commandV2, decodeCompleteUpload},
	cmdAbortUpload:         {"abort-upload", commandV1, decodeAbortUpload},
	cmdCreateTenant:        {"create-tenant", commandV1, decodeCreateTenant},
	cmdCreateUser:          {"create-user", commandV1, decodeCreateUser},
	cmdSetTenantState:      {"set-tenant-state", commandV1, decodeSetTenantState},
	cmdSetTenantLimits:     {"set-tenant-limits", commandV1, decodeSetTenantLimits},
	cmdSetTenantQuota:      {"set-tenant-quota", commandV1, decodeSetTenantQuota},
	cmdSetContainerQuota:   {"set-container-quota", commandV1, decodeSetContainerQuota},
	cmdRecordUsage:         {"record-usage", commandV1, decodeRecordUsage},
	cmdSampleStorage:       {"sample-storage", commandV1, decodeSampleStorage},
	cmdRelocateShard:       {"relocate-shard", commandV1, decodeRelocateShard},
	cmdSetClusterVersion:   {"set-cluster-version", commandV1, decodeSetClusterVersion},
	cmdUpdateVersion:       {"update-version", commandV1, decodeUpdateVersion},
	cmdSetContainerConfig:  {"set-container-config", commandV1, decodeSetContainerConfig},
	cmdPutOperator:         {"put-operator", commandV1, decodePutOperator},
	cmdDeleteOperator:      {"delete-operator", commandV1, decodeDeleteOperator},
	cmdRevokeSession:       {"revoke-session", commandV1, decodeRevokeSession},
	cmdRecordLogin:         {"record-login", commandV1, decodeRecordLogin},
	cmdDeleteAccount:       {"delete-account", commandV1, decodeDeleteAccount},
	cmdDeleteTenant:        {"delete-tenant", commandV1, decodeDeleteTenant},
	cmdAssignPlan:          {"assign-plan", commandV1, decodeAssignPlan},
	cmdUpdateBilling:       {"update-billing", commandV1, decodeUpdateBilling},
	cmdSetUsagePushed:      {"set-usage-pushed", commandV1, decodeSetUsagePushed},
	cmdSetPassword:         {"set-password", commandV1, decodeSetPassword},
	cmdPruneUsageHours:     {"prune-usage-hours", commandV1, decodePruneUsageHours},
	cmdPutTier:             {"put-tier", commandV1, decodePutTier},
	cmdDeleteTier:          {"delete-tier", commandV1, decodeDeleteTier},
	cmdTierJournal:         {"tier-journal", commandV1, decodeTierJournal},
	cmdTransition:          {"transition", commandV1, decodeTransition},
	cmdRestore:             {"restore", commandV1, decodeRestore},
	cmdSetAccess:           {"set-access", commandV1, decodeSetAccess},
	cmdSetVersionACL:       {"set-version-acl", commandV1, decodeSetVersionACL},
	cmdSetKEK:              {"set-kek", commandV1, decodeSetKEK},
	cmdRewrapKeys:          {"rewrap-keys", commandV1, decodeRewrapKeys},
	cmdSetLifecycleState:   {"set-lifecycle-state", commandV1, decodeSetLifecycleState},
	cmdLifecycleDelete:     {"lifecycle-delete", commandV1, decodeLifecycleDelete},
	cmdSetOpJob:            {"set-op-job", commandV1, decodeSetOpJob},
}

// cmdSince lists, for command types added after the first release, the
// cluster version that introduced each payload version: cmdSince[t][v-1].
// A type not listed is of ClusterVersion1. The Store proposes a command
// only once the cluster version has reached it (clusterversion.go).
var cmdSince = map[cmdType][]int{
	// Payload version 2 of these carries version-2 records (extension
	// fields) and, for writes to artifacts, versioned semantics and a
	// WriteResult (versions.go).
	cmdCreateContainer:    {ClusterVersion1, ClusterVersion2},
	cmdUpdateContainer:    {ClusterVersion1, ClusterVersion2},
	cmdPutArtifact:        {ClusterVersion1, ClusterVersion2},
	cmdDeleteArtifact:     {ClusterVersion1, ClusterVersion2},
	cmdCreateUpload:       {ClusterVersion1, ClusterVersion2},
	cmdPutPart:            {ClusterVersion1, ClusterVersion2},
	cmdCompleteUpload:     {ClusterVersion1, ClusterVersion2},
	cmdUpdateVersion:      {ClusterVersion2},
	cmdSetContainerConfig: {ClusterVersion2},
	cmdSetKEK:             {ClusterVersion2},
	cmdRewrapKeys:         {ClusterVersion2},
	cmdPutOperator:        {ClusterVersion2},
	cmdDeleteOperator:     {ClusterVersion2},
	cmdRevokeSession:      {ClusterVersion2},
	cmdRecordLogin:        {ClusterVersion2},
	cmdDeleteAccount:      {ClusterVersion2},
	cmdDeleteTenant:       {ClusterVersion2},
	cmdAssignPlan:         {ClusterVersion2},
	cmdUpdateBilling:      {ClusterVersion2},
	cmdSetUsagePushed:     {ClusterVersion2},
	cmdSetPassword:        {ClusterVersion2},
	cmdPruneUsageHours:    {ClusterVersion2},
	cmdPutTier:            {ClusterVersion2},
	cmdDeleteTier:         {ClusterVersion2},
	cmdTierJournal:        {ClusterVersion2},
	cmdTransition:         {ClusterVersion2},
	cmdRestore:            {ClusterVersion2},
	cmdSetAccess:          {ClusterVersion2},
	cmdSetVersionACL:      {ClusterVersion2},
	cmdSetLifecycleState:  {ClusterVersion2},
	cmdLifecycleDelete:    {ClusterVersion2},
	cmdSetOpJob:           {ClusterVersion2},
}

func (t cmdType) String() string {
	base := t &^ cmdIgnorable
	if int(base) < len(cmdTable) && cmdTable[base] != nil {
		return cmdTable[base].name
	}
	return fmt.Sprintf("cmd(%d)", uint8(t))
}

// versionedBody is implemented by payloads with more than one version:
// write encodes payloadVersion, and the decode function of the type reads
// the version being decoded from decoder.ver. A body writes the oldest
// version that carries its content, so that commands using no new field
// stay readable by the previous release.
type versionedBody interface {
	payloadVersion() uint8
}

// encodeCommand builds a command with the given request id and time.
func encodeCommand(typ cmdType, reqID [16]byte, at time.Time, body commandBody) []byte {
	e := encoder{b: make([]byte, 0, 128)}
	e.u8(uint8(typ))
	ver := uint8(commandV1)
	if vb, ok := body.(versionedBody); ok {
		ver = vb.payloadVersion()
	}
	e.u8(ver)
	e.raw(reqID[:])
	e.varint(at.UnixNano())
	body.write(&e)
	return e.b
}

// decodeCommand parses a command. Unknown types and versions return an
// error wrapping ErrUnsupportedCommand, except for ignorable types, which
// decode to a command with a nil body. A malformed payload of a known type
// returns an error wrapping ErrCorrupt (with the header filled in when it
// was readable).
func decodeCommand(b []byte) (command, error) {
	var c command
	if len(b) < cmdHeaderLen {
		return c, fmt.Errorf("%w: command of %d bytes", ErrCorrupt, len(b))
	}
	c.typ = cmdType(b[0])
	c.version = b[1]
	copy(c.reqID[:], b[2:18])
	d := decoder{b: b[cmdHeaderLen:]}
	c.time = d.varint()
	if d.err != nil {
		return c, fmt.Errorf("%w: command header", ErrCorrupt)
	}
	base := c.typ &^ cmdIgnorable
	var spec *cmdSpec
	if int(base) < len(cmdTable) {
		spec = cmdTable[base]
	}
	if spec == nil || c.version == 0 || c.version > spec.maxVersion {
		if c.typ&cmdIgnorable != 0 {
			return c, nil
		}
		return c, fmt.Errorf("%w: type %d version %d", ErrUnsupportedCommand, c.typ, c.version)
	}
	d.ver = c.version
	body := spec.decode(&d)
	if err := d.done(); err != nil {
		return c, fmt.Errorf("%w: %s command: %v", ErrCorrupt, spec.name, err)
	}
	if body == nil {
		return c, fmt.Errorf("%w: %s command", ErrCorrupt, spec.name)
	}
	c.body = body
	return c, nil
}

// result is the outcome of one applied command.
type result struct {
	code errCode
	msg  string
	body []byte
}

func okResult(body []byte) result { return result{body: body} }

func errResult(err error) result {
	return result{code: codeOf(err), msg: err.Error()}
}

func (r result) encode() []byte {
	e := encoder{b: make([]byte, 0, 3+len(r.msg)+len(r.body)+2)}
	e.u8(resultV1)
	e.u8(uint8(r.code))
	e.str(r.msg)
	e.bytes(r.body)
	return e.b
}

// decodeResult parses an encoded result into its body and error.
func decodeResult(b []byte) ([]byte, error) {
	d := decoder{b: b}
	v := d.u8()
	code := errCode(d.u8())
	msg := d.str()
	body := d.span()
	if err := d.done(); err != nil || v != resultV1 {
		return nil, fmt.Errorf("%w: apply result", ErrCorrupt)
	}
	if code != codeOK {
		return nil, &refusedError{errorOf(code, msg)}
	}
	return body, nil
}

// --- payloads ---

type noopCmd struct{}

func (noopCmd) write(*encoder) {}

type putTenantCmd struct{ t Tenant }

func (c *putTenantCmd) write(e *encoder) { e.bytes(encodeTenant(c.t)) }
func decodePutTenant(d *decoder) commandBody {
	t, err := decodeTenant(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &putTenantCmd{t}
}

type putUserCmd struct{ u User }

func (c *putUserCmd) write(e *encoder) { e.bytes(encodeUser(c.u)) }
func decodePutUser(d *decoder) commandBody {
	u, err := decodeUser(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &putUserCmd{u}
}

// createTenantCmd creates a tenant only if its id is free (ErrExists).
type createTenantCmd struct{ t Tenant }

func (c *createTenantCmd) write(e *encoder) { e.bytes(encodeTenant(c.t)) }
func decodeCreateTenant(d *decoder) commandBody {
	t, err := decodeTenant(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &createTenantCmd{t}
}

// createUserCmd creates a user of an existing tenant (ErrNotFound) only
// if the name is free (ErrExists).
type createUserCmd struct{ u User }

func (c *createUserCmd) write(e *encoder) { e.bytes(encodeUser(c.u)) }
func decodeCreateUser(d *decoder) commandBody {
	u, err := decodeUser(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &createUserCmd{u}
}

// setTenantStateCmd changes an existing tenant's state (ErrNotFound).
type setTenantStateCmd struct{ id, state string }

func (c *setTenantStateCmd) write(e *encoder) { e.str(c.id); e.str(c.state) }
func decodeSetTenantState(d *decoder) commandBody {
	return &setTenantStateCmd{id: d.str(), state: d.str()}
}

type deleteUserCmd struct{ tenant, name string }

func (c *deleteUserCmd) write(e *encoder) { e.str(c.tenant); e.str(c.name) }
func decodeDeleteUser(d *decoder) commandBody {
	return &deleteUserCmd{tenant: d.str(), name: d.str()}
}

type createAccessKeyCmd struct{ k accessKeyRecord }

func (c *createAccessKeyCmd) write(e *encoder) { e.bytes(encodeAccessKey(c.k)) }
func decodeCreateAccessKey(d *decoder) commandBody {
	k, err := decodeAccessKey(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &createAccessKeyCmd{k}
}

type setAccessKeyEnabledCmd struct {
	id      string
	enabled bool
}

func (c *setAccessKeyEnabledCmd) write(e *encoder) { e.str(c.id); e.bool(c.enabled) }
func decodeSetAccessKeyEnabled(d *decoder) commandBody {
	return &setAccessKeyEnabledCmd{id: d.str(), enabled: d.bool()}
}

type deleteAccessKeyCmd struct{ id string }

func (c *deleteAccessKeyCmd) write(e *encoder) { e.str(c.id) }
func decodeDeleteAccessKey(d *decoder) commandBody {
	return &deleteAccessKeyCmd{id: d.str()}
}

type createContainerCmd struct{ c Container }

// payloadVersion: a container with version-2 fields is a version-2
// payload (the embedded record says its own version).
func (c *createContainerCmd) payloadVersion() uint8 { return containerPayloadVersion(&c.c) }
func (c *createContainerCmd) write(e *encoder)      { e.bytes(encodeContainer(c.c)) }

func containerPayloadVersion(c *Container) uint8 {
	if len(containerExt(c)) > 0 {
		return commandV2
	}
	return commandV1
}
func decodeCreateContainer(d *decoder) commandBody {
	c, err := decodeContainer(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &createContainerCmd{c}
}

type updateContainerCmd struct{ c Container }

func (c *updateContainerCmd) payloadVersion() uint8 { return containerPayloadVersion(&c.c) }
func (c *updateContainerCmd) write(e *encoder)      { e.bytes(encodeContainer(c.c)) }
func decodeUpdateContainer(d *decoder) commandBody {
	c, err := decodeContainer(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &updateContainerCmd{c}
}

type deleteContainerCmd struct{ tenant, name string }

func (c *deleteContainerCmd) write(e *encoder) { e.str(c.tenant); e.str(c.name) }
func decodeDeleteContainer(d *decoder) commandBody {
	return &deleteContainerCmd{tenant: d.str(), name: d.str()}
}

func writeCond(e *encoder, c Cond) {
	e.bool(c.IfNoneMatch)
	e.str(c.IfMatchETag)
}

func readCond(d *decoder) Cond {
	return Cond{IfNoneMatch: d.bool(), IfMatchETag: d.str()}
}

// putArtifactCmd stores an artifact. Payload version 1 (the first
// release): the artifact's version-1 fields and the condition; it replaces
// the current record and answers the replaced one. Version 2: the artifact
// record (its own version byte) and the condition; it follows the
// container's versioning state and answers a WriteResult.
type putArtifactCmd struct {
	v    uint8
	a    Artifact
	cond Cond
}

func (c *putArtifactCmd) payloadVersion() uint8 { return max(c.v, commandV1) }
func (c *putArtifactCmd) write(e *encoder) {
	if c.v >= commandV2 {
		e.bytes(encodeArtifact(&c.a))
	} else {
		writeArtifact(e, &c.a)
	}
	writeCond(e, c.cond)
}
func decodePutArtifact(d *decoder) commandBody {
	c := &putArtifactCmd{}
	if d.ver >= commandV2 {
		c.v = d.ver
		a, err := decodeArtifact(d.span())
		if err != nil {
			d.fail()
			return nil
		}
		c.a = a
	} else {
		c.a = readArtifact(d)
	}
	c.cond = readCond(d)
	return c
}

// deleteArtifactCmd deletes. Payload version 1: tenant, container, key;
// it removes the current record and answers it. Version 2: a DeleteInput
// (tenant, container, key, has-version, version id, if-match, bypass);
// versioned semantics, a WriteResult.
type deleteArtifactCmd struct {
	v  uint8
	in DeleteInput
}

func (c *deleteArtifactCmd) payloadVersion() uint8 { return max(c.v, commandV1) }
func (c *deleteArtifactCmd) write(e *encoder) {
	e.str(c.in.Tenant)
	e.str(c.in.Container)
	e.str(c.in.Key)
	if c.v >= commandV2 {
		e.bool(c.in.HasVersion)
		e.str(c.in.VersionID)
		e.str(c.in.IfMatch)
		e.bool(c.in.BypassGovernance)
	}
}
func decodeDeleteArtifact(d *decoder) commandBody {
	c := &deleteArtifactCmd{}
	c.in.Tenant, c.in.Container, c.in.Key = d.str(), d.str(), d.str()
	if d.ver >= commandV2 {
		c.v = d.ver
		c.in.HasVersion = d.bool()
		c.in.VersionID = d.str()
		c.in.IfMatch = d.str()
		c.in.BypassGovernance = d.bool()
	}
	return c
}

// createUploadCmd: payload version 2 carries the upload's version-2
// fields (its extension section after the version-1 fields).
type createUploadCmd struct{ u Upload }

func (c *createUploadCmd) payloadVersion() uint8 {
	if len(uploadExt(&c.u)) > 0 {
		return commandV2
	}
	return commandV1
}
func (c *createUploadCmd) write(e *encoder) {
	writeUpload(e, &c.u)
	if ext := uploadExt(&c.u); len(ext) > 0 {
		ext.write(e)
	}
}
func decodeCreateUpload(d *decoder) commandBody {
	u := readUpload(d)
	if d.ver >= commandV2 {
		readUploadExt(d, &u)
	}
	return &createUploadCmd{u: u}
}

type uploadRef struct{ tenant, container, key, uploadID string }

func (r *uploadRef) write(e *encoder) {
	e.str(r.tenant)
	e.str(r.container)
	e.str(r.key)
	e.str(r.uploadID)
}

func readUploadRef(d *decoder) uploadRef {
	return uploadRef{tenant: d.str(), container: d.str(), key: d.str(), uploadID: d.str()}
}

// putPartCmd: payload version 2 adds the part's extension section.
type putPartCmd struct {
	ref uploadRef
	p   Part
}

func (c *putPartCmd) payloadVersion() uint8 {
	if len(partExt(&c.p)) > 0 {
		return commandV2
	}
	return commandV1
}
func (c *putPartCmd) write(e *encoder) {
	c.ref.write(e)
	writePart(e, c.p)
	if ext := partExt(&c.p); len(ext) > 0 {
		ext.write(e)
	}
}
func decodePutPart(d *decoder) commandBody {
	ref := readUploadRef(d)
	p := readPart(d)
	if d.ver >= commandV2 {
		readPartExt(d, &p)
	}
	return &putPartCmd{ref: ref, p: p}
}

// completeUploadCmd completes a multipart upload. Payload version 2 has
// the same fields followed by an extension section, and versioned
// semantics with a WriteResult.
//
// Extension tags of the completion payload (1-8 reserved for the object
// surface, 9-15 checksums, 16-23 encryption):
const (
	completeExtChecksums     = 9  // strMap: the artifact's whole-object checksum
	completeExtChecksumType  = 10 // str
	completeExtPartChecksums = 11 // uvarint count, str each
)

func completeExt(in *CompleteInput) extFields {
	var f extFields
	if len(in.Checksums) > 0 {
		f.add(completeExtChecksums, func(e *encoder) { e.strMap(in.Checksums) })
	}
	if in.ChecksumType != "" {
		f.add(completeExtChecksumType, func(e *encoder) { e.str(in.ChecksumType) })
	}
	if len(in.PartChecksums) > 0 {
		f.add(completeExtPartChecksums, func(e *encoder) {
			e.uvarint(uint64(len(in.PartChecksums)))
			for _, v := range in.PartChecksums {
				e.str(v)
			}
		})
	}
	return f
}

type completeUploadCmd struct {
	v  uint8
	in CompleteInput
}

func (c *completeUploadCmd) payloadVersion() uint8 { return max(c.v, commandV1) }

func (c *completeUploadCmd) write(e *encoder) {
	in := &c.in
	e.str(in.Tenant)
	e.str(in.Container)
	e.str(in.Key)
	e.str(in.UploadID)
	e.str(in.VersionID)
	e.time(in.Created)
	e.uvarint(uint64(len(in.Parts)))
	for _, p := range in.Parts {
		e.int(p.Number)
		e.str(p.ETag)
	}
	writeCond(e, in.Cond)
	e.varint(in.MinPartSize)
	if c.v >= commandV2 {
		completeExt(in).write(e)
	}
}

func decodeCompleteUpload(d *decoder) commandBody {
	var in CompleteInput
	in.Tenant = d.str()
	in.Container = d.str()
	in.Key = d.str()
	in.UploadID = d.str()
	in.VersionID = d.str()
	in.Created = d.time()
	if n := d.count(2); n > 0 {
		in.Parts = make([]PartRef, n)
		for i := range in.Parts {
			in.Parts[i].Number = d.int()
			in.Parts[i].ETag = d.str()
		}
	}
	in.Cond = readCond(d)
	in.MinPartSize = d.varint()
	c := &completeUploadCmd{in: in}
	if d.ver >= commandV2 {
		c.v = d.ver
		readExt(d, func(tag uint64, x *decoder) bool {
			switch tag {
			case completeExtChecksums:
				c.in.Checksums = x.strMap()
			case completeExtChecksumType:
				c.in.ChecksumType = x.str()
			case completeExtPartChecksums:
				if n := x.count(1); n > 0 {
					c.in.PartChecksums = make([]string, n)
					for i := range c.in.PartChecksums {
						c.in.PartChecksums[i] = x.str()
					}
				}
			default:
				return false
			}
			return true
		})
	}
	return c
}

type abortUploadCmd struct{ ref uploadRef }

func (c *abortUploadCmd) write(e *encoder) { c.ref.write(e) }
func decodeAbortUpload(d *decoder) commandBody {
	return &abortUploadCmd{ref: readUploadRef(d)}
}

// --- result bodies ---

func encodeOptArtifact(a *Artifact) []byte {
	e := encoder{}
	writeOptArtifact(&e, a)
	return e.b
}

func writeOptArtifact(e *encoder, a *Artifact) {
	if a == nil {
		e.bool(false)
		return
	}
	e.bool(true)
	writeArtifact(e, a)
}

func readOptArtifact(d *decoder) *Artifact {
	if !d.bool() {
		return nil
	}
	a := readArtifact(d)
	return &a
}

func encodeParts(ps []Part) []byte {
	e := encoder{}
	writeParts(&e, ps)
	return e.b
}

func encodeOptPart(p *Part) []byte {
	e := encoder{}
	if p == nil {
		e.bool(false)
	} else {
		e.bool(true)
		writePart(&e, *p)
	}
	return e.b
}

func encodeComplete(a *Artifact, prev *Artifact, unused []Part) []byte {
	e := encoder{}
	writeArtifact(&e, a)
	writeOptArtifact(&e, prev)
	writeParts(&e, unused)
	return e.b
}
