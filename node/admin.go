package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vaultaire/vaultaire/metastore"
)

// Tenant states as the admin API names them.
const (
	TenantActive    = string(metastore.TenantActive)
	TenantSuspended = string(metastore.TenantSuspended)
)

// accessKeyPrefix starts every generated access key id, so keys are easy
// to tell apart from other tokens in logs and configs.
const accessKeyPrefix = "VA"

// accessKeyIDBytes and secretBytes size generated credentials: 20 hex
// characters after the prefix (80 random bits are plenty for an
// identifier that is not secret) and a 40-hex-character secret (160 bits).
const (
	accessKeyIDBytes = 10
	secretBytes      = 20
)

// TenantInfo describes a tenant.
type TenantInfo struct {
	ID      string
	Name    string
	Plan    string
	State   string
	Created time.Time
}

// UserInfo describes a user of a tenant; the password hash never leaves
// the node.
type UserInfo struct {
	Tenant      string
	Name        string
	HasPassword bool
	Created     time.Time
}

// AccessKeyInfo describes an access key without its secret.
type AccessKeyInfo struct {
	ID      string
	Tenant  string
	User    string
	Enabled bool
	Created time.Time
}

func tenantInfo(t metastore.Tenant) TenantInfo {
	return TenantInfo{ID: t.ID, Name: t.Name, Plan: t.Plan, State: string(t.State), Created: t.Created}
}

// adminErr maps metastore errors of the admin calls to node sentinels;
// notFound is the sentinel for ErrNotFound in this call.
func adminErr(err error, notFound error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, metastore.ErrNotFound) && notFound != nil:
		return fmt.Errorf("%w: %w", notFound, err)
	case errors.Is(err, metastore.ErrInvalidArgument):
		return fmt.Errorf("%w: %w", ErrInvalidArgument, err)
	}
	return metaErr(err)
}

// CreateTenant creates an active tenant; ErrTenantExists if the id is
// taken. Ids are validated by the caller's edge (the admin API).
func (e *Engine) CreateTenant(ctx context.Context, id, name, plan string) (TenantInfo, error) {
	if id == "" {
		return TenantInfo{}, fmt.Errorf("%w: empty tenant id", ErrInvalidArgument)
	}
	t := metastore.Tenant{ID: id, Name: name, Plan: plan, State: metastore.TenantActive, Created: now()}
	err := e.meta.CreateTenant(ctx, t) // create-if-absent, decided by the metastore
	if errors.Is(err, metastore.ErrExists) {
		return TenantInfo{}, fmt.Errorf("%w: %q", ErrTenantExists, id)
	}
	if err != nil {
		return TenantInfo{}, adminErr(err, nil)
	}
	return tenantInfo(t), nil
}

// GetTenant describes a tenant (ErrTenantNotFound).
func (e *Engine) GetTenant(ctx context.Context, id string) (TenantInfo, error) {
	t, err := e.meta.GetTenant(ctx, id)
	if err != nil {
		return TenantInfo{}, adminErr(err, ErrTenantNotFound)
	}
	return tenantInfo(t), nil
}

// ListTenants lists every tenant ordered by id.
func (e *Engine) ListTenants(ctx context.Context) ([]TenantInfo, error) {
	ts, err := e.meta.ListTenants(ctx)
	if err != nil {
		return nil, adminErr(err, nil)
	}
	out := make([]TenantInfo, len(ts))
	for i, t := range ts {
		out[i] = tenantInfo(t)
	}
	return out, nil
}

// SetTenantState activates or suspends a tenant. A suspended tenant's
// access keys are refused by Credential at once; its data is kept.
func (e *Engine) SetTenantState(ctx context.Context, id, state string) (TenantInfo, error) {
	if state != TenantActive && state != TenantSuspended {
		return TenantInfo{}, fmt.Errorf("%w: tenant state %q", ErrInvalidArgument, state)
	}
	if id == RootTenant && state == TenantSuspended {
		return TenantInfo{}, fmt.Errorf("%w: the root tenant cannot be suspended", ErrInvalidArgument)
	}
	if err := e.meta.SetTenantState(ctx, id, metastore.TenantState(state)); err != nil {
		return TenantInfo{}, adminErr(err, ErrTenantNotFound)
	}
	return e.GetTenant(ctx, id)
}

// CreateUser adds a user to an existing tenant (ErrTenantNotFound,
// ErrUserExists). A non-empty password is kept only as a bcrypt hash.
func (e *Engine) CreateUser(ctx context.Context, tenant, name, password string) (UserInfo, error) {
	if name == "" {
		return UserInfo{}, fmt.Errorf("%w: empty user name", ErrInvalidArgument)
	}
	// bcrypt is deliberately slow: hash before touching the metastore.
	var hash []byte
	if password != "" {
		h, err := bcrypt.GenerateFromPassword([]byte(password), e.cfg.PasswordCost)
		if err != nil {
			return UserInfo{}, fmt.Errorf("%w: password: %w", ErrInvalidArgument, err)
		}
		hash = h
	}
	u := metastore.User{Tenant: tenant, Name: name, PasswordHash: hash, Created: now()}
	// The metastore checks the tenant exists and the name is free.
	err := e.meta.CreateUser(ctx, u)
	if errors.Is(err, metastore.ErrExists) {
		return UserInfo{}, fmt.Errorf("%w: %q in tenant %q", ErrUserExists, name, tenant)
	}
	if err != nil {
		return UserInfo{}, adminErr(err, ErrTenantNotFound)
	}
	return UserInfo{Tenant: tenant, Name: name, HasPassword: password != "", Created: u.Created}, nil
}

// ListUsers lists a tenant's users by name (ErrTenantNotFound).
func (e *Engine) ListUsers(ctx context.Context, tenant string) ([]UserInfo, error) {
	if _, err := e.meta.GetTenant(ctx, tenant); err != nil {
		return nil, adminErr(err, ErrTenantNotFound)
	}
	us, err := e.meta.ListUsers(ctx, tenant)
	if err != nil {
		return nil, adminErr(err, nil)
	}
	out := make([]UserInfo, len(us))
	for i, u := range us {
		out[i] = UserInfo{Tenant: u.Tenant, Name: u.Name, HasPassword: len(u.PasswordHash) > 0, Created: u.Created}
	}
	return out, nil
}

// CreateAccessKey generates an enabled access key for an existing user
// (ErrTenantNotFound, ErrUserNotFound). The returned Credential is the
// only place its secret is ever handed out.
func (e *Engine) CreateAccessKey(ctx context.Context, tenant, user string) (Credential, error) {
	if _, err := e.meta.GetTenant(ctx, tenant); err != nil {
		return Credential{}, adminErr(err, ErrTenantNotFound)
	}
	if _, err := e.meta.GetUser(ctx, tenant, user); err != nil {
		return Credential{}, adminErr(err, ErrUserNotFound)
	}
	for range 3 { // a collision of 80 random bits is not expected; retry anyway
		id, err := randomUpperHex(accessKeyIDBytes)
		if err != nil {
			return Credential{}, err
		}
		secret, err := randomUpperHex(secretBytes)
		if err != nil {
			return Credential{}, err
		}
		id, secret = accessKeyPrefix+id, strings.ToLower(secret)
		k := metastore.AccessKey{ID: id, Tenant: tenant, User: user, Enabled: true, Created: now()}
		err = e.meta.CreateAccessKey(ctx, k, secret)
		if errors.Is(err, metastore.ErrExists) {
			continue
		}
		if err != nil {
			return Credential{}, adminErr(err, nil)
		}
		return Credential{AccessKeyID: id, Secret: secret, Tenant: tenant, User: user}, nil
	}
	return Credential{}, errors.New("node: could not generate a unique access key id")
}

// ListAccessKeys lists a tenant's access keys by id, without secrets
// (ErrTenantNotFound).
func (e *Engine) ListAccessKeys(ctx context.Context, tenant string) ([]AccessKeyInfo, error) {
	if _, err := e.meta.GetTenant(ctx, tenant); err != nil {
		return nil, adminErr(err, ErrTenantNotFound)
	}
	ks, err := e.meta.ListAccessKeys(ctx, tenant)
	if err != nil {
		return nil, adminErr(err, nil)
	}
	out := make([]AccessKeyInfo, len(ks))
	for i, k := range ks {
		out[i] = accessKeyInfo(k)
	}
	return out, nil
}

func accessKeyInfo(k metastore.AccessKey) AccessKeyInfo {
	return AccessKeyInfo{ID: k.ID, Tenant: k.Tenant, User: k.User, Enabled: k.Enabled, Created: k.Created}
}

// GetAccessKey describes an access key without its secret
// (ErrAccessKeyNotFound).
func (e *Engine) GetAccessKey(ctx context.Context, id string) (AccessKeyInfo, error) {
	k, _, err := e.meta.GetAccessKey(ctx, id)
	if err != nil {
		return AccessKeyInfo{}, adminErr(err, ErrAccessKeyNotFound)
	}
	return accessKeyInfo(k), nil
}

// SetAccessKeyEnabled enables or disables an access key
// (ErrAccessKeyNotFound); a disabled key is refused by Credential at once.
func (e *Engine) SetAccessKeyEnabled(ctx context.Context, id string, enabled bool) (AccessKeyInfo, error) {
	k, err := e.GetAccessKey(ctx, id)
	if err != nil {
		return AccessKeyInfo{}, err
	}
	if err := e.meta.SetAccessKeyEnabled(ctx, id, enabled); err != nil {
		return AccessKeyInfo{}, adminErr(err, ErrAccessKeyNotFound)
	}
	k.Enabled = enabled
	return k, nil
}

// DeleteAccessKey deletes an access key (ErrAccessKeyNotFound) and
// returns what it was.
func (e *Engine) DeleteAccessKey(ctx context.Context, id string) (AccessKeyInfo, error) {
	k, err := e.GetAccessKey(ctx, id)
	if err != nil {
		return AccessKeyInfo{}, err
	}
	if err := e.meta.DeleteAccessKey(ctx, id); err != nil {
		return AccessKeyInfo{}, adminErr(err, ErrAccessKeyNotFound)
	}
	return k, nil
}

func randomUpperHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("node: random: %w", err)
	}
	return strings.ToUpper(hex.EncodeToString(b)), nil
}
