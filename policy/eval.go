package policy

import "strings"

// Principal is who makes a request: a user of a tenant, or anonymous
// (Tenant "").
type Principal struct {
	Tenant string
	User   string
}

// Anonymous reports whether p is the anonymous principal.
func (p Principal) Anonymous() bool { return p.Tenant == "" }

// ARN is the principal's ARN: arn:aws:iam::TENANT:user/NAME, or
// arn:aws:iam::TENANT:root for the tenant's root user (rootUser), "*" when
// anonymous.
func (p Principal) ARN(rootUser string) string {
	switch {
	case p.Anonymous():
		return "*"
	case p.User == rootUser:
		return "arn:aws:iam::" + p.Tenant + ":root"
	}
	return "arn:aws:iam::" + p.Tenant + ":user/" + p.User
}

// Request is what a policy is evaluated against.
type Request struct {
	Principal Principal
	// Action is "s3:GetObject" and so on; case does not matter.
	Action string
	// Resource is "arn:aws:s3:::bucket" or "arn:aws:s3:::bucket/key".
	Resource string
	// Context holds condition keys (the Key* constants, TagKey) and their
	// values; absent keys are absent from the request.
	Context map[string]string
}

// Evaluate decides the request under p: Denied when a Deny statement
// applies, else Allowed when an Allow statement applies, else
// NotApplicable.
func (p *Policy) Evaluate(r *Request) Decision {
	if p == nil {
		return NotApplicable
	}
	action := strings.ToLower(r.Action)
	d := NotApplicable
	for i := range p.Statements {
		s := &p.Statements[i]
		if s.Effect == Allow && d == Allowed {
			continue // only a Deny can change the answer now
		}
		if !s.applies(r, action) {
			continue
		}
		if s.Effect == Deny {
			return Denied
		}
		d = Allowed
	}
	return d
}

func (s *Statement) applies(r *Request, action string) bool {
	if s.principals != nil && s.principals.matches(r.Principal) == s.notPrincipal {
		return false
	}
	if anyMatch(s.actions, action, r.Context) == s.notAction {
		return false
	}
	if anyMatch(s.resources, r.Resource, r.Context) == s.notResource {
		return false
	}
	for i := range s.conditions {
		if !s.conditions[i].holds(r.Context) {
			return false
		}
	}
	return true
}

func anyMatch(ps []pattern, subject string, ctx map[string]string) bool {
	for i := range ps {
		if ps[i].match(subject, ctx) {
			return true
		}
	}
	return false
}

func (ps *principalSet) matches(p Principal) bool {
	if ps.any {
		return true
	}
	if p.Anonymous() {
		return false
	}
	return ps.tenants[p.Tenant] || ps.users[p.Tenant+"\x00"+p.User]
}
