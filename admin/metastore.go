package admin

import (
	"net/http"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/audit"
	"github.com/vaultaire/vaultaire/metastore"
)

// The metadata backup:
//
//	GET /admin/v1/metastore/snapshot   a consistent snapshot of the replicated metadata
//	                                   (application/octet-stream; metastore.Store.Backup)
//
// It streams (a backup can be larger than memory), so it is served
// outside adminAPI.serve, with the same token check and audit event.
func (a *adminAPI) registerMetastore(r *httprouter.Router, meta *metastore.Store) {
	r.GET("/admin/v1/metastore/snapshot", func(w http.ResponseWriter, req *http.Request, _ httprouter.Params) {
		start := time.Now()
		ev := &audit.Event{
			Time: start, RequestID: newAdminRequestID(), Node: a.nodeID, Operation: "MetastoreSnapshot",
			RemoteAddr: req.RemoteAddr, UserAgent: req.UserAgent(), Admin: true,
		}
		w.Header().Set("X-Request-Id", ev.RequestID)
		defer func() {
			ev.Duration = time.Since(start)
			if a.audit != nil {
				a.audit.Emit(*ev)
			}
		}()
		if a.token == "" || !bearerOK(req, a.token) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vaultaire-admin"`)
			ev.Status, ev.ErrorCode = http.StatusUnauthorized, "Unauthorized"
			writeJSON(w, http.StatusUnauthorized, &Error{Code: "Unauthorized", Message: "missing or wrong admin token"})
			return
		}
		w.Header().Set("Content-Disposition", `attachment; filename="vaultaire-metastore.snapshot"`)
		w.Header().Set("Cache-Control", "no-store")
		ev.Status = http.StatusOK
		cw := &countingWriter{w: w}
		if err := meta.Backup(req.Context(), cw); err != nil {
			ev.Status, ev.ErrorCode = http.StatusServiceUnavailable, "SnapshotFailed"
			a.log.Error("metastore snapshot failed", "request_id", ev.RequestID, "err", err)
			if cw.n == 0 {
				writeJSON(w, http.StatusServiceUnavailable, &Error{Code: "SnapshotFailed", Message: "the snapshot failed (request " + ev.RequestID + ")"})
			}
			// Else the stream ends without its end frame, which a
			// restore refuses.
		}
	})
}

type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.n == 0 && len(p) > 0 {
		c.w.Header().Set("Content-Type", "application/octet-stream")
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
