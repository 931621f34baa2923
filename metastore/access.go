package metastore

import (
	"context"
	"fmt"
	"strings"
)

// This file holds a tenant's access settings that are not container
// sub-resources: the identity policy of each user ("user/NAME") and the
// tenant's PublicAccessBlock ("public-access-block"). Values are opaque
// here (the s3 and admin layers parse and check them); the state machine
// only checks that the tenant, and for a user policy the user, exists.
// Container policies, public access blocks and ownership controls are
// container sub-resources (setContainerConfigCmd).

// Access setting names.
const (
	AccessUserPolicyPrefix  = "user/"
	AccessPublicAccessBlock = "public-access-block"
)

// maxAccessValue bounds one access setting (an identity policy: IAM's
// limit is 6 KiB for a user's inline policies; 20 KiB leaves room).
const maxAccessValue = 20 << 10

func accessKey(tenant, name string) []byte {
	return append(appendLP(tableKey(tblAccess, len(tenant)+len(name)+2), tenant), name...)
}

func accessPrefix(tenant string) []byte {
	return appendLP(tableKey(tblAccess, len(tenant)+1), tenant)
}

// setAccessCmd (90) sets or (value "") removes one access setting of a
// tenant. Payload: tenant, name, value.
type setAccessCmd struct{ tenant, name, value string }

func (c *setAccessCmd) write(e *encoder) { e.str(c.tenant); e.str(c.name); e.str(c.value) }
func decodeSetAccess(d *decoder) commandBody {
	return &setAccessCmd{tenant: d.str(), name: d.str(), value: d.str()}
}

func (c *setAccessCmd) apply(t *txn) result {
	if err := checkAccessSetting(c.tenant, c.name, c.value); err != nil {
		return errResult(err)
	}
	if !t.has(tenantKey(c.tenant)) {
		return errResult(fmt.Errorf("%w: tenant %q", ErrNotFound, c.tenant))
	}
	if user, ok := strings.CutPrefix(c.name, AccessUserPolicyPrefix); ok && !t.has(userKey(c.tenant, user)) {
		return errResult(fmt.Errorf("%w: user %q", ErrNotFound, user))
	}
	k := accessKey(c.tenant, c.name)
	if c.value == "" {
		t.del(k)
	} else {
		t.set(k, []byte(c.value))
	}
	return okResult(nil)
}

func checkAccessSetting(tenant, name, value string) error {
	if err := checkName("tenant id", tenant); err != nil {
		return err
	}
	user, isUser := strings.CutPrefix(name, AccessUserPolicyPrefix)
	switch {
	case isUser:
		if err := checkName("user name", user); err != nil {
			return err
		}
	case name == AccessPublicAccessBlock:
	default:
		return fmt.Errorf("%w: unknown access setting %q", ErrInvalidArgument, name)
	}
	if len(value) > maxAccessValue {
		return fmt.Errorf("%w: access setting over %d bytes", ErrInvalidArgument, maxAccessValue)
	}
	return nil
}

// SetAccess sets one access setting of an existing tenant (ErrNotFound):
// name is AccessUserPolicyPrefix+user (an existing user) or
// AccessPublicAccessBlock; value "" removes it. ClusterVersion2.
func (s *Store) SetAccess(ctx context.Context, tenant, name, value string) error {
	if err := checkAccessSetting(tenant, name, value); err != nil {
		return err
	}
	_, err := s.write(ctx, cmdSetAccess, &setAccessCmd{tenant: tenant, name: name, value: value})
	return err
}

// GetAccess returns one access setting of a tenant, "" when unset.
func (s *Store) GetAccess(ctx context.Context, tenant, name string, opts ...ReadOption) (string, error) {
	end, err := s.beginRead(ctx, opts)
	if err != nil {
		return "", err
	}
	defer end()
	v, err := getCopy(s.db, accessKey(tenant, name))
	if err != nil {
		return "", err
	}
	return string(v), nil
}
