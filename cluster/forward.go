package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/vaultaire/vaultaire/metastore"
)

// MaxApplyBytes caps the body of a forwarded command. Metastore commands are
// records and small batches; 64 MiB is far above any legitimate one and keeps
// a bad peer from making the leader buffer without bound.
const MaxApplyBytes = 64 << 20

// metaErrorHeader marks a response whose body is metastore.MarshalError.
const metaErrorHeader = "Vaultaire-Error"

// MetaLeader is what the metadata endpoints need from the local metastore
// (*metastore.Store satisfies it).
type MetaLeader interface {
	ApplyEncoded(ctx context.Context, cmd []byte) ([]byte, error)
	ReadIndex(ctx context.Context) (uint64, error)
}

var _ MetaLeader = (*metastore.Store)(nil)

// RegisterMeta serves the metadata forwarding endpoints (see the RPC section
// in rpc.go) on mux: followers' Forwarders call them on the leader.
func RegisterMeta(mux *http.ServeMux, leader MetaLeader) {
	m := &metaServer{leader: leader}
	mux.Handle("POST /rpc/meta/apply", handle(m.apply))
	mux.Handle("GET /rpc/meta/readindex", handle(m.readIndex))
}

type metaServer struct {
	leader MetaLeader
}

// writeMetaError answers a metastore error so the forwarder can rebuild it.
func writeMetaError(w http.ResponseWriter, err error) {
	w.Header().Set(metaErrorHeader, "meta")
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusConflict)
	_, _ = w.Write(metastore.MarshalError(err))
}

func (m *metaServer) apply(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	if r.ContentLength > MaxApplyBytes {
		return fmt.Errorf("%w: command of %d bytes, limit %d", errTooLarge, r.ContentLength, MaxApplyBytes)
	}
	cmd, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxApplyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return fmt.Errorf("%w: command over %d bytes", errTooLarge, MaxApplyBytes)
		}
		return fmt.Errorf("%w: reading command: %v", errBadRequest, err)
	}
	res, err := m.leader.ApplyEncoded(ctx, cmd)
	if err != nil {
		writeMetaError(w, err)
		return nil
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	_, _ = w.Write(res)
	return nil
}

func (m *metaServer) readIndex(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	idx, err := m.leader.ReadIndex(ctx)
	if err != nil {
		writeMetaError(w, err)
		return nil
	}
	writeJSON(w, struct {
		Index uint64 `json:"index"`
	}{idx})
	return nil
}

// Forwarder implements metastore.Forwarder over the internal RPC.
//
// Errors: the leader's errors come back through metastore.UnmarshalError,
// so errors.Is(err, metastore.ErrNotLeader) and the like hold on the
// follower. A transport failure is reported wrapping a metastore sentinel
// the Store retries (Store.retryable retries everything except
// cancellation, ErrCorrupt, ErrInvalidArgument, ErrUnsupportedCommand and a
// missing forwarder):
//   - the request never left (dial or TLS handshake failed), or any
//     ReadIndex failure: metastore.ErrNotLeader, since the leader we knew
//     is unreachable and a new one may be elected;
//   - an Apply whose request may have reached the leader:
//     metastore.ErrLeadershipLost, because the command may have been
//     committed; Store.retry remembers that ambiguity, and the retried
//     command keeps its request id, so it applies at most once.
//
// The caller's own cancellation is returned as the context's error (not
// retried). The transport error itself is kept only as text, so a client
// timeout's context.DeadlineExceeded cannot stop the Store's retries.
type Forwarder struct {
	client *http.Client
	scheme string
}

var _ metastore.Forwarder = (*Forwarder)(nil)

// NewForwarder returns a Forwarder using client; scheme is "https" (the
// default when empty) or "http" in tests.
func NewForwarder(client *http.Client, scheme string) *Forwarder {
	if scheme == "" {
		scheme = "https"
	}
	if client == nil {
		client = http.DefaultClient
	}
	return &Forwarder{client: client, scheme: scheme}
}

func (f *Forwarder) url(addr, path string) string {
	u := url.URL{Scheme: f.scheme, Host: addr, Path: path}
	return u.String()
}

// failure classifies a transport failure (see Forwarder).
func failure(ctx context.Context, op, addr string, err error, maybeSent bool) error {
	if ctx.Err() != nil {
		return fmt.Errorf("cluster: forward %s to %s: %w", op, addr, ctx.Err())
	}
	sentinel := metastore.ErrNotLeader
	if maybeSent {
		sentinel = metastore.ErrLeadershipLost
	}
	return fmt.Errorf("cluster: forward %s to %s: %w: leader unreachable: %v", op, addr, sentinel, err)
}

// notSent reports whether err happened before the request was written.
func notSent(err error) bool {
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "dial" {
		return true
	}
	return false
}

// call performs req and returns the successful body or an error.
func (f *Forwarder) call(ctx context.Context, op, addr string, req *http.Request, maySend bool) ([]byte, error) {
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, failure(ctx, op, addr, err, maySend && !notSent(err))
	}
	defer resp.Body.Close()
	// A response has a body of a result, an error or an index: bounded.
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxApplyBytes+1))
	if err != nil {
		return nil, failure(ctx, op, addr, err, maySend)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return body, nil
	case resp.Header.Get(metaErrorHeader) == "meta":
		err := metastore.UnmarshalError(body)
		if err == nil {
			err = fmt.Errorf("%w: empty error", metastore.ErrCorrupt)
		}
		if ctx.Err() != nil {
			// The leader most likely failed because we went away.
			return nil, fmt.Errorf("cluster: forward %s to %s: %w (leader: %w)", op, addr, ctx.Err(), err)
		}
		return nil, fmt.Errorf("cluster: forward %s to %s: %w", op, addr, err)
	}
	var w wireError
	if jerr := json.Unmarshal(body, &w); jerr != nil || w.Code == "" {
		return nil, failure(ctx, op, addr, fmt.Errorf("%w: status %s", ErrBadResponse, resp.Status), maySend)
	}
	rerr := fromWire(w)
	switch w.Code {
	case codeCanceled, codeDeadline:
		if ctx.Err() != nil {
			return nil, fmt.Errorf("cluster: forward %s to %s: %w", op, addr, ctx.Err())
		}
		// The leader gave up although we did not: treat as a lost leader.
		return nil, failure(ctx, op, addr, rerr, maySend)
	case codeBadProto:
		// An incompatible leader: retrying waits for a leader we can talk to.
		return nil, failure(ctx, op, addr, rerr, false)
	}
	// too_large, bad_request, internal: the command cannot succeed by
	// retrying.
	return nil, fmt.Errorf("cluster: forward %s to %s: %w: %w", op, addr, metastore.ErrInvalidArgument, rerr)
}

// Apply implements metastore.Forwarder: ApplyEncoded on the leader at
// leaderAddr (its RPC host:port).
func (f *Forwarder) Apply(ctx context.Context, leaderAddr string, cmd []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("cluster: forward apply to %s: %w", leaderAddr, ctx.Err())
	}
	if len(cmd) > MaxApplyBytes {
		return nil, fmt.Errorf("cluster: forward apply: %w: command of %d bytes, limit %d",
			metastore.ErrInvalidArgument, len(cmd), MaxApplyBytes)
	}
	req, err := newRequest(ctx, http.MethodPost, f.url(leaderAddr, "/rpc/meta/apply"), bytes.NewReader(cmd))
	if err != nil {
		return nil, fmt.Errorf("cluster: forward apply to %s: %w: %v", leaderAddr, metastore.ErrNotLeader, err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	return f.call(ctx, "apply", leaderAddr, req, true)
}

// ReadIndex implements metastore.Forwarder: ReadIndex on the leader at
// leaderAddr.
func (f *Forwarder) ReadIndex(ctx context.Context, leaderAddr string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("cluster: forward read index to %s: %w", leaderAddr, ctx.Err())
	}
	req, err := newRequest(ctx, http.MethodGet, f.url(leaderAddr, "/rpc/meta/readindex"), nil)
	if err != nil {
		return 0, fmt.Errorf("cluster: forward read index to %s: %w: %v", leaderAddr, metastore.ErrNotLeader, err)
	}
	body, err := f.call(ctx, "read index", leaderAddr, req, false)
	if err != nil {
		return 0, err
	}
	var out struct {
		Index uint64 `json:"index"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, failure(ctx, "read index", leaderAddr, fmt.Errorf("%w: %v", ErrBadResponse, err), false)
	}
	return out.Index, nil
}
