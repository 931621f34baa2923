package s3

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/vaultaire/vaultaire/tenancy"
)

// QuotaChecker is what the s3 edge asks before moving artifact bytes, when
// the Engine offers it (*node.Engine does). Both checks read local state
// and are cheap; the metastore decides stored-byte quotas exactly when
// the write commits, so these only refuse early what would fail anyway
// (a 5 GiB PUT over quota is refused before any byte is streamed).
type QuotaChecker interface {
	// CheckWriteQuota: may a write of size bytes (-1: unknown) to key (""
	// for a multipart part) proceed? node.ErrQuotaExceeded if not.
	CheckWriteQuota(ctx context.Context, tenant, container, key string, size int64) error
	// CheckEgressQuota: may the tenant read more this month?
	CheckEgressQuota(ctx context.Context, tenant string) error
}

// ByteLimiter shapes artifact bytes per tenant; a Config.Limiter that
// also implements it (*tenancy.Limiter does) gets request and response
// bodies of PutObject, UploadPart and GetObject throttled to the tenant's
// bytes/s limits.
type ByteLimiter interface {
	WaitBytes(ctx context.Context, tenant string, dir tenancy.Direction, n int) error
}

// tenantLimits runs the quota pre-checks of the request's operation and
// wraps its body (ingress) or response (egress) with the tenant's
// bandwidth limit. It returns the writer the handler must use.
func (s *Server) tenantLimits(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) (http.ResponseWriter, error) {
	op := rc.ep.Op
	if op != OpPutObject && op != OpUploadPart && op != OpGetObject {
		return w, nil
	}
	if qc, ok := s.eng.(QuotaChecker); ok {
		var err error
		switch op {
		case OpPutObject, OpUploadPart:
			key := rc.ep.Key
			if op == OpUploadPart {
				key = ""
			}
			err = qc.CheckWriteQuota(ctx, rc.tenant, rc.ep.Container, key, declaredSize(r))
		case OpGetObject:
			err = qc.CheckEgressQuota(ctx, rc.tenant)
		}
		if err != nil {
			return w, err
		}
	}
	bl, ok := s.cfg.Limiter.(ByteLimiter)
	if !ok {
		return w, nil
	}
	if op == OpGetObject {
		return &shapedWriter{ResponseWriter: w, ctx: ctx, lim: bl, tenant: rc.tenant}, nil
	}
	rc.body = &shapedBody{Reader: rc.body, ctx: ctx, lim: bl, tenant: rc.tenant}
	return w, nil
}

// declaredSize is the artifact size a write announces: the decoded length
// of an aws-chunked body, else Content-Length; -1 when unknown.
func declaredSize(r *http.Request) int64 {
	if v := r.Header.Get("X-Amz-Decoded-Content-Length"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			return n
		}
		return -1
	}
	return r.ContentLength
}

// shapedBody takes the bytes it returns from the tenant's ingress bucket.
// Waiting after the read keeps the reader simple; the bucket goes
// negative and the next read waits, so the long-run rate is the limit.
type shapedBody struct {
	io.Reader
	ctx    context.Context
	lim    ByteLimiter
	tenant string
}

func (b *shapedBody) Read(p []byte) (int, error) {
	n, err := b.Reader.Read(p)
	if n > 0 {
		if werr := b.lim.WaitBytes(b.ctx, b.tenant, tenancy.Ingress, n); werr != nil {
			return n, werr
		}
	}
	return n, err
}

// shapedWriter takes the bytes it writes from the tenant's egress bucket
// before writing them.
type shapedWriter struct {
	http.ResponseWriter
	ctx    context.Context
	lim    ByteLimiter
	tenant string
}

func (w *shapedWriter) Write(p []byte) (int, error) {
	if err := w.lim.WaitBytes(w.ctx, w.tenant, tenancy.Egress, len(p)); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *shapedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
