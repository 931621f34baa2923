package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// NodeState is the lifecycle state a node advertises about itself.
type NodeState uint8

// Node states. Part of the gossip wire format: never renumber.
const (
	// NodeJoining: started, not yet serving (catching up, not a voter).
	NodeJoining NodeState = iota
	// NodeActive: serving requests and holding shards.
	NodeActive
	// NodeDraining: finishing the requests in flight before a planned
	// stop; peers place no new shards on it (and, once decommissioning
	// exists, while its shards are moved off).
	NodeDraining
	// NodeLeaving: shutting down on purpose; its departure is Left, not Dead.
	NodeLeaving
)

func (s NodeState) String() string {
	switch s {
	case NodeJoining:
		return "joining"
	case NodeActive:
		return "active"
	case NodeDraining:
		return "draining"
	case NodeLeaving:
		return "leaving"
	}
	return "nodestate(" + strconv.Itoa(int(s)) + ")"
}

// DriveMeta is what a node advertises about one of its drives.
type DriveMeta struct {
	ID          string
	Total, Free int64
	Online      bool
}

// NodeMeta is what a node advertises about itself in gossip. Encoded it
// must fit memberlist's 512 bytes (see encodeNodeMeta).
type NodeMeta struct {
	ID, Version, S3Addr, RPCAddr, AdminAddr string
	State                                   NodeState
	Drives                                  []DriveMeta
	// DrivesTruncated is set by the decoder when the sender had more
	// drives than fit in the metadata; Drives is then a prefix of them.
	DrivesTruncated bool
	// ClusterVersion is the newest cluster version (metastore) the node's
	// binary can apply; 0 from a release that did not advertise it (the
	// first, which applies cluster version 1 only). The cluster version is
	// raised only when every voter advertises at least the target.
	ClusterVersion int
}

// MemberState is what this node knows of a member's liveness.
type MemberState uint8

// Member states.
const (
	// MemberAlive: reachable as far as gossip knows.
	MemberAlive MemberState = iota
	// MemberSuspect: failing probes, not yet declared dead. memberlist
	// (v0.7) does not report suspicion to delegates, so Members does not
	// show it yet; the value is reserved for when it can.
	MemberSuspect
	// MemberDead: declared failed by gossip; kept until it comes back.
	MemberDead
	// MemberLeft: left on purpose (Leave, or its last metadata said
	// NodeLeaving).
	MemberLeft
)

func (s MemberState) String() string {
	switch s {
	case MemberAlive:
		return "alive"
	case MemberSuspect:
		return "suspect"
	case MemberDead:
		return "dead"
	case MemberLeft:
		return "left"
	}
	return "memberstate(" + strconv.Itoa(int(s)) + ")"
}

// Member is one node as this node knows it.
type Member struct {
	ID         string
	GossipAddr string
	State      MemberState
	Meta       NodeMeta
	// Self marks this node.
	Self bool
	// DeadSince is when this node last saw the member go Dead (zero
	// unless State is MemberDead).
	DeadSince time.Time
}

// Gossip timing defaults: tuned for a LAN, so that a killed node is
// declared Dead within a few seconds (probe every 500ms; suspicion lasts
// SuspicionMult*ProbeInterval = 1.5s once another member confirms it, at
// most SuspicionMaxTimeoutMult times that).
const (
	DefaultProbeInterval           = 500 * time.Millisecond
	DefaultProbeTimeout            = 250 * time.Millisecond
	DefaultGossipInterval          = 100 * time.Millisecond
	DefaultPushPullInterval        = 15 * time.Second
	DefaultSuspicionMult           = 3
	DefaultSuspicionMaxTimeoutMult = 2
	DefaultGossipTCPTimeout        = 2 * time.Second
	// DefaultDeadNodeReclaimTime lets a dead node come back under the same
	// id at a new address (a rescheduled container) after this long.
	DefaultDeadNodeReclaimTime = 10 * time.Second

	// DefaultReconnectInterval is how often a node tries to reach the
	// members it holds Dead. memberlist alone never does: after a network
	// partition heals, each side keeps the other Dead forever (it only
	// gossips with members it believes alive).
	DefaultReconnectInterval = 3 * time.Second
	// DefaultReconnectTimeout is how long a Dead member is retried.
	DefaultReconnectTimeout = 24 * time.Hour

	// refreshTimeout bounds Refresh's wait for the update to be sent. The
	// update stays queued and is gossiped after it anyway; the wait only
	// decides what Refresh reports, so it is kept short: a stop waits
	// for a refresh in progress.
	refreshTimeout = 500 * time.Millisecond
	// Join retry backoff.
	joinBackoffMin = 100 * time.Millisecond
	joinBackoffMax = 2 * time.Second
)

// MembershipConfig configures a Membership.
type MembershipConfig struct {
	// NodeID is the member name (required, unique in the cluster, at most
	// 64 bytes).
	NodeID string
	// BindAddr is the gossip host:port, UDP and TCP (required; port 0
	// picks one, and then the advertised port is the bound one).
	BindAddr string
	// AdvertiseAddr is the host:port peers reach us at; the host must be
	// an IP address (default: BindAddr's; memberlist picks a private IP
	// when BindAddr's host is unspecified).
	AdvertiseAddr string
	// Secret is the cluster secret; gossip is encrypted and authenticated
	// with Secret.MemberlistKey (required).
	Secret Secret
	// Meta returns this node's metadata; called whenever memberlist needs
	// it (at start, on Refresh). ID is always set to NodeID. Default:
	// just the ID.
	Meta func() NodeMeta
	// OnChange is called, on a goroutine of the Membership and never
	// under its locks, after members joined, left or changed metadata.
	// Calls are coalesced: one call may cover several changes.
	OnChange func()
	// Logger receives membership and memberlist logs (default
	// slog.Default()).
	Logger *slog.Logger

	// Timing knobs (zero means the default above).
	ProbeInterval           time.Duration
	ProbeTimeout            time.Duration
	GossipInterval          time.Duration
	PushPullInterval        time.Duration
	SuspicionMult           int
	SuspicionMaxTimeoutMult int
	TCPTimeout              time.Duration
	DeadNodeReclaimTime     time.Duration
	ReconnectInterval       time.Duration
	ReconnectTimeout        time.Duration
}

// Validate reports every problem of the configuration at once.
func (c MembershipConfig) Validate() error {
	var errs []error
	if err := validNodeID(c.NodeID); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := splitHostPortNum(c.BindAddr); err != nil {
		errs = append(errs, fmt.Errorf("BindAddr: %v", err))
	}
	if c.AdvertiseAddr != "" {
		if host, _, err := splitHostPortNum(c.AdvertiseAddr); err != nil {
			errs = append(errs, fmt.Errorf("AdvertiseAddr: %v", err))
		} else if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			errs = append(errs, fmt.Errorf("AdvertiseAddr %q: host must be a specific IP address", c.AdvertiseAddr))
		}
	}
	if c.Secret.IsZero() {
		errs = append(errs, ErrNoSecret)
	}
	for name, d := range map[string]time.Duration{
		"ProbeInterval": c.ProbeInterval, "ProbeTimeout": c.ProbeTimeout,
		"GossipInterval": c.GossipInterval, "PushPullInterval": c.PushPullInterval,
		"TCPTimeout": c.TCPTimeout, "DeadNodeReclaimTime": c.DeadNodeReclaimTime,
		"ReconnectInterval": c.ReconnectInterval, "ReconnectTimeout": c.ReconnectTimeout,
	} {
		if d < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", name, d))
		}
	}
	if c.SuspicionMult < 0 || c.SuspicionMaxTimeoutMult < 0 {
		errs = append(errs, errors.New("suspicion multipliers must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return nil
}

func splitHostPortNum(hp string) (string, int, error) {
	host, p, err := net.SplitHostPort(hp)
	if err != nil {
		return "", 0, fmt.Errorf("%q: %v", hp, err)
	}
	port, err := strconv.ParseUint(p, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("%q: bad port", hp)
	}
	return host, int(port), nil
}

// Membership is this node's view of the cluster from gossip.
type Membership struct {
	cfg MembershipConfig
	log *slog.Logger
	ml  *memberlist.Memberlist
	// addr is the advertised gossip host:port, read once: memberlist
	// rewrites its local node in place on every UpdateNode, so reading it
	// later would race with Refresh.
	addr string

	changed chan struct{} // coalesced OnChange signal
	done    chan struct{}
	wg      sync.WaitGroup

	mu struct {
		sync.Mutex
		members map[string]*Member
		leaving bool // Leave was called: advertise NodeLeaving
	}
	closeOnce sync.Once
}

// NewMembership starts gossip on cfg.BindAddr. The node is a cluster of
// one until Join.
func NewMembership(cfg MembershipConfig) (*Membership, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	m := &Membership{
		cfg:     cfg,
		log:     cfg.Logger.With("component", "cluster-gossip"),
		changed: make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	m.mu.members = make(map[string]*Member)

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.NodeID
	host, port, _ := splitHostPortNum(cfg.BindAddr)
	mc.BindAddr, mc.BindPort = host, port
	if mc.BindAddr == "" {
		mc.BindAddr = "0.0.0.0"
	}
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if cfg.AdvertiseAddr != "" {
		mc.AdvertiseAddr, mc.AdvertisePort, _ = splitHostPortNum(cfg.AdvertiseAddr)
	} else if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() {
		mc.AdvertiseAddr = host
	}
	mc.SecretKey = cfg.Secret.MemberlistKey()
	mc.GossipVerifyIncoming = true
	mc.GossipVerifyOutgoing = true
	mc.ProbeInterval = orDur(cfg.ProbeInterval, DefaultProbeInterval)
	mc.ProbeTimeout = orDur(cfg.ProbeTimeout, DefaultProbeTimeout)
	mc.GossipInterval = orDur(cfg.GossipInterval, DefaultGossipInterval)
	mc.PushPullInterval = orDur(cfg.PushPullInterval, DefaultPushPullInterval)
	mc.TCPTimeout = orDur(cfg.TCPTimeout, DefaultGossipTCPTimeout)
	mc.DeadNodeReclaimTime = orDur(cfg.DeadNodeReclaimTime, DefaultDeadNodeReclaimTime)
	mc.SuspicionMult = orInt(cfg.SuspicionMult, DefaultSuspicionMult)
	mc.SuspicionMaxTimeoutMult = orInt(cfg.SuspicionMaxTimeoutMult, DefaultSuspicionMaxTimeoutMult)
	mc.GossipToTheDeadTime = 2 * mc.PushPullInterval
	mc.Delegate = (*mlDelegate)(m)
	mc.Events = (*mlEvents)(m)
	mc.Logger = log.New(slogWriter{l: m.log, level: slog.LevelWarn}, "", 0)
	mc.LogOutput = nil

	m.wg.Add(1)
	go m.notifyLoop()
	ml, err := memberlist.Create(mc)
	if err != nil {
		close(m.done)
		m.wg.Wait()
		return nil, fmt.Errorf("cluster: start gossip on %s: %w", cfg.BindAddr, err)
	}
	m.ml = ml
	m.addr = ml.LocalNode().Address()
	m.wg.Add(1)
	go m.reconnectLoop()
	m.log.Info("cluster gossip listening", "addr", m.Addr())
	return m, nil
}

// reconnectLoop contacts the members this node holds Dead, every
// ReconnectInterval, for ReconnectTimeout after they died: a push-pull
// with one that is in fact alive (a healed partition, a restarted node
// that joined someone else) merges the two views again, and the member
// refutes its death with a higher incarnation.
func (m *Membership) reconnectLoop() {
	defer m.wg.Done()
	every := orDur(m.cfg.ReconnectInterval, DefaultReconnectInterval)
	keep := orDur(m.cfg.ReconnectTimeout, DefaultReconnectTimeout)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.done:
			return
		case <-t.C:
		}
		var addrs []string
		m.mu.Lock()
		for _, mem := range m.mu.members {
			if mem.State == MemberDead && !mem.Self && time.Since(mem.DeadSince) < keep {
				addrs = append(addrs, mem.GossipAddr)
			}
		}
		m.mu.Unlock()
		if len(addrs) == 0 {
			continue
		}
		// One memberlist.Join per address, so one unreachable member
		// cannot hide a reachable one.
		for _, a := range addrs {
			select {
			case <-m.done:
				return
			default:
			}
			if n, err := m.ml.Join([]string{a}); n > 0 {
				m.log.Info("reached a member held dead", "addr", a)
			} else {
				m.log.Debug("dead member still unreachable", "addr", a, "err", err)
			}
		}
	}
}

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func orInt(n, def int) int {
	if n == 0 {
		return def
	}
	return n
}

// Addr returns the advertised gossip host:port.
func (m *Membership) Addr() string { return m.addr }

// Join contacts the seeds (host:port) until one answers, retrying with
// backoff until ctx ends. Our own address in addrs is skipped; with no
// other seed there is nothing to join and Join returns nil. One attempt
// cannot be interrupted: Join may return up to TCPTimeout per seed after
// ctx ends.
func (m *Membership) Join(ctx context.Context, addrs []string) error {
	self := m.Addr()
	seeds := slices.DeleteFunc(slices.Clone(addrs), func(a string) bool { return a == self || a == "" })
	if len(seeds) == 0 {
		return nil
	}
	backoff := joinBackoffMin
	for attempt := 1; ; attempt++ {
		select {
		case <-m.done:
			return ErrMembershipClosed
		default:
		}
		n, err := m.ml.Join(seeds)
		if n > 0 {
			m.log.Info("joined cluster", "seeds", seeds, "contacted", n, "attempts", attempt)
			return nil
		}
		if attempt == 1 {
			m.log.Warn("cannot join cluster yet; retrying", "seeds", seeds, "err", err)
		} else {
			m.log.Debug("join attempt failed", "seeds", seeds, "attempt", attempt, "err", err)
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w %v after %d attempts: %w (last error: %v)", ErrJoin, seeds, attempt, ctx.Err(), err)
		case <-m.done:
			return ErrMembershipClosed
		case <-time.After(wait):
		}
		backoff = min(2*backoff, joinBackoffMax)
	}
}

// Members returns every member this node knows, itself and dead or left
// ones included, sorted by ID.
func (m *Membership) Members() []Member {
	m.mu.Lock()
	out := make([]Member, 0, len(m.mu.members))
	for _, mem := range m.mu.members {
		out = append(out, cloneMember(mem))
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Member returns the member with id.
func (m *Membership) Member(id string) (Member, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	mem, ok := m.mu.members[id]
	if !ok {
		return Member{}, false
	}
	return cloneMember(mem), true
}

func cloneMember(mem *Member) Member {
	c := *mem
	c.Meta.Drives = slices.Clone(mem.Meta.Drives)
	return c
}

// Counts returns how many members are in each state.
func (m *Membership) Counts() map[MemberState]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[MemberState]int{MemberAlive: 0, MemberSuspect: 0, MemberDead: 0, MemberLeft: 0}
	for _, mem := range m.mu.members {
		out[mem.State]++
	}
	return out
}

// Refresh gossips this node's current Meta to the cluster.
func (m *Membership) Refresh() error {
	select {
	case <-m.done:
		return ErrMembershipClosed
	default:
	}
	if err := m.ml.UpdateNode(refreshTimeout); err != nil {
		return fmt.Errorf("cluster: gossip metadata update: %w", err)
	}
	return nil
}

// Leave announces that this node leaves on purpose: it first gossips its
// state as NodeLeaving, then memberlist's leave message, waiting up to
// timeout for each. The others then show it as Left, not Dead. Call
// Close afterwards.
func (m *Membership) Leave(timeout time.Duration) error {
	select {
	case <-m.done:
		return ErrMembershipClosed
	default:
	}
	m.mu.Lock()
	m.mu.leaving = true
	m.mu.Unlock()
	var errs []error
	if err := m.ml.UpdateNode(timeout); err != nil {
		errs = append(errs, fmt.Errorf("cluster: announce leaving: %w", err))
	}
	if err := m.ml.Leave(timeout); err != nil {
		errs = append(errs, fmt.Errorf("cluster: leave: %w", err))
	}
	return errors.Join(errs...)
}

// Close stops gossip without announcing anything (others will see this
// node Dead unless Leave was called). Idempotent.
func (m *Membership) Close() error {
	var err error
	m.closeOnce.Do(func() {
		err = m.ml.Shutdown()
		close(m.done)
		m.wg.Wait()
	})
	return err
}

// notifyLoop calls OnChange outside of memberlist's and our locks.
func (m *Membership) notifyLoop() {
	defer m.wg.Done()
	for {
		select {
		case <-m.done:
			return
		case <-m.changed:
			if m.cfg.OnChange != nil {
				m.cfg.OnChange()
			}
		}
	}
}

func (m *Membership) signal() {
	select {
	case m.changed <- struct{}{}:
	default:
	}
}

// localMeta returns this node's metadata as it should be advertised.
func (m *Membership) localMeta() NodeMeta {
	var meta NodeMeta
	if m.cfg.Meta != nil {
		meta = m.cfg.Meta()
	}
	meta.ID = m.cfg.NodeID
	m.mu.Lock()
	if m.mu.leaving {
		meta.State = NodeLeaving
	}
	m.mu.Unlock()
	return meta
}

// update records what memberlist told us about n. memberlist calls the
// event delegate with its node lock held: no calls back into memberlist
// here, and OnChange runs later on notifyLoop.
func (m *Membership) update(n *memberlist.Node, gone bool) {
	meta, err := decodeNodeMeta(n.Meta)
	if err != nil {
		m.log.Warn("undecodable gossip metadata", "node", n.Name, "err", err)
	}
	meta.ID = n.Name
	m.mu.Lock()
	old, known := m.mu.members[n.Name]
	mem := &Member{
		ID:         n.Name,
		GossipAddr: n.Address(),
		State:      MemberAlive,
		Meta:       meta,
		Self:       n.Name == m.cfg.NodeID,
	}
	if err != nil && known {
		mem.Meta = old.Meta // keep what we knew
	}
	if gone {
		// memberlist's Node does not say whether the leave was graceful;
		// Leave gossips NodeLeaving first, so the last metadata does.
		mem.State = MemberDead
		if mem.Meta.State == NodeLeaving {
			mem.State = MemberLeft
		}
		mem.DeadSince = time.Now()
		if known && old.State == MemberDead {
			mem.DeadSince = old.DeadSince
		}
	}
	m.mu.members[n.Name] = mem
	m.mu.Unlock()
	if !known || old.State != mem.State {
		m.log.Info("cluster member changed", "node", n.Name, "state", mem.State.String(), "addr", mem.GossipAddr)
	}
	m.signal()
}

// mlEvents is the memberlist.EventDelegate of a Membership.
type mlEvents Membership

var _ memberlist.EventDelegate = (*mlEvents)(nil)

func (e *mlEvents) NotifyJoin(n *memberlist.Node)   { (*Membership)(e).update(n, false) }
func (e *mlEvents) NotifyUpdate(n *memberlist.Node) { (*Membership)(e).update(n, false) }
func (e *mlEvents) NotifyLeave(n *memberlist.Node)  { (*Membership)(e).update(n, true) }

// mlDelegate is the memberlist.Delegate of a Membership: only metadata.
type mlDelegate Membership

var _ memberlist.Delegate = (*mlDelegate)(nil)

func (d *mlDelegate) NodeMeta(limit int) []byte {
	m := (*Membership)(d)
	b, err := encodeNodeMeta(m.localMeta(), limit)
	if err != nil {
		m.log.Error("gossip metadata does not fit; advertising only the node id", "err", err)
	}
	return b
}
func (d *mlDelegate) NotifyMsg([]byte)                           {}
func (d *mlDelegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *mlDelegate) LocalState(join bool) []byte                { return nil }
func (d *mlDelegate) MergeRemoteState(buf []byte, join bool)     {}

// Gossip metadata encoding (memberlist limits it to 512 bytes):
//
//	byte    format version (nodeMetaVersion)
//	byte    flags: bit 0 = drives truncated, bit 1 = fields dropped
//	byte    NodeState
//	string  ID, Version, S3Addr, RPCAddr, AdminAddr   (uvarint length + bytes)
//	uvarint drive count, then per drive:
//	        string ID, varint Total, varint Free, byte Online (0/1)
//	uvarint ClusterVersion (appended by the second release; absent: 0)
//
// Readers ignore bytes after the last field they know, so a later release
// may append fields without a new version; the version changes only when
// the layout changes incompatibly. Drives that do not fit are dropped from
// the end and flag bit 0 is set. If even the node's addresses do not fit,
// only the ID and state are sent with flag bit 1 set (and an error).
const (
	nodeMetaVersion     = 1
	metaFlagTruncated   = 1 << 0
	metaFlagFieldsGone  = 1 << 1
	metaMaxStringLength = 1 << 12
)

// encodeNodeMeta encodes meta in at most limit bytes.
func encodeNodeMeta(meta NodeMeta, limit int) ([]byte, error) {
	b := make([]byte, 3, 128)
	b[0] = nodeMetaVersion
	b[2] = byte(meta.State)
	for _, s := range []string{meta.ID, meta.Version, meta.S3Addr, meta.RPCAddr, meta.AdminAddr} {
		b = appendMetaString(b, s)
	}
	if len(b)+1 > limit {
		small := []byte{nodeMetaVersion, metaFlagFieldsGone, byte(meta.State)}
		small = appendMetaString(small, meta.ID)
		small = append(small, 0, 0, 0, 0) // Version, S3Addr, RPCAddr, AdminAddr: empty
		small = binary.AppendUvarint(small, 0)
		err := fmt.Errorf("cluster: node metadata needs %d bytes before drives, limit %d", len(b)+1, limit)
		if len(small) > limit {
			return nil, err
		}
		return small, err
	}
	// Encode drives one by one, keeping the longest prefix that fits with
	// its count in front.
	var drives []byte
	n := 0
	for _, d := range meta.Drives {
		next := appendMetaString(drives, d.ID)
		next = binary.AppendVarint(next, d.Total)
		next = binary.AppendVarint(next, d.Free)
		if d.Online {
			next = append(next, 1)
		} else {
			next = append(next, 0)
		}
		if len(b)+uvarintLen(uint64(n+1))+len(next)+uvarintLen(uint64(meta.ClusterVersion)) > limit {
			b[1] |= metaFlagTruncated
			break
		}
		drives, n = next, n+1
	}
	b = binary.AppendUvarint(b, uint64(n))
	b = append(b, drives...)
	return binary.AppendUvarint(b, uint64(max(meta.ClusterVersion, 0))), nil
}

func appendMetaString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func uvarintLen(v uint64) int {
	var tmp [binary.MaxVarintLen64]byte
	return binary.PutUvarint(tmp[:], v)
}

// errMetaFormat marks undecodable gossip metadata.
var errMetaFormat = errors.New("cluster: malformed gossip metadata")

// decodeNodeMeta is the inverse of encodeNodeMeta. Empty input (a node
// without metadata) decodes to the zero NodeMeta.
func decodeNodeMeta(b []byte) (NodeMeta, error) {
	var meta NodeMeta
	if len(b) == 0 {
		return meta, nil
	}
	if b[0] != nodeMetaVersion {
		return meta, fmt.Errorf("%w: version %d, this build reads %d", errMetaFormat, b[0], nodeMetaVersion)
	}
	if len(b) < 3 {
		return meta, fmt.Errorf("%w: %d bytes", errMetaFormat, len(b))
	}
	meta.DrivesTruncated = b[1]&metaFlagTruncated != 0
	meta.State = NodeState(b[2])
	r := metaReader{b: b[3:]}
	for _, p := range []*string{&meta.ID, &meta.Version, &meta.S3Addr, &meta.RPCAddr, &meta.AdminAddr} {
		*p = r.str()
	}
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.err = io.ErrUnexpectedEOF
	}
	for i := uint64(0); i < n && r.err == nil; i++ {
		var d DriveMeta
		d.ID = r.str()
		d.Total = r.varint()
		d.Free = r.varint()
		d.Online = r.byte() == 1
		if r.err == nil {
			meta.Drives = append(meta.Drives, d)
		}
	}
	if r.err == nil && len(r.b) > 0 {
		if v := r.uvarint(); v <= 1<<16 {
			meta.ClusterVersion = int(v)
		}
	}
	if r.err != nil {
		return NodeMeta{}, fmt.Errorf("%w: %v", errMetaFormat, r.err)
	}
	return meta, nil
}

type metaReader struct {
	b   []byte
	err error
}

func (r *metaReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *metaReader) str() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > metaMaxStringLength || n > uint64(len(r.b)) {
		r.err = io.ErrUnexpectedEOF
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *metaReader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.err = io.ErrUnexpectedEOF
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}
