package metastore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cockroachdb/pebble"
)

// This file holds the cold tiers (see doc.go, "Tiers"): the tier records
// (remote S3 places artifacts' bytes move to, their secrets sealed like
// access-key secrets), each tier's usage, and the tier journal: the remote
// objects that may be garbage.
//
// A version on a tier keeps its Parts, but each part's Blob is a remote
// blob: K=1, M=0, one shard whose location is TierDrive(tier) (Node ""),
// stored on the tier under the name the Engine gives shard 0 of the blob.
// Artifact.Tier names the tier. The blob-reference table covers remote
// blobs as it covers local ones, which is what makes remote deletes safe:
//
//   - Every command that drops a reference to a remote blob also writes a
//     journal entry for it (state JournalDoomed), in the same batch, so a
//     committed delete, overwrite or expiry always leaves a durable
//     to-do, never a remote object nobody remembers.
//   - A transition first records its new remote blob (JournalIntent),
//     uploads, then commits TransitionVersion, which references the blob
//     and clears the intent atomically — only if the version still has the
//     parts the copy started from. An intent older than the Engine's
//     transition timeout is doomed by DoomTierIntent, which a later
//     TransitionVersion then fails to find (ErrPreconditionFailed).
//   - The Engine deletes a doomed remote object only when no record
//     references its blob (a linearizable read): a blob without references
//     never gains one again (blob ids are never reused), so no path deletes
//     remote bytes a committed record names.

// TierDrivePrefix starts the drive id of a remote blob's shard location:
// "tier:" + tier name.
const TierDrivePrefix = "tier:"

// TierDrive is the drive id of the shard location of a blob on tier.
func TierDrive(tier string) string { return TierDrivePrefix + tier }

// BlobTier returns the tier a blob lives on ("" for a local blob).
func BlobTier(b Blob) string {
	if len(b.Shards) == 1 && strings.HasPrefix(b.Shards[0].Drive, TierDrivePrefix) {
		return b.Shards[0].Drive[len(TierDrivePrefix):]
	}
	return ""
}

// Tier is a remote S3-compatible place that versions' bytes move to. Its
// secret key is sealed in the record and only GetTier opens it.
type Tier struct {
	Name string
	// Type is "s3" (the only type).
	Type      string
	Endpoint  string
	Region    string
	Bucket    string
	Prefix    string
	PathStyle bool
	// CAFile is a PEM file every node reads (same path on every node).
	CAFile    string
	AccessKey string
	// Archive: versions on the tier need a restore before GET (S3
	// Glacier's behaviour); otherwise GET streams from the tier.
	Archive bool
	// StorageClasses are the S3 storage classes the tier serves, the
	// first being what its versions report. This is the one place
	// storage-class names map to tiers.
	StorageClasses []string
	Created        time.Time
}

// StorageClass is the class versions on the tier report.
func (t Tier) StorageClass() string {
	if len(t.StorageClasses) > 0 {
		return t.StorageClasses[0]
	}
	if t.Archive {
		return "GLACIER"
	}
	return "STANDARD_IA"
}

// TierUsage is what a tier holds: versions moved there and their bytes.
type TierUsage struct {
	Artifacts, Bytes int64
}

// Journal states.
const (
	// JournalIntent: a transition is uploading the blob; it may become
	// referenced (TransitionVersion) until doomed.
	JournalIntent = 1
	// JournalDoomed: the blob lost a reference (or its transition was
	// abandoned); the remote object goes once no record references it.
	JournalDoomed = 2
)

// JournalEntry is one remote blob that may be garbage.
type JournalEntry struct {
	Blob  string
	Tier  string
	State int
	Since time.Time
	// Bytes and Artifacts are what the blob counted in its tier's usage
	// while referenced (released when the remote object goes).
	Bytes, Artifacts int64
}

// ErrTierInUse: the tier still holds versions or remote objects to delete.
var ErrTierInUse = errors.New("metastore: tier in use")

// ErrRestoreInProgress: a restore of the version is already running.
var ErrRestoreInProgress = errors.New("metastore: restore already in progress")

// Error codes of the tiers range (75-79).
const (
	codeTierInUse         errCode = 75
	codeRestoreInProgress errCode = 76
)

// tierRecord is a Tier with its secret sealed under the master key.
type tierRecord struct {
	Tier
	Sealed []byte
}

func tierKey(name string) []byte { return append(tableKey(tblTier, len(name)), name...) }
func tierUsageKey(name string) []byte {
	return append(tableKey(tblTierUsage, len(name)), name...)
}
func tierJournalKey(blob string) []byte {
	return append(tableKey(tblTierJournal, len(blob)), blob...)
}

func encodeTier(r tierRecord) []byte {
	e := encoder{}
	e.u8(recordV1)
	e.str(r.Name)
	e.str(r.Type)
	e.str(r.Endpoint)
	e.str(r.Region)
	e.str(r.Bucket)
	e.str(r.Prefix)
	e.bool(r.PathStyle)
	e.str(r.CAFile)
	e.str(r.AccessKey)
	e.bool(r.Archive)
	e.strs(r.StorageClasses)
	e.time(r.Created)
	e.bytes(r.Sealed)
	return e.b
}

func decodeTier(b []byte) (tierRecord, error) {
	d := decoder{b: b}
	var r tierRecord
	if v := d.u8(); v != recordV1 && d.err == nil {
		return r, corrupt("tier", fmt.Errorf("unknown version %d", v))
	}
	r.Name, r.Type, r.Endpoint, r.Region, r.Bucket, r.Prefix = d.str(), d.str(), d.str(), d.str(), d.str(), d.str()
	r.PathStyle = d.bool()
	r.CAFile, r.AccessKey = d.str(), d.str()
	r.Archive = d.bool()
	r.StorageClasses = d.strs()
	r.Created = d.time()
	r.Sealed = d.bytes()
	if err := d.done(); err != nil {
		return tierRecord{}, corrupt("tier", err)
	}
	return r, nil
}

func encodeTierUsage(u TierUsage) []byte {
	e := encoder{}
	e.varint(u.Artifacts)
	e.varint(u.Bytes)
	return e.b
}

func decodeTierUsage(b []byte) (TierUsage, error) {
	d := decoder{b: b}
	u := TierUsage{Artifacts: d.varint(), Bytes: d.varint()}
	if err := d.done(); err != nil {
		return TierUsage{}, corrupt("tier usage", err)
	}
	return u, nil
}

func encodeJournal(j JournalEntry) []byte {
	e := encoder{}
	e.u8(recordV1)
	e.str(j.Blob)
	e.str(j.Tier)
	e.int(j.State)
	e.time(j.Since)
	e.varint(j.Bytes)
	e.varint(j.Artifacts)
	return e.b
}

func decodeJournal(b []byte) (JournalEntry, error) {
	d := decoder{b: b}
	var j JournalEntry
	if v := d.u8(); v != recordV1 && d.err == nil {
		return j, corrupt("tier journal", fmt.Errorf("unknown version %d", v))
	}
	j.Blob, j.Tier, j.State, j.Since = d.str(), d.str(), d.int(), d.time()
	j.Bytes, j.Artifacts = d.varint(), d.varint()
	if err := d.done(); err != nil {
		return JournalEntry{}, corrupt("tier journal", err)
	}
	return j, nil
}

// --- reads inside a transaction ---

func (t *txn) tierUsage(name string) (TierUsage, error) {
	v := t.get(tierUsageKey(name))
	if v == nil {
		return TierUsage{}, nil
	}
	return decodeTierUsage(v)
}

func (t *txn) journal(blob string) (*JournalEntry, error) {
	v := t.get(tierJournalKey(blob))
	if v == nil {
		return nil, nil
	}
	j, err := decodeJournal(v)
	return &j, err
}

// blobReferenced reports whether a record references blob.
func (t *txn) blobReferenced(blob string) bool {
	p := blobRefPrefix(blob)
	it := t.iter(p, prefixEnd(p))
	live := it.First()
	mustOK(it.Close())
	return live
}

// doomRemote journals the remote blobs among parts that the running
// command drops a reference to. The entry keeps the usage the blob held,
// released when the remote object goes; a blob another record still
// references (a version moving between tables) is cleared by the Engine
// without a delete.
func (t *txn) doomRemote(parts []Part) {
	for i, p := range parts {
		tier := BlobTier(p.Blob)
		if tier == "" {
			continue
		}
		j := JournalEntry{Blob: p.Blob.ID, Tier: tier, State: JournalDoomed, Since: t.cmdTime(), Bytes: p.Size}
		if i == 0 {
			j.Artifacts = 1
		}
		t.set(tierJournalKey(p.Blob.ID), encodeJournal(j))
	}
}

// --- commands ---

// putTierCmd (85) creates (ErrExists when taken) or replaces (ErrNotFound
// when absent) a tier record.
type putTierCmd struct {
	rec    tierRecord
	create bool
}

func (c *putTierCmd) write(e *encoder) { e.bytes(encodeTier(c.rec)); e.bool(c.create) }
func decodePutTier(d *decoder) commandBody {
	r, err := decodeTier(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &putTierCmd{rec: r, create: d.bool()}
}

func (c *putTierCmd) apply(t *txn) result {
	if err := checkName("tier name", c.rec.Name); err != nil {
		return errResult(err)
	}
	k := tierKey(c.rec.Name)
	switch exists := t.has(k); {
	case c.create && exists:
		return errResult(fmt.Errorf("%w: tier %q", ErrExists, c.rec.Name))
	case !c.create && !exists:
		return errResult(fmt.Errorf("%w: tier %q", ErrNotFound, c.rec.Name))
	}
	t.set(k, encodeTier(c.rec))
	return okResult(nil)
}

// deleteTierCmd (86) deletes a tier that holds no version and has no
// journal entry left (ErrTierInUse).
type deleteTierCmd struct{ name string }

func (c *deleteTierCmd) write(e *encoder) { e.str(c.name) }
func decodeDeleteTier(d *decoder) commandBody {
	return &deleteTierCmd{name: d.str()}
}

func (c *deleteTierCmd) apply(t *txn) result {
	k := tierKey(c.name)
	if !t.has(k) {
		return errResult(fmt.Errorf("%w: tier %q", ErrNotFound, c.name))
	}
	u, err := t.tierUsage(c.name)
	if err != nil {
		return errResult(err)
	}
	if u.Artifacts > 0 || u.Bytes > 0 {
		return errResult(fmt.Errorf("%w: tier %q holds %d versions (%d bytes): recall them first", ErrTierInUse, c.name, u.Artifacts, u.Bytes))
	}
	p := tableKey(tblTierJournal, 0)
	it := t.iter(p, prefixEnd(p))
	pending := 0
	for ok := it.First(); ok; ok = it.Next() {
		j, err := decodeJournal(it.Value())
		if err == nil && j.Tier == c.name {
			pending++
		}
	}
	mustOK(it.Close())
	if pending > 0 {
		return errResult(fmt.Errorf("%w: tier %q has %d remote objects still to delete", ErrTierInUse, c.name, pending))
	}
	t.del(k)
	t.del(tierUsageKey(c.name))
	return okResult(nil)
}

// Journal operations of tierJournalCmd.
const (
	journalOpIntent = 1 // add an intent (ErrExists if the blob has an entry)
	journalOpDoom   = 2 // doom an intent older than the cutoff
	journalOpClear  = 3 // remove an entry; release its usage if freed
)

// tierJournalCmd (87) changes the tier journal. Payload: op, blob, tier,
// cutoff (doom: intents since before it), freed (clear: the remote object
// was deleted and its usage goes).
type tierJournalCmd struct {
	op     uint8
	blob   string
	tier   string
	cutoff time.Time
	freed  bool
}

func (c *tierJournalCmd) write(e *encoder) {
	e.u8(c.op)
	e.str(c.blob)
	e.str(c.tier)
	e.time(c.cutoff)
	e.bool(c.freed)
}

func decodeTierJournal(d *decoder) commandBody {
	return &tierJournalCmd{op: d.u8(), blob: d.str(), tier: d.str(), cutoff: d.time(), freed: d.bool()}
}

func (c *tierJournalCmd) apply(t *txn) result {
	if err := checkName("blob id", c.blob); err != nil {
		return errResult(err)
	}
	j, err := t.journal(c.blob)
	if err != nil {
		return errResult(err)
	}
	switch c.op {
	case journalOpIntent:
		if !t.has(tierKey(c.tier)) {
			return errResult(fmt.Errorf("%w: tier %q", ErrNotFound, c.tier))
		}
		if j != nil {
			return errResult(fmt.Errorf("%w: journal entry of blob %s", ErrExists, c.blob))
		}
		t.set(tierJournalKey(c.blob), encodeJournal(JournalEntry{Blob: c.blob, Tier: c.tier, State: JournalIntent, Since: t.cmdTime()}))
	case journalOpDoom:
		if j == nil || j.State != JournalIntent || !j.Since.Before(c.cutoff) {
			return errResult(fmt.Errorf("%w: no expired intent for blob %s", ErrPreconditionFailed, c.blob))
		}
		j.State = JournalDoomed
		t.set(tierJournalKey(c.blob), encodeJournal(*j))
	case journalOpClear:
		if j == nil {
			return okResult(nil)
		}
		if j.State == JournalIntent && !c.freed {
			// An intent is cleared only by its transition, or doomed.
			return errResult(fmt.Errorf("%w: blob %s has a live intent", ErrPreconditionFailed, c.blob))
		}
		if !c.freed && !t.blobReferenced(c.blob) {
			// A false alarm is cleared only while a record still names
			// the blob: if the last reference went after the caller
			// looked, the entry (rewritten by that command) must stay.
			return errResult(fmt.Errorf("%w: blob %s is no longer referenced", ErrPreconditionFailed, c.blob))
		}
		if c.freed && (j.Bytes != 0 || j.Artifacts != 0) {
			u, err := t.tierUsage(j.Tier)
			if err != nil {
				return errResult(err)
			}
			u.Bytes = max(u.Bytes-j.Bytes, 0)
			u.Artifacts = max(u.Artifacts-j.Artifacts, 0)
			t.set(tierUsageKey(j.Tier), encodeTierUsage(u))
		}
		t.del(tierJournalKey(c.blob))
	default:
		return errResult(fmt.Errorf("%w: journal op %d", ErrInvalidArgument, c.op))
	}
	return okResult(nil)
}

// Transition moves one version's bytes between local drives and a tier:
// the version's parts must still be exactly From (blob ids, in order); they
// become To. Tier is the tier To lives on ("" for local parts, a recall).
// Every remote blob of To must have a journal intent, which the command
// clears. The version keeps everything else, its lock included.
type Transition struct {
	Tenant, Container, Key string
	// VersionID as stored ("" for the null version).
	VersionID    string
	From         []string
	To           []Part
	Tier         string
	StorageClass string
}

// transitionCmd (88) applies a Transition. Result: the updated record.
type transitionCmd struct{ tr Transition }

func (c *transitionCmd) write(e *encoder) {
	tr := &c.tr
	e.str(tr.Tenant)
	e.str(tr.Container)
	e.str(tr.Key)
	e.str(tr.VersionID)
	e.strs(tr.From)
	writePartsV2(e, tr.To)
	e.str(tr.Tier)
	e.str(tr.StorageClass)
}

func decodeTransition(d *decoder) commandBody {
	var tr Transition
	tr.Tenant, tr.Container, tr.Key, tr.VersionID = d.str(), d.str(), d.str(), d.str()
	tr.From = d.strs()
	tr.To = readPartsV2(d)
	tr.Tier, tr.StorageClass = d.str(), d.str()
	return &transitionCmd{tr}
}

func (c *transitionCmd) apply(t *txn) result {
	tr := &c.tr
	if err := checkName("tenant", tr.Tenant); err != nil {
		return errResult(err)
	}
	if err := checkKey(tr.Key); err != nil {
		return errResult(err)
	}
	cur, err := t.currentArtifact(tr.Tenant, tr.Container, tr.Key)
	if err != nil {
		return errResult(err)
	}
	id := tr.VersionID
	if id == "" {
		id = NullVersion
	}
	var target *versionEntry
	if cur != nil && cur.VersionID == tr.VersionID {
		target = &versionEntry{key: artifactKey(tr.Tenant, tr.Container, tr.Key), a: cur}
	} else if target, _, err = t.findVersion(tr.Tenant, tr.Container, tr.Key, id, cur); err != nil {
		return errResult(err)
	}
	if target == nil || target.a.DeleteMarker {
		return errResult(fmt.Errorf("%w: %q version %s", ErrNoSuchVersion, tr.Key, id))
	}
	a := target.a
	if len(a.Parts) != len(tr.From) || len(tr.To) != len(tr.From) {
		return errResult(fmt.Errorf("%w: version %s of %q changed since the copy started", ErrPreconditionFailed, id, tr.Key))
	}
	var size int64
	for i, p := range a.Parts {
		if p.Blob.ID != tr.From[i] || tr.To[i].Size != p.Size {
			return errResult(fmt.Errorf("%w: version %s of %q changed since the copy started", ErrPreconditionFailed, id, tr.Key))
		}
		size += p.Size
	}
	var toTier bool
	for _, p := range tr.To {
		if BlobTier(p.Blob) != tr.Tier {
			return errResult(fmt.Errorf("%w: part blob %s is not on tier %q", ErrInvalidArgument, p.Blob.ID, tr.Tier))
		}
		if tr.Tier != "" {
			toTier = true
			j, err := t.journal(p.Blob.ID)
			if err != nil {
				return errResult(err)
			}
			if j == nil || j.State != JournalIntent || j.Tier != tr.Tier {
				return errResult(fmt.Errorf("%w: no live intent for blob %s (transition timed out)", ErrPreconditionFailed, p.Blob.ID))
			}
		}
	}
	if toTier {
		if !t.has(tierKey(tr.Tier)) {
			return errResult(fmt.Errorf("%w: tier %q", ErrNotFound, tr.Tier))
		}
		for _, p := range tr.To {
			t.del(tierJournalKey(p.Blob.ID))
		}
		u, err := t.tierUsage(tr.Tier)
		if err != nil {
			return errResult(err)
		}
		u.Artifacts++
		u.Bytes += size
		t.set(tierUsageKey(tr.Tier), encodeTierUsage(u))
	}
	t.unrefBlobs(target.key, a.AllParts()) // journals the remote blobs it drops
	if !a.Restore.Expiry.IsZero() {
		t.del(restoreIdxKey(a.Restore.Expiry, a.Tenant, a.Container, a.Key, a.VersionID))
	}
	na := *a
	na.Restore = RestoreState{}
	na.Parts = tr.To
	na.Tier = tr.Tier
	na.StorageClass = tr.StorageClass
	t.refBlobs(target.key, na.Parts)
	t.set(target.key, encodeArtifact(&na))
	e := encoder{}
	writeOptRecord(&e, &na)
	return okResult(e.b)
}

// --- Store API ---

func checkTier(tr Tier) error {
	if err := checkName("tier name", tr.Name); err != nil {
		return err
	}
	if strings.ContainsAny(tr.Name, "/:\x00") {
		return fmt.Errorf("%w: tier name %q has '/', ':' or NUL", ErrInvalidArgument, tr.Name)
	}
	return nil
}

// tierAD is the additional data sealing a tier's secret: it binds the
// secret to its tier and keeps it apart from access keys.
func tierAD(name string) string { return "tier\x00" + name }

// PutTier creates (create: ErrExists when taken) or replaces (ErrNotFound
// when absent) a tier. The secret is sealed on this node before it enters
// the Raft log; only GetTier opens it.
func (s *Store) PutTier(ctx context.Context, tr Tier, secret string, create bool) error {
	if err := checkTier(tr); err != nil {
		return err
	}
	sealed, err := seal(s.aead, tierAD(tr.Name), secret)
	if err != nil {
		return err
	}
	_, err = s.write(ctx, cmdPutTier, &putTierCmd{rec: tierRecord{Tier: tr, Sealed: sealed}, create: create})
	return err
}

// GetTier returns a tier and its secret key, or ErrNotFound.
func (s *Store) GetTier(ctx context.Context, name string, opts ...ReadOption) (Tier, string, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Tier{}, "", err
	}
	defer end()
	v, err := getCopy(s.db, tierKey(name))
	if err != nil {
		return Tier{}, "", err
	}
	if v == nil {
		return Tier{}, "", fmt.Errorf("%w: tier %q", ErrNotFound, name)
	}
	rec, err := decodeTier(v)
	if err != nil {
		return Tier{}, "", err
	}
	secret, err := unseal(s.aead, tierAD(rec.Name), rec.Sealed)
	if err != nil {
		return Tier{}, "", err
	}
	return rec.Tier, secret, nil
}

// ListTiers returns every tier (without secrets) with its usage, by name.
func (s *Store) ListTiers(ctx context.Context, opts ...ReadOption) ([]Tier, []TierUsage, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, nil, err
	}
	defer end()
	recs, err := scan(s.db, tableKey(tblTier, 0), decodeTier)
	if err != nil {
		return nil, nil, err
	}
	tiers := make([]Tier, len(recs))
	usage := make([]TierUsage, len(recs))
	for i, r := range recs {
		tiers[i] = r.Tier
		v, err := getCopy(s.db, tierUsageKey(r.Name))
		if err != nil {
			return nil, nil, err
		}
		if v != nil {
			if usage[i], err = decodeTierUsage(v); err != nil {
				return nil, nil, err
			}
		}
	}
	return tiers, usage, nil
}

// DeleteTier deletes a tier (ErrNotFound; ErrTierInUse while it holds a
// version or a journal entry).
func (s *Store) DeleteTier(ctx context.Context, name string) error {
	_, err := s.write(ctx, cmdDeleteTier, &deleteTierCmd{name: name})
	return err
}

// AddTierIntent journals that a transition is about to upload blob to
// tier.
func (s *Store) AddTierIntent(ctx context.Context, tier, blob string) error {
	_, err := s.write(ctx, cmdTierJournal, &tierJournalCmd{op: journalOpIntent, blob: blob, tier: tier})
	return err
}

// DoomTierIntent dooms the intent of blob if it was recorded before
// cutoff (ErrPreconditionFailed otherwise): its transition can no longer
// commit, and the remote object becomes garbage.
func (s *Store) DoomTierIntent(ctx context.Context, blob string, cutoff time.Time) error {
	_, err := s.write(ctx, cmdTierJournal, &tierJournalCmd{op: journalOpDoom, blob: blob, cutoff: cutoff})
	return err
}

// ClearTierJournal removes the journal entry of blob: freed says its
// remote object was deleted (its usage is released); otherwise a record
// still references the blob and the entry was a false alarm.
func (s *Store) ClearTierJournal(ctx context.Context, blob string, freed bool) error {
	_, err := s.write(ctx, cmdTierJournal, &tierJournalCmd{op: journalOpClear, blob: blob, freed: freed})
	return err
}

// TierJournal returns up to limit journal entries, oldest first (0: all).
func (s *Store) TierJournal(ctx context.Context, limit int, opts ...ReadOption) ([]JournalEntry, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	all, err := scan(s.db, tableKey(tblTierJournal, 0), decodeJournal)
	if err != nil {
		return nil, err
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Since.Before(all[j].Since) })
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// Transition commits a Transition (see its doc) and returns the updated
// version record.
func (s *Store) Transition(ctx context.Context, tr Transition) (Artifact, error) {
	body, err := s.write(ctx, cmdTransition, &transitionCmd{tr})
	if err != nil {
		return Artifact{}, err
	}
	a, err := decodeBody(body, readOptRecord)
	if err != nil || a == nil {
		return Artifact{}, fmt.Errorf("%w: transition result", ErrCorrupt)
	}
	return *a, nil
}

// TierVersions returns up to limit versions (current and noncurrent) whose
// bytes are on tier (0: all). A recall calls it until it returns none.
func (s *Store) TierVersions(ctx context.Context, tier string, limit int, opts ...ReadOption) ([]Artifact, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	var out []Artifact
	for _, tbl := range []byte{tblArtifact, tblVersion} {
		p := []byte{prefixFSM, tbl}
		it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
		if err != nil {
			return nil, err
		}
		for ok := it.First(); ok; ok = it.Next() {
			if err := ctx.Err(); err != nil {
				it.Close()
				return nil, err
			}
			a, err := decodeArtifact(it.Value())
			if err != nil {
				it.Close()
				return nil, err
			}
			if a.Tier == tier {
				out = append(out, a)
				if limit > 0 && len(out) >= limit {
					return out, it.Close()
				}
			}
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RestoreState is the temporary local copy of a version on a tier:
// Ongoing while it is being made, then Parts (local blobs) until Expiry.
type RestoreState struct {
	Ongoing bool
	Expiry  time.Time
	Parts   []Part
}

// restoreIdxKey indexes restores by expiry so that expired copies are
// found without a scan: be64(expiry, Unix ns) lp(tenant) lp(container)
// lp(key) versionID -> empty.
func restoreIdxKey(expiry time.Time, tenant, container, key, versionID string) []byte {
	b := binary.BigEndian.AppendUint64(tableKey(tblRestoreIdx, 8+len(tenant)+len(container)+len(key)+len(versionID)+6), uint64(max(expiry.UnixNano(), 0)))
	b = appendLP(b, tenant)
	b = appendLP(b, container)
	b = appendLP(b, key)
	return append(b, versionID...)
}

// RestoreRef names one restore of the index.
type RestoreRef struct {
	Tenant, Container, Key, VersionID string
	Expiry                            time.Time
}

func parseRestoreIdx(k []byte) (RestoreRef, bool) {
	if len(k) < 2+8 {
		return RestoreRef{}, false
	}
	d := decoder{b: k[2+8:]}
	r := RestoreRef{Expiry: time.Unix(0, int64(binary.BigEndian.Uint64(k[2:10]))).UTC()}
	r.Tenant, r.Container, r.Key = d.str(), d.str(), d.str()
	if d.err != nil {
		return RestoreRef{}, false
	}
	r.VersionID = string(d.b)
	return r, true
}

// Restore operations of restoreCmd.
const (
	restoreOpStart    = 1 // begin (or extend a finished copy's expiry)
	restoreOpComplete = 2 // the copy is made: Parts, no longer ongoing
	restoreOpClear    = 3 // drop the copy (expired by Cutoff, or failed)
)

// RestoreChange is one change of a version's restore.
type RestoreChange struct {
	Tenant, Container, Key string
	VersionID              string // as stored ("" for the null version)
	op                     uint8
	// Expiry of the copy (start).
	Expiry time.Time
	// From are the version's blob ids the copy was made from; Parts the
	// copy's local parts (complete).
	From  []string
	Parts []Part
	// Cutoff: clear only a copy whose expiry is not after it.
	Cutoff time.Time
}

// restoreCmd (89) applies a RestoreChange. Result: the record after the
// change, then the parts the change released (clear).
type restoreCmd struct{ c RestoreChange }

func (c *restoreCmd) write(e *encoder) {
	r := &c.c
	e.str(r.Tenant)
	e.str(r.Container)
	e.str(r.Key)
	e.str(r.VersionID)
	e.u8(r.op)
	e.time(r.Expiry)
	e.strs(r.From)
	writePartsV2(e, r.Parts)
	e.time(r.Cutoff)
}

func decodeRestore(d *decoder) commandBody {
	var r RestoreChange
	r.Tenant, r.Container, r.Key, r.VersionID = d.str(), d.str(), d.str(), d.str()
	r.op = d.u8()
	r.Expiry = d.time()
	r.From = d.strs()
	r.Parts = readPartsV2(d)
	r.Cutoff = d.time()
	return &restoreCmd{r}
}

// locateVersion finds a stored version (VersionID "" is the null one).
func (t *txn) locateVersion(tenant, container, key, versionID string) (*versionEntry, error) {
	if err := checkName("tenant", tenant); err != nil {
		return nil, err
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	cur, err := t.currentArtifact(tenant, container, key)
	if err != nil {
		return nil, err
	}
	id := versionID
	if id == "" {
		id = NullVersion
	}
	if cur != nil && cur.VersionID == versionID {
		return &versionEntry{key: artifactKey(tenant, container, key), a: cur}, nil
	}
	target, _, err := t.findVersion(tenant, container, key, id, cur)
	if err != nil {
		return nil, err
	}
	if target == nil || target.a.DeleteMarker {
		return nil, fmt.Errorf("%w: %q version %s", ErrNoSuchVersion, key, id)
	}
	return target, nil
}

func (c *restoreCmd) apply(t *txn) result {
	r := &c.c
	target, err := t.locateVersion(r.Tenant, r.Container, r.Key, r.VersionID)
	if r.op == restoreOpClear && (errors.Is(err, ErrNoSuchVersion) || errors.Is(err, ErrContainerNotFound)) {
		// The version went (its copy with it): only the index entry is left.
		t.del(restoreIdxKey(r.Expiry, r.Tenant, r.Container, r.Key, r.VersionID))
		e := encoder{}
		writeOptRecord(&e, &Artifact{})
		writePartsV2(&e, nil)
		return okResult(e.b)
	}
	if err != nil {
		return errResult(err)
	}
	a := target.a
	na := *a
	var released []Part
	switch r.op {
	case restoreOpStart:
		if a.Tier == "" {
			return errResult(fmt.Errorf("%w: version %s of %q is not on a tier", ErrInvalidArgument, r.VersionID, r.Key))
		}
		if a.Restore.Ongoing {
			return errResult(fmt.Errorf("%w: %q", ErrRestoreInProgress, r.Key))
		}
		if !a.Restore.Expiry.IsZero() {
			t.del(restoreIdxKey(a.Restore.Expiry, a.Tenant, a.Container, a.Key, a.VersionID))
		}
		na.Restore.Expiry = r.Expiry
		na.Restore.Ongoing = len(a.Restore.Parts) == 0
		t.set(restoreIdxKey(r.Expiry, a.Tenant, a.Container, a.Key, a.VersionID), nil)
	case restoreOpComplete:
		if !a.Restore.Ongoing || len(a.Parts) != len(r.From) {
			return errResult(fmt.Errorf("%w: no restore of %q is running", ErrPreconditionFailed, r.Key))
		}
		for i, p := range a.Parts {
			if p.Blob.ID != r.From[i] {
				return errResult(fmt.Errorf("%w: version %s of %q changed during the restore", ErrPreconditionFailed, r.VersionID, r.Key))
			}
		}
		na.Restore.Ongoing = false
		na.Restore.Parts = r.Parts
		t.refBlobs(target.key, r.Parts)
	case restoreOpClear:
		if a.Restore.Expiry.IsZero() || a.Restore.Expiry.After(r.Cutoff) {
			return errResult(fmt.Errorf("%w: the restored copy of %q has not expired", ErrPreconditionFailed, r.Key))
		}
		released = a.Restore.Parts
		t.unrefBlobs(target.key, released)
		t.del(restoreIdxKey(a.Restore.Expiry, a.Tenant, a.Container, a.Key, a.VersionID))
		na.Restore = RestoreState{}
	default:
		return errResult(fmt.Errorf("%w: restore op %d", ErrInvalidArgument, r.op))
	}
	t.set(target.key, encodeArtifact(&na))
	e := encoder{}
	writeOptRecord(&e, &na)
	writePartsV2(&e, released)
	return okResult(e.b)
}

func (s *Store) restore(ctx context.Context, r RestoreChange) (Artifact, []Part, error) {
	body, err := s.write(ctx, cmdRestore, &restoreCmd{r})
	if err != nil {
		return Artifact{}, nil, err
	}
	type out struct {
		a     *Artifact
		parts []Part
	}
	o, err := decodeBody(body, func(d *decoder) out { return out{readOptRecord(d), readPartsV2(d)} })
	if err != nil || o.a == nil {
		return Artifact{}, nil, fmt.Errorf("%w: restore result", ErrCorrupt)
	}
	return *o.a, o.parts, nil
}

// StartRestore begins a restore of a version on a tier, to expire at
// expiry; on a version already restored it only moves the expiry
// (ErrRestoreInProgress while one runs).
func (s *Store) StartRestore(ctx context.Context, tenant, container, key, versionID string, expiry time.Time) (Artifact, error) {
	a, _, err := s.restore(ctx, RestoreChange{Tenant: tenant, Container: container, Key: key, VersionID: versionID, op: restoreOpStart, Expiry: expiry})
	return a, err
}

// CompleteRestore records the local copy of a restore made from the
// version's blobs from (ErrPreconditionFailed if the version changed).
func (s *Store) CompleteRestore(ctx context.Context, tenant, container, key, versionID string, from []string, parts []Part) (Artifact, error) {
	a, _, err := s.restore(ctx, RestoreChange{Tenant: tenant, Container: container, Key: key, VersionID: versionID, op: restoreOpComplete, From: from, Parts: parts})
	return a, err
}

// ClearRestore drops a restore whose expiry is not after cutoff and
// returns the local parts it released; an index entry whose version is
// gone is removed.
func (s *Store) ClearRestore(ctx context.Context, r RestoreRef, cutoff time.Time) ([]Part, error) {
	_, parts, err := s.restore(ctx, RestoreChange{Tenant: r.Tenant, Container: r.Container, Key: r.Key, VersionID: r.VersionID, op: restoreOpClear, Expiry: r.Expiry, Cutoff: cutoff})
	return parts, err
}

// ExpiredRestores returns up to limit restores whose expiry is not after
// cutoff, oldest first.
func (s *Store) ExpiredRestores(ctx context.Context, cutoff time.Time, limit int, opts ...ReadOption) ([]RestoreRef, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	p := tableKey(tblRestoreIdx, 0)
	upper := binary.BigEndian.AppendUint64(tableKey(tblRestoreIdx, 8), uint64(max(cutoff.UnixNano(), 0))+1)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: upper})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []RestoreRef
	for ok := it.First(); ok && (limit <= 0 || len(out) < limit); ok = it.Next() {
		if r, ok := parseRestoreIdx(it.Key()); ok {
			out = append(out, r)
		}
	}
	return out, it.Error()
}
