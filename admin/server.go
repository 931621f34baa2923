package admin

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/node"
)

// readyTimeout bounds one readiness probe (drive statfs and rechecks).
const readyTimeout = 5 * time.Second

// catchUpWait is how long readiness lets the state machine catch up with
// the commit index before it calls the replica behind.
const catchUpWait = time.Second

// rechecker is a drive that can probe itself back online (drivers/local).
type rechecker interface {
	Recheck(ctx context.Context) error
}

// ioErrorCounter is a drive that counts its I/O errors (drivers/local).
type ioErrorCounter interface {
	IOErrors() int64
}

// Config is what the admin listener serves from. cmd/vaultaire builds it
// once the node is open.
type Config struct {
	NodeID  string
	Engine  *node.Engine
	Meta    *metastore.Store
	Metrics *metrics.Metrics
	// Drives are this node's drives; WriteQuorum of them must be online
	// for readiness (the write quorum k+1 of the shape they get alone).
	Drives      []node.Drive
	WriteQuorum int
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// Token is the admin API's bearer token (/admin/v1).
	Token string
	// Plans is the plan catalog (zero: billing.DefaultCatalog()).
	Plans billing.Catalog
	// Audit receives one event per admin request (nil: none).
	Audit *audit.Logger
	// Members and RPCClient serve /admin/v1/cluster (nil Members: not
	// served): gossip membership, and the client of the cluster RPC that
	// reaches the metadata leader.
	Members   *cluster.Membership
	RPCClient *http.Client
	// Logger is the node's logger; New adds the component.
	Logger *slog.Logger
}

// Server is the admin listener's handler: health, metrics and the admin
// API.
type Server struct {
	metrics  *metrics.Metrics
	meta     *metastore.Store
	drives   []node.Drive
	quorum   int // drives that must be online: the write quorum k+1
	token    string
	log      *slog.Logger
	started  time.Time
	api      *adminAPI // /admin/v1
	cluster  *clusterAdmin
	scrub    *scrubAdmin
	kms      *kmsAdmin
	driveAPI *drivesAdmin
	// tiersDown lists the cold tiers this node found unreachable.
	tiersDown func() []string
}

// New builds the admin endpoints and registers the engine, drive and
// metastore collectors with cfg.Metrics.
func New(cfg Config) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := newAdmin(cfg.Metrics, cfg.Engine, cfg.Meta, cfg.Drives, cfg.WriteQuorum, cfg.MetricsToken, log.With("component", "admin"))
	plans := cfg.Plans
	if len(plans.Plans) == 0 {
		plans = billing.DefaultCatalog()
	}
	a.api = &adminAPI{eng: cfg.Engine, token: cfg.Token, audit: cfg.Audit, nodeID: cfg.NodeID, plans: plans, log: log.With("component", "admin-api")}
	a.scrub = &scrubAdmin{eng: cfg.Engine}
	a.kms = &kmsAdmin{eng: cfg.Engine}
	a.driveAPI = &drivesAdmin{eng: cfg.Engine}
	if cfg.Members != nil {
		a.cluster = &clusterAdmin{nodeID: cfg.NodeID, members: cfg.Members, client: cfg.RPCClient, meta: cfg.Meta, engine: cfg.Engine}
	}
	return a
}

// SetTenancy gives the admin API this node's tenant runtime once it runs:
// limit changes then apply here at once, and usage reads flush this
// node's meter first.
func (a *Server) SetTenancy(t Tenancy) { a.api.tenancy.Store(&t) }

// newAdmin builds the health and metrics endpoints and registers the
// engine, drive and metastore collectors with m.
func newAdmin(m *metrics.Metrics, eng *node.Engine, meta *metastore.Store, drives []node.Drive, quorum int, token string, log *slog.Logger) *Server {
	a := &Server{metrics: m, meta: meta, drives: drives, quorum: quorum, token: token, log: log, started: time.Now()}
	if eng != nil {
		a.tiersDown = eng.TierDown
	}
	m.RegisterEngine(func() metrics.EngineStats {
		s, sc, rs := eng.Stats(), eng.ScrubStatus(), eng.RestripeStatus()
		return metrics.EngineStats{
			Restriped: s.Restriped, RestripeBytes: s.RestripeBytes, RestripeFailed: s.RestripeFailed,
			RestripePasses: rs.Passes, RestripeLastPending: rs.LastPending,
			ScrubPasses: s.ScrubPasses, ScrubErrors: s.ScrubErrors, ScrubProgress: sc.Progress, ScrubLastComplete: sc.LastPassCompleted,
			Encodes: s.Encodes, Decodes: s.Decodes, ShardsBad: s.ShardsBad,
			Healed: s.Healed, HealFailed: s.HealFailed, HealDropped: s.HealDropped,
			ScrubVerified: s.ScrubVerified, ScrubBad: s.ScrubBad, BlobsCollected: s.BlobsCollected,
			ShardsRelocated: s.ShardsRelocated, UploadsExpired: s.UploadsExpired,
			ShardsMoved: s.ShardsMoved, ShardMoveBytes: s.ShardMoveBytes, ShardsMisplacedSwept: s.ShardsMisplacedSwept,
			DriveHealed: s.DriveHealed, DriveHealBytes: s.DriveHealBytes, DriveHealsRunning: s.DriveHealsRunning,
			ShardsSlow: s.ShardsSlow, ShardsStraggled: s.ShardsStraggled,
		}
	})
	m.RegisterLifecycle(func() metrics.LifecycleStats {
		s := eng.Stats()
		return metrics.LifecycleStats{
			Expired: s.LifecycleExpired, ExpiredBytes: s.LifecycleExpiredBytes,
			Aborted: s.LifecycleAborted, Failures: s.LifecycleFailures, Locked: s.LifecycleLocked,
			Transitioned: s.LifecycleTransitioned, TransitionedBytes: s.LifecycleTransitionedBytes,
			Overdue: s.LifecycleOverdue,
		}
	})
	m.RegisterCapacity(func(ctx context.Context) metrics.CapacityStats {
		c := eng.CapacityStatus(ctx)
		return metrics.CapacityStats{
			Used: c.Used, Total: c.Total, High: c.High, Low: c.Low, Spilling: c.Spilling,
			Moved: c.Moved, MovedBytes: c.MovedBytes, Failures: c.Failures,
		}
	})
	m.RegisterDrives(func(ctx context.Context) []metrics.DriveStats {
		out := make([]metrics.DriveStats, 0, len(drives))
		for _, d := range drives {
			ds := metrics.DriveStats{ID: d.ID, IOErrors: -1}
			if u, err := d.Driver.Usage(ctx); err == nil {
				ds.Online, ds.Capacity, ds.Free = u.Online, u.Total, u.Free
			}
			if c, ok := d.Driver.(ioErrorCounter); ok {
				ds.IOErrors = c.IOErrors()
			}
			out = append(out, ds)
		}
		return out
	})
	m.RegisterMetastore(func() metrics.MetastoreStats {
		s := meta.Stats()
		return metrics.MetastoreStats{
			State: s.State, HasLeader: s.HasLeader, Term: s.Term,
			CommitIndex: s.CommitIndex, AppliedIndex: s.AppliedIndex, LastContact: s.LastContact,
			DiskSpaceUsage: s.DiskSpaceUsage, Compactions: s.Compactions, ReadAmp: s.ReadAmp,
			BlockCacheBytes: s.BlockCacheBytes, MemTableBytes: s.MemTableBytes,
			LogSyncs: s.LogSyncs, LogEntries: s.LogEntries, LogSyncTime: s.LogSyncTime,
		}
	})
	return a
}

// Handler serves the admin listener.
func (a *Server) Handler() http.Handler { return a.handler() }

func (a *Server) handler() http.Handler {
	r := httprouter.New()
	metricsH := a.metrics.Handler()
	r.GET("/metrics", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		if a.token != "" && !bearerOK(req, a.token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vaultaire-metrics"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		metricsH.ServeHTTP(w, req)
	})
	r.GET("/health/live", a.live)
	r.GET("/health/ready", a.ready)
	if a.api != nil {
		a.api.register(r)
		if a.cluster != nil {
			a.cluster.register(r, a.api)
		}
		if a.meta != nil {
			a.api.registerMetastore(r, a.meta)
		}
		if a.driveAPI != nil {
			a.driveAPI.register(r, a.api)
		}
		if a.scrub != nil {
			a.scrub.register(r, a.api)
		}
		if a.kms != nil {
			a.kms.register(r, a.api)
		}
		// Unknown /admin paths answer 401 before 404, so the listener
		// does not tell a caller without the token which routes exist.
		r.NotFound = http.HandlerFunc(a.api.notFound)
		r.MethodNotAllowed = http.HandlerFunc(a.api.notFound)
	}
	return r
}

func bearerOK(r *http.Request, token string) bool {
	const prefix = "Bearer "
	h := r.Header.Get("Authorization")
	if len(h) <= len(prefix) || h[:len(prefix)] != prefix {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h[len(prefix):]), []byte(token)) == 1
}

func (a *Server) live(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "ok",
		"uptime": time.Since(a.started).Round(time.Second).String(),
	})
}

// Readiness is the /health/ready body.
type Readiness struct {
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons,omitempty"`
	Raft    struct {
		State        string `json:"state"`
		HasLeader    bool   `json:"has_leader"`
		CommitIndex  uint64 `json:"commit_index"`
		AppliedIndex uint64 `json:"applied_index"`
		CaughtUp     bool   `json:"caught_up"`
	} `json:"raft"`
	Drives struct {
		Online int               `json:"online"`
		Total  int               `json:"total"`
		Quorum int               `json:"write_quorum"`
		Status map[string]string `json:"status"`
	} `json:"drives"`
	// DegradedTiers are the cold tiers this node last found unreachable:
	// reads of their artifacts answer 503, but the node stays ready.
	DegradedTiers []string `json:"degraded_tiers,omitempty"`
}

// ready answers 200 only when the metastore has a leader, this replica
// has applied every committed entry, and at least the write quorum of
// drives is online. An offline drive that can probe itself is rechecked
// first, so a drive that came back is seen (the Engine has no health loop
// of its own yet).
func (a *Server) ready(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
	ctx, cancel := context.WithTimeout(req.Context(), readyTimeout)
	defer cancel()
	var rd Readiness
	// The applied index trails the commit index for an instant under any
	// write load; a replica is behind only if it cannot catch up quickly.
	wctx, wcancel := context.WithTimeout(ctx, catchUpWait)
	caughtUp := a.meta.WaitCaughtUp(wctx) == nil
	wcancel()
	ms := a.meta.Stats()
	rd.Raft.State, rd.Raft.HasLeader = ms.State, ms.HasLeader
	rd.Raft.CommitIndex, rd.Raft.AppliedIndex, rd.Raft.CaughtUp = ms.CommitIndex, ms.AppliedIndex, caughtUp
	if !ms.HasLeader {
		rd.Reasons = append(rd.Reasons, "metastore: no Raft leader")
	}
	if !caughtUp {
		rd.Reasons = append(rd.Reasons, fmt.Sprintf("metastore: applied index %d behind commit index %d for over %v", ms.AppliedIndex, ms.CommitIndex, catchUpWait))
	}
	rd.Drives.Total, rd.Drives.Quorum = len(a.drives), a.quorum
	rd.Drives.Status = make(map[string]string, len(a.drives))
	for _, d := range a.drives {
		online, why := driveOnline(ctx, d)
		if online {
			rd.Drives.Online++
			rd.Drives.Status[d.ID] = "online"
		} else {
			rd.Drives.Status[d.ID] = "offline: " + why
		}
	}
	if rd.Drives.Online < a.quorum {
		rd.Reasons = append(rd.Reasons, fmt.Sprintf("drives: %d of %d online, write quorum needs %d", rd.Drives.Online, rd.Drives.Total, a.quorum))
	}
	if a.tiersDown != nil {
		rd.DegradedTiers = a.tiersDown()
		sort.Strings(rd.DegradedTiers)
	}
	rd.Ready = len(rd.Reasons) == 0
	status := http.StatusOK
	if !rd.Ready {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
}

// driveOnline reports whether d is online, rechecking it once when it is
// not and it can probe itself.
func driveOnline(ctx context.Context, d node.Drive) (bool, string) {
	u, err := d.Driver.Usage(ctx)
	if err == nil && u.Online {
		return true, ""
	}
	if rc, ok := d.Driver.(rechecker); ok {
		rerr := rc.Recheck(ctx)
		if rerr == nil {
			return true, ""
		}
		err = rerr
	}
	switch {
	case err != nil:
		return false, err.Error()
	case u.Err != nil:
		return false, u.Err.Error()
	}
	return false, "offline"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// Starting answers the admin endpoints while the node is still starting
// (opening drives, replaying the metastore, electing a leader): live, not
// ready. Probes get honest answers from the first moment.
func Starting(started time.Time) http.Handler {
	r := httprouter.New()
	r.GET("/health/live", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "uptime": time.Since(started).Round(time.Second).String()})
	})
	r.GET("/health/ready", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		writeJSON(w, http.StatusServiceUnavailable, Readiness{Reasons: []string{"node: starting"}})
	})
	r.GET("/metrics", func(w http.ResponseWriter, _ *http.Request, _ httprouter.Params) {
		http.Error(w, "starting", http.StatusServiceUnavailable)
	})
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/admin/") {
			writeJSON(w, http.StatusServiceUnavailable, &Error{Code: "ServiceUnavailable", Message: "node starting"})
			return
		}
		http.NotFound(w, req)
	})
	return r
}
