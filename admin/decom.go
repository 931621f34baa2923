package admin

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
)

// Decommission (node/decom.go); the CLI is `vaultaire cluster
// decommission`.
//
//	GET  /admin/v1/cluster/decommissions                       every job ([]node.DecomStatus)
//	POST /admin/v1/cluster/nodes/:node/decommission[?throttle=B] start (or re-throttle and resume) (202, node.DecomStatus)
//	GET  /admin/v1/cluster/nodes/:node/decommission            one job (node.DecomStatus; 404 NoDecommission)
//	POST /admin/v1/cluster/nodes/:node/decommission/pause      stop the moves (the node still gets no new shards)
//	POST /admin/v1/cluster/nodes/:node/decommission/resume     restart them
//	POST /admin/v1/cluster/nodes/:node/decommission/cancel     forget the job: the node takes new shards again
//
// throttle is the bytes per second the moves may write: 0 or absent the
// default (node.DefaultMoveRate), -1 no limit.

// nodeIDRe bounds node IDs in paths.
var nodeIDRe = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// maxThrottle bounds a throttle (1 TiB/s: beyond any disk).
const maxThrottle = 1 << 40

func (ca *clusterAdmin) registerDecom(r *httprouter.Router, api *adminAPI) {
	r.GET("/admin/v1/cluster/decommissions", api.serve("ListDecommissions", ca.listDecom))
	r.POST("/admin/v1/cluster/nodes/:node/decommission", api.serve("StartDecommission", ca.startDecom))
	r.GET("/admin/v1/cluster/nodes/:node/decommission", api.serve("GetDecommission", ca.getDecom))
	r.POST("/admin/v1/cluster/nodes/:node/decommission/pause", api.serve("PauseDecommission", ca.decomVerb(ca.engine.PauseDecommission)))
	r.POST("/admin/v1/cluster/nodes/:node/decommission/resume", api.serve("ResumeDecommission", ca.decomVerb(ca.engine.ResumeDecommission)))
	r.POST("/admin/v1/cluster/nodes/:node/decommission/cancel", api.serve("CancelDecommission", ca.cancelDecom))
}

func nodeParam(c *adminCall) (string, error) {
	id := c.p.ByName("node")
	if !nodeIDRe.MatchString(id) {
		return "", badRequest("InvalidNodeID", "node id must be 1-128 characters of A-Z, a-z, 0-9 and ._-")
	}
	return id, nil
}

// parseThrottle reads ?throttle= (bytes per second; -1: none; 0 or
// absent: the default).
func parseThrottle(c *adminCall) (int64, error) {
	s := c.req.URL.Query().Get("throttle")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < -1 || v > maxThrottle {
		return 0, badRequest("InvalidThrottle", "throttle must be bytes per second (0: the default, -1: no limit, at most 1 TiB/s)")
	}
	return v, nil
}

// decomErr answers the decommission errors.
func decomErr(err error) error {
	switch {
	case errors.Is(err, node.ErrNoDecommission):
		return &Error{Status: http.StatusNotFound, Code: "NoDecommission", Message: "that node is not being decommissioned"}
	case errors.Is(err, node.ErrNotMember):
		return &Error{Status: http.StatusNotFound, Code: "NoSuchNode", Message: "that node is not a member of the cluster"}
	case errors.Is(err, node.ErrLastNode):
		return &Error{Status: http.StatusConflict, Code: "LastNode", Message: "no other node would remain to hold the shards"}
	}
	return err
}

func (ca *clusterAdmin) listDecom(ctx context.Context, call *adminCall) (int, any, error) {
	all, err := ca.engine.Decommissions(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, all, nil
}

func (ca *clusterAdmin) startDecom(ctx context.Context, call *adminCall) (int, any, error) {
	id, err := nodeParam(call)
	if err != nil {
		return 0, nil, err
	}
	throttle, err := parseThrottle(call)
	if err != nil {
		return 0, nil, err
	}
	st, err := ca.engine.StartDecommission(ctx, id, throttle)
	if err != nil {
		return 0, nil, decomErr(err)
	}
	return http.StatusAccepted, st, nil
}

func (ca *clusterAdmin) getDecom(ctx context.Context, call *adminCall) (int, any, error) {
	id, err := nodeParam(call)
	if err != nil {
		return 0, nil, err
	}
	st, err := ca.engine.DecommissionStatus(ctx, id)
	if err != nil {
		return 0, nil, decomErr(err)
	}
	return http.StatusOK, st, nil
}

func (ca *clusterAdmin) decomVerb(f func(context.Context, string) (node.DecomStatus, error)) adminHandler {
	return func(ctx context.Context, call *adminCall) (int, any, error) {
		id, err := nodeParam(call)
		if err != nil {
			return 0, nil, err
		}
		st, err := f(ctx, id)
		if err != nil {
			return 0, nil, decomErr(err)
		}
		return http.StatusOK, st, nil
	}
}

func (ca *clusterAdmin) cancelDecom(ctx context.Context, call *adminCall) (int, any, error) {
	id, err := nodeParam(call)
	if err != nil {
		return 0, nil, err
	}
	if err := ca.engine.CancelDecommission(ctx, id); err != nil {
		return 0, nil, decomErr(err)
	}
	return http.StatusOK, map[string]string{"cancelled": id}, nil
}
