package node

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/tenancy"
)

// Console accounts: password login with lockout, sessions that end on
// logout, password change or reset, operator accounts, and the deletion of
// users and tenants. The web console (package console) owns tokens,
// cookies and forms; the Engine owns what the cluster must agree on.

// PasswordCost is the bcrypt cost of the password hashes the Engine
// writes. 10 (bcrypt's default and OWASP's floor) takes 50-250 ms per
// verification on the 2-core machines this runs on (BenchmarkLogin);
// hashes of another cost keep verifying at their own cost.
const PasswordCost = 10

// MaxPasswordLen is bcrypt's input limit; longer passwords are refused
// rather than silently truncated.
const MaxPasswordLen = 72

// DefaultLoginPolicy locks an account for 15 minutes after 5 failed logins
// within 15 minutes.
var DefaultLoginPolicy = LoginPolicy{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute}

// LoginPolicy is the lockout rule: MaxFailures failed logins within Window
// lock the account for Lockout. Every node applies the proposer's policy.
type LoginPolicy = metastore.LoginPolicy

var (
	// ErrLoginFailed: the account does not exist, the password is wrong,
	// the account is locked or its tenant suspended. Callers show one
	// message for all of them; *LoginError says which, for the audit log.
	ErrLoginFailed = errors.New("node: login failed")
	// ErrSessionInvalid: a session was revoked, its account deleted or its
	// password changed since, or its tenant suspended.
	ErrSessionInvalid = errors.New("node: session no longer valid")
	// ErrTenantNotEmpty: a tenant to delete still holds data.
	ErrTenantNotEmpty = errors.New("node: tenant not empty")
	// ErrOperatorNotFound and ErrOperatorExists: operator accounts.
	ErrOperatorNotFound = errors.New("node: operator not found")
	ErrOperatorExists   = errors.New("node: operator already exists")
)

// LoginError is an ErrLoginFailed with its reason (for the audit log only:
// telling a client which reason it was would let it enumerate accounts).
type LoginError struct {
	// Reason is one of "unknown account", "wrong password", "locked",
	// "locked now" (this failure locked the account), "tenant suspended".
	Reason string
}

func (e *LoginError) Error() string { return "node: login failed: " + e.Reason }

// Unwrap makes errors.Is(err, ErrLoginFailed) true.
func (e *LoginError) Unwrap() error { return ErrLoginFailed }

// Account names a console account: a user of a tenant, or an operator
// when Tenant is empty.
type Account struct {
	Tenant string
	Name   string
}

// IsOperator reports whether a is an operator account.
func (a Account) IsOperator() bool { return a.Tenant == "" }

// Grant is what a successful login establishes: the account and its
// current session generation (a session carries it; a password change
// raises it and so ends the session).
type Grant struct {
	Account Account
	Gen     uint64
}

// OperatorInfo describes an operator account; the hash never leaves the node.
type OperatorInfo struct {
	Name    string
	Created time.Time
}

// LoginState is an account's login state as the console shows it.
type LoginState = metastore.LoginState

// dummy returns the hash compared against when the account does not
// exist, so that an unknown account costs the same time as a wrong
// password. It has the Engine's cost.
func (e *Engine) dummy() []byte {
	e.dummyOnce.Do(func() {
		h, err := bcrypt.GenerateFromPassword([]byte("vaultaire: no such account"), e.cfg.PasswordCost)
		if err != nil {
			panic(err)
		}
		e.dummyHash = h
	})
	return e.dummyHash
}

// loginSlots bounds concurrent bcrypt verifications per node: a flood of
// logins must not take every core from S3 traffic.
var loginSlots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))

// hashPassword returns the bcrypt hash of a password at the Engine's cost
// (ErrInvalidArgument when it is empty or longer than MaxPasswordLen).
func (e *Engine) hashPassword(password string) ([]byte, error) {
	if password == "" || len(password) > MaxPasswordLen {
		return nil, fmt.Errorf("%w: password must be 1-%d bytes", ErrInvalidArgument, MaxPasswordLen)
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), e.cfg.PasswordCost)
	if err != nil {
		return nil, fmt.Errorf("%w: password: %w", ErrInvalidArgument, err)
	}
	return h, nil
}

// Login checks a password for an account and, on success, returns its
// grant. Every refusal is an ErrLoginFailed (*LoginError) and costs one
// bcrypt verification, whether the account exists or not. Failures count
// towards the policy's lockout, decided by the state machine (so every
// node counts alike); a locked account is refused even with the right
// password until the lock ends or an operator resets the password.
func (e *Engine) Login(ctx context.Context, acct Account, password string, p LoginPolicy) (Grant, error) {
	select {
	case loginSlots <- struct{}{}:
		defer func() { <-loginSlots }()
	case <-ctx.Done():
		return Grant{}, ctx.Err()
	}
	hash, reason, err := e.accountHash(ctx, acct)
	if err != nil {
		return Grant{}, err
	}
	var st metastore.LoginState
	if reason == "" {
		if st, err = e.meta.GetLoginState(ctx, acct.Tenant, acct.Name); err != nil {
			return Grant{}, metaErr(err)
		}
		if st.Locked(time.Now()) {
			reason = "locked"
		}
	}
	if reason != "" || len(hash) == 0 {
		// The same work as a real check, then the refusal.
		_ = bcrypt.CompareHashAndPassword(e.dummy(), []byte(password))
		if reason == "" {
			reason = "unknown account" // no password set: cannot log in
		}
		return Grant{}, &LoginError{Reason: reason}
	}
	if bcrypt.CompareHashAndPassword(hash, []byte(password)) != nil {
		after, err := e.meta.RecordLogin(ctx, acct.Tenant, acct.Name, false, time.Now(), p)
		if err != nil {
			return Grant{}, adminErr(err, ErrLoginFailed)
		}
		if after.Locked(time.Now()) {
			return Grant{}, &LoginError{Reason: "locked now"}
		}
		return Grant{}, &LoginError{Reason: "wrong password"}
	}
	if st.Failures > 0 || !st.WindowStart.IsZero() {
		after, err := e.meta.RecordLogin(ctx, acct.Tenant, acct.Name, true, time.Now(), p)
		if err != nil {
			return Grant{}, adminErr(err, ErrLoginFailed)
		}
		if after.Locked(time.Now()) { // a concurrent failure locked it
			return Grant{}, &LoginError{Reason: "locked"}
		}
		st = after
	}
	return Grant{Account: acct, Gen: st.SessionGen}, nil
}

// accountHash returns the password hash of an account, or the reason it
// cannot log in ("unknown account", "tenant suspended").
func (e *Engine) accountHash(ctx context.Context, acct Account) (hash []byte, reason string, err error) {
	if acct.Name == "" {
		return nil, "unknown account", nil
	}
	if acct.IsOperator() {
		o, err := e.meta.GetOperator(ctx, acct.Name)
		if errors.Is(err, metastore.ErrNotFound) {
			return nil, "unknown account", nil
		}
		if err != nil {
			return nil, "", metaErr(err)
		}
		return o.PasswordHash, "", nil
	}
	t, err := e.meta.GetTenant(ctx, acct.Tenant)
	if errors.Is(err, metastore.ErrNotFound) {
		return nil, "unknown account", nil
	}
	if err != nil {
		return nil, "", metaErr(err)
	}
	u, err := e.meta.GetUser(ctx, acct.Tenant, acct.Name)
	if errors.Is(err, metastore.ErrNotFound) {
		return nil, "unknown account", nil
	}
	if err != nil {
		return nil, "", metaErr(err)
	}
	if t.State == metastore.TenantSuspended {
		return u.PasswordHash, "tenant suspended", nil
	}
	return u.PasswordHash, "", nil
}

// CheckSession reports whether a session of acct issued under generation
// gen, with id sid and ending at expiry, is still valid: not revoked, its
// account still there with the same generation, its tenant active
// (ErrSessionInvalid otherwise). Call it with a ReadScope context: its
// reads then share one consistency barrier.
func (e *Engine) CheckSession(ctx context.Context, acct Account, gen uint64, sid string, expiry time.Time) error {
	revoked, err := e.meta.IsRevoked(ctx, sid, expiry)
	if err != nil {
		return metaErr(err)
	}
	if revoked {
		return fmt.Errorf("%w: logged out", ErrSessionInvalid)
	}
	_, reason, err := e.accountHash(ctx, acct)
	if err != nil {
		return err
	}
	if reason != "" {
		return fmt.Errorf("%w: %s", ErrSessionInvalid, reason)
	}
	st, err := e.meta.GetLoginState(ctx, acct.Tenant, acct.Name)
	if err != nil {
		return metaErr(err)
	}
	if st.SessionGen != gen {
		return fmt.Errorf("%w: password changed", ErrSessionInvalid)
	}
	return nil
}

// RevokeSession ends session sid cluster-wide; the revocation is kept
// until expiry, when the session would have ended anyway.
func (e *Engine) RevokeSession(ctx context.Context, sid string, expiry time.Time) error {
	return metaErr(e.meta.RevokeSession(ctx, sid, expiry, time.Now()))
}

// LoginStatus returns an account's login state (failures, lock).
func (e *Engine) LoginStatus(ctx context.Context, acct Account) (LoginState, error) {
	st, err := e.meta.GetLoginState(ctx, acct.Tenant, acct.Name)
	return st, metaErr(err)
}

// SetPassword sets an account's password (an operator's reset, or the
// account's own change after ChangePassword verified the old one): it
// clears a lockout and ends every session of the account
// (ErrUserNotFound, ErrOperatorNotFound).
func (e *Engine) SetPassword(ctx context.Context, acct Account, password string) error {
	hash, err := e.hashPassword(password)
	if err != nil {
		return err
	}
	notFound := ErrUserNotFound
	if acct.IsOperator() {
		notFound = ErrOperatorNotFound
	}
	return adminErr(e.meta.SetPassword(ctx, acct.Tenant, acct.Name, hash), notFound)
}

// ChangePassword replaces an account's password after checking the current
// one as a login would (a wrong one counts towards the lockout). It ends
// every session of the account, the caller's included; the caller issues
// a new one with the returned grant.
func (e *Engine) ChangePassword(ctx context.Context, acct Account, current, next string, p LoginPolicy) (Grant, error) {
	if _, err := e.hashPassword(next); err != nil {
		return Grant{}, err
	}
	if _, err := e.Login(ctx, acct, current, p); err != nil {
		return Grant{}, err
	}
	if err := e.SetPassword(ctx, acct, next); err != nil {
		return Grant{}, err
	}
	st, err := e.meta.GetLoginState(ctx, acct.Tenant, acct.Name)
	if err != nil {
		return Grant{}, metaErr(err)
	}
	return Grant{Account: acct, Gen: st.SessionGen}, nil
}

// CreateOperator creates an operator account of the console
// (ErrOperatorExists).
func (e *Engine) CreateOperator(ctx context.Context, name, password string) (OperatorInfo, error) {
	if name == "" {
		return OperatorInfo{}, fmt.Errorf("%w: empty operator name", ErrInvalidArgument)
	}
	hash, err := e.hashPassword(password)
	if err != nil {
		return OperatorInfo{}, err
	}
	o := metastore.Operator{Name: name, PasswordHash: hash, Created: now()}
	err = e.meta.CreateOperator(ctx, o)
	if errors.Is(err, metastore.ErrExists) {
		return OperatorInfo{}, fmt.Errorf("%w: %q", ErrOperatorExists, name)
	}
	if err != nil {
		return OperatorInfo{}, adminErr(err, nil)
	}
	return OperatorInfo{Name: name, Created: o.Created}, nil
}

// ListOperators lists the operator accounts by name.
func (e *Engine) ListOperators(ctx context.Context) ([]OperatorInfo, error) {
	os, err := e.meta.ListOperators(ctx)
	if err != nil {
		return nil, metaErr(err)
	}
	out := make([]OperatorInfo, len(os))
	for i, o := range os {
		out[i] = OperatorInfo{Name: o.Name, Created: o.Created}
	}
	return out, nil
}

// DeleteOperator deletes an operator account (ErrOperatorNotFound); its
// sessions end at once.
func (e *Engine) DeleteOperator(ctx context.Context, name string) error {
	return adminErr(e.meta.DeleteOperator(ctx, name), ErrOperatorNotFound)
}

// DeleteUser deletes a user of a tenant together with its access keys
// (refused by S3 at once) and console sessions (ErrUserNotFound).
func (e *Engine) DeleteUser(ctx context.Context, tenant, name string) error {
	if tenant == RootTenant && name == RootTenant {
		return fmt.Errorf("%w: the root user cannot be deleted", ErrInvalidArgument)
	}
	return adminErr(e.meta.DeleteAccount(ctx, tenant, name), ErrUserNotFound)
}

// DeleteReport says what DeleteTenant removed.
type DeleteReport struct {
	Containers, Artifacts, Uploads int
}

// DeleteTenant deletes a tenant with its users, keys and settings. A
// tenant that still holds containers is refused (ErrTenantNotEmpty) unless
// force is set; then its artifacts and unfinished uploads are deleted first
// through the Engine's ordinary delete paths, container by container, so
// every rule those paths enforce holds: an artifact they refuse to delete
// (a locked version) stops the deletion, which then reports what it
// removed so far and keeps the tenant. Hourly usage records stay, for
// invoices.
func (e *Engine) DeleteTenant(ctx context.Context, id string, force bool) (DeleteReport, error) {
	var rep DeleteReport
	if id == RootTenant {
		return rep, fmt.Errorf("%w: the root tenant cannot be deleted", ErrInvalidArgument)
	}
	if _, err := e.meta.GetTenant(ctx, id); err != nil {
		return rep, adminErr(err, ErrTenantNotFound)
	}
	if force {
		cs, err := e.ListContainers(ctx, id)
		if err != nil {
			return rep, err
		}
		for _, c := range cs {
			if err := e.emptyContainer(ctx, id, c.Name, &rep); err != nil {
				return rep, fmt.Errorf("emptying container %q: %w", c.Name, err)
			}
			if err := e.DeleteContainer(ctx, id, c.Name); err != nil {
				return rep, fmt.Errorf("deleting container %q: %w", c.Name, err)
			}
			rep.Containers++
		}
	}
	err := e.meta.DeleteTenant(ctx, id)
	if errors.Is(err, metastore.ErrTenantNotEmpty) {
		return rep, fmt.Errorf("%w: %w", ErrTenantNotEmpty, err)
	}
	return rep, adminErr(err, ErrTenantNotFound)
}

// emptyContainer aborts a container's uploads and deletes its artifacts,
// page by page, through the ordinary paths.
func (e *Engine) emptyContainer(ctx context.Context, tenant, container string, rep *DeleteReport) error {
	for {
		ul, err := e.ListUploads(ctx, tenant, container, UploadListOptions{MaxUploads: metastore.MaxListKeys})
		if err != nil {
			return err
		}
		for _, u := range ul.Uploads {
			if err := e.AbortUpload(ctx, tenant, container, u.Key, u.UploadID); err != nil && !errors.Is(err, ErrUploadNotFound) {
				return err
			}
			rep.Uploads++
		}
		if !ul.Truncated {
			break
		}
	}
	// Every version and delete marker, each removed by version id: the
	// one path that removes a version, where object lock is decided, so a
	// locked version stops the deletion (ErrObjectLocked) and stays.
	for {
		page, err := e.ListVersions(ctx, tenant, container, VersionListOptions{MaxKeys: metastore.MaxListKeys})
		if err != nil {
			return err
		}
		for _, v := range page.Versions {
			id := v.VersionID
			if id == "" {
				id = NullVersion
			}
			if _, err := e.DeleteArtifact(ctx, tenant, DeleteInput{Container: container, Key: v.Key, VersionID: id}); err != nil {
				return err
			}
			if !v.DeleteMarker {
				rep.Artifacts++
			}
		}
		if !page.Truncated || len(page.Versions) == 0 {
			return nil
		}
	}
}

// AssignPlan sets a tenant's plan and, at once, the limits and quota the
// plan brings (override: whether lim's request rate replaces the node
// default). Every node's limiter takes the limits within its refresh.
func (e *Engine) AssignPlan(ctx context.Context, tenant, plan string, override bool, lim tenancy.Limit, q tenancy.Quota) (TenantInfo, error) {
	l := metastore.TenantLimits{
		Override: override, RequestsPerSec: lim.RequestsPerSec, Burst: int64(lim.Burst),
		BytesInPerSec: lim.BytesInPerSec, BytesOutPerSec: lim.BytesOutPerSec,
	}
	mq := metastore.TenantQuota{MaxBytes: q.MaxBytes, MaxArtifacts: q.MaxArtifacts, MaxEgressBytesPerMonth: q.MaxEgressBytesPerMonth}
	if err := e.meta.AssignPlan(ctx, tenant, plan, l, mq); err != nil {
		return TenantInfo{}, adminErr(err, ErrTenantNotFound)
	}
	return e.GetTenant(ctx, tenant)
}

// BillingAccount and BillingChange are a tenant's account with the
// payment provider and a change of it (metastore's records).
type (
	BillingAccount = metastore.BillingAccount
	BillingChange  = metastore.BillingChange
)

// ErrEventApplied: a payment provider event was applied before.
var ErrEventApplied = errors.New("node: payment event already applied")

// BillingAccount returns a tenant's billing account (the zero account when
// it has none).
func (e *Engine) BillingAccount(ctx context.Context, tenant string) (BillingAccount, error) {
	a, err := e.meta.GetBillingAccount(ctx, tenant)
	return a, metaErr(err)
}

// BillingAccounts lists every billing account by tenant.
func (e *Engine) BillingAccounts(ctx context.Context) ([]BillingAccount, error) {
	as, err := e.meta.ListBillingAccounts(ctx)
	return as, metaErr(err)
}

// UpdateBilling applies ch (ErrTenantNotFound; ErrEventApplied when it
// names a provider event applied before).
func (e *Engine) UpdateBilling(ctx context.Context, ch BillingChange) error {
	err := e.meta.UpdateBilling(ctx, ch, time.Now())
	if errors.Is(err, metastore.ErrExists) {
		return fmt.Errorf("%w: %w", ErrEventApplied, err)
	}
	return adminErr(err, ErrTenantNotFound)
}

// SetUsagePushed records that a tenant's usage before through was
// reported to the payment provider.
func (e *Engine) SetUsagePushed(ctx context.Context, tenant string, through time.Time) error {
	return adminErr(e.meta.SetUsagePushed(ctx, tenant, through, time.Now()), ErrTenantNotFound)
}

// IsMetaLeader reports whether this node leads the metadata Raft group
// (cluster-wide loops such as billing run only there).
func (e *Engine) IsMetaLeader() bool { return e.meta.IsLeader() }
