// Package admin serves Vaultaire's admin listener (--admin-address):
// health and metrics for probes and scrapers, and the admin API, a JSON API
// under /admin/v1 for operators and their scripts. cmd/vaultaire builds it
// (New) once the node is open and serves Starting until then; the admin CLI
// in cmd/vaultaire decodes the answer types declared here.
//
//	GET /metrics       Prometheus exposition of the node's registry
//	                   (bearer --metrics-token when set)
//	GET /health/live   200 while the process runs
//	GET /health/ready  200 when the node can serve writes, else 503 with
//	                   the reasons (Readiness)
//	/admin/v1/...      the admin API (bearer --admin-token)
//
// The admin API manages tenants, users, access keys, limits, quotas, usage
// and the cluster over JSON. Every route needs "Authorization: Bearer
// <admin token>" (--admin-token, else generated once into
// --data/admin.token); the token is not an S3 key and S3 keys do not open
// it.
//
//	POST   /admin/v1/tenants                       {id, name, plan}
//	GET    /admin/v1/tenants
//	GET    /admin/v1/tenants/:tenant
//	POST   /admin/v1/tenants/:tenant/suspend
//	POST   /admin/v1/tenants/:tenant/resume
//	POST   /admin/v1/tenants/:tenant/users         {name, password?}
//	GET    /admin/v1/tenants/:tenant/users
//	POST   /admin/v1/tenants/:tenant/users/:user/keys  -> {access_key_id, secret_key, ...}
//	GET    /admin/v1/tenants/:tenant/keys
//	POST   /admin/v1/keys/:key/disable
//	POST   /admin/v1/keys/:key/enable
//	DELETE /admin/v1/keys/:key
//	GET    /admin/v1/tenants/:tenant/limits        limits, quota and usage
//	PUT    /admin/v1/tenants/:tenant/limits        {requests_per_sec?, burst?, bytes_in_per_sec?, bytes_out_per_sec?, default?}
//	PUT    /admin/v1/tenants/:tenant/quota         {max_bytes?, max_artifacts?, max_egress_bytes_per_month?}
//	GET    /admin/v1/tenants/:tenant/containers/:container/quota
//	PUT    /admin/v1/tenants/:tenant/containers/:container/quota  {max_bytes?, max_artifacts?}
//	GET    /admin/v1/tenants/:tenant/usage?from=&to=  hourly usage records in [from, to) and GB-months
//	DELETE /admin/v1/tenants/:tenant[?force=true]  refused (409 TenantNotEmpty) while it holds data, unless forced
//	PUT    /admin/v1/tenants/:tenant/plan          {plan}: the plan's limits and quotas apply at once
//	GET    /admin/v1/tenants/:tenant/invoice?month=YYYY-MM&format=json|csv
//	GET    /admin/v1/plans                         the plan catalog
//	PUT    /admin/v1/tenants/:tenant/users/:user/password  {password}: reset; unlocks, ends sessions
//	DELETE /admin/v1/tenants/:tenant/users/:user   with its access keys
//	POST   /admin/v1/operators                     {name, password}: a console operator account
//	GET    /admin/v1/operators
//	PUT    /admin/v1/operators/:name/password      {password}
//	DELETE /admin/v1/operators/:name
//	GET    /admin/v1/cluster                       nodes, state, version, Raft role, drives
//	POST   /admin/v1/cluster/nodes/:node/remove    take a stopped node out of the Raft group
//	POST   /admin/v1/cluster/nodes/:node/decommission[?throttle=B]  drain a live node, then remove it (decom.go)
//	GET    /admin/v1/cluster/nodes/:node/decommission  its progress; .../pause, .../resume, .../cancel (POST)
//	GET    /admin/v1/cluster/decommissions         every decommission
//	GET    /admin/v1/cluster/rebalance/plan[?tolerance=F]  what a rebalance would move (rebalance.go)
//	POST   /admin/v1/cluster/rebalance[?throttle=B&tolerance=F]  apply it; GET its progress; .../pause, .../resume, .../cancel
//
// Limits and quotas are partial updates: fields left out keep their
// value; 0 means unlimited; "default": true drops the request-rate
// override (the server's --rate-limit applies again).
//
// Errors are {"error": message, "code": code} with 400 (bad request),
// 401 (no or wrong token), 404 (no such tenant, user, key or operator),
// 409 (exists, tenant not empty),
// 503 (no metadata leader) or 500. Every request, refused ones included,
// becomes an audit event with admin=true. Secrets appear only in the body
// of the key-creation answer, never in logs or audit events.
package admin
