package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/policy"
)

// This file serves the access settings of tenants: user identity
// policies and the tenant's PublicAccessBlock (docs/design.md, "Access
// control"). The s3 layer enforces them on every request.

func (a *adminAPI) registerAccess(r *httprouter.Router) {
	const v1 = "/admin/v1"
	r.GET(v1+"/tenants/:tenant/users/:user/policy", a.serve("GetUserPolicy", a.getUserPolicy))
	r.PUT(v1+"/tenants/:tenant/users/:user/policy", a.serve("SetUserPolicy", a.setUserPolicy))
	r.DELETE(v1+"/tenants/:tenant/users/:user/policy", a.serve("DeleteUserPolicy", a.deleteUserPolicy))
	r.GET(v1+"/tenants/:tenant/public-access-block", a.serve("GetTenantPublicAccessBlock", a.getTenantPAB))
	r.PUT(v1+"/tenants/:tenant/public-access-block", a.serve("SetTenantPublicAccessBlock", a.setTenantPAB))
	r.DELETE(v1+"/tenants/:tenant/public-access-block", a.serve("DeleteTenantPublicAccessBlock", a.deleteTenantPAB))
}

// UserPolicy is the JSON form of a user's identity policy: Policy is the
// IAM policy document, null when the user has none (and so may do
// everything in its tenant).
type UserPolicy struct {
	Tenant string          `json:"tenant"`
	User   string          `json:"user"`
	Policy json.RawMessage `json:"policy"`
}

// TenantPublicAccessBlock is the JSON form of a tenant's block.
type TenantPublicAccessBlock struct {
	Tenant string `json:"tenant"`
	policy.PublicAccessBlock
}

func (a *adminAPI) getUserPolicy(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, user, err := userParams(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.userExists(ctx, tenant, user); err != nil {
		return 0, nil, err
	}
	doc, err := a.eng.UserPolicy(ctx, tenant, user)
	if err != nil {
		return 0, nil, err
	}
	out := UserPolicy{Tenant: tenant, User: user, Policy: json.RawMessage("null")}
	if doc != "" {
		out.Policy = json.RawMessage(doc)
	}
	return http.StatusOK, out, nil
}

// userExists answers UserNotFound (or TenantNotFound) for a user that
// does not exist, so a read does not pass a typo for "no policy".
func (a *adminAPI) userExists(ctx context.Context, tenant, user string) error {
	users, err := a.eng.ListUsers(ctx, tenant)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Name == user {
			return nil
		}
	}
	return &Error{Status: http.StatusNotFound, Code: "UserNotFound", Message: "user not found"}
}

func (a *adminAPI) setUserPolicy(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, user, err := userParams(c)
	if err != nil {
		return 0, nil, err
	}
	var in struct {
		Policy json.RawMessage `json:"policy"`
	}
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	doc := strings.TrimSpace(string(in.Policy))
	if doc == "" || doc == "null" {
		return 0, nil, badRequest("MalformedPolicy", "policy is missing (DELETE removes a policy)")
	}
	if _, err := policy.Parse([]byte(doc), policy.Identity); err != nil {
		return 0, nil, badRequest("MalformedPolicy", "%s", strings.TrimPrefix(err.Error(), "policy: malformed: "))
	}
	if err := a.eng.SetUserPolicy(ctx, tenant, user, doc); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, UserPolicy{Tenant: tenant, User: user, Policy: json.RawMessage(doc)}, nil
}

func (a *adminAPI) deleteUserPolicy(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, user, err := userParams(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.SetUserPolicy(ctx, tenant, user, ""); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, UserPolicy{Tenant: tenant, User: user, Policy: json.RawMessage("null")}, nil
}

func (a *adminAPI) getTenantPAB(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	if _, err := a.eng.GetTenant(ctx, tenant); err != nil {
		return 0, nil, err
	}
	doc, err := a.eng.TenantPublicAccessBlock(ctx, tenant)
	if err != nil {
		return 0, nil, err
	}
	p, err := policy.ParsePublicAccessBlock(doc)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TenantPublicAccessBlock{Tenant: tenant, PublicAccessBlock: p}, nil
}

func (a *adminAPI) setTenantPAB(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	var in policy.PublicAccessBlock
	if err := decode(c.req, &in); err != nil {
		return 0, nil, err
	}
	if err := a.eng.SetTenantPublicAccessBlock(ctx, tenant, in.String()); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TenantPublicAccessBlock{Tenant: tenant, PublicAccessBlock: in}, nil
}

func (a *adminAPI) deleteTenantPAB(ctx context.Context, c *adminCall) (int, any, error) {
	tenant, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	if err := a.eng.SetTenantPublicAccessBlock(ctx, tenant, ""); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, TenantPublicAccessBlock{Tenant: tenant}, nil
}
