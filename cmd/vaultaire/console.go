package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/billing/stripe"
	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/console"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/tenancy"
)

var _ console.Engine = (*node.Engine)(nil)

// loadPlans reads the plan catalog of --plans, or the built-in one.
func loadPlans(path string) (billing.Catalog, error) {
	if path == "" {
		return billing.DefaultCatalog(), nil
	}
	fh, err := os.Open(path)
	if err != nil {
		return billing.Catalog{}, fmt.Errorf("--plans: %w", err)
	}
	defer fh.Close()
	c, err := billing.ParseCatalog(fh)
	if err != nil {
		return billing.Catalog{}, fmt.Errorf("--plans %s: %w", path, err)
	}
	return c, nil
}

// consoleWiring is what the console is built from.
type consoleWiring struct {
	f       serverFlags
	secret  cluster.Secret
	nodeID  string
	eng     *node.Engine
	adm     *admin.Server
	tn      *tenantRuntime
	plans   billing.Catalog
	limiter *tenancy.Limiter
	webhook http.Handler
	log     *slog.Logger
}

// newConsole builds the console of this node.
func newConsole(w consoleWiring, opts ...func(*console.Config)) (*console.Server, error) {
	cfg := console.Config{
		Engine: w.eng, NodeID: w.nodeID,
		SessionKey: w.secret.SessionKey(), CSRFKey: w.secret.CSRFKey(),
		Secure:          w.f.tlsCert != "",
		Plans:           w.plans,
		ValidBucketName: s3.ValidBucketName,
		ParseLifecycle:  s3.ParseLifecycleConfiguration,
		ParseCORS:       s3.ParseCORSConfiguration,
		OnRequest:       w.tn.meter.Record,
		Allow: func(tenant string) (bool, time.Duration) {
			d := w.limiter.Allow(tenant)
			return d.Allowed, d.RetryAfter
		},
		WaitBytes: w.limiter.WaitBytes,
		LimitsChanged: func(ctx context.Context) {
			if err := w.tn.Refresh(ctx); err != nil {
				w.log.Warn("limits not applied at once; the next refresh will", "err", err)
			}
		},
		Cluster: func(ctx context.Context) (console.ClusterView, error) {
			st, ok := w.adm.ClusterStatus(ctx)
			if !ok {
				return console.ClusterView{}, errors.New("no cluster membership")
			}
			v := console.ClusterView{Node: st.Node, Leader: st.Leader, Shape: st.Shape}
			for _, n := range st.Nodes {
				cn := console.ClusterNode{ID: n.ID, State: n.State, NodeState: n.NodeState, Version: n.Version, RaftRole: n.RaftRole, S3: n.S3}
				for _, d := range n.Drives {
					cn.Drives = append(cn.Drives, console.ClusterDrive{ID: d.ID, Online: d.Online, Total: d.Total, Free: d.Free})
				}
				v.Nodes = append(v.Nodes, cn)
			}
			return v, nil
		},
		Progress: func(context.Context) []console.Progress {
			s := w.eng.Stats()
			return []console.Progress{
				{Name: "Healing", Done: s.Healed, Detail: fmt.Sprintf("shards rebuilt since start; %d failed, %d reports dropped, %d bad shards found by reads", s.HealFailed, s.HealDropped, s.ShardsBad)},
				{Name: "Scrubbing", Done: s.ScrubVerified, Detail: fmt.Sprintf("shards verified since start; %d found bad (every %v)", s.ScrubBad, w.f.scrubEvery)},
				{Name: "Relocation", Done: s.ShardsRelocated, Detail: "shards of removed nodes rebuilt on live drives (metadata leader)"},
				{Name: "Garbage collection", Done: s.BlobsCollected, Detail: "blobs whose shards were removed"},
			}
		},
		Webhook: w.webhook,
		Logger:  w.log.With("component", "console"),
	}
	for _, o := range opts {
		o(&cfg)
	}
	return console.New(cfg)
}

// serveConsole listens on addr and serves h (over TLS with the S3
// listener's certificate when it has one) until the returned stop.
func serveConsole(f serverFlags, h http.Handler, log *slog.Logger) (stop func(ctx context.Context), bound string, err error) {
	ln, err := net.Listen("tcp", f.consoleAddr)
	if err != nil {
		return nil, "", fmt.Errorf("console listener: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if f.tlsCert != "" {
			err = srv.ServeTLS(ln, f.tlsCert, f.tlsKey)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("console listener failed", "err", err)
		}
	}()
	log.Info("serving the web console", "address", ln.Addr().String())
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-done
	}, ln.Addr().String(), nil
}

// startStripe runs the Stripe billing loop (it acts while this node leads
// the metadata group) and returns the webhook handler (nil without a
// webhook secret).
func startStripe(f serverFlags, nodeID string, eng *node.Engine, tn *tenantRuntime, plans billing.Catalog, auditLog *audit.Logger, log *slog.Logger) (stop func(), hook http.Handler, err error) {
	s, err := stripe.New(stripe.Config{
		APIKey: f.stripeKey, WebhookSecret: f.stripeHook, APIURL: f.stripeURL, Plans: plans, Engine: eng,
		Grace: f.stripeGrace, NodeID: nodeID, Audit: auditLog, Logger: log,
		LimitsChanged: func(ctx context.Context) { _ = tn.Refresh(ctx) },
	})
	if err != nil {
		return nil, nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	if f.stripeHook != "" {
		hook = s.Webhook()
	} else {
		log.Warn("no --stripe-webhook-secret: payment failures and cancellations are not seen")
	}
	return func() { cancel(); <-done }, hook, nil
}
