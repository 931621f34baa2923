package admin

import (
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/audit"
)

// registerProfiling serves Go's runtime profiles under /debug/pprof/ with
// the admin token: CPU, heap, goroutine, block and mutex profiles of a
// live node, for performance work and for refreshing default.pgo (see
// README, "Profiling"). Every request is audited; a CPU profile holds the
// request for its ?seconds (30 by default).
func (a *adminAPI) registerProfiling(r *httprouter.Router) {
	fixed := map[string]http.Handler{
		"":        http.HandlerFunc(pprof.Index),
		"cmdline": http.HandlerFunc(pprof.Cmdline),
		"profile": http.HandlerFunc(pprof.Profile),
		"symbol":  http.HandlerFunc(pprof.Symbol),
		"trace":   http.HandlerFunc(pprof.Trace),
	}
	r.GET("/debug/pprof/*name", func(w http.ResponseWriter, req *http.Request, p httprouter.Params) {
		name := strings.TrimPrefix(p.ByName("name"), "/")
		h, ok := fixed[name]
		if !ok {
			// The named profiles: heap, goroutine, block, mutex, allocs...
			h = pprof.Handler(name)
		}
		a.profile(w, req, h)
	})
}

// profile authenticates and audits one profiling request, then serves it.
func (a *adminAPI) profile(w http.ResponseWriter, r *http.Request, h http.Handler) {
	start := time.Now()
	ev := audit.Event{
		Time: start, RequestID: newAdminRequestID(), Node: a.nodeID, Operation: "Profile",
		RemoteAddr: r.RemoteAddr, UserAgent: r.UserAgent(), Admin: true, Key: r.URL.Path,
	}
	w.Header().Set("X-Request-Id", ev.RequestID)
	if a.token == "" || !bearerOK(r, a.token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vaultaire-admin"`)
		ev.Status, ev.ErrorCode = http.StatusUnauthorized, "Unauthorized"
		writeJSON(w, http.StatusUnauthorized, &Error{Status: http.StatusUnauthorized, Code: "Unauthorized", Message: "missing or wrong admin token"})
	} else {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		ev.Status = sw.status
	}
	ev.Duration = time.Since(start)
	if a.audit != nil {
		a.audit.Emit(ev)
	}
}

// statusWriter remembers the status a handler wrote, for the audit event.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// Flush lets streaming profiles (trace) flush through the wrapper.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
