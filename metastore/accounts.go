package metastore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"
)

// This file holds the accounts of the web console (see doc.go, "Console
// accounts and sessions"): operator accounts, the login state of every
// account (failure counting, lockout, session generation), session
// revocations, and the deletion of users and tenants.

// Operator is a console account of the cluster's operators, apart from
// every tenant. PasswordHash is a bcrypt hash.
type Operator struct {
	Name         string
	PasswordHash []byte
	Created      time.Time
}

// LoginState is what the cluster remembers of an account's logins. Tenant
// is empty for an operator.
type LoginState struct {
	Tenant, Name string
	// Failures counts failed logins since WindowStart (at most
	// LoginPolicy.MaxFailures-1: the next failure locks).
	Failures    int64
	WindowStart time.Time
	// LockedUntil: logins are refused until then.
	LockedUntil time.Time
	// SessionGen is the account's session generation: a session is valid
	// only while it carries the current one. A password change or reset
	// raises it, ending every session of the account.
	SessionGen uint64
}

// Locked reports whether logins are refused at now.
func (s LoginState) Locked(now time.Time) bool { return now.Before(s.LockedUntil) }

// LoginPolicy is the lockout rule a login report is judged by: MaxFailures
// failed logins within Window lock the account for Lockout. It travels in
// the command, so every node applies the proposer's policy alike.
type LoginPolicy struct {
	MaxFailures int64
	Window      time.Duration
	Lockout     time.Duration
}

// maxRevocationPrune bounds how many expired revocations one revoke
// command removes (keeps the apply step small; revocations expire at most
// as fast as sessions are created and revoked).
const maxRevocationPrune = 256

func operatorKey(name string) []byte {
	return append(tableKey(tblOperator, len(name)), name...)
}

func loginStateKey(tenant, name string) []byte {
	return append(appendLP(tableKey(tblLoginState, len(tenant)+len(name)+2), tenant), name...)
}

func loginStatePrefix(tenant string) []byte {
	return appendLP(tableKey(tblLoginState, len(tenant)+1), tenant)
}

func revokedKey(expiry int64, sid string) []byte {
	return append(binary.BigEndian.AppendUint64(tableKey(tblRevoked, 8+len(sid)), uint64(max(expiry, 0))), sid...)
}

func encodeOperator(o Operator) []byte {
	e := encoder{b: make([]byte, 0, 16+len(o.Name)+len(o.PasswordHash))}
	e.u8(recordV1)
	e.str(o.Name)
	e.bytes(o.PasswordHash)
	e.time(o.Created)
	return e.b
}

func decodeOperator(b []byte) (Operator, error) {
	d := decoder{b: b}
	var o Operator
	if v := d.u8(); v != recordV1 && d.err == nil {
		return o, corrupt("operator", fmt.Errorf("unknown version %d", v))
	}
	o.Name = d.str()
	o.PasswordHash = d.bytes()
	o.Created = d.time()
	if err := d.done(); err != nil {
		return Operator{}, corrupt("operator", err)
	}
	return o, nil
}

func writeLoginState(e *encoder, s LoginState) {
	e.str(s.Tenant)
	e.str(s.Name)
	e.varint(s.Failures)
	e.time(s.WindowStart)
	e.time(s.LockedUntil)
	e.uvarint(s.SessionGen)
}

func readLoginState(d *decoder) LoginState {
	return LoginState{Tenant: d.str(), Name: d.str(), Failures: d.varint(), WindowStart: d.time(), LockedUntil: d.time(), SessionGen: d.uvarint()}
}

func encodeLoginState(s LoginState) []byte {
	e := encoder{b: make([]byte, 0, 48+len(s.Tenant)+len(s.Name))}
	e.u8(recordV1)
	writeLoginState(&e, s)
	return e.b
}

func decodeLoginState(b []byte) (LoginState, error) {
	d := decoder{b: b}
	if v := d.u8(); v != recordV1 && d.err == nil {
		return LoginState{}, corrupt("login state", fmt.Errorf("unknown version %d", v))
	}
	s := readLoginState(&d)
	if err := d.done(); err != nil {
		return LoginState{}, corrupt("login state", err)
	}
	return s, nil
}

// --- reads inside a transaction ---

// accountExists reports whether the account (a user of tenant, or an
// operator when tenant is empty) exists.
func (t *txn) accountExists(tenant, name string) bool {
	if tenant == "" {
		return t.has(operatorKey(name))
	}
	return t.has(userKey(tenant, name))
}

func (t *txn) loginState(tenant, name string) (LoginState, error) {
	v := t.get(loginStateKey(tenant, name))
	if v == nil {
		return LoginState{Tenant: tenant, Name: name}, nil
	}
	return decodeLoginState(v)
}

// keysWithPrefix returns the keys under p in the batch view (staged ops of
// the running command are not visible).
func (t *txn) keysWithPrefix(p []byte) [][]byte {
	it := t.iter(p, prefixEnd(p))
	var out [][]byte
	for ok := it.First(); ok; ok = it.Next() {
		out = append(out, append([]byte(nil), it.Key()...))
	}
	mustOK(it.Close())
	return out
}

// --- commands ---

// putOperatorCmd creates (create: ErrExists when taken) or replaces
// (ErrNotFound when absent) an operator account.
type putOperatorCmd struct {
	op     Operator
	create bool
}

func (c *putOperatorCmd) write(e *encoder) { e.bytes(encodeOperator(c.op)); e.bool(c.create) }
func decodePutOperator(d *decoder) commandBody {
	o, err := decodeOperator(d.span())
	if err != nil {
		d.fail()
		return nil
	}
	return &putOperatorCmd{op: o, create: d.bool()}
}

func (c *putOperatorCmd) apply(t *txn) result {
	if err := checkName("operator name", c.op.Name); err != nil {
		return errResult(err)
	}
	k := operatorKey(c.op.Name)
	switch exists := t.has(k); {
	case c.create && exists:
		return errResult(fmt.Errorf("%w: operator %q", ErrExists, c.op.Name))
	case !c.create && !exists:
		return errResult(fmt.Errorf("%w: operator %q", ErrNotFound, c.op.Name))
	}
	t.set(k, encodeOperator(c.op))
	return okResult(nil)
}

// deleteOperatorCmd deletes an operator account and its login state.
type deleteOperatorCmd struct{ name string }

func (c *deleteOperatorCmd) write(e *encoder) { e.str(c.name) }
func decodeDeleteOperator(d *decoder) commandBody {
	return &deleteOperatorCmd{name: d.str()}
}

func (c *deleteOperatorCmd) apply(t *txn) result {
	k := operatorKey(c.name)
	if !t.has(k) {
		return errResult(fmt.Errorf("%w: operator %q", ErrNotFound, c.name))
	}
	t.del(k)
	t.del(loginStateKey("", c.name))
	return okResult(nil)
}

// revokeSessionCmd records that session sid is revoked until expiry (Unix
// seconds: when the session would have ended anyway), and removes
// revocations that expired before now.
type revokeSessionCmd struct {
	sid    string
	expiry int64 // Unix s
	now    int64 // Unix ns, the proposer's
}

func (c *revokeSessionCmd) write(e *encoder) { e.str(c.sid); e.varint(c.expiry); e.varint(c.now) }
func decodeRevokeSession(d *decoder) commandBody {
	return &revokeSessionCmd{sid: d.str(), expiry: d.varint(), now: d.varint()}
}

func (c *revokeSessionCmd) apply(t *txn) result {
	if err := checkName("session id", c.sid); err != nil {
		return errResult(err)
	}
	if c.expiry < 0 {
		return errResult(fmt.Errorf("%w: session expiry before 1970", ErrInvalidArgument))
	}
	// Expired revocations sort first (the key starts with the expiry).
	p := tableKey(tblRevoked, 0)
	it := t.iter(p, revokedKey(c.now/int64(time.Second), ""))
	n := 0
	for ok := it.First(); ok && n < maxRevocationPrune; ok = it.Next() {
		t.del(append([]byte(nil), it.Key()...))
		n++
	}
	mustOK(it.Close())
	t.set(revokedKey(c.expiry, c.sid), nil)
	return okResult(nil)
}

// recordLoginCmd reports one login attempt of an existing account
// (ErrNotFound) and answers the account's LoginState after it. A failure
// counts towards the policy's lockout; a success clears the count. While
// the account is locked nothing changes (a success is answered with the
// lock, and the caller refuses it).
type recordLoginCmd struct {
	tenant, name string
	ok           bool
	now          int64 // Unix ns, the proposer's
	policy       LoginPolicy
}

func (c *recordLoginCmd) write(e *encoder) {
	e.str(c.tenant)
	e.str(c.name)
	e.bool(c.ok)
	e.varint(c.now)
	e.varint(c.policy.MaxFailures)
	e.varint(int64(c.policy.Window))
	e.varint(int64(c.policy.Lockout))
}

func decodeRecordLogin(d *decoder) commandBody {
	return &recordLoginCmd{tenant: d.str(), name: d.str(), ok: d.bool(), now: d.varint(),
		policy: LoginPolicy{MaxFailures: d.varint(), Window: time.Duration(d.varint()), Lockout: time.Duration(d.varint())}}
}

func (c *recordLoginCmd) apply(t *txn) result {
	if err := checkName("account name", c.name); err != nil {
		return errResult(err)
	}
	if c.policy.MaxFailures < 1 || c.policy.Window <= 0 || c.policy.Lockout < 0 {
		return errResult(fmt.Errorf("%w: login policy", ErrInvalidArgument))
	}
	if !t.accountExists(c.tenant, c.name) {
		return errResult(fmt.Errorf("%w: account %q", ErrNotFound, c.name))
	}
	s, err := t.loginState(c.tenant, c.name)
	if err != nil {
		return errResult(err)
	}
	now := time.Unix(0, c.now).UTC()
	changed := true
	switch {
	case s.Locked(now):
		// Locked: neither a success nor a failure changes anything.
		changed = false
	case c.ok:
		changed = s.Failures != 0 || !s.WindowStart.IsZero()
		s.Failures, s.WindowStart = 0, time.Time{}
	default:
		if s.WindowStart.IsZero() || now.Sub(s.WindowStart) > c.policy.Window || s.Failures <= 0 {
			s.Failures, s.WindowStart = 0, now
		}
		s.Failures++
		if s.Failures >= c.policy.MaxFailures {
			s.Failures, s.WindowStart, s.LockedUntil = 0, time.Time{}, now.Add(c.policy.Lockout)
		}
	}
	if changed {
		t.set(loginStateKey(c.tenant, c.name), encodeLoginState(s))
	}
	e := encoder{}
	writeLoginState(&e, s)
	return okResult(e.b)
}

// setPasswordCmd replaces the password hash of an existing account
// (ErrNotFound), clears its lockout and raises its session generation, so
// every session of the account ends.
type setPasswordCmd struct {
	tenant, name string
	hash         []byte
}

func (c *setPasswordCmd) write(e *encoder) { e.str(c.tenant); e.str(c.name); e.bytes(c.hash) }
func decodeSetPassword(d *decoder) commandBody {
	return &setPasswordCmd{tenant: d.str(), name: d.str(), hash: d.bytes()}
}

func (c *setPasswordCmd) apply(t *txn) result {
	if err := checkName("account name", c.name); err != nil {
		return errResult(err)
	}
	if c.tenant == "" {
		v := t.get(operatorKey(c.name))
		if v == nil {
			return errResult(fmt.Errorf("%w: operator %q", ErrNotFound, c.name))
		}
		o, err := decodeOperator(v)
		if err != nil {
			return errResult(err)
		}
		o.PasswordHash = c.hash
		t.set(operatorKey(c.name), encodeOperator(o))
	} else {
		v := t.get(userKey(c.tenant, c.name))
		if v == nil {
			return errResult(fmt.Errorf("%w: user %q", ErrNotFound, c.name))
		}
		u, err := decodeUser(v)
		if err != nil {
			return errResult(err)
		}
		u.PasswordHash = c.hash
		t.set(userKey(c.tenant, c.name), encodeUser(u))
	}
	s, err := t.loginState(c.tenant, c.name)
	if err != nil {
		return errResult(err)
	}
	s.Failures, s.WindowStart, s.LockedUntil = 0, time.Time{}, time.Time{}
	s.SessionGen++
	t.set(loginStateKey(c.tenant, c.name), encodeLoginState(s))
	return okResult(nil)
}

// deleteAccountCmd deletes a user of a tenant (ErrNotFound) together with
// its access keys and login state, in one step: no key of a deleted user
// survives to sign requests.
type deleteAccountCmd struct{ tenant, name string }

func (c *deleteAccountCmd) write(e *encoder) { e.str(c.tenant); e.str(c.name) }
func decodeDeleteAccount(d *decoder) commandBody {
	return &deleteAccountCmd{tenant: d.str(), name: d.str()}
}

func (c *deleteAccountCmd) apply(t *txn) result {
	k := userKey(c.tenant, c.name)
	if c.tenant == "" || !t.has(k) {
		return errResult(fmt.Errorf("%w: user %q", ErrNotFound, c.name))
	}
	p := keyByTenantPrefix(c.tenant)
	for _, ik := range t.keysWithPrefix(p) {
		id := string(ik[len(p):])
		rec, err := t.accessKey(id)
		if err != nil {
			return errResult(err)
		}
		if rec.User == c.name {
			t.del(accessKeyKey(id))
			t.del(ik)
		}
	}
	t.del(k)
	t.del(loginStateKey(c.tenant, c.name))
	t.del(accessKey(c.tenant, AccessUserPolicyPrefix+c.name))
	return okResult(nil)
}

// deleteTenantCmd deletes a tenant (ErrNotFound) that holds no container
// (ErrTenantNotEmpty): its record, users, access keys, settings, usage
// counters, login states and billing account. Its hourly usage records
// and monthly egress stay: they are the history invoices are made from.
type deleteTenantCmd struct{ id string }

func (c *deleteTenantCmd) write(e *encoder) { e.str(c.id) }
func decodeDeleteTenant(d *decoder) commandBody {
	return &deleteTenantCmd{id: d.str()}
}

func (c *deleteTenantCmd) apply(t *txn) result {
	if err := checkName("tenant id", c.id); err != nil {
		return errResult(err)
	}
	if !t.has(tenantKey(c.id)) {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, c.id))
	}
	if cs := t.keysWithPrefix(containerPrefix(c.id)); len(cs) > 0 {
		return errResult(fmt.Errorf("%w: tenant %q has %d containers", ErrTenantNotEmpty, c.id, len(cs)))
	}
	u, err := t.usage(tenantUsageKey(c.id))
	if err != nil {
		return errResult(err)
	}
	if u.Artifacts != 0 || u.Bytes != 0 || u.UploadBytes != 0 {
		return errResult(fmt.Errorf("%w: tenant %q still stores %d bytes", ErrTenantNotEmpty, c.id, u.Bytes+u.UploadBytes))
	}
	p := keyByTenantPrefix(c.id)
	for _, ik := range t.keysWithPrefix(p) {
		t.del(accessKeyKey(string(ik[len(p):])))
		t.del(ik)
	}
	for _, group := range [][]byte{userPrefix(c.id), loginStatePrefix(c.id), accessPrefix(c.id)} {
		for _, k := range t.keysWithPrefix(group) {
			t.del(k)
		}
	}
	t.del(tenantCfgKey(c.id))
	t.del(billingKey(c.id))
	if t.has(tenantUsageKey(c.id)) {
		t.del(tenantUsageKey(c.id))
	}
	t.del(tenantKey(c.id))
	return okResult(nil)
}

// --- Store API ---

// CreateOperator creates an operator account (ErrExists).
func (s *Store) CreateOperator(ctx context.Context, o Operator) error {
	if err := checkName("operator name", o.Name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdPutOperator, &putOperatorCmd{op: o, create: true})
	return err
}

// GetOperator returns an operator account, or ErrNotFound.
func (s *Store) GetOperator(ctx context.Context, name string, opts ...ReadOption) (Operator, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return Operator{}, err
	}
	defer end()
	v, err := getCopy(s.db, operatorKey(name))
	if err != nil {
		return Operator{}, err
	}
	if v == nil {
		return Operator{}, fmt.Errorf("%w: operator %q", ErrNotFound, name)
	}
	return decodeOperator(v)
}

// ListOperators returns every operator account by name.
func (s *Store) ListOperators(ctx context.Context, opts ...ReadOption) ([]Operator, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer end()
	return scan(s.db, tableKey(tblOperator, 0), decodeOperator)
}

// DeleteOperator deletes an operator account (ErrNotFound).
func (s *Store) DeleteOperator(ctx context.Context, name string) error {
	if err := checkName("operator name", name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdDeleteOperator, &deleteOperatorCmd{name: name})
	return err
}

// SetPassword replaces the password hash of a user of tenant, or of an
// operator when tenant is empty (ErrNotFound), clears its lockout and ends
// its sessions (SessionGen rises).
func (s *Store) SetPassword(ctx context.Context, tenant, name string, hash []byte) error {
	if err := checkName("account name", name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdSetPassword, &setPasswordCmd{tenant: tenant, name: name, hash: hash})
	return err
}

// GetLoginState returns an account's login state (the zero state, named,
// when it has none).
func (s *Store) GetLoginState(ctx context.Context, tenant, name string, opts ...ReadOption) (LoginState, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return LoginState{}, err
	}
	defer end()
	v, err := getCopy(s.db, loginStateKey(tenant, name))
	if err != nil {
		return LoginState{}, err
	}
	if v == nil {
		return LoginState{Tenant: tenant, Name: name}, nil
	}
	return decodeLoginState(v)
}

// RecordLogin reports a login attempt of an existing account (ErrNotFound)
// at now and returns its login state after the policy judged it.
func (s *Store) RecordLogin(ctx context.Context, tenant, name string, ok bool, now time.Time, p LoginPolicy) (LoginState, error) {
	if err := checkName("account name", name); err != nil {
		return LoginState{}, err
	}
	body, err := s.writeWithID(ctx, cmdRecordLogin, newRequestID(), now,
		&recordLoginCmd{tenant: tenant, name: name, ok: ok, now: now.UnixNano(), policy: p})
	if err != nil {
		return LoginState{}, err
	}
	return decodeBody(body, readLoginState)
}

// RevokeSession revokes session sid until expiry, when it would have
// ended anyway (IsRevoked answers true until then).
func (s *Store) RevokeSession(ctx context.Context, sid string, expiry, now time.Time) error {
	if err := checkName("session id", sid); err != nil {
		return err
	}
	_, err := s.writeWithID(ctx, cmdRevokeSession, newRequestID(), now,
		&revokeSessionCmd{sid: sid, expiry: expiry.Unix(), now: now.UnixNano()})
	return err
}

// IsRevoked reports whether session sid, which ends at expiry, was revoked.
func (s *Store) IsRevoked(ctx context.Context, sid string, expiry time.Time, opts ...ReadOption) (bool, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return false, err
	}
	defer end()
	v, err := getCopy(s.db, revokedKey(expiry.Unix(), sid))
	return v != nil, err
}

// CountRevocations returns how many revocation records are kept (they
// leave as later revocations prune the expired ones).
func (s *Store) CountRevocations(ctx context.Context, opts ...ReadOption) (int, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return 0, err
	}
	defer end()
	p := tableKey(tblRevoked, 0)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: p, UpperBound: prefixEnd(p)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	return n, it.Error()
}

// DeleteAccount deletes a user of a tenant with its access keys and login
// state (ErrNotFound).
func (s *Store) DeleteAccount(ctx context.Context, tenant, name string) error {
	if err := checkName("tenant", tenant); err != nil {
		return err
	}
	if err := checkName("user name", name); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdDeleteAccount, &deleteAccountCmd{tenant: tenant, name: name})
	return err
}

// DeleteTenant deletes a tenant that holds no container (ErrNotFound,
// ErrTenantNotEmpty), with its users, keys, settings and billing account.
// Its usage records stay.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	if err := checkName("tenant id", id); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdDeleteTenant, &deleteTenantCmd{id: id})
	return err
}
