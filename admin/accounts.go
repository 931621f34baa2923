package admin

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/node"
)

// Console accounts, deletions, plans and invoices:
//
//	POST   /admin/v1/operators                       {name, password}
//	GET    /admin/v1/operators
//	DELETE /admin/v1/operators/:name
//	PUT    /admin/v1/operators/:name/password        {password}
//	PUT    /admin/v1/tenants/:tenant/users/:user/password  {password}
//	DELETE /admin/v1/tenants/:tenant/users/:user
//	DELETE /admin/v1/tenants/:tenant[?force=true]
//	GET    /admin/v1/plans
//	PUT    /admin/v1/tenants/:tenant/plan            {plan}
//	GET    /admin/v1/tenants/:tenant/invoice?month=YYYY-MM[&format=csv]

// Operator is an operator account as the API shows it.
type Operator struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
}

// Deleted is the answer of a tenant deletion.
type Deleted struct {
	Tenant     string `json:"deleted"`
	Containers int    `json:"containers"`
	Artifacts  int    `json:"artifacts"`
	Uploads    int    `json:"uploads"`
}

func (a *adminAPI) registerAccounts(r *httprouter.Router) {
	const v1 = "/admin/v1"
	r.POST(v1+"/operators", a.serve("CreateOperator", a.createOperator))
	r.GET(v1+"/operators", a.serve("ListOperators", a.listOperators))
	r.DELETE(v1+"/operators/:name", a.serve("DeleteOperator", a.deleteOperator))
	r.PUT(v1+"/operators/:name/password", a.serve("ResetOperatorPassword", a.resetOperatorPassword))
	r.PUT(v1+"/tenants/:tenant/users/:user/password", a.serve("ResetUserPassword", a.resetUserPassword))
	r.DELETE(v1+"/tenants/:tenant/users/:user", a.serve("DeleteUser", a.deleteUser))
	r.DELETE(v1+"/tenants/:tenant", a.serve("DeleteTenant", a.deleteTenant))
	r.GET(v1+"/plans", a.serve("ListPlans", a.listPlans))
	r.PUT(v1+"/tenants/:tenant/plan", a.serve("AssignPlan", a.assignPlan))
	r.GET(v1+"/tenants/:tenant/invoice", a.serve("GetInvoice", a.getInvoice))
}

func operatorParam(c *adminCall) (string, error) {
	name := c.p.ByName("name")
	if err := checkUserName(name); err != nil {
		return "", badRequest("InvalidOperatorName", "operator name must be 1-64 characters of A-Z, a-z, 0-9 and ._@+-")
	}
	c.ev.User = name
	return name, nil
}

// passwordBody reads {"password": ...}: 1 to node.MaxPasswordLen bytes.
func passwordBody(c *adminCall) (string, error) {
	var in struct {
		Password string `json:"password"`
	}
	if err := decode(c.req, &in); err != nil {
		return "", err
	}
	if in.Password == "" || len(in.Password) > node.MaxPasswordLen {
		return "", badRequest("InvalidPassword", "password must be 1-%d bytes", node.MaxPasswordLen)
	}
	return in.Password, nil
}

func (a *adminAPI) createOperator(ctx context.Context, c *adminCall) (int, any, error) {
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if err := checkUserName(in.Name); err != nil {
		return 0, nil, badRequest("InvalidOperatorName", "operator name must be 1-64 characters of A-Z, a-z, 0-9 and ._@+-")
	}
	c.ev.User = in.Name
	if in.Password == "" || len(in.Password) > node.MaxPasswordLen {
		return 0, nil, badRequest("InvalidPassword", "password must be 1-%d bytes", node.MaxPasswordLen)
	}
	o, err := a.eng.CreateOperator(ctx, in.Name, in.Password)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, Operator{Name: o.Name, Created: o.Created.UTC()}, nil
}

func (a *adminAPI) listOperators(ctx context.Context, _ *adminCall) (int, any, error) {
	os, err := a.eng.ListOperators(ctx)
	if err != nil {
		return 0, nil, err
	}
	out := make([]Operator, len(os))
	for i, o := range os {
		out[i] = Operator{Name: o.Name, Created: o.Created.UTC()}
	}
	return http.StatusOK, map[string]any{"operators": out}, nil
}

func (a *adminAPI) deleteOperator(ctx context.Context, c *adminCall) (int, any, error) {
	name, err := operatorParam(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.DeleteOperator(ctx, name); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"deleted": name}, nil
}

func (a *adminAPI) resetOperatorPassword(ctx context.Context, c *adminCall) (int, any, error) {
	name, err := operatorParam(c)
	if err != nil {
		return 0, nil, err
	}
	pw, err := passwordBody(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.SetPassword(ctx, node.Account{Name: name}, pw); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"operator": name, "password_reset": true}, nil
}

func (a *adminAPI) resetUserPassword(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, user, err := userParams(c)
	if err != nil {
		return 0, nil, err
	}
	pw, err := passwordBody(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.SetPassword(ctx, node.Account{Tenant: tenant, Name: user}, pw); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"tenant": tenant, "user": user, "password_reset": true}, nil
}

func (a *adminAPI) deleteUser(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, user, err := userParams(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.DeleteUser(ctx, tenant, user); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"tenant": tenant, "deleted": user}, nil
}

func (a *adminAPI) deleteTenant(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	force := false
	if v := c.req.URL.Query().Get("force"); v != "" {
		if force, err = strconv.ParseBool(v); err != nil {
			return 0, nil, badRequest("InvalidArgument", "force must be true or false")
		}
	}
	rep, err := a.eng.DeleteTenant(ctx, id, force)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, Deleted{Tenant: id, Containers: rep.Containers, Artifacts: rep.Artifacts, Uploads: rep.Uploads}, nil
}

func (a *adminAPI) listPlans(_ context.Context, _ *adminCall) (int, any, error) {
	return http.StatusOK, a.plans, nil
}

func (a *adminAPI) assignPlan(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Plan string `json:"plan"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	p, err := a.plans.Plan(in.Plan)
	if err != nil {
		return 0, nil, badRequest("UnknownPlan", "no plan %q in the catalog (GET /admin/v1/plans)", in.Plan)
	}
	t, err := AssignPlan(ctx, a.eng, id, p)
	if err != nil {
		return 0, nil, err
	}
	a.applyNow(ctx)
	return http.StatusOK, toTenantJSON(t), nil
}

// AssignPlan gives a tenant a plan of the catalog and, at once, the rate,
// bandwidth and quotas the plan sets (the admin API, the console and
// billing's webhooks all assign plans this way).
func AssignPlan(ctx context.Context, eng *node.Engine, tenant string, p billing.Plan) (node.TenantInfo, error) {
	override, lim, q := p.Limits()
	return eng.AssignPlan(ctx, tenant, p.Name, override, lim, q)
}

func (a *adminAPI) getInvoice(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	q := c.req.URL.Query()
	month := time.Now().UTC()
	if m := q.Get("month"); m != "" {
		if month, err = time.Parse("2006-01", m); err != nil {
			return 0, nil, badRequest("InvalidArgument", "month must be YYYY-MM")
		}
	}
	format := q.Get("format")
	if format != "" && format != "json" && format != "csv" {
		return 0, nil, badRequest("InvalidArgument", "format must be json or csv")
	}
	inv, err := Invoice(ctx, a.eng, a.plans, a.tenancy.Load(), id, month)
	if err != nil {
		return 0, nil, err
	}
	if format == "csv" {
		var buf bytes.Buffer
		if err := inv.WriteCSV(&buf); err != nil {
			return 0, nil, err
		}
		return http.StatusOK, rawBody{contentType: "text/csv; charset=utf-8", data: buf.Bytes()}, nil
	}
	return http.StatusOK, inv, nil
}

// Invoice computes a tenant's invoice for the calendar month containing
// month from its hourly usage records, on its current plan (a plan that is
// not in the catalog prices nothing). tn, when not nil, reports this
// node's latest metered requests first.
func Invoice(ctx context.Context, eng *node.Engine, plans billing.Catalog, tn *Tenancy, tenant string, month time.Time) (billing.Invoice, error) {
	t, err := eng.GetTenant(ctx, tenant)
	if err != nil {
		return billing.Invoice{}, err
	}
	if tn != nil {
		_ = (*tn).Flush(ctx) // best effort: other nodes report within seconds too
	}
	start, end := billing.MonthOf(month)
	hours, err := eng.UsageHours(ctx, tenant, start, end)
	if err != nil {
		return billing.Invoice{}, err
	}
	p, err := plans.Plan(t.Plan)
	if errors.Is(err, billing.ErrUnknownPlan) {
		p = billing.Plan{Name: t.Plan}
	}
	return billing.NewInvoice(tenant, p, plans.Currency, month, hours), nil
}
