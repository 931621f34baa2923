package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/node"
)

// Rebalance (node/rebalance.go); the CLI is `vaultaire cluster
// rebalance`.
//
//	GET  /admin/v1/cluster/rebalance/plan[?tolerance=F]   what a rebalance would move (node.RebalancePlan)
//	POST /admin/v1/cluster/rebalance[?throttle=B&tolerance=F]  apply plans until balanced (202, node.RebalanceStatus)
//	GET  /admin/v1/cluster/rebalance                      the job (node.RebalanceStatus)
//	POST /admin/v1/cluster/rebalance/pause|resume|cancel
//
// tolerance is how far a drive may stay from its capacity share, a
// fraction in (0, 1) (default node.DefaultRebalanceTolerance); throttle as
// for decommission.

func (ca *clusterAdmin) registerRebalance(r *httprouter.Router, api *adminAPI) {
	r.GET("/admin/v1/cluster/rebalance/plan", api.serve("PlanRebalance", ca.planRebalance))
	r.POST("/admin/v1/cluster/rebalance", api.serve("StartRebalance", ca.startRebalance))
	r.GET("/admin/v1/cluster/rebalance", api.serve("GetRebalance", ca.getRebalance))
	r.POST("/admin/v1/cluster/rebalance/pause", api.serve("PauseRebalance", ca.rebalanceVerb(ca.engine.PauseRebalance)))
	r.POST("/admin/v1/cluster/rebalance/resume", api.serve("ResumeRebalance", ca.rebalanceVerb(ca.engine.ResumeRebalance)))
	r.POST("/admin/v1/cluster/rebalance/cancel", api.serve("CancelRebalance", ca.cancelRebalance))
}

func parseTolerance(c *adminCall) (float64, error) {
	s := c.req.URL.Query().Get("tolerance")
	if s == "" {
		return 0, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0 && v < 1) {
		return 0, badRequest("InvalidTolerance", "tolerance must be a fraction between 0 and 1 (e.g. 0.1)")
	}
	return v, nil
}

func rebalanceErr(err error) error {
	if errors.Is(err, node.ErrNoRebalance) {
		return &Error{Status: http.StatusNotFound, Code: "NoRebalance", Message: "no rebalance is running"}
	}
	return err
}

func (ca *clusterAdmin) planRebalance(ctx context.Context, call *adminCall) (int, any, error) {
	tol, err := parseTolerance(call)
	if err != nil {
		return 0, nil, err
	}
	plan, err := ca.engine.PlanRebalance(ctx, tol)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, plan, nil
}

func (ca *clusterAdmin) startRebalance(ctx context.Context, call *adminCall) (int, any, error) {
	tol, err := parseTolerance(call)
	if err != nil {
		return 0, nil, err
	}
	throttle, err := parseThrottle(call)
	if err != nil {
		return 0, nil, err
	}
	st, err := ca.engine.StartRebalance(ctx, throttle, tol)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusAccepted, st, nil
}

func (ca *clusterAdmin) getRebalance(ctx context.Context, call *adminCall) (int, any, error) {
	st, err := ca.engine.RebalanceStatus(ctx)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, st, nil
}

func (ca *clusterAdmin) rebalanceVerb(f func(context.Context) (node.RebalanceStatus, error)) adminHandler {
	return func(ctx context.Context, call *adminCall) (int, any, error) {
		st, err := f(ctx)
		if err != nil {
			return 0, nil, rebalanceErr(err)
		}
		return http.StatusOK, st, nil
	}
}

func (ca *clusterAdmin) cancelRebalance(ctx context.Context, call *adminCall) (int, any, error) {
	if err := ca.engine.CancelRebalance(ctx); err != nil {
		return 0, nil, rebalanceErr(err)
	}
	return http.StatusOK, map[string]bool{"cancelled": true}, nil
}
