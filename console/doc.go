// Package console is Vaultaire's web console, served by every node on
// --console-address: tenants sign in to manage their buckets, objects and
// access keys and to follow their usage and bill; operators sign in to
// watch the cluster and manage tenants. Pages are rendered on the server
// with html/template and enhanced with htmx (embedded with the styles and
// one small script; no build step). Every page works without JavaScript
// except the multipart upload's progress bar, which falls back to a plain
// streamed form post.
//
// # Accounts and sessions
//
// Tenant users sign in with their tenant id, name and password; operators
// with an operator account (created through the admin API), apart from
// every tenant and from the admin token. node.Engine.Login checks the
// password (bcrypt; an unknown account costs the same time) and applies
// the lockout policy cluster-wide; the console adds a per-source-address
// throttle (a token bucket per address). Every attempt is audited
// (ConsoleLogin, with the refusal's reason as error code); the page says
// only "sign-in failed", whichever the reason.
//
// A session is a JWT (HS256, issuer "vaultaire", audience
// "vaultaire-console") signed with cluster.Secret.SessionKey, so any node
// accepts it: claims sid (session id), ten/usr/op (the account), gen (the
// account's session generation), iat, exp (SessionTTL, 15 minutes) and end
// (the absolute end, SessionMaxAge after sign-in, 12 hours). It travels in
// the HttpOnly, SameSite=Lax cookie vaultaire_session (Secure under TLS),
// and is reissued once half of its life has passed. Every request checks
// it against the cluster (CheckSession): logout revokes the sid until end,
// a password change or reset raises the generation, a deleted account or a
// suspended tenant fails at once, on every node.
//
// # Forgery and injection
//
// Every state-changing request (POST, PUT, DELETE) carries an
// anti-forgery token: HMAC-SHA256 of the session id under
// cluster.Secret.CSRFKey, in a hidden form field, the X-CSRF-Token header
// (htmx, the upload script) or, for the streamed multipart form, the form
// action's query. The sign-in form's token is bound to a random cookie of
// its own. A request whose Sec-Fetch-Site is cross-site, or whose Origin
// is another host, is refused too. Untrusted text (object keys, metadata,
// tenant and user names) only reaches pages through html/template's
// contextual escaping, never into scripts; a Content-Security-Policy
// without inline scripts or styles backs it up. Downloads are always
// attachments of type application/octet-stream with nosniff and a sandbox
// policy, whatever content type an object was stored with.
//
// # Data paths
//
// The console calls the Engine directly with the session's tenant (never
// a tenant from the request), spends the tenant's request rate (the S3
// limiter's) on every tenant request, shapes transfers to its bandwidth
// limits, and meters what it does as the S3
// operations it stands for, so console traffic is limited and billed like
// S3 traffic. Uploads
// from the browser are multipart: the script starts an upload, PUTs 8 MiB
// parts to the console (each streamed into Engine.UploadPart, so memory is
// one stripe per part however large the file) while a progress bar
// follows XMLHttpRequest's upload events, and completes it; quotas are
// checked by the state machine as for S3. Downloads stream
// OpenArtifact/WriteRange.
//
// The console shares its node with S3 and keeps out of its way
// (cache.go): the object browser's listing and the usage page are
// rendered once per tenant for 2 s and shared by its users (this node's
// console writes show at once; changes made elsewhere within 2 s),
// templates execute one at a time, and static assets are linked by
// versioned URLs cached as immutable.
//
// # Routes
//
//	GET  /login, /operator/login       sign-in forms; POST them to sign in
//	POST /logout                       revoke the session
//	GET  /buckets                      buckets; POST creates one
//	GET  /buckets/:b?prefix=&after=&search=   the object browser
//	GET  /buckets/:b/settings, /object?key=, /download?key=
//	POST /buckets/:b/delete, /delete-object, /upload (a streamed form)
//	POST /buckets/:b/download          an SSE-C object: key=, sse_key= (base64; HTTPS only, never stored or logged)
//	POST /buckets/:b/settings/(versioning|policy|encryption|lifecycle|cors), action=set|delete, value=
//	POST /buckets/:b/multipart, PUT .../multipart/:id/parts/:n?key=,
//	POST .../multipart/:id/complete?key=, .../abort?key=
//	GET  /keys; POST /keys (the secret is in that answer only), /keys/:id/(disable|enable|delete)
//	GET  /usage?month=, /usage/invoice?month=&format=csv|json
//	GET  /account; POST /account/password
//	GET  /operator (cluster), /operator/live, /operator/tenants, /operator/tenants/:id
//	POST /operator/tenants, /operator/tenants/:id/(suspend|resume|plan|limits|quota|user|password|deluser|delete)
//	POST /billing/webhook              the payment provider's events (when configured)
package console
