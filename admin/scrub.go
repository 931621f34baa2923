package admin

import (
	"context"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
)

// The scrub's admin API; the CLI noun "scrub" (cmd/vaultaire) calls it.
//
//	GET  /admin/v1/scrub        this node's scrub status (node.ScrubStatus)
//	POST /admin/v1/scrub/start  start a pass now, unpaced (202); 409 when the scrub is off

// scrubAdmin serves /admin/v1/scrub.
type scrubAdmin struct {
	eng *node.Engine
}

func (sa *scrubAdmin) register(r *httprouter.Router, api *adminAPI) {
	r.GET("/admin/v1/scrub", api.serve("ScrubStatus", sa.status))
	r.POST("/admin/v1/scrub/start", api.serve("StartScrub", sa.start))
}

func (sa *scrubAdmin) status(ctx context.Context, call *adminCall) (int, any, error) {
	return http.StatusOK, sa.eng.ScrubStatus(), nil
}

func (sa *scrubAdmin) start(ctx context.Context, call *adminCall) (int, any, error) {
	if !sa.eng.StartScrub() {
		return 0, nil, &Error{Status: http.StatusConflict, Code: "ScrubDisabled", Message: "the scrub is off on this node (--scrub-period 0)"}
	}
	return http.StatusAccepted, map[string]bool{"started": true}, nil
}
