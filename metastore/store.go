package metastore

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/hashicorp/raft"
)

// Store is one node's replica of the metadata: a Raft member whose state
// machine lives in Pebble. All methods are safe for concurrent use. Writes
// go through Raft on the leader (followers forward them with
// Config.Forwarder); reads are linearizable unless Stale is passed.
type Store struct {
	cfg    Config
	logger *slog.Logger
	db     *pebble.DB
	logs   *logStore
	fsm    *fsm
	snaps  *raft.FileSnapshotStore
	trans  raft.Transport
	// ownTrans is the transport Open created (closed by Close), or nil.
	ownTrans *raft.NetworkTransport
	raft     *raft.Raft
	aead     cipher.AEAD

	// readyTerm is the latest term in which this node, as leader, saw an
	// entry of that term committed: from then on its commit index covers
	// every entry committed by earlier leaders, which read-index needs.
	readyTerm atomic.Uint64

	leader struct {
		sync.Mutex
		changed chan struct{} // closed and replaced on every leadership observation
	}
	observer *raft.Observer

	// baseCtx is cancelled (cause ErrClosed) when Close starts; every
	// operation's context derives from it.
	baseCtx    context.Context
	baseCancel context.CancelCauseFunc

	opMu struct {
		sync.Mutex
		closed bool
	}
	ops sync.WaitGroup // public calls in flight
	bg  sync.WaitGroup // goroutines waiting on raft futures, the observer loop

	closeOnce sync.Once
	closeErr  error

	// retries counts attempts repeated after a retryable failure.
	retries atomic.Uint64

	// leaderReads batches ReadIndex (this node leading, asked by
	// followers); barriers batches the read barrier of linearizable
	// reads on this node, forwarded to the leader when it does not lead.
	leaderReads, barriers *readIndexBatcher
}

// errNoLeader: no leader is known (an election is under way); retried.
var errNoLeader = fmt.Errorf("%w: no leader elected", ErrNotLeader)

// errNoForwarder: a follower without Forwarder; not retried.
var errNoForwarder = fmt.Errorf("%w: no forwarder configured", ErrNotLeader)

// Open opens (creating if needed) the store in cfg.Dir and starts its Raft
// node. With cfg.Bootstrap and no existing state, the node becomes the
// single voter of a new cluster and elects itself; use WaitLeader before
// the first write.
func Open(ctx context.Context, cfg Config) (s *Store, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// The caller's logger is expected to carry its own component attribute;
	// Raft's and Pebble's lines add "module".
	logger := cfg.Logger.With("node", cfg.NodeID)
	aead, err := newAEAD(cfg.MasterKey)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("metastore: %w", err)
	}
	s = &Store{cfg: cfg, logger: logger, aead: aead}
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	cache := pebble.NewCache(cfg.CacheSize)
	defer cache.Unref()
	s.db, err = pebble.Open(filepath.Join(cfg.Dir, "pebble"), pebbleOptions(cache, logger))
	if err != nil {
		return nil, fmt.Errorf("metastore: open pebble: %w", err)
	}
	// Cleanups capture what they close: an error return sets s to nil.
	db := s.db
	cleanup = append(cleanup, func() { _ = db.Close() })

	if s.logs, err = newLogStore(s.db); err != nil {
		return nil, err
	}
	if s.fsm, err = openFSM(s.db, logger); err != nil {
		return nil, err
	}
	if err := checkClusterVersion(s.db); err != nil {
		return nil, err
	}
	s.snaps, err = raft.NewFileSnapshotStoreWithLogger(cfg.Dir, cfg.SnapshotRetain, newHCLog(logger, "snapshots"))
	if err != nil {
		return nil, fmt.Errorf("metastore: snapshot store: %w", err)
	}

	s.trans = cfg.Transport
	if s.trans == nil {
		var adv net.Addr
		if cfg.AdvertiseAddr != "" {
			if adv, err = net.ResolveTCPAddr("tcp", cfg.AdvertiseAddr); err != nil {
				return nil, fmt.Errorf("metastore: advertise address: %w", err)
			}
		}
		stream, err := newTCPStream(cfg.BindAddr, adv)
		if err != nil {
			return nil, fmt.Errorf("metastore: raft transport: %w", err)
		}
		s.ownTrans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			Stream:  stream,
			Logger:  newHCLog(logger, "raft-net"),
			MaxPool: 4,
			Timeout: 10 * time.Second,
		})
		s.trans = s.ownTrans
		ownTrans := s.ownTrans
		cleanup = append(cleanup, func() { _ = ownTrans.Close() })
	}

	rc := cfg.raftConfig()
	if cfg.Bootstrap {
		has, err := raft.HasExistingState(s.logs, s.logs, s.snaps)
		if err != nil {
			return nil, fmt.Errorf("metastore: inspect raft state: %w", err)
		}
		if !has {
			conf := raft.Configuration{Servers: []raft.Server{{
				Suffrage: raft.Voter, ID: rc.LocalID, Address: s.trans.LocalAddr(),
			}}}
			if err := raft.BootstrapCluster(rc, s.logs, s.logs, s.snaps, s.trans, conf); err != nil {
				return nil, fmt.Errorf("metastore: bootstrap: %w", err)
			}
			if err := s.markFreshCluster(); err != nil {
				return nil, fmt.Errorf("metastore: bootstrap: %w", err)
			}
		}
	}
	logCache, err := raft.NewLogCache(1024, s.logs)
	if err != nil {
		return nil, err
	}
	s.raft, err = raft.NewRaft(rc, s.fsm, logCache, s.logs, s.snaps, s.trans)
	if err != nil {
		return nil, fmt.Errorf("metastore: start raft: %w", err)
	}

	s.baseCtx, s.baseCancel = context.WithCancelCause(context.Background())
	s.leader.changed = make(chan struct{})
	obsCh := make(chan raft.Observation, 16)
	s.observer = raft.NewObserver(obsCh, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState:
			return true
		}
		return false
	})
	s.raft.RegisterObserver(s.observer)
	s.bg.Add(1)
	go s.watchLeader(obsCh)
	s.leaderReads = newReadIndexBatcher(s.readIndexLocal)
	s.barriers = newReadIndexBatcher(s.readIndexAnywhere)
	for _, b := range []*readIndexBatcher{s.leaderReads, s.barriers} {
		s.bg.Add(1)
		go func() { defer s.bg.Done(); b.run(s.baseCtx) }()
	}
	logger.Info("metastore: opened", "dir", cfg.Dir, "addr", s.trans.LocalAddr(), "applied", s.fsm.applied.Load())
	return s, nil
}

// raftShutdownGrace is how long raft may take to shut down before its
// transport is closed under it. Shutdown waits for every replication
// goroutine, and one blocked on a follower that stopped reading (a frozen
// or partitioned host; raft's pipeline waits for room with no other way
// out) only returns when its connection fails: closing the transport
// fails it at once, where the network timeout would take 10 s (without
// one, forever).
const raftShutdownGrace = 2 * time.Second

// shutdownRaft shuts raft down, closing its transport after
// raftShutdownGrace when it is still waiting.
func (s *Store) shutdownRaft() error {
	done := make(chan error, 1)
	go func() { done <- s.raft.Shutdown().Error() }()
	t := time.NewTimer(raftShutdownGrace)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	s.logger.Warn("metastore: raft shutdown still waiting on replication; closing its transport", "after", raftShutdownGrace)
	if nt, ok := s.trans.(*raft.NetworkTransport); ok {
		nt.CloseStreams() // pooled connections too, not only the listener
	}
	if c, ok := s.trans.(raft.WithClose); ok {
		_ = c.Close()
	}
	t.Reset(raftShutdownGrace)
	select {
	case err := <-done:
		return err
	case <-t.C:
	}
	// A replication goroutine is still blocked on a connection its
	// transport cannot interrupt. Stop waiting: the process is leaving,
	// and every acknowledged entry is already synced to the log.
	s.logger.Error("metastore: raft shutdown did not finish; leaving it behind", "after", 2*raftShutdownGrace)
	return errRaftStuck
}

// errRaftStuck: raft did not finish shutting down; Close leaves Pebble
// open under it (as after a crash, which recovery handles) instead of
// closing it under a goroutine that may still write.
var errRaftStuck = errors.New("metastore: raft shutdown did not finish")

// pebbleOptions are the options of the store's Pebble instance.
func pebbleOptions(cache *pebble.Cache, logger *slog.Logger) *pebble.Options {
	o := &pebble.Options{
		Cache:  cache,
		Logger: pebbleLogger{l: logger},
		// Twice Pebble's default: Raft log entries, written and soon
		// deleted, share the memtable with the state. Larger tables made
		// inserts and point lookups slower (BenchmarkWriteThreeNodeTCP).
		MemTableSize: 8 << 20,
	}
	// Bloom filters on every level: the state machine looks up many keys
	// that do not exist (a new artifact, a new request id), and without a
	// filter each such miss reads a block of every level.
	o.Levels = make([]pebble.LevelOptions, 7)
	for i := range o.Levels {
		o.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	return o.EnsureDefaults()
}

// watchLeader turns leadership observations into wake-ups of waiters.
func (s *Store) watchLeader(ch <-chan raft.Observation) {
	defer s.bg.Done()
	for {
		select {
		case <-ch:
			s.leader.Lock()
			close(s.leader.changed)
			s.leader.changed = make(chan struct{})
			s.leader.Unlock()
		case <-s.baseCtx.Done():
			return
		}
	}
}

func (s *Store) leaderChanged() <-chan struct{} {
	s.leader.Lock()
	defer s.leader.Unlock()
	return s.leader.changed
}

// Close stops the node: new calls fail with ErrClosed, calls in flight are
// cancelled and awaited, Raft shuts down, then Pebble closes. It is
// idempotent and bounded by Config.CloseTimeout; when that expires, Close
// returns an error and leaves Pebble open rather than pull it from under a
// goroutine still using it.
func (s *Store) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

func (s *Store) close() error {
	s.opMu.Lock()
	s.opMu.closed = true
	s.opMu.Unlock()
	s.baseCancel(ErrClosed)
	deadline := time.NewTimer(s.cfg.CloseTimeout)
	defer deadline.Stop()
	if !waitGroup(&s.ops, deadline.C) {
		return fmt.Errorf("metastore: close: calls still in flight after %v", s.cfg.CloseTimeout)
	}
	// Raft is still running here, so every future a call left behind gets
	// its answer and the goroutines waiting on them end.
	if !waitGroup(&s.bg, deadline.C) {
		return fmt.Errorf("metastore: close: raft futures unanswered after %v", s.cfg.CloseTimeout)
	}
	if s.cfg.HandOverOnClose {
		s.handOver()
	}
	var errs []error
	s.raft.DeregisterObserver(s.observer)
	if err := s.shutdownRaft(); err != nil {
		if errors.Is(err, errRaftStuck) {
			if s.ownTrans != nil {
				_ = s.ownTrans.Close()
			}
			return err
		}
		errs = append(errs, fmt.Errorf("metastore: raft shutdown: %w", err))
	}
	if s.ownTrans != nil {
		if err := s.ownTrans.Close(); err != nil {
			errs = append(errs, fmt.Errorf("metastore: close transport: %w", err))
		}
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("metastore: close pebble: %w", err))
	}
	s.logger.Info("metastore: closed")
	return errors.Join(errs...)
}

// handOver transfers leadership to another voter when this node leads, so
// a planned stop (a rolling upgrade) costs the cluster one quick handover
// instead of an election timeout of failed writes. Best effort: a failure
// is logged and the followers elect as they would after a crash.
func (s *Store) handOver() {
	if s.raft.State() != raft.Leader {
		return
	}
	f := s.raft.GetConfiguration()
	if f.Error() != nil {
		return
	}
	others := 0
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter && string(srv.ID) != s.cfg.NodeID {
			others++
		}
	}
	if others == 0 {
		return
	}
	start := time.Now()
	if err := s.raft.LeadershipTransfer().Error(); err != nil {
		s.logger.Warn("metastore: leadership handover before shutdown failed", "err", err)
		return
	}
	s.logger.Info("metastore: handed leadership over before shutdown", "took", time.Since(start))
}

// waitGroup waits for wg or until stop fires; it reports whether wg
// finished. On timeout the helper goroutine stays until wg finishes.
func waitGroup(wg *sync.WaitGroup, stop <-chan time.Time) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-stop:
		return false
	}
}

// begin registers a call. The returned context is cancelled with cause
// ErrClosed when Close starts; end must be called when the call returns.
func (s *Store) begin(ctx context.Context) (context.Context, func(), error) {
	s.opMu.Lock()
	if s.opMu.closed {
		s.opMu.Unlock()
		return nil, nil, ErrClosed
	}
	s.ops.Add(1)
	s.opMu.Unlock()
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(s.baseCtx, func() { cancel(ErrClosed) })
	return ctx, func() {
		stop()
		cancel(nil)
		s.ops.Done()
	}, nil
}

func (s *Store) isClosed() bool { return s.baseCtx.Err() != nil }

// ctxErr is the error to return for a done context: ErrClosed when the
// Store is closing, else the context's error.
func ctxErr(ctx context.Context) error {
	if c := context.Cause(ctx); errors.Is(c, ErrClosed) {
		return ErrClosed
	}
	return ctx.Err()
}

// Raft returns the Raft node, for membership changes (AddVoter,
// RemoveServer, LeadershipTransfer) and stats. Do not Apply through it:
// commands must be built by the Store.
func (s *Store) Raft() *raft.Raft { return s.raft }

// Addr is the Raft address of this node (the transport's local address,
// with the actual port when BindAddr had port 0).
func (s *Store) Addr() raft.ServerAddress { return s.trans.LocalAddr() }

// NodeID is the Raft server ID of this node.
func (s *Store) NodeID() string { return s.cfg.NodeID }

// AppliedIndex is the index of the last Raft entry reflected in the local
// state.
func (s *Store) AppliedIndex() uint64 { return s.fsm.applied.Load() }

// IsLeader reports whether this node is the Raft leader now.
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Leader returns the Raft address and ID of the current leader, empty when
// none is known.
func (s *Store) Leader() (raft.ServerAddress, raft.ServerID) { return s.raft.LeaderWithID() }

// WaitLeader waits until a leader is known. On the leader itself it also
// waits until an entry of the leader's term is committed, so that writes
// and linearizable reads are served without further delay.
func (s *Store) WaitLeader(ctx context.Context) error {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer end()
	for {
		ch := s.leaderChanged()
		if addr, _ := s.raft.LeaderWithID(); addr != "" {
			if s.raft.State() != raft.Leader {
				return nil
			}
			err := s.ensureTermCommitted(ctx, s.raft.CurrentTerm())
			if err == nil {
				err = s.finishFreshCluster(ctx)
			}
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctxErr(ctx)
			}
		}
		t := time.NewTimer(50 * time.Millisecond)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctxErr(ctx)
		}
		t.Stop()
	}
}

// ensureTermCommitted makes sure an entry of term is committed while this
// node leads in term, issuing a barrier if needed.
func (s *Store) ensureTermCommitted(ctx context.Context, term uint64) error {
	if s.readyTerm.Load() == term {
		return nil
	}
	if ci := s.raft.CommitIndex(); ci > 0 {
		var l raft.Log
		if err := s.logs.GetLog(ci, &l); err == nil && l.Term == term {
			s.readyTerm.Store(term)
			return nil
		}
	}
	if err := s.wait(ctx, s.raft.Barrier(enqueueTimeout(ctx, s.cfg.ApplyTimeout))); err != nil {
		return err
	}
	if s.raft.CurrentTerm() == term {
		s.readyTerm.Store(term)
	}
	return nil
}

// wait waits for a raft future within ctx. A goroutine keeps waiting on the
// future after ctx ends (futures cannot be abandoned); Close waits for it.
func (s *Store) wait(ctx context.Context, f raft.Future) error {
	if ctx.Done() == nil {
		return mapRaftErr(f.Error())
	}
	done := make(chan error, 1)
	s.bg.Add(1)
	go func() {
		defer s.bg.Done()
		done <- f.Error()
	}()
	select {
	case err := <-done:
		return mapRaftErr(err)
	case <-ctx.Done():
		return ctxErr(ctx)
	}
}

// enqueueTimeout is how long raft may take to accept a proposal.
func enqueueTimeout(ctx context.Context, def time.Duration) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		if left := time.Until(d); left < def {
			if left <= 0 {
				return time.Millisecond
			}
			return left
		}
	}
	return def
}

// mapRaftErr translates hashicorp/raft's errors into ours.
func mapRaftErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrAbortedByRestore):
		return fmt.Errorf("%w: %v", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", context.DeadlineExceeded, err)
	}
	return err
}

// newRequestID returns a random 16-byte request id.
func newRequestID() [16]byte {
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		panic(fmt.Sprintf("metastore: random request id: %v", err))
	}
	return id
}

// write builds a command and proposes it; it returns the result body.
func (s *Store) write(ctx context.Context, typ cmdType, body commandBody) ([]byte, error) {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	cmd := encodeCommand(typ, newRequestID(), s.cfg.Now(), body)
	resp, err := s.propose(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return decodeResult(resp)
}

// retryable reports whether a failed attempt to propose or to get a read
// index may be tried again (after a leader change).
func (s *Store) retryable(ctx context.Context, err error) bool {
	if ctx.Err() != nil || s.isClosed() {
		return false
	}
	switch {
	case errors.Is(err, errNoForwarder),
		errors.Is(err, ErrUnsupportedCommand),
		errors.Is(err, ErrCorrupt),
		errors.Is(err, ErrInvalidArgument),
		errors.Is(err, ErrUpgradeRequired),
		errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return false
	}
	// ErrNotLeader, ErrLeadershipLost, a remote ErrClosed, and forwarding
	// failures (the leader may have died): a new leader will answer. A
	// retried command keeps its request id, so it applies at most once.
	return true
}

// retry runs attempt until it succeeds or fails for good, waiting for
// leadership changes (or a short backoff) between attempts. Commands and
// read-index requests are bounded by Config.ApplyTimeout when ctx has no
// earlier deadline.
//
// When the Store's own bound ends the retries (the caller's context is still
// live), the error is ErrNotLeader wrapping the last retryable one (which
// may be ErrLeadershipLost): callers report "unavailable, retry", not their
// own timeout.
func retry[T any](ctx context.Context, s *Store, attempt func(context.Context) (T, error)) (T, error) {
	parent := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.ApplyTimeout)
		defer cancel()
	}
	backoff := 2 * time.Millisecond
	var ambiguous, lastRetryable error
	for {
		ch := s.leaderChanged()
		v, err := attempt(ctx)
		if err == nil {
			return v, nil
		}
		if errors.Is(err, ErrLeadershipLost) {
			ambiguous = err
		}
		if !s.retryable(ctx, err) {
			switch {
			case ctx.Err() != nil && parent.Err() == nil && lastRetryable != nil && !s.isClosed():
				err = fmt.Errorf("%w: none answered within %v: %w", ErrNotLeader, s.cfg.ApplyTimeout, lastRetryable)
			case ctx.Err() != nil:
				err = ctxErr(ctx)
			}
			if ambiguous != nil && !errors.Is(err, ErrLeadershipLost) {
				// An earlier attempt may have been committed: say so.
				err = fmt.Errorf("%w (an earlier attempt: %w)", err, ambiguous)
			}
			return v, err
		}
		lastRetryable = err
		s.retries.Add(1)
		t := time.NewTimer(backoff)
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		backoff = min(2*backoff, 100*time.Millisecond)
	}
}

// propose gets cmd committed and applied, on this node if it leads, else
// through the Forwarder, and returns the encoded result.
func (s *Store) propose(ctx context.Context, cmd []byte) ([]byte, error) {
	return retry(ctx, s, func(ctx context.Context) ([]byte, error) {
		if s.raft.State() == raft.Leader {
			return s.applyLocal(ctx, cmd)
		}
		addr, _ := s.raft.LeaderWithID()
		if addr == "" {
			return nil, errNoLeader
		}
		if s.cfg.Forwarder == nil {
			return nil, errNoForwarder
		}
		fctx, moved := s.whileLeaderIs(ctx, addr)
		res, err := s.cfg.Forwarder.Apply(fctx, string(addr), cmd)
		if m := moved(); err != nil && m && ctx.Err() == nil {
			// The command may have reached the old leader: ambiguous,
			// retried with the same request id.
			return nil, fmt.Errorf("%w: leadership moved from %s while the command was forwarded to it", ErrLeadershipLost, addr)
		}
		return res, err
	})
}

// whileLeaderIs returns a context that ends when ctx does or when another
// node than addr is known to lead, and a func that reports (and, once
// called, stops watching) whether it ended for that reason. A request
// forwarded to a leader that stalled or was cut off then moves to the new
// leader as soon as one is elected, instead of waiting for the old one's
// connection to time out.
func (s *Store) whileLeaderIs(ctx context.Context, addr raft.ServerAddress) (context.Context, func() bool) {
	fctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	var moved atomic.Bool
	go func() {
		for {
			ch := s.leaderChanged()
			if now, _ := s.raft.LeaderWithID(); now != "" && now != addr {
				moved.Store(true)
				cancel(errLeaderMoved)
				return
			}
			select {
			case <-ch:
			case <-done:
				return
			case <-fctx.Done():
				return
			}
		}
	}()
	var once sync.Once
	return fctx, func() bool {
		once.Do(func() { close(done); cancel(nil) })
		return moved.Load()
	}
}

// errLeaderMoved is the cancellation cause of a forward whose leader was
// replaced.
var errLeaderMoved = errors.New("metastore: another node leads now")

// applyLocal proposes cmd to the local Raft node, which must lead.
func (s *Store) applyLocal(ctx context.Context, cmd []byte) ([]byte, error) {
	if s.raft.State() != raft.Leader {
		return nil, ErrNotLeader
	}
	// Keep commands the slowest node cannot apply out of the log. The
	// applied version may trail a raise in flight: that only errs on the
	// side of refusing.
	if err := gate(cmd, s.ClusterVersion()); err != nil {
		return nil, err
	}
	start := time.Now()
	f := s.raft.Apply(cmd, enqueueTimeout(ctx, s.cfg.ApplyTimeout))
	if err := s.wait(ctx, f); err != nil {
		return nil, err
	}
	if s.cfg.OnApply != nil {
		s.cfg.OnApply(time.Since(start))
	}
	resp, ok := f.Response().([]byte)
	if !ok || resp == nil {
		return nil, fmt.Errorf("%w: no apply result for index %d", ErrCorrupt, f.Index())
	}
	return resp, nil
}

// ApplyEncoded is the leader side of Forwarder.Apply: it commits a command
// encoded by another node's Store and returns the encoded result, which
// carries the command's own outcome (including errors such as
// ErrPreconditionFailed). Its error is for failures to commit: ErrNotLeader
// (this node does not lead; it never forwards again), ErrLeadershipLost,
// ErrClosed, ErrUnsupportedCommand (a type or version this node does not
// know), ErrCorrupt (undecodable), or the context's error.
func (s *Store) ApplyEncoded(ctx context.Context, cmd []byte) ([]byte, error) {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer end()
	// Never let a command this node's state machine would panic on into
	// the log.
	if _, err := decodeCommand(cmd); err != nil {
		return nil, err
	}
	return s.applyLocal(ctx, cmd)
}

// ReadIndex is the leader side of Forwarder.ReadIndex: after confirming
// leadership with a quorum, it returns an index such that a replica whose
// state machine has applied it reflects every write acknowledged before
// the call. It fails with ErrNotLeader on a follower.
func (s *Store) ReadIndex(ctx context.Context) (uint64, error) {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer end()
	return s.leaderReads.get(ctx)
}

func (s *Store) readIndexLocal(ctx context.Context) (uint64, error) {
	if s.raft.State() != raft.Leader {
		return 0, ErrNotLeader
	}
	term := s.raft.CurrentTerm()
	if err := s.ensureTermCommitted(ctx, term); err != nil {
		return 0, err
	}
	idx := s.raft.CommitIndex()
	if err := s.wait(ctx, s.raft.VerifyLeader()); err != nil {
		return 0, err
	}
	if s.raft.CurrentTerm() != term {
		return 0, fmt.Errorf("%w: term changed during read index", ErrLeadershipLost)
	}
	return s.lastStateIndex(idx), nil
}

// lastStateIndex returns the greatest index <= idx whose entry reaches the
// state machine. Raft hands the state machine only commands and
// configuration changes; an election's no-op or a barrier at the end of the
// log would leave a replica waiting for an applied index it never reports.
func (s *Store) lastStateIndex(idx uint64) uint64 {
	applied := s.fsm.applied.Load()
	for i := idx; i > applied; i-- {
		var l raft.Log
		err := s.logs.GetLog(i, &l)
		if errors.Is(err, raft.ErrLogNotFound) {
			// Compacted away: a snapshot at or above i was taken or
			// installed here, so every state-changing entry up to i is
			// already in the local state.
			return min(idx, s.fsm.applied.Load())
		}
		if err != nil {
			return idx // cannot tell: the conservative answer
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return min(idx, applied)
}

// readBarrier makes the local state reflect every write acknowledged
// before the call (read-index), unless the read is Stale.
func (s *Store) readBarrier(ctx context.Context, o readOptions) error {
	if o.stale {
		return nil
	}
	return s.scopedBarrier(ctx, func() error {
		idx, err := s.barriers.get(ctx)
		if err != nil {
			return err
		}
		return s.waitApplied(ctx, idx)
	})
}

// readIndexAnywhere is one round of read barriers: the read index from
// this node when it leads, else from the leader, retried through elections
// (bounded by ApplyTimeout: ctx is the store's base context).
func (s *Store) readIndexAnywhere(ctx context.Context) (uint64, error) {
	return retry(ctx, s, func(ctx context.Context) (uint64, error) {
		if s.raft.State() == raft.Leader {
			return s.readIndexLocal(ctx)
		}
		addr, _ := s.raft.LeaderWithID()
		if addr == "" {
			return 0, errNoLeader
		}
		if s.cfg.Forwarder == nil {
			return 0, errNoForwarder
		}
		fctx, moved := s.whileLeaderIs(ctx, addr)
		idx, err := s.cfg.Forwarder.ReadIndex(fctx, string(addr))
		if m := moved(); err != nil && m && ctx.Err() == nil {
			return 0, fmt.Errorf("%w: leadership moved from %s during the read index", ErrNotLeader, addr)
		}
		return idx, err
	})
}

// waitApplied waits until the local state machine has applied idx.
func (s *Store) waitApplied(ctx context.Context, idx uint64) error {
	for {
		a, ch := s.fsm.appliedCh()
		if a >= idx {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
}

// beginRead registers a read, runs the read barrier, and locks the state
// against a concurrent snapshot restore. end must be called after the
// read.
func (s *Store) beginRead(ctx context.Context, opts []ReadOption) (func(), error) {
	ctx, end, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.readBarrier(ctx, readOpts(opts)); err != nil {
		end()
		return nil, err
	}
	s.fsm.restoreMu.RLock()
	if s.fsm.broken.Load() {
		s.fsm.restoreMu.RUnlock()
		end()
		return nil, ErrRestoring
	}
	return func() {
		s.fsm.restoreMu.RUnlock()
		end()
	}, nil
}
