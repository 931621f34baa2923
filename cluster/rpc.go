package cluster

// RPC
//
// The internal RPC is plain HTTP (HTTP/1.1 or HTTP/2) over the cluster's
// mutually authenticated TLS transport. Handlers are registered on an
// *http.ServeMux with RegisterShards (remote drives, shards.go) and
// RegisterMeta (metadata forwarding, forward.go); clients are RemoteDriver
// (remote.go) and Forwarder (forward.go).
//
// Headers on every request:
//
//	Vaultaire-Proto: 1          protocol version (ProtoHeader). A server
//	                            accepts [ProtoMinVersion, ProtoVersion] and
//	                            answers 400 code "bad_proto" otherwise, so
//	                            adjacent releases interoperate.
//	Vaultaire-Deadline: <t>     the caller's context deadline (DeadlineHeader),
//	                            RFC 3339 with nanoseconds (unix nanoseconds
//	                            are accepted too). The handler's context gets
//	                            that deadline; cancellation travels with the
//	                            connection (net/http cancels r.Context()).
//	                            Clock skew between nodes shifts the remote
//	                            deadline; the caller's own context still
//	                            bounds the call locally.
//
// Endpoints ({drive} is a path-escaped drive id; names travel in the query
// parameter "name" so the mux never cleans or unescapes them):
//
//	PUT    /rpc/drive/{drive}/shard?name=N      body (chunked, unknown length) streamed into
//	                                            Driver.Put; 200 {"size":n} after Put returned.
//	                                            A body cut short (client aborted) is a read
//	                                            error for Put, so no shard is left.
//	GET    /rpc/drive/{drive}/shard?name=N&off=O&len=L
//	                                            body = bytes [O, O+L) (L<0: to the end), chunked;
//	                                            the trailer Vaultaire-Status is "ok <bytes>" or
//	                                            a JSON error; a missing trailer is truncation.
//	GET    /rpc/drive/{drive}/stat?name=N       200 {"name","size","mtime"}.
//	DELETE /rpc/drive/{drive}/shard?name=N      204.
//	GET    /rpc/drive/{drive}/list?prefix=P     JSON lines, one entry each
//	                                            {"entry":{"name","size","mtime"}}, then a last line
//	                                            {"end":true} or {"error":{...}}.
//	GET    /rpc/drive/{drive}/usage             200 {"total","free","used","online","error"}.
//	POST   /rpc/meta/apply                      body = encoded metastore command (at most
//	                                            MaxApplyBytes); 200 body = encoded result, or
//	                                            409 with header Vaultaire-Error: meta and body
//	                                            = metastore.MarshalError(err).
//	GET    /rpc/meta/readindex                  200 {"index":n} or 409 as above.
//	GET    /rpc/leases?blob=ID                  200 {"held":bool}: a read on this node streams
//	                                            the blob (leases.go).
//
// Errors other than metastore errors are JSON {"code":"...","message":"..."}
// with a code per drivers sentinel: not_found, invalid_name, offline, full,
// no_drive (the serving node has no such drive; the client reports
// drivers.ErrOffline), canceled, deadline_exceeded, bad_proto, bad_request,
// too_large, internal. Clients map codes back to the same sentinels, keeping
// the remote message, so errors.Is works across the wire.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
)

// Protocol constants.
const (
	// ProtoHeader carries the protocol version of a request.
	ProtoHeader = "Vaultaire-Proto"
	// ProtoVersion is the version this build speaks.
	ProtoVersion = 1
	// ProtoMinVersion is the oldest version this build still serves.
	ProtoMinVersion = 1
	// DeadlineHeader carries the caller's context deadline.
	DeadlineHeader = "Vaultaire-Deadline"
)

// Errors of the internal RPC.
var (
	// ErrNoDrive: the serving node has no drive with that id. RemoteDriver
	// reports it wrapped together with drivers.ErrOffline.
	ErrNoDrive = errors.New("cluster: no such drive on the serving node")
	// ErrProtoVersion: the peer does not speak a compatible protocol version.
	ErrProtoVersion = errors.New("cluster: unsupported protocol version")
	// ErrBadResponse: the peer answered something this build cannot parse.
	ErrBadResponse = errors.New("cluster: malformed rpc response")
)

// Error codes on the wire. Part of the protocol: never rename.
const (
	codeNotFound    = "not_found"
	codeInvalidName = "invalid_name"
	codeOffline     = "offline"
	codeFull        = "full"
	codeNoDrive     = "no_drive"
	codeCanceled    = "canceled"
	codeDeadline    = "deadline_exceeded"
	codeBadProto    = "bad_proto"
	codeBadRequest  = "bad_request"
	codeTooLarge    = "too_large"
	codeInternal    = "internal"
)

// wireError is the JSON error body.
type wireError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// wireErrors is THE mapping between errors and wire codes: the first row
// whose match err matches (errors.Is) gives the code and HTTP status a
// server answers; a client rebuilds a code as an error matching the row's
// sentinels. Anything else is codeInternal, 500, matching nothing.
var wireErrors = []struct {
	code      string
	status    int
	match     error
	sentinels []error
}{
	// The shard is unreachable as far as the caller is concerned.
	{codeNoDrive, http.StatusNotFound, ErrNoDrive, []error{drivers.ErrOffline, ErrNoDrive}},
	{codeNotFound, http.StatusNotFound, drivers.ErrNotFound, []error{drivers.ErrNotFound}},
	{codeInvalidName, http.StatusBadRequest, drivers.ErrInvalidName, []error{drivers.ErrInvalidName}},
	{codeOffline, http.StatusServiceUnavailable, drivers.ErrOffline, []error{drivers.ErrOffline}},
	{codeFull, http.StatusInsufficientStorage, drivers.ErrFull, []error{drivers.ErrFull}},
	{codeCanceled, http.StatusServiceUnavailable, context.Canceled, []error{context.Canceled}},
	{codeDeadline, http.StatusGatewayTimeout, context.DeadlineExceeded, []error{context.DeadlineExceeded}},
	// A peer we cannot talk to is offline for us.
	{codeBadProto, http.StatusBadRequest, ErrProtoVersion, []error{drivers.ErrOffline, ErrProtoVersion}},
	{codeBadRequest, http.StatusBadRequest, errBadRequest, nil},
	{codeTooLarge, http.StatusRequestEntityTooLarge, errTooLarge, nil},
}

// errorCode maps err to its wire code and HTTP status.
func errorCode(err error) (string, int) {
	for _, row := range wireErrors {
		if errors.Is(err, row.match) {
			return row.code, row.status
		}
	}
	return codeInternal, http.StatusInternalServerError
}

// errBadRequest and errTooLarge are server-side markers for request errors.
var (
	errBadRequest = errors.New("cluster: bad rpc request")
	errTooLarge   = errors.New("cluster: rpc request body too large")
)

func toWire(err error) wireError {
	code, _ := errorCode(err)
	return wireError{Code: code, Message: err.Error()}
}

// remoteError is an error raised on another node: its message as it was
// there, matching the sentinels its code stands for.
type remoteError struct {
	msg  string
	errs []error
}

func (e *remoteError) Error() string   { return e.msg }
func (e *remoteError) Unwrap() []error { return e.errs }

// fromWire is the inverse of toWire.
func fromWire(w wireError) error {
	var sentinels []error
	for _, row := range wireErrors {
		if row.code == w.Code {
			sentinels = row.sentinels
			break
		}
	}
	msg := w.Message
	if msg == "" {
		msg = "cluster: remote error " + w.Code
	}
	return &remoteError{msg: msg, errs: sentinels}
}

// writeError answers err as a JSON error with its status.
func writeError(w http.ResponseWriter, err error) {
	_, status := errorCode(err)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(toWire(err))
}

// readError decodes a non-2xx response into an error.
func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var w wireError
	if err := json.Unmarshal(b, &w); err != nil || w.Code == "" {
		return fmt.Errorf("%w: status %s: %q", ErrBadResponse, resp.Status, truncate(b, 200))
	}
	return fromWire(w)
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// checkProto reports whether r's protocol version is one this build serves.
func checkProto(r *http.Request) error {
	v := r.Header.Get(ProtoHeader)
	n, err := strconv.Atoi(v)
	if err != nil || n < ProtoMinVersion || n > ProtoVersion {
		return fmt.Errorf("%w: request has %s %q, this node serves versions %d to %d",
			ErrProtoVersion, ProtoHeader, v, ProtoMinVersion, ProtoVersion)
	}
	return nil
}

// parseDeadline parses a DeadlineHeader value.
func parseDeadline(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: bad %s %q", errBadRequest, DeadlineHeader, v)
	}
	return time.Unix(0, n), nil
}

// handle wraps an RPC handler: it checks the protocol version, derives the
// handler's context (with the caller's deadline) and answers a returned
// error, which the handler returns only before writing anything.
func handle(h func(ctx context.Context, w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkProto(r); err != nil {
			writeError(w, err)
			return
		}
		ctx := r.Context()
		if v := r.Header.Get(DeadlineHeader); v != "" {
			d, err := parseDeadline(v)
			if err != nil {
				writeError(w, err)
				return
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(ctx, d)
			defer cancel()
		}
		if err := h(ctx, w, r); err != nil {
			writeError(w, err)
		}
	}
}

// newRequest builds an RPC request carrying the protocol headers.
func newRequest(ctx context.Context, method, url string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set(ProtoHeader, strconv.Itoa(ProtoVersion))
	if d, ok := ctx.Deadline(); ok {
		req.Header.Set(DeadlineHeader, d.UTC().Format(time.RFC3339Nano))
	}
	return req, nil
}
