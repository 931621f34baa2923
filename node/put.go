package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/md5lanes"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/sse"
)

// writeQuorum is the number of shards that must be durable before a blob
// write is acknowledged: k+1 when there is parity, so an acknowledged blob
// always survives the loss of one more shard; k when m == 0 (no choice).
func writeQuorum(k, m int) int {
	if m == 0 {
		return k
	}
	return k + 1
}

// shardName is where shard i of a blob lives on its drive. The two-hex
// fan-out directory keeps directories small on local drives.
func shardName(blobID string, i int) string {
	return fmt.Sprintf("blobs/%s/%s/%d", blobID[:2], blobID, i)
}

// blobOfShard parses a shard name back into its blob id ("" if not a shard).
func blobOfShard(name string) string {
	// blobs/ab/<id>/<i>
	const p = "blobs/"
	if len(name) < len(p)+3 || name[:len(p)] != p {
		return ""
	}
	rest := name[len(p)+3:]
	for i := 0; i < len(rest); i++ {
		if rest[i] == '/' {
			return rest[:i]
		}
	}
	return ""
}

// body wraps a request body: it counts, hashes (MD5 for the ETag), and
// enforces the declared size and the size ceiling. The MD5 shares vector
// passes with the other bodies being received (md5lanes); close returns
// its buffers.
type body struct {
	r        io.Reader
	n        int64
	declared int64 // -1 when unknown
	max      int64
	md5      *md5lanes.Digest
}

func newBody(r io.Reader, declared, max int64) *body {
	return &body{r: r, declared: declared, max: max, md5: md5lanes.New()}
}

// close releases the MD5's buffers; the body must not be read afterwards
// (its sum and checkMD5 still work).
func (b *body) close() { b.md5.Close() }

func (b *body) Read(p []byte) (int, error) {
	limit := b.max
	if b.declared >= 0 {
		limit = b.declared
	}
	if b.n >= limit {
		// One byte past the limit tells "too long" from "exactly right".
		var one [1]byte
		n, err := b.r.Read(one[:])
		if n > 0 {
			if b.declared >= 0 {
				return 0, fmt.Errorf("%w: body longer than declared %d bytes", ErrIncompleteBody, b.declared)
			}
			return 0, fmt.Errorf("%w: more than %d bytes", ErrEntityTooLarge, b.max)
		}
		if err == io.EOF {
			return 0, io.EOF
		}
		if err == nil {
			return 0, nil
		}
		return 0, err
	}
	if int64(len(p)) > limit-b.n {
		p = p[:limit-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	b.md5.Write(p[:n])
	if err == io.EOF && b.declared >= 0 && b.n < b.declared {
		return n, fmt.Errorf("%w: got %d of %d bytes", ErrIncompleteBody, b.n, b.declared)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("%w: %w", ErrIncompleteBody, err)
	}
	return n, err
}

func (b *body) sum() []byte { return b.md5.Sum(nil) }

// checkMD5 compares the body's MD5 with the one the client declared.
func (b *body) checkMD5(want []byte) error {
	if len(want) == 0 {
		return nil
	}
	if !bytes.Equal(b.md5.Sum(nil), want) {
		return ErrBadDigest
	}
	return nil
}

// writeBlob erasure-codes r onto k+m drives and returns the blob once at
// least the write quorum of shards is fsynced. On failure every shard it
// wrote is removed (best effort; the sweep removes what a crash leaves).
//
// A shard whose drive stops taking bytes (a stalled or cut-off peer) does
// not hold the write for its connection's timeout: a shard write blocked
// for StallTimeout while the write quorum of the others keeps up is given
// up, and once the write quorum is durable the others get
// StragglerWindow to finish. Shards given up or failed are returned in
// missing; the caller queues them for healing once the blob's record is
// committed.
func (e *Engine) writeBlob(ctx context.Context, r io.Reader) (blob metastore.Blob, missing []int, err error) {
	id := newID()
	shape, picked := e.place(ctx, id)
	n := shape.Data + shape.Parity
	if len(picked) < n {
		return metastore.Blob{}, nil, fmt.Errorf("%w: erasure shape %d+%d needs %d drives, the cluster has %d", ErrUnavailable, shape.Data, shape.Parity, n, len(picked))
	}
	coder, err := e.coders.get(shape)
	if err != nil {
		return metastore.Blob{}, nil, err
	}
	blob = metastore.Blob{ID: id, K: shape.Data, M: shape.Parity, BlockSize: shape.BlockSize, Shards: make([]metastore.ShardLoc, n)}

	writers := make([]io.Writer, n)
	shards := make([]*shardWrite, n)
	errs := make([]error, n)
	done := make(chan int, n) // shard index, once its Put returned
	for i, pd := range picked {
		d := pd.Drive
		blob.Shards[i] = metastore.ShardLoc{Node: d.Node, Drive: d.ID}
		if !pd.online {
			errs[i] = fmt.Errorf("drive %s offline", d.ID)
			continue
		}
		sw := newShardWrite(ctx)
		shards[i], writers[i] = sw, sw
		go func(i int, d Drive) {
			_, err := d.Driver.Put(sw.ctx, shardName(id, i), sw.pr)
			sw.pr.CloseWithError(err) // unblocks the encoder's writes to this shard
			sw.err = err
			// Release the shard's context: until cancelled it stays
			// registered with ctx, which for a background writer
			// (re-striping, recalls) lives as long as the process.
			sw.cancel(errShardDone)
			close(sw.finished)
			done <- i
		}(i, d)
	}
	quorum := writeQuorum(shape.Data, shape.Parity)
	e.stats.encodes.Add(1)
	stopWatch := e.watchStalls(shards, blob.Shards, quorum)
	_, err = coder.Encode(ctx, r, writers, quorum)
	stopWatch()
	if errors.Is(err, erasure.ErrWriteQuorum) {
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	for _, sw := range shards {
		if sw == nil {
			continue
		}
		if err != nil {
			sw.pw.CloseWithError(err)
		} else {
			sw.pw.Close()
		}
	}
	ok := e.awaitShards(shards, blob.Shards, errs, done, quorum, err != nil)
	if err == nil {
		if ok < quorum {
			err = fmt.Errorf("%w: %d of %d shards durable, write quorum %d: %w", ErrUnavailable, ok, n, quorum, errors.Join(errs...))
		} else if ok < n {
			e.log.Warn("blob written below full width", "blob", id, "durable", ok, "width", n)
			for i := range errs {
				if errs[i] != nil || shards[i] == nil {
					missing = append(missing, i)
				}
			}
		}
	}
	if err != nil {
		// A shard given up on may still be in its drive's Put (a temp
		// file, or a rename about to publish it): cancel them all and let
		// them end (settle: at most StallTimeout) before deleting, so
		// nothing lands after the delete. Only shards whose Put has ended
		// are deleted: one still stuck (a peer that stopped answering)
		// would hold the failed request for the delete as long as for the
		// write, so the orphan sweep removes what lands there later.
		for _, sw := range shards {
			if sw != nil {
				sw.giveUp(err)
			}
		}
		e.settle(shards)
		e.deleteShardsNow(context.WithoutCancel(ctx), blob, func(i int) bool { return shards[i] != nil && shards[i].ended() })
		return metastore.Blob{}, nil, err
	}
	e.unsettled(id, shards)
	return blob, missing, nil
}

// unsettled remembers the shard writes of a written blob that were given
// up on (stragglers) and have not ended yet, until they end: a delete of
// the blob (its commit failed, or it was replaced at once) waits for them
// first (deleteBlobNow), so a straggler's late rename cannot publish a
// shard after its blob is gone.
func (e *Engine) unsettled(id string, shards []*shardWrite) {
	var left []*shardWrite
	for _, sw := range shards {
		if sw != nil && !sw.ended() {
			left = append(left, sw)
		}
	}
	if len(left) == 0 {
		return
	}
	e.stragglers.Store(id, left)
	go func() {
		for _, sw := range left {
			<-sw.finished
		}
		e.stragglers.Delete(id)
	}()
}

// settle waits for shard writes that were given up on to end, for at most
// StallTimeout: they were cancelled, so a local one ends at once and a
// remote one when its stream notices; one that does not is left to the
// orphan sweep.
func (e *Engine) settle(shards []*shardWrite) {
	t := time.NewTimer(e.cfg.StallTimeout)
	defer t.Stop()
	for _, sw := range shards {
		if sw == nil {
			continue
		}
		select {
		case <-sw.finished:
		case <-t.C:
			return
		}
	}
}

// shardWrite is one shard's stream into its drive's Put: the encoder
// writes into the pipe, the Put goroutine reads it.
type shardWrite struct {
	ctx    context.Context // the Put's; cancelled to give the shard up
	cancel context.CancelCauseFunc
	pr     *io.PipeReader
	pw     *io.PipeWriter
	// blocked is when the Write in progress began (Unix ns), 0 between
	// Writes: the stall watchdog reads it.
	blocked  atomic.Int64
	err      error         // the Put's result; read after finished is closed
	finished chan struct{} // closed when the Put has returned
}

func newShardWrite(ctx context.Context) *shardWrite {
	pr, pw := io.Pipe()
	sctx, cancel := context.WithCancelCause(ctx)
	return &shardWrite{ctx: sctx, cancel: cancel, pr: pr, pw: pw, finished: make(chan struct{})}
}

func (sw *shardWrite) Write(p []byte) (int, error) {
	sw.blocked.Store(time.Now().UnixNano())
	n, err := sw.pw.Write(p)
	sw.blocked.Store(0)
	return n, err
}

// ended reports whether the shard's Put has returned.
func (sw *shardWrite) ended() bool {
	select {
	case <-sw.finished:
		return true
	default:
		return false
	}
}

// giveUp abandons the shard: its Put is cancelled and the encoder's write
// in progress returns err.
func (sw *shardWrite) giveUp(err error) {
	sw.cancel(err)
	sw.pr.CloseWithError(err)
}

// errShardDone ends the context of a shard write whose Put returned.
var errShardDone = errors.New("node: shard write done")

// Errors of shard writes given up on.
var (
	errShardStalled  = errors.New("node: shard write stalled while the others kept up")
	errShardStraggle = errors.New("node: shard write not durable within the straggler window")
)

// watchStalls gives up, while the encoder runs, on shard writes blocked
// for StallTimeout as long as at least quorum others are not stuck (a
// peer that stopped taking bytes holds the pipeline, and with it every
// other shard, until its connection times out). When fewer than quorum
// keep up and the stuck ones are all on one peer, the write cannot
// succeed without that peer: its shards are given up, which fails the
// write now (unresponsive.go). When writes on several nodes are slow
// together, the drives are slow, not one peer: nothing is given up.
// The returned func stops the watch.
func (e *Engine) watchStalls(shards []*shardWrite, locs []metastore.ShardLoc, quorum int) func() {
	stop := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(max(e.cfg.StallTimeout/4, 10*time.Millisecond))
		defer t.Stop()
		given := make([]bool, len(shards))
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			now := time.Now().UnixNano()
			var stuck []int
			fine := 0
			for i, sw := range shards {
				if sw == nil || given[i] {
					continue
				}
				if b := sw.blocked.Load(); b != 0 && now-b > int64(e.cfg.StallTimeout) {
					stuck = append(stuck, i)
				} else {
					fine++
				}
			}
			if len(stuck) == 0 {
				continue
			}
			if fine < quorum {
				// fine > 0: other shards keep up, so it is the peer, not
				// the drives (a blob all on one peer is never given up).
				if peer := e.soleStuckPeer(stuck, locs); peer != "" && fine > 0 {
					for _, i := range stuck {
						given[i] = true
					}
					e.giveUpPeer(peer, stuck, shards)
				}
				continue
			}
			for _, i := range stuck {
				given[i] = true
				e.stats.shardsStraggled.Add(1)
				shards[i].giveUp(errShardStalled)
			}
		}
	}()
	return func() { close(stop); <-finished }
}

// awaitShards waits for the shards' Puts and fills errs; it returns how
// many succeeded. Once quorum are durable, the rest get StragglerWindow;
// those still running then are given up and not waited for (they are
// missing, healed after the commit). Short of quorum, when every Put
// still running is on one peer, that peer gets StallTimeout from the
// last answer of another shard: then its shards are given up, and the
// write fails without waiting for it (unresponsive.go). After a failed
// encode (failed) every Put is cancelled and awaited, so nothing is left
// writing.
func (e *Engine) awaitShards(shards []*shardWrite, locs []metastore.ShardLoc, errs []error, done <-chan int, quorum int, failed bool) int {
	pending := 0
	for _, sw := range shards {
		if sw != nil {
			pending++
			if failed {
				sw.cancel(errors.New("node: write failed"))
			}
		}
	}
	ok := 0
	returned := make([]bool, len(shards))
	var window <-chan time.Time
	// peerWait runs while, short of quorum, every Put still running is on
	// one peer; it restarts at each answer.
	var peerWait *time.Timer
	var peerC <-chan time.Time
	running := func() []int {
		var out []int
		for i, sw := range shards {
			if sw != nil && !returned[i] {
				out = append(out, i)
			}
		}
		return out
	}
	armPeerWait := func() {
		if peerWait != nil {
			peerWait.Stop()
			peerWait, peerC = nil, nil
		}
		// ok > 0: shards elsewhere answered, and this peer did not.
		if failed || ok == 0 || ok >= quorum || e.soleStuckPeer(running(), locs) == "" {
			return
		}
		peerWait = time.NewTimer(e.cfg.StallTimeout)
		peerC = peerWait.C
	}
	defer func() {
		if peerWait != nil {
			peerWait.Stop()
		}
	}()
	armPeerWait()
	for pending > 0 {
		select {
		case <-peerC:
			stuck := running()
			if peer := e.soleStuckPeer(stuck, locs); peer != "" {
				for _, i := range stuck {
					errs[i] = errPeerUnresponsive
				}
				e.giveUpPeer(peer, stuck, shards)
				return ok
			}
			peerC = nil
		case i := <-done:
			pending--
			returned[i] = true
			errs[i] = shards[i].err
			if errs[i] == nil {
				ok++
			}
			if ok >= quorum && window == nil && pending > 0 && !failed {
				t := time.NewTimer(e.cfg.StragglerWindow)
				defer t.Stop()
				window = t.C
			}
			armPeerWait()
		case <-window:
			for i, sw := range shards {
				if sw != nil && !returned[i] {
					errs[i] = errShardStraggle
					e.stats.shardsStraggled.Add(1)
					sw.giveUp(errShardStraggle)
				}
			}
			return ok
		}
	}
	return ok
}

// placedDrive is a drive chosen for a shard, with the health it had when
// it was chosen (asked once per write: for a local drive it is a statfs).
type placedDrive struct {
	Drive
	online bool
}

// place chooses the shape of a new blob and the drives of its shards, in
// shard order, over this node's drives and the live peers'.
func (e *Engine) place(ctx context.Context, blobID string) (erasure.Shape, []placedDrive) {
	cands := e.candidates(ctx)
	shape := e.shapeFor(cands)
	pd := make([]placeDrive, len(cands))
	for i, c := range cands {
		pd[i] = placeDrive{ID: c.ID, Node: c.Node, Online: c.online}
	}
	idx := place(blobID, pd, shape.Data+shape.Parity, shape.Parity)
	out := make([]placedDrive, len(idx))
	for i, j := range idx {
		out[i] = placedDrive{Drive: cands[j].Drive, online: cands[j].online}
	}
	return shape, out
}

func (e *Engine) driveOnline(ctx context.Context, d Drive) bool {
	u, err := d.Driver.Usage(ctx)
	return err == nil && u.Online
}

// PutArtifact stores one artifact: data first (inline or k+m fsynced
// shards), then the metadata record through Raft, with the write's
// conditions decided atomically by the metastore.
func (e *Engine) PutArtifact(ctx context.Context, tenant string, in PutInput) (ArtifactInfo, error) {
	if in.Size > e.cfg.MaxPutSize {
		return ArtifactInfo{}, ErrEntityTooLarge
	}
	// Fail fast on a missing container before moving any bytes (the
	// metastore checks again when it commits), and take its default
	// encryption. A linearizable read, so a bucket change acknowledged
	// through any node before this write began applies to it; within a
	// request's read scope it costs nothing more (bucketConfig).
	c, err := e.bucketConfig(ctx, tenant, in.Container)
	if err != nil {
		return ArtifactInfo{}, metaErr(err)
	}
	seal, err := e.newSealer(tenant, in.Container, in.Key, defaultEncryption(c, in.Encryption))
	if err != nil {
		return ArtifactInfo{}, err
	}
	b := newBody(in.Body, in.Size, e.cfg.MaxPutSize)
	defer b.close()
	// The version id (none for a null version) and the default retention
	// are the state machine's to decide, with the container's versioning
	// state of the moment.
	rec := metastore.Artifact{
		Tenant: tenant, Container: in.Container, Key: in.Key,
		ContentType: in.ContentType, Headers: in.Headers, Meta: in.Meta, Checksums: in.Checksums,
		StorageClass: in.StorageClass, Tags: in.Tags,
		Retention: metastore.Retention(in.Retention), LegalHold: in.LegalHold,
		Owner: in.Owner, ACL: in.ACL,
	}
	if seal != nil {
		rec.Encryption = seal.rec
	}
	// Peek: a body that ends within the inline threshold is kept inline.
	var missing []int
	head := make([]byte, e.cfg.InlineThreshold+1)
	hn, err := io.ReadFull(b, head)
	switch {
	case (err == io.EOF || err == io.ErrUnexpectedEOF) && seal != nil:
		dk, sealed, err := seal.newKey()
		if err != nil {
			return ArtifactInfo{}, err
		}
		rec.Inline, rec.InlineKey = sse.Encrypt(dk, head[:hn]), sealed
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		rec.Inline = append([]byte(nil), head[:hn]...)
	case err != nil:
		return ArtifactInfo{}, err
	default:
		part, m, err := e.writePart(ctx, seal, io.MultiReader(bytes.NewReader(head[:hn]), b), b)
		if err != nil {
			return ArtifactInfo{}, err
		}
		missing = m
		rec.Parts = []metastore.Part{part}
	}
	if err := b.checkMD5(in.ContentMD5); err != nil {
		e.dropParts(ctx, rec.Parts)
		return ArtifactInfo{}, err
	}
	etag, err := seal.etag(b.sum())
	if err != nil {
		e.dropParts(ctx, rec.Parts)
		return ArtifactInfo{}, err
	}
	rec.Size, rec.ETag, rec.Created = b.n, etag, now()
	if len(rec.Parts) == 1 {
		rec.Parts[0].ETag, rec.Parts[0].Created = rec.ETag, rec.Created
	}
	res, err := e.meta.PutVersion(ctx, rec, metastore.Cond{IfNoneMatch: in.Cond.IfNoneMatch == "*", IfMatchETag: in.Cond.IfMatch})
	if err != nil {
		e.uncommitted(ctx, rec.Parts, err)
		return ArtifactInfo{}, metaErr(err)
	}
	e.gc.laterParts(res.Freed)
	if len(rec.Parts) == 1 {
		e.healLater(rec.Parts[0], missing)
	}
	return toInfo(*res.Version, res.Version.Seq != 0), nil
}

// writePart stores the bytes of r (read through b, which counts them) as
// one blob, sealed first when seal is not nil, and returns the part
// (Number 0, without ETag and times).
func (e *Engine) writePart(ctx context.Context, seal *sealer, r io.Reader, b *body) (metastore.Part, []int, error) {
	var sealed []byte
	if seal != nil {
		dk, s, err := seal.newKey()
		if err != nil {
			return metastore.Part{}, nil, err
		}
		sealed = s
		r = sse.NewEncryptReader(r, dk)
	}
	blob, missing, err := e.writeBlob(ctx, r)
	if err != nil {
		return metastore.Part{}, nil, err
	}
	p := metastore.Part{Size: b.n, Blob: blob, SealedKey: sealed}
	if sealed != nil {
		p.StoredSize = sse.EncryptedSize(b.n)
	}
	return p, missing, nil
}

// healLater queues the shards of a just-committed part that its write
// could not place.
func (e *Engine) healLater(p metastore.Part, missing []int) {
	for _, i := range missing {
		e.heal.missing(p.Blob, p.BlobSize(), i)
	}
}

// dropParts removes the blobs of a write that will not be committed.
func (e *Engine) dropParts(ctx context.Context, parts []metastore.Part) {
	for _, p := range parts {
		e.deleteBlobNow(context.WithoutCancel(ctx), p.Blob)
	}
}

// uncommitted disposes of the blobs written for a metadata command that
// failed with err. A refusal by the state machine (metastore.Refused)
// changed nothing: they go now. Any other failure may hide a commit (a
// reply lost with its leader, a store closed while the command was in the
// log), and deleting then would leave a committed record pointing at
// nothing: they go after the GC delay, and only if no record references
// them.
func (e *Engine) uncommitted(ctx context.Context, parts []metastore.Part, err error) {
	if metastore.Refused(err) {
		e.dropParts(ctx, parts)
		return
	}
	for _, p := range parts {
		e.gc.laterUnlessLive(p.Blob)
	}
}

// DeleteArtifact deletes a key, or one version of it (in.VersionID), as
// S3's DeleteObject does: in a container with a versioning state a delete
// without a version adds a delete marker; a version under object lock is
// not removed (ErrObjectLocked). Deleting a missing key or version is not
// an error.
func (e *Engine) DeleteArtifact(ctx context.Context, tenant string, in DeleteInput) (DeleteResult, error) {
	res, err := e.meta.DeleteVersion(ctx, metastore.DeleteInput{
		Tenant: tenant, Container: in.Container, Key: in.Key,
		VersionID: in.VersionID, HasVersion: in.VersionID != "",
		IfMatch: in.IfMatch, BypassGovernance: in.BypassGovernance,
	})
	if err != nil {
		return DeleteResult{}, metaErr(err)
	}
	e.gc.laterParts(res.Freed)
	var out DeleteResult
	switch {
	case res.Version != nil: // a delete marker
		out = DeleteResult{VersionID: res.Version.VersionID, DeleteMarker: true, Versioned: true}
	case res.Removed != nil && in.VersionID != "":
		out = DeleteResult{VersionID: res.Removed.VersionID, DeleteMarker: res.Removed.DeleteMarker, Versioned: true}
	case in.VersionID != "":
		out = DeleteResult{VersionID: in.VersionID, Versioned: true}
		if in.VersionID == NullVersion {
			out.VersionID = ""
		}
	}
	return out, nil
}
