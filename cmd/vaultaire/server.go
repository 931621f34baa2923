package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/console"
	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/tenancy"
)

type serverFlags struct {
	config       string
	address      string
	data         string
	drives       listFlag
	allowRootFS  bool
	autoFinalize bool
	restoreMeta  string
	healRate     int64
	restripeRate int64
	restripeIv   time.Duration
	erasure      string
	blockSize    int
	domain       string
	region       string
	regions      listFlag
	tlsCert      string
	tlsKey       string
	tlsClientCA  string
	tlsReload    time.Duration
	logLevel     string
	logFormat    string
	nodeID       string
	shutdown     time.Duration
	sweepEvery   time.Duration
	scrubEvery   time.Duration
	inlineLimit  int
	usageKeep    time.Duration
	gcDelay      time.Duration
	tierJournal  time.Duration
	tierIntent   time.Duration
	tierFirst    time.Duration
	tierRate     int64
	tierRead     time.Duration
	capTier      string
	capHigh      float64
	capLow       float64
	capInterval  time.Duration
	uploadTTL    time.Duration
	adminAddr    string
	// The admin listener's TLS files, and the explicit consent to serve
	// it in clear on a non-loopback address.
	adminTLSCert, adminTLSKey string
	adminInsecure             bool
	metricsTok                string
	adminToken                string
	maxTenants                int
	rateLimit                 float64
	rateBurst                 int
	rateStatus                int
	rateTenants               int
	unauthRate                float64
	unauthBurst               int
	auditFile                 string
	auditHook                 string
	auditToken                string
	consoleAddr               string
	plans                     string
	stripeKey                 string
	stripeHook                string
	stripeGrace               time.Duration
	stripeURL                 string

	rpcAddr         string
	rpcAdvertise    string
	gossipAddr      string
	gossipAdvertise string
	join            listFlag
	clusterSecret   string

	// test: test-only knobs from the environment (testknobs.go).
	test testKnobs
}

func serverCommand(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var f serverFlags
	fs := flag.NewFlagSet("vaultaire server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "config file of `name = value` lines (flag names)")
	fs.StringVar(&f.address, "address", "127.0.0.1:9000", "S3 listen `host:port`")
	fs.StringVar(&f.data, "data", "data", "data `dir`: metastore, credentials and (without --drive) the drives")
	fs.Var(&f.drives, "drive", "drive `dir`, or id=ID,path=DIR (repeat for each disk; default: 4 folders under --data); a blank directory in a known slot is a replaced disk, adopted and healed")
	fs.BoolVar(&f.allowRootFS, "drive-allow-root-fs", false, "format a blank drive directory on the root file system even when other drives are separate mounts (normally an unmounted disk)")
	fs.StringVar(&f.restoreMeta, "restore-metastore", "", "start a new cluster of one from a metadata backup `file` (vaultaire admin metastore snapshot); --data must hold no metastore yet")
	fs.BoolVar(&f.autoFinalize, "upgrade-auto-finalize", true, "raise the cluster version (enable the new release's features, ending the rollback window) as soon as every node runs this release; false: only by `vaultaire cluster upgrade finalize`")
	fs.Int64Var(&f.healRate, "heal-rate", node.DefaultHealRate, "drive heal jobs rebuild at most this many `bytes` per second (-1: unthrottled)")
	fs.Int64Var(&f.restripeRate, "restripe-rate", node.DefaultRestripeRate, "the metadata leader rewrites artifacts written at a degraded erasure shape (a node was down) at the cluster's shape at most this many `bytes` per second (-1: unthrottled)")
	fs.DurationVar(&f.restripeIv, "restripe-interval", node.DefaultRestripeInterval, "how often the metadata leader looks for artifacts at a degraded erasure shape, while every node is up (0: never)")
	fs.StringVar(&f.erasure, "erasure", "auto", "erasure shape `k+m` of new artifacts, or auto: from the live drives (one node of 4 drives: 2+2; 3 nodes of 4: 8+4)")
	fs.IntVar(&f.blockSize, "block-size", 0, "erasure block `bytes` per shard per stripe (0: default)")
	fs.StringVar(&f.domain, "domain", "", "base `domain` for virtual-hosted-style requests (bucket.domain)")
	fs.StringVar(&f.region, "region", "us-east-1", "S3 region name")
	fs.Var(&f.regions, "extra-regions", "further `region` a bucket may be created in (its LocationConstraint); repeat, or comma-separated in the environment")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "TLS certificate `file` (serve HTTPS)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "TLS key `file`")
	fs.StringVar(&f.tlsClientCA, "tls-client-ca", "", "PEM `file` of CAs for mutual TLS on the S3 port: clients must present a certificate one of them signed")
	fs.DurationVar(&f.tlsReload, "tls-reload-interval", s3.DefaultTLSReloadInterval, "how often the TLS files are checked for changes and reloaded (0: only on SIGHUP)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.nodeID, "node-id", "", "node identity (default: generated once and kept in --data)")
	fs.DurationVar(&f.shutdown, "shutdown-timeout", 30*time.Second, "how long in-flight requests may finish on SIGTERM")
	fs.DurationVar(&f.sweepEvery, "sweep-interval", 10*time.Minute, "how often orphaned shards are swept (0: only at startup)")
	fs.DurationVar(&f.scrubEvery, "scrub-period", node.DefaultScrubPeriod, "every shard on this node is verified in full at least this often, by a continuous paced scrub that resumes after restarts (0: never)")
	fs.DurationVar(&f.scrubEvery, "scrub-interval", node.DefaultScrubPeriod, "old name of --scrub-period")
	fs.IntVar(&f.inlineLimit, "inline-threshold", node.DefaultInlineThreshold, fmt.Sprintf("artifacts up to this many `bytes` are stored inline in metadata (0: never; at most %d)", node.MaxInlineThreshold))
	fs.DurationVar(&f.tierIntent, "tier-intent-timeout", node.DefaultTierIntentTimeout, "a transition to a cold tier that has not committed this long after its upload began is abandoned and its remote objects deleted (a crash leaves such uploads)")
	fs.DurationVar(&f.tierJournal, "tier-journal-interval", node.DefaultTierJournalInterval, "how often the metadata leader deletes cold-tier objects no record names any more (after deletes, overwrites, recalls)")
	fs.Int64Var(&f.tierRate, "tier-rate", 0, "transitions, recalls and restores move at most this many `bytes` per second between this node's drives and cold tiers, all together (0: unthrottled)")
	fs.DurationVar(&f.tierFirst, "tier-read-first-byte", node.DefaultTierReadFirstByte, "a read from a cold tier that has no byte this long after it was asked fails: GET answers 503 naming the tier")
	fs.DurationVar(&f.tierRead, "tier-read-timeout", node.DefaultTierReadTimeout, "a read from a cold tier (a GET, or the copy a restore or recall makes of a part) that is not done this long after it began fails")
	fs.StringVar(&f.capTier, "capacity-tier", "", "default cold `tier` of the capacity fallback: when the cluster's drives are --capacity-high-watermark used, the metadata leader moves the least recently written versions there until usage is below --capacity-low-watermark (empty: off; set it alike on every node)")
	fs.Float64Var(&f.capHigh, "capacity-high-watermark", node.DefaultCapacityHigh*100, "`percent` of the drives' capacity in use at which the capacity fallback starts moving versions to --capacity-tier")
	fs.Float64Var(&f.capLow, "capacity-low-watermark", node.DefaultCapacityLow*100, "`percent` of the drives' capacity in use the capacity fallback moves versions until")
	fs.DurationVar(&f.capInterval, "capacity-interval", node.DefaultCapacityInterval, "how often the drives' usage is measured for the capacity fallback")
	fs.DurationVar(&f.gcDelay, "gc-delay", node.DefaultGCDelay, "shards of replaced or deleted artifacts are removed this long after (longer while a GET still streams them)")
	fs.DurationVar(&f.uploadTTL, "upload-expiry", node.DefaultUploadExpiry, "unfinished multipart uploads older than this are aborted and their parts freed, whatever the bucket's rules (0: never)")
	fs.DurationVar(&f.usageKeep, "usage-retention", node.DefaultUsageRetention, "hourly usage records older than this are deleted (0: kept forever; else at least 1h)")
	fs.StringVar(&f.adminAddr, "admin-address", "127.0.0.1:9001", "admin listen `host:port`: /metrics, /health/live, /health/ready, /admin/v1 (empty: off)")
	fs.StringVar(&f.adminTLSCert, "admin-tls-cert", "", "TLS certificate `file` of the admin listener (serve it over HTTPS; may be the --tls-cert file)")
	fs.StringVar(&f.adminTLSKey, "admin-tls-key", "", "TLS key `file` of the admin listener")
	fs.BoolVar(&f.adminInsecure, "admin-insecure", false, "allow the admin listener on a non-loopback address without TLS (it carries the admin token and new secret keys in clear)")
	fs.StringVar(&f.adminToken, "admin-token", "", "bearer `token` for the admin API /admin/v1 (default: generated once into --data/admin.token; prefer VAULTAIRE_ADMIN_TOKEN, which ps does not show)")
	fs.StringVar(&f.metricsTok, "metrics-token", "", "bearer `token` required by /metrics (default: none)")
	fs.Float64Var(&f.rateLimit, "rate-limit", tenancy.DefaultLimit.RequestsPerSec, "default requests/s per tenant (0: unlimited); the root tenant is unlimited")
	fs.IntVar(&f.rateBurst, "rate-burst", tenancy.DefaultLimit.Burst, "default burst of requests per tenant")
	fs.IntVar(&f.rateStatus, "rate-limit-status", http.StatusServiceUnavailable, "HTTP status of SlowDown when a tenant is over its rate: 503 or 429")
	fs.Float64Var(&f.unauthRate, "unauth-rate", s3.DefaultUnauthRate, "unsigned requests/s, and failed authentications/s, per client address before SlowDown (0: unlimited)")
	fs.IntVar(&f.unauthBurst, "unauth-burst", s3.DefaultUnauthBurst, "burst of --unauth-rate")
	fs.IntVar(&f.rateTenants, "rate-limit-tenants", tenancy.DefaultMaxTenants, "tenants whose rate limiters are kept in memory (least recently used evicted)")
	fs.StringVar(&f.auditFile, "audit-file", "", "audit log `file`: one JSON line per operation, rotated by size (empty: --data/audit.log)")
	fs.StringVar(&f.auditHook, "audit-webhook", "", "also POST audit events as JSON batches to this `url`")
	fs.StringVar(&f.auditToken, "audit-webhook-token", "", "bearer token for --audit-webhook")
	fs.StringVar(&f.consoleAddr, "console-address", "127.0.0.1:9004", "web console listen `host:port` (empty: off); served over TLS with --tls-cert")
	fs.StringVar(&f.plans, "plans", "", "plan catalog `file` (JSON; default: a free tier and a pay-as-you-go standard plan)")
	fs.StringVar(&f.stripeKey, "stripe-key", "", "Stripe secret API `key`: bill plans with stripe_prices through Stripe (prefer VAULTAIRE_STRIPE_KEY)")
	fs.StringVar(&f.stripeHook, "stripe-webhook-secret", "", "`secret` of the Stripe webhook endpoint at <console>/billing/webhook (prefer VAULTAIRE_STRIPE_WEBHOOK_SECRET)")
	fs.DurationVar(&f.stripeGrace, "stripe-grace", 72*time.Hour, "how long a tenant whose payment failed stays active before suspension")
	fs.StringVar(&f.stripeURL, "stripe-api-url", "", "Stripe API `url` (default Stripe's; for stripe-mock)")
	fs.StringVar(&f.rpcAddr, "rpc-address", "127.0.0.1:9002", "cluster RPC listen `host:port` (mutual TLS from the cluster secret; carries Raft, shard streams and forwarding)")
	fs.StringVar(&f.rpcAdvertise, "rpc-advertise", "", "RPC `host:port` other nodes dial (default: the bound --rpc-address)")
	fs.StringVar(&f.gossipAddr, "gossip-address", "127.0.0.1:9003", "gossip listen `host:port` (UDP and TCP)")
	fs.StringVar(&f.gossipAdvertise, "gossip-advertise", "", "gossip `host:port` other nodes reach (default: the bound --gossip-address)")
	fs.Var(&f.join, "join", "gossip `host:port` of a node of the cluster to join (repeat for several; retried until one answers)")
	fs.StringVar(&f.clusterSecret, "cluster-secret", "", "the cluster's secret (vcs1_...), needed to join; prefer VAULTAIRE_CLUSTER_SECRET, which ps does not show")
	fs.IntVar(&f.maxTenants, "metrics-max-tenants", metrics.DefaultMaxTenants, "distinct tenants with their own metric labels; later ones are \"other\"")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: vaultaire server [flags]\n\nEvery flag can also be set as VAULTAIRE_<FLAG> (e.g. VAULTAIRE_ADDRESS,\nVAULTAIRE_DRIVE=a,b,c,d) or in the --config file; flags win over the\nenvironment, which wins over the file. VAULTAIRE_ROOT_ACCESS_KEY and\nVAULTAIRE_ROOT_SECRET_KEY set the root credentials instead of generating them.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if f.config == "" {
		f.config = os.Getenv(envName("config"))
	}
	if err := applyConfig(fs, f.config); err != nil {
		fmt.Fprintln(stderr, "vaultaire:", err)
		return 2
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "vaultaire:", err)
		return 2
	}
	if f.test, err = readTestKnobs(os.Getenv); err != nil {
		fmt.Fprintln(stderr, "vaultaire:", err)
		return 2
	}
	f.test.warn(log)
	if err := serve(ctx, f, stdout, log); err != nil {
		log.Error("server failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid --log-level %q", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid --log-format %q (text or json)", format)
}

func parseShape(s string, blockSize int) (erasure.Shape, error) {
	if s == "auto" {
		// Data == 0: the Engine picks each blob's shape (node.AutoShape).
		if blockSize == 0 {
			blockSize = erasure.DefaultBlockSize
		}
		return erasure.Shape{BlockSize: blockSize}, nil
	}
	k, m, ok := strings.Cut(s, "+")
	kn, err1 := strconv.Atoi(k)
	mn, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil {
		return erasure.Shape{}, fmt.Errorf("invalid --erasure %q: want k+m, e.g. 2+2", s)
	}
	sh := erasure.Shape{Data: kn, Parity: mn, BlockSize: blockSize}
	if sh.BlockSize == 0 {
		sh.BlockSize = erasure.DefaultBlockSize
	}
	return sh, sh.Validate()
}

func serve(ctx context.Context, f serverFlags, stdout io.Writer, log *slog.Logger) error {
	// A decommissioned node stops as on SIGTERM (node/decom.go).
	ctx, decommissioned := context.WithCancel(ctx)
	defer decommissioned()
	shape, err := parseShape(f.erasure, f.blockSize)
	if err != nil {
		return err
	}
	inline, err := inlineThreshold(f.inlineLimit)
	if err != nil {
		return err
	}
	if f.uploadTTL < 0 {
		return fmt.Errorf("invalid --upload-expiry %v: want 0 (never) or a positive duration", f.uploadTTL)
	}
	if f.usageKeep < 0 || (f.usageKeep > 0 && f.usageKeep < time.Hour) {
		return fmt.Errorf("invalid --usage-retention %v: want 0 (keep forever) or at least 1h", f.usageKeep)
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return errors.New("--tls-cert and --tls-key go together")
	}
	if f.tlsClientCA != "" && f.tlsCert == "" {
		return errors.New("--tls-client-ca needs --tls-cert and --tls-key")
	}
	if err := checkAdminTLS(f); err != nil {
		return err
	}
	// SIGHUP reloads the TLS files; taken from the start, so that a
	// SIGHUP never ends the process (its default action).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var certs *s3.Certs
	if f.tlsCert != "" {
		if certs, err = s3.NewCerts(s3.TLSFiles{CertFile: f.tlsCert, KeyFile: f.tlsKey, ClientCAFile: f.tlsClientCA}, log.With("component", "tls")); err != nil {
			return err
		}
	}
	plans, err := loadPlans(f.plans)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(f.data, 0o750); err != nil {
		return err
	}
	nodeID := f.nodeID
	if nodeID == "" {
		if nodeID, err = keptSecret(filepath.Join(f.data, "node-id"), func() string { return "node-" + randomHex(6) }); err != nil {
			return err
		}
	}
	secret, secretGenerated, err := clusterSecret(f)
	if err != nil {
		return err
	}
	bootstrap := len(f.join) == 0
	if f.restoreMeta != "" {
		if !bootstrap {
			return errors.New("--restore-metastore starts a new cluster of one: it does not go with --join (join the other nodes to it afterwards)")
		}
		if err := restoreMetastore(filepath.Join(f.data, "meta"), f.restoreMeta, log); err != nil {
			return err
		}
	}

	reg, err := metrics.New(metrics.Config{MaxTenants: f.maxTenants})
	if err != nil {
		return err
	}
	// The admin listener comes up first, so liveness answers while the
	// node starts; readiness says "starting" until everything is open.
	adminH := newSwapHandler(admin.Starting(time.Now()))
	adminAddr := ""
	adminScheme := "http"
	if f.adminAddr != "" {
		var adminTLS *tls.Config
		if f.adminTLSCert != "" {
			adminCerts, err := s3.NewCerts(s3.TLSFiles{CertFile: f.adminTLSCert, KeyFile: f.adminTLSKey}, log.With("component", "admin-tls"))
			if err != nil {
				return fmt.Errorf("admin listener: %w", err)
			}
			adminTLS, adminScheme = adminCerts.TLSConfig(), "https"
			if f.tlsReload > 0 {
				wctx, stopWatch := context.WithCancel(ctx)
				watched := make(chan struct{})
				go func() { defer close(watched); adminCerts.Watch(wctx, f.tlsReload) }()
				defer func() { stopWatch(); <-watched }()
			}
		}
		stopAdmin, addr, err := startAdmin(f.adminAddr, adminH, adminTLS, log.With("component", "admin"))
		if err != nil {
			return err
		}
		adminAddr = addr
		defer func() {
			// Liveness and metrics probes are quick; none should hold
			// the exit.
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			stopAdmin(sctx)
		}()
	}

	opened, err := openDrives(f, nodeID, log)
	if err != nil {
		return err
	}
	defer opened.close()
	drives := opened.drives

	// The S3 listener is bound early: its address is gossiped.
	ln, err := net.Listen("tcp", f.address)
	if err != nil {
		return err
	}
	defer ln.Close()

	// Every node is a cluster of one or more: the RPC transport carries
	// Raft, so the metadata group's addresses are real from the start and a
	// single node can be joined later.
	cn, err := startTransport(f, nodeID, secret, log)
	if err != nil {
		return err
	}
	defer cn.close()

	meta, err := metastore.Open(ctx, metastore.Config{
		NodeID:    nodeID,
		Dir:       filepath.Join(f.data, "meta"),
		Transport: cn.raftTrans,
		Forwarder: cn.forwarder,
		Bootstrap: bootstrap,
		MasterKey: secret.MasterKey(),
		// A node cut off from the leader answers 503 after this long
		// rather than holding the S3 request until the client gives up.
		ApplyTimeout: metaApplyTimeout,
		// A planned stop (SIGTERM) hands leadership over first.
		HandOverOnClose: true,
		Logger:          log.With("component", "metastore"),
		OnApply:         reg.ObserveApply,
	})
	if err != nil {
		return fmt.Errorf("opening metastore: %w", err)
	}
	defer meta.Close()
	cn.serveRPC(meta, drives)
	if err := cn.startMembership(f, secret, drives, ln.Addr().String(), adminAddr); err != nil {
		return err
	}
	cn.runRaftMembership(meta)
	reg.RegisterGossip(func() map[string]int {
		out := map[string]int{}
		for st, n := range cn.members.Counts() {
			out[st.String()] = n
		}
		return out
	})

	lcAudit := &lifecycleAuditor{node: nodeID}
	ecfg := node.Config{
		LifecycleAudit:  lcAudit.emit,
		NodeID:          nodeID,
		Drives:          drives,
		Shape:           shape,
		Meta:            meta,
		Peers:           node.NewClusterPeers(nodeID, cn.members, cn.trans.Client()),
		InlineThreshold: inline,
		SweepInterval:   f.sweepEvery,
		ScrubPeriod:     f.scrubEvery,
		ScrubStateFile:  filepath.Join(f.data, "scrub.state"),
		ScrubPause:      time.Millisecond,
		// The shards of nodes removed with `vaultaire cluster remove` move
		// to live drives (on the metadata leader).
		RelocateInterval:    node.DefaultRelocateInterval,
		RestripeInterval:    f.restripeIv,
		RestripeRate:        f.restripeRate,
		OnDecommissioned:    decommissioned,
		UploadExpiry:        uploadExpiry(f.uploadTTL),
		GCDelay:             f.gcDelay,
		HealRate:            f.healRate,
		HealStateDir:        f.data,
		TierOpener:          tierOpener(log.With("component", "tier")),
		TierJournalInterval: f.tierJournal,
		SSERootKey:          secret.SSERootKey(),
		TierIntentTimeout:   f.tierIntent,
		TierReadFirstByte:   f.tierFirst,
		TierRate:            f.tierRate,
		TierReadTimeout:     f.tierRead,
		CapacityTier:        f.capTier,
		CapacityHigh:        f.capHigh / 100,
		CapacityLow:         f.capLow / 100,
		CapacityInterval:    f.capInterval,
		Logger:              log.With("component", "engine"),
	}
	f.test.apply(&ecfg)
	eng, err := node.New(ecfg)
	if err != nil {
		return err
	}
	// Replaced drives: their heal jobs are recorded now (Start runs them).
	for _, id := range opened.heal {
		if err := eng.HealDrive(id); err != nil {
			return err
		}
	}
	if len(opened.heal) > 0 {
		if err := opened.healStarted(); err != nil {
			return err
		}
	}
	leased := eng.BlobLeasedHere
	cn.leases.Store(&leased)
	// A bootstrapping node elects itself at once; a joining one waits,
	// retrying its seeds, until the leader has added it.
	startCtx, cancel := ctx, context.CancelFunc(func() {})
	if bootstrap {
		startCtx, cancel = context.WithTimeout(ctx, time.Minute)
	} else {
		log.Info("waiting to be added to the cluster", "seeds", []string(f.join))
	}
	err = eng.Start(startCtx)
	cancel()
	if err != nil {
		return err
	}
	defer eng.Close()
	cn.setState(cluster.NodeActive)

	// Root credentials belong to the cluster: the bootstrapping node
	// creates them; a joining node only when they are given to it.
	accessKey, secretKey, generated := "", "", false
	if bootstrap || os.Getenv("VAULTAIRE_ROOT_ACCESS_KEY") != "" {
		if accessKey, secretKey, generated, err = rootCredentials(f.data); err != nil {
			return err
		}
		if err := eng.EnsureRoot(ctx, accessKey, secretKey); err != nil {
			return err
		}
	}

	admTok, adminTokenFile, err := adminToken(f)
	if err != nil {
		return err
	}

	auditLog, err := openAudit(f, reg, log.With("component", "audit"))
	if err != nil {
		return err
	}
	lcAudit.set(auditLog)
	defer func() {
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := auditLog.Close(actx); err != nil {
			log.Warn("audit log not fully flushed", "err", err)
		}
	}()

	// Readiness wants this node's drives to hold their part of a write:
	// the write quorum of the shape its own drives would get alone.
	localShape := shape
	if localShape.Data == 0 {
		localShape.Data, localShape.Parity = node.AutoShape([]int{len(drives)})
	}
	adm := admin.New(admin.Config{
		NodeID: nodeID, Engine: eng, Meta: meta, Metrics: reg,
		Drives: drives, WriteQuorum: writeQuorum(localShape), MetricsToken: f.metricsTok,
		Token: admTok, Audit: auditLog, Members: cn.members, RPCClient: cn.trans.Client(),
		Plans: plans, Logger: log,
	})
	adminH.set(adm.Handler())
	if f.autoFinalize {
		finCtx, stopFin := context.WithCancel(ctx)
		finDone := make(chan struct{})
		go func() {
			defer close(finDone)
			adm.AutoFinalize(finCtx, autoFinalizeEvery, log.With("component", "upgrade"))
		}()
		defer func() { stopFin(); <-finDone }()
	}

	// A tenant's rate is its limit for the whole cluster: each node admits
	// its share, the limit divided by the live nodes (see docs/design.md).
	limiter, err := tenancy.NewLimiter(tenancy.LimiterConfig{
		MaxTenants: f.rateTenants,
		Default:    tenancy.Limit{RequestsPerSec: f.rateLimit, Burst: f.rateBurst},
		Share:      func() float64 { return 1 / float64(cn.liveNodes()) },
	})
	if err != nil {
		return err
	}
	// The operator's own tenant is not throttled by the customer default.
	limiter.SetLimit(node.RootTenant, tenancy.Limit{})
	// Per-tenant limits from the metastore, and usage metering (tenancy.go).
	tn, err := startTenancy(ctx, eng, limiter, tenancy.Limit{RequestsPerSec: f.rateLimit, Burst: f.rateBurst}, f.usageKeep, reg.QuotaExceeded, log.With("component", "tenancy"))
	if err != nil {
		return err
	}
	defer tn.close()
	adm.SetTenancy(tn)

	// Stripe, when configured: the leader's billing loop, and webhooks on
	// every node's console.
	var webhook http.Handler
	if f.stripeKey != "" {
		stop, hook, err := startStripe(f, nodeID, eng, tn, plans, auditLog, log.With("component", "stripe"))
		if err != nil {
			return err
		}
		defer stop()
		webhook = hook
	}

	// The web console, on every node.
	consoleAddr := ""
	if f.consoleAddr != "" {
		con, err := newConsole(consoleWiring{f: f, secret: secret, nodeID: nodeID, eng: eng, adm: adm, tn: tn, plans: plans, limiter: limiter, webhook: webhook, log: log},
			func(c *console.Config) { c.Metrics, c.Audit = reg, auditLog })
		if err != nil {
			return err
		}
		defer con.Close()
		stopConsole, addr, err := serveConsole(f, con, log.With("component", "console"))
		if err != nil {
			return err
		}
		consoleAddr = addr
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			stopConsole(sctx)
		}()
	}

	api, err := s3.New(s3.Config{
		Region: f.region, ExtraRegions: f.regions, Domain: f.domain, Logger: log.With("component", "s3"),
		OnRequest: requestHooks(metricsSink(reg), auditSink(auditLog, nodeID), tn.onRequest),
		Limiter:   limiter, RateLimitStatus: f.rateStatus,
		UnauthRate: unauthRate(f.unauthRate), UnauthBurst: f.unauthBurst,
	}, eng)
	if err != nil {
		return err
	}
	// HTTP/1.1 only, the timeouts and header limit of s3.Server.HTTPServer.
	srv := api.HTTPServer("")
	srv.Handler = reg.InFlight(api)
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	scheme := "http"
	if certs != nil {
		scheme = "https"
	}
	stopTLS := watchTLS(ctx, certs, hup, f.tlsReload, log.With("component", "tls"))
	defer stopTLS()
	endpoint := fmt.Sprintf("%s://%s", scheme, ln.Addr())
	// Generated secrets are shown once, and only to a person: stdout may
	// as well be a log collector.
	tty := isTerminal(stdout)
	printBanner(stdout, endpoint, f, accessKey, secretKey, generated && tty)
	printClusterBanner(stdout, f, cn, secret, secretGenerated, secretGenerated && tty)
	if f.adminAddr != "" {
		where := "from --admin-token / VAULTAIRE_ADMIN_TOKEN"
		if adminTokenFile != "" {
			where = "kept in " + adminTokenFile
		}
		fmt.Fprintf(stdout, "Admin API on %s (admin token %s):\n  vaultaire admin --endpoint %s://%s --data %s tenant list\n\n", adminAddr, where, adminScheme, adminAddr, f.data)
	}
	if consoleAddr != "" {
		fmt.Fprintf(stdout, "Web console at %s://%s/ (operators: vaultaire admin operator create NAME --password -)\n\n", scheme, consoleAddr)
	}
	log.Info("serving S3", "endpoint", endpoint, "node", nodeID, "drives", len(drives), "erasure", f.erasure)

	errc := make(chan error, 1)
	go func() {
		if certs != nil {
			errc <- srv.Serve(certs.Listener(ln))
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "deadline", f.shutdown)
	// Draining: the peers stop placing new shards here while this node's
	// in-flight requests (and theirs streaming to it) finish.
	cn.setState(cluster.NodeDraining)
	sctx, cancel := context.WithTimeout(context.Background(), f.shutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("in-flight requests cut at the shutdown deadline", "err", err)
		srv.Close()
	}
	<-errc
	return nil
}

// inlineThreshold maps --inline-threshold to node.Config: 0 turns
// inlining off, and the value may not exceed what one forwarded metadata
// command always carries (node.MaxInlineThreshold).
func inlineThreshold(n int) (int, error) {
	switch {
	case n < 0 || n > node.MaxInlineThreshold:
		return 0, fmt.Errorf("invalid --inline-threshold %d: want 0 (never inline) to %d bytes", n, node.MaxInlineThreshold)
	case n == 0:
		return node.InlineOff, nil
	}
	return n, nil
}

// autoFinalizeEvery is how often the metadata leader checks whether a
// rolling upgrade is complete (every member runs a binary that supports
// this one's cluster version) to finalise it.
const autoFinalizeEvery = 5 * time.Second

// uploadExpiry maps --upload-expiry to node.Config (0: never).
func uploadExpiry(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// rootCredentials returns the root access key and secret: from
// VAULTAIRE_ROOT_ACCESS_KEY/SECRET_KEY, else those kept in the data dir,
// else freshly generated (and kept, mode 0600).
func rootCredentials(dataDir string) (key, secret string, generated bool, err error) {
	key, secret = os.Getenv("VAULTAIRE_ROOT_ACCESS_KEY"), os.Getenv("VAULTAIRE_ROOT_SECRET_KEY")
	if key != "" || secret != "" {
		if len(key) < 3 || len(secret) < 8 {
			return "", "", false, errors.New("VAULTAIRE_ROOT_ACCESS_KEY (3+ chars) and VAULTAIRE_ROOT_SECRET_KEY (8+ chars) go together")
		}
		return key, secret, false, nil
	}
	path := filepath.Join(dataDir, "root.credentials")
	b, err := os.ReadFile(path)
	if err == nil {
		k, s, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
		if !ok {
			return "", "", false, fmt.Errorf("%s: want ACCESS_KEY:SECRET", path)
		}
		return k, s, false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", "", false, err
	}
	key = "VA" + strings.ToUpper(randomHex(9))
	secret = randomHex(20)
	if err := writeFileSync(path, key+":"+secret+"\n"); err != nil {
		return "", "", false, err
	}
	return key, secret, true, nil
}

// adminToken returns the admin API token: --admin-token (or its
// VAULTAIRE_ADMIN_TOKEN), else one generated once and kept in
// --data/admin.token (0600), whose path is returned too.
func adminToken(f serverFlags) (token, file string, err error) {
	if f.adminToken != "" {
		return f.adminToken, "", nil
	}
	file = filepath.Join(f.data, "admin.token")
	token, err = keptSecret(file, func() string { return randomHex(32) })
	if err == nil && token == "" {
		err = fmt.Errorf("%s is empty", file)
	}
	return token, file, err
}

// keptSecret returns the content of path, creating it with gen() first.
func keptSecret(path string, gen func() string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	v := gen()
	return v, writeFileSync(path, v+"\n")
}

// writeFileSync writes a small private file durably (temp, fsync, rename).
func writeFileSync(path, content string) error {
	tmp := path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := fh.WriteString(content); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Sync(); err != nil {
		fh.Close()
		return err
	}
	if err := fh.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// isTerminal reports whether w is a terminal (secrets are shown only to
// one).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// printClusterBanner says how other nodes join this one. A secret
// generated now is shown only when show is set (stdout is a terminal);
// otherwise the banner says where it is kept.
func printClusterBanner(w io.Writer, f serverFlags, cn *clusterNode, secret cluster.Secret, generated, show bool) {
	fmt.Fprintf(w, "Cluster: node %s, RPC at %s, gossip at %s\n", cn.id, cn.trans.Addr(), cn.members.Addr())
	path := filepath.Join(f.data, "cluster.secret")
	shown := "$(cat " + path + ")"
	switch {
	case show:
		fmt.Fprintf(w, "  Cluster secret: %s\n  (generated now, kept in %s; shown only this once)\n", secret.Encode(), path)
		shown = secret.Encode()
	case generated:
		fmt.Fprintf(w, "  Cluster secret: generated now, kept in %s (mode 0600; shown only on a terminal)\n", path)
	}
	fmt.Fprintf(w, "  Add a node:\n    VAULTAIRE_CLUSTER_SECRET=%s vaultaire server --join %s --data OTHER_DIR ...\n\n", shown, cn.members.Addr())
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// printBanner says where S3 is served and with which root credentials.
// show is set when the secret was generated now and stdout is a
// terminal: it is printed then, and only then.
func printBanner(w io.Writer, endpoint string, f serverFlags, key, secret string, show bool) {
	fmt.Fprintf(w, "\nVaultaire %s is serving S3 at %s (data in %s)\n\n", version, endpoint, f.data)
	if key == "" {
		fmt.Fprintf(w, "  Credentials: those of the cluster (kept in root.credentials on the first node)\n\n")
		return
	}
	fmt.Fprintf(w, "  Access key: %s\n", key)
	switch {
	case show:
		fmt.Fprintf(w, "  Secret key: %s\n  (generated now, kept in %s; shown only this once)\n\n", secret, filepath.Join(f.data, "root.credentials"))
	case os.Getenv("VAULTAIRE_ROOT_SECRET_KEY") != "":
		fmt.Fprintf(w, "  Secret key: (from VAULTAIRE_ROOT_SECRET_KEY)\n\n")
	default:
		fmt.Fprintf(w, "  Secret key: kept in %s\n\n", filepath.Join(f.data, "root.credentials"))
	}
	shown := secret
	if !show {
		shown = "<secret>"
	}
	fmt.Fprintf(w, "Try it:\n  export AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=%s AWS_DEFAULT_REGION=%s\n", key, shown, f.region)
	fmt.Fprintf(w, "  aws --endpoint-url %s s3 mb s3://demo\n  aws --endpoint-url %s s3 cp README.md s3://demo/\n  aws --endpoint-url %s s3 ls s3://demo\n", endpoint, endpoint, endpoint)
	if strings.HasPrefix(endpoint, "https:") {
		fmt.Fprintf(w, "  (a certificate of your own CA: add --ca-bundle CA.pem, or export AWS_CA_BUNDLE=CA.pem)\n")
	}
	fmt.Fprintln(w)
}

// watchTLS reloads the S3 port's TLS files on SIGHUP (hup) and, every
// interval (0: never), when they changed; new connections get the new
// certificate, open ones finish on theirs. Without TLS a SIGHUP is only
// logged. The returned func stops it and waits.
func watchTLS(ctx context.Context, certs *s3.Certs, hup <-chan os.Signal, interval time.Duration, log *slog.Logger) func() {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if certs != nil && interval > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); certs.Watch(ctx, interval) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
			}
			if certs == nil {
				log.Info("SIGHUP: nothing to reload (no --tls-cert)")
				continue
			}
			if err := certs.Reload(); err != nil {
				log.Warn("SIGHUP: TLS files do not load; still serving the previous certificate", "err", err)
				continue
			}
			log.Info("SIGHUP: TLS certificate reloaded", "subject", certs.Leaf().Subject.String(), "not_after", certs.Leaf().NotAfter)
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// unauthRate maps --unauth-rate to s3.Config.UnauthRate, where 0 selects
// the default and a negative rate turns the limit off.
func unauthRate(r float64) float64 {
	if r <= 0 {
		return -1
	}
	return r
}
