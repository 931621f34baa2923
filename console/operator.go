package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/node"
)

// The operator's pages: the cluster, live request figures, and tenants
// (create, suspend, limits, quotas, plan, users, delete). Operators manage
// tenants; they do not browse tenants' data.

var (
	tenantIDRe = regexp.MustCompile(`^[a-z0-9-]{3,63}$`)
	userNameRe = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}$`)
)

type clusterData struct {
	View     ClusterView
	Err      string
	Progress []Progress
	Stats    node.Stats
}

func (s *Server) clusterData(ctx context.Context) clusterData {
	var d clusterData
	if s.cfg.Cluster != nil {
		v, err := s.cfg.Cluster(ctx)
		if err != nil {
			d.Err = "The cluster status is not available: " + err.Error()
		}
		d.View = v
	}
	if s.cfg.Progress != nil {
		d.Progress = s.cfg.Progress(ctx)
	}
	d.Stats = s.eng.Stats()
	return d
}

func (s *Server) clusterPage(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	return s.render(w, r, http.StatusOK, "cluster", &page{Title: "Cluster", Session: sess, Nav: "cluster", Data: s.clusterData(r.Context())})
}

type liveData struct {
	Available bool
	Node      string
	Now       LiveFigures
	Five      LiveFigures
	Spark     sparkline
}

// sparkline is the request rate over the kept history, as SVG points.
type sparkline struct {
	Points string
	Max    string
	Width  float64
	Height float64
}

func newSparkline(rates []float64) sparkline {
	sp := sparkline{Width: 600, Height: 80}
	top := 0.0
	for _, r := range rates {
		top = max(top, r)
	}
	sp.Max = fmt.Sprintf("%.1f/s", top)
	if top == 0 {
		top = 1
	}
	var b strings.Builder
	for i, r := range rates {
		x := float64(i) / float64(max(len(rates)-1, 1)) * sp.Width
		y := sp.Height - r/top*(sp.Height-4)
		fmt.Fprintf(&b, "%.1f,%.1f ", x, y)
	}
	sp.Points = strings.TrimSpace(b.String())
	return sp
}

func (s *Server) livePage(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	d := liveData{Node: s.cfg.NodeID}
	if s.live != nil {
		d.Available = true
		var rates []float64
		d.Now, _ = s.live.figures(10 * time.Second)
		d.Five, rates = s.live.figures(5 * time.Minute)
		d.Spark = newSparkline(rates)
	}
	return s.render(w, r, http.StatusOK, "live", &page{Title: "Live requests", Session: sess, Nav: "live", Data: d})
}

type tenantRow struct {
	node.TenantInfo
	Usage node.TenantUsageInfo
}

func (s *Server) tenants(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	ts, err := s.eng.ListTenants(r.Context())
	if err != nil {
		return err
	}
	rows := make([]tenantRow, len(ts))
	for i, t := range ts {
		rows[i].TenantInfo = t
		rows[i].Usage, _ = s.eng.TenantUsage(r.Context(), t.ID)
	}
	return s.render(w, r, http.StatusOK, "tenants", &page{Title: "Tenants", Session: sess, Nav: "tenants", Flash: flash(r),
		Data: map[string]any{"Tenants": rows, "Plans": s.cfg.Plans}})
}

// printable refuses control characters and invalid UTF-8 in a label.
func printable(s string, maxLen int) bool {
	return len(s) <= maxLen && utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

func (s *Server) applyPlan(ctx context.Context, tenant string, p billing.Plan) (node.TenantInfo, error) {
	override, lim, q := p.Limits()
	t, err := s.eng.AssignPlan(ctx, tenant, p.Name, override, lim, q)
	if err == nil && s.cfg.LimitsChanged != nil {
		s.cfg.LimitsChanged(ctx)
	}
	return t, err
}

// createTenant creates a tenant with a plan of the catalog and, when a
// user name is given, its first user (with a password, so they can sign
// in).
func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	f := r.PostForm
	id, name, planName := strings.TrimSpace(f.Get("id")), strings.TrimSpace(f.Get("name")), f.Get("plan")
	user, password := strings.TrimSpace(f.Get("user")), f.Get("password")
	if !tenantIDRe.MatchString(id) {
		return userError(http.StatusBadRequest, "Invalid tenant id: 3 to 63 characters of a-z, 0-9 and -.")
	}
	if !printable(name, 256) {
		return userError(http.StatusBadRequest, "Invalid name: at most 256 bytes of printable text.")
	}
	if name == "" {
		name = id
	}
	plan, err := s.cfg.Plans.Plan(planName)
	if err != nil {
		return userError(http.StatusBadRequest, "Choose a plan of the catalog.")
	}
	if user != "" && (!userNameRe.MatchString(user) || len(password) < 8 || len(password) > node.MaxPasswordLen) {
		return userError(http.StatusBadRequest, "The first user needs a name of 1-64 characters of A-Z, a-z, 0-9 and ._@+- and a password of 8 to 72 bytes.")
	}
	_, err = s.eng.CreateTenant(r.Context(), id, name, plan.Name)
	s.auditTenant(r, sess, id, "ConsoleCreateTenant", status(err), "", "", "")
	if err != nil {
		return err
	}
	if _, err := s.applyPlan(r.Context(), id, plan); err != nil {
		return err
	}
	if user != "" {
		_, err := s.eng.CreateUser(r.Context(), id, user, password)
		s.auditTenant(r, sess, id, "ConsoleCreateUser", status(err), "", "", "")
		if err != nil {
			return err
		}
	}
	redirect(w, r, withFlash("/operator/tenants/"+url.PathEscape(id), "tenant-created"))
	return nil
}

type userRow struct {
	node.UserInfo
	Locked      bool
	LockedUntil time.Time
	Failures    int64
}

type tenantData struct {
	Tenant  node.TenantInfo
	Limits  node.TenantLimits
	Usage   usageData
	Users   []userRow
	Plans   billing.Catalog
	Billing node.BillingAccount
}

func (s *Server) tenantParam(r *http.Request, p httprouter.Params) (node.TenantInfo, error) {
	id := p.ByName("tenant")
	if !tenantIDRe.MatchString(id) {
		return node.TenantInfo{}, userError(http.StatusBadRequest, "Invalid tenant id.")
	}
	return s.eng.GetTenant(r.Context(), id)
}

func (s *Server) tenant(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	t, err := s.tenantParam(r, p)
	if err != nil {
		return err
	}
	d := tenantData{Tenant: t, Plans: s.cfg.Plans}
	if d.Limits, err = s.eng.TenantLimits(r.Context(), t.ID); err != nil {
		return err
	}
	month, err := monthParam(r)
	if err != nil {
		return err
	}
	if d.Usage, err = s.usageData(r, t.ID, month); err != nil {
		return err
	}
	d.Usage.InvoiceURL = "/operator/tenants/" + url.PathEscape(t.ID) + "/invoice"
	us, err := s.eng.ListUsers(r.Context(), t.ID)
	if err != nil {
		return err
	}
	now := time.Now()
	for _, u := range us {
		row := userRow{UserInfo: u}
		if st, err := s.eng.LoginStatus(r.Context(), node.Account{Tenant: t.ID, Name: u.Name}); err == nil {
			row.Locked, row.LockedUntil, row.Failures = st.Locked(now), st.LockedUntil, st.Failures
		}
		d.Users = append(d.Users, row)
	}
	d.Billing = d.Usage.Billing
	return s.render(w, r, http.StatusOK, "tenant", &page{Title: "Tenant " + t.ID, Session: sess, Nav: "tenants", Flash: flash(r), Data: d})
}

// tenantAction changes one tenant: suspend, resume, plan, limits, quota,
// user (create), password (reset), deluser, delete.
func (s *Server) tenantAction(w http.ResponseWriter, r *http.Request, p httprouter.Params, sess *session) error {
	t, err := s.tenantParam(r, p)
	if err != nil {
		return err
	}
	ctx, f := r.Context(), r.PostForm
	back := "/operator/tenants/" + url.PathEscape(t.ID)
	action := p.ByName("action")
	var code string
	switch action {
	case "suspend", "resume":
		state, c := node.TenantSuspended, "tenant-suspended"
		if action == "resume" {
			state, c = node.TenantActive, "tenant-resumed"
		}
		code = c
		err = s.setState(ctx, t.ID, state)
	case "plan":
		plan, perr := s.cfg.Plans.Plan(f.Get("plan"))
		if perr != nil {
			return userError(http.StatusBadRequest, "Choose a plan of the catalog.")
		}
		code = "plan-assigned"
		_, err = s.applyPlan(ctx, t.ID, plan)
	case "limits":
		code = "limits-saved"
		err = s.saveLimits(ctx, t.ID, f)
	case "quota":
		code = "quota-saved"
		err = s.saveQuota(ctx, t.ID, f)
	case "user":
		name, pw := strings.TrimSpace(f.Get("user")), f.Get("password")
		if !userNameRe.MatchString(name) || len(pw) < 8 || len(pw) > node.MaxPasswordLen {
			return userError(http.StatusBadRequest, "A user needs a name of 1-64 characters of A-Z, a-z, 0-9 and ._@+- and a password of 8 to 72 bytes.")
		}
		code = "user-created"
		_, err = s.eng.CreateUser(ctx, t.ID, name, pw)
	case "password":
		name, pw := f.Get("user"), f.Get("password")
		if !userNameRe.MatchString(name) || len(pw) < 8 || len(pw) > node.MaxPasswordLen {
			return userError(http.StatusBadRequest, "A new password is 8 to 72 bytes.")
		}
		code = "password-reset"
		err = s.eng.SetPassword(ctx, node.Account{Tenant: t.ID, Name: name}, pw)
	case "deluser":
		name := f.Get("user")
		if !userNameRe.MatchString(name) {
			return userError(http.StatusBadRequest, "Invalid user name.")
		}
		code = "user-deleted"
		err = s.eng.DeleteUser(ctx, t.ID, name)
	case "delete":
		if f.Get("confirm") != t.ID {
			return userError(http.StatusBadRequest, "Type the tenant's id to confirm its deletion.")
		}
		code, back = "tenant-deleted", "/operator/tenants"
		_, err = s.eng.DeleteTenant(ctx, t.ID, f.Get("force") == "on")
	default:
		return userError(http.StatusNotFound, "No such action.")
	}
	s.auditTenant(r, sess, t.ID, "ConsoleTenant:"+action, status(err), "", "", "")
	if err != nil {
		return err
	}
	redirect(w, r, withFlash(back, code))
	return nil
}

// setState suspends or resumes a tenant; a suspension ends its sessions
// and refuses its keys at once (CheckSession and Credential read the
// tenant's state).
func (s *Server) setState(ctx context.Context, id, state string) error {
	_, err := s.eng.SetTenantState(ctx, id, state)
	return err
}

func parseInt(v string) (*int64, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, userError(http.StatusBadRequest, "Limits and quotas are whole numbers >= 0 (0: unlimited).")
	}
	return &n, nil
}

func (s *Server) saveLimits(ctx context.Context, tenant string, f url.Values) error {
	cur, err := s.eng.TenantLimits(ctx, tenant)
	if err != nil {
		return err
	}
	lim, override := cur.Limit, cur.Override
	if f.Get("default") == "on" {
		override = false
	} else if v := strings.TrimSpace(f.Get("rps")); v != "" {
		rps, err := strconv.ParseFloat(v, 64)
		if err != nil || rps < 0 || rps > 1e9 {
			return userError(http.StatusBadRequest, "Requests per second: a number >= 0 (0: unlimited).")
		}
		lim.RequestsPerSec, override = rps, true
	}
	if b, err := parseInt(f.Get("burst")); err != nil {
		return err
	} else if b != nil {
		if *b > 1<<30 {
			return userError(http.StatusBadRequest, "Burst is at most %d.", 1<<30)
		}
		lim.Burst = int(*b)
	}
	if override && lim.Burst == 0 && lim.RequestsPerSec > 0 {
		lim.Burst = int(max(1, lim.RequestsPerSec*2))
	}
	for field, dst := range map[string]*int64{"bytes_in": &lim.BytesInPerSec, "bytes_out": &lim.BytesOutPerSec} {
		v, err := parseInt(f.Get(field))
		if err != nil {
			return err
		}
		if v != nil {
			*dst = *v
		}
	}
	if _, err := s.eng.SetTenantLimits(ctx, tenant, override, lim); err != nil {
		return err
	}
	if s.cfg.LimitsChanged != nil {
		s.cfg.LimitsChanged(ctx)
	}
	return nil
}

func (s *Server) saveQuota(ctx context.Context, tenant string, f url.Values) error {
	cur, err := s.eng.TenantLimits(ctx, tenant)
	if err != nil {
		return err
	}
	q := cur.Quota
	for field, dst := range map[string]*int64{"max_bytes": &q.MaxBytes, "max_artifacts": &q.MaxArtifacts, "max_egress": &q.MaxEgressBytesPerMonth} {
		v, err := parseInt(f.Get(field))
		if err != nil {
			return err
		}
		if v != nil {
			*dst = *v
		}
	}
	_, err = s.eng.SetTenantQuota(ctx, tenant, q)
	return err
}
