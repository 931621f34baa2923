package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/vaultaire/vaultaire/erasure"
	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/s3"
)

// The admin listener (--admin-address) serves package admin's handler:
// health, metrics and the admin API. This file starts the listener and
// adapts S3 request events to the metrics.

// writeQuorum is the number of drives a write needs online: k+1 with
// parity (node's write quorum), k without.
func writeQuorum(sh erasure.Shape) int {
	if sh.Parity == 0 {
		return sh.Data
	}
	return sh.Data + 1
}

// requestHooks fans one s3 request event out to every sink (metrics now,
// the audit log later). Each sink must be fast and non-blocking.
func requestHooks(sinks ...func(s3.RequestEvent)) func(s3.RequestEvent) {
	var live []func(s3.RequestEvent)
	for _, s := range sinks {
		if s != nil {
			live = append(live, s)
		}
	}
	return func(ev s3.RequestEvent) {
		for _, s := range live {
			s(ev)
		}
	}
}

// metricsSink adapts s3 request events to the metrics.
func metricsSink(m *metrics.Metrics) func(s3.RequestEvent) {
	return func(ev s3.RequestEvent) {
		if ev.RateLimited {
			m.RateLimited(ev.Tenant)
		}
		m.ObserveRequest(metrics.Request{
			Tenant: ev.Tenant, Operation: ev.Operation.String(), Status: ev.Status,
			ErrorCode: ev.ErrorCode, BytesIn: ev.BytesIn, BytesOut: ev.BytesOut, Duration: ev.Duration,
		})
	}
}

// swapHandler serves whichever handler was stored last.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func newSwapHandler(h http.Handler) *swapHandler {
	s := &swapHandler{}
	s.set(h)
	return s
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// checkAdminTLS refuses an admin listener that would carry the admin
// token and new secret keys in clear beyond this machine: a non-loopback
// --admin-address needs --admin-tls-cert/--admin-tls-key, or an explicit
// --admin-insecure.
func checkAdminTLS(f serverFlags) error {
	if (f.adminTLSCert == "") != (f.adminTLSKey == "") {
		return errors.New("--admin-tls-cert and --admin-tls-key go together")
	}
	if f.adminAddr == "" || f.adminTLSCert != "" || f.adminInsecure || loopbackAddr(f.adminAddr) {
		return nil
	}
	return fmt.Errorf("--admin-address %s is not a loopback address: serve the admin listener over TLS (--admin-tls-cert, --admin-tls-key) or accept clear text with --admin-insecure", f.adminAddr)
}

// loopbackAddr reports whether a listen address binds only loopback
// interfaces ("localhost" or a loopback IP; an empty host binds all).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// startAdmin listens on addr and serves h, over TLS when conf is not nil,
// until the returned stop is called (it shuts the listener down within
// ctx's deadline).
func startAdmin(addr string, h http.Handler, conf *tls.Config, log *slog.Logger) (stop func(ctx context.Context), bound string, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("admin listener: %w", err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		TLSConfig:         conf,
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		serve := srv.Serve
		if conf != nil {
			serve = func(ln net.Listener) error { return srv.ServeTLS(ln, "", "") }
		}
		if err := serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener failed", "err", err)
		}
	}()
	log.Info("serving admin endpoints", "address", ln.Addr().String())
	return func(ctx context.Context) {
		if err := srv.Shutdown(ctx); err != nil {
			srv.Close()
		}
		<-done
	}, ln.Addr().String(), nil
}
