package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MaxSize is the largest policy accepted, in bytes: S3's limit for a
// bucket policy (20 KiB).
const MaxSize = 20 << 10

// Versions of the policy language.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17" // no policy variables
)

// Errors of this package.
var (
	// ErrMalformed wraps every parse error; its text says what is wrong.
	ErrMalformed = errors.New("policy: malformed")
	// ErrTooLarge is a policy over MaxSize (it wraps ErrMalformed).
	ErrTooLarge = fmt.Errorf("%w: policy larger than %d bytes", ErrMalformed, MaxSize)
)

// Effect of a statement.
type Effect bool

// The effects.
const (
	Deny  Effect = false
	Allow Effect = true
)

// Decision is the outcome of evaluating a policy.
type Decision int

// The decisions.
const (
	NotApplicable Decision = iota // no statement applies: implicit deny
	Allowed                       // an Allow applies and no Deny
	Denied                        // an explicit Deny applies
)

func (d Decision) String() string {
	switch d {
	case Allowed:
		return "Allow"
	case Denied:
		return "Deny"
	}
	return "NotApplicable"
}

// Kind says which policy a document is: bucket policies name principals,
// identity policies must not.
type Kind int

// The kinds of policy.
const (
	Bucket Kind = iota
	Identity
)

// Policy is a parsed policy, safe for concurrent evaluation.
type Policy struct {
	Version    string
	ID         string
	Statements []Statement
	// Public reports whether an Allow statement grants to everyone ("*"
	// as principal, without a restricting condition): what
	// GetBucketPolicyStatus calls IsPublic.
	Public bool
	// UsesExistingTags reports whether a condition reads
	// s3:ExistingObjectTag/<k>: only then does a request need the tags of
	// the object it addresses.
	UsesExistingTags bool
}

// Statement is one parsed statement.
type Statement struct {
	Sid          string
	Effect       Effect
	principals   *principalSet // nil: no principal element (identity policy)
	notPrincipal bool
	actions      []pattern
	notAction    bool
	resources    []pattern
	notResource  bool
	conditions   []condition
}

// principalSet is a parsed Principal element.
type principalSet struct {
	any     bool
	tenants map[string]bool // tenant id -> all its users
	users   map[string]bool // "tenant\x00user"
}

// Parse parses a policy document of the given kind.
func Parse(doc []byte, kind Kind) (*Policy, error) {
	if len(doc) > MaxSize {
		return nil, ErrTooLarge
	}
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, malformed("empty policy document")
	}
	var raw map[string]json.RawMessage
	if err := strictUnmarshal(doc, &raw); err != nil {
		return nil, malformed("policy is not a JSON object: %v", jsonMsg(err))
	}
	p := &Policy{}
	for k, v := range raw {
		switch k {
		case "Version":
			if err := json.Unmarshal(v, &p.Version); err != nil {
				return nil, malformed("Version must be a string")
			}
		case "Id":
			if err := json.Unmarshal(v, &p.ID); err != nil {
				return nil, malformed("Id must be a string")
			}
		case "Statement":
		default:
			return nil, malformed("unknown field %q in the policy", k)
		}
	}
	switch p.Version {
	case Version2012, Version2008:
	case "":
		p.Version = Version2008
	default:
		return nil, malformed("unknown Version %q (want %q)", p.Version, Version2012)
	}
	st, ok := raw["Statement"]
	if !ok {
		return nil, malformed("missing required field Statement")
	}
	var raws []json.RawMessage
	if t := bytes.TrimSpace(st); len(t) > 0 && t[0] == '{' {
		raws = []json.RawMessage{st}
	} else if err := json.Unmarshal(st, &raws); err != nil {
		return nil, malformed("Statement must be an object or a list of objects")
	}
	if len(raws) == 0 {
		return nil, malformed("Statement is empty")
	}
	sids := map[string]bool{}
	for i, r := range raws {
		s, err := parseStatement(r, kind, p.Version)
		if err != nil {
			return nil, fmt.Errorf("%w (statement %d)", err, i+1)
		}
		if s.Sid != "" {
			if sids[s.Sid] {
				return nil, malformed("duplicate Sid %q", s.Sid)
			}
			sids[s.Sid] = true
		}
		if s.Effect == Allow && s.principals != nil && !s.notPrincipal && s.principals.any && len(s.conditions) == 0 {
			p.Public = true
		}
		for _, c := range s.conditions {
			if strings.HasPrefix(c.key, KeyExistingTag) {
				p.UsesExistingTags = true
			}
		}
		p.Statements = append(p.Statements, s)
	}
	return p, nil
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

func strictUnmarshal(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the top-level value")
	}
	if _, err := dec.Token(); err == nil {
		return errors.New("data after the top-level value")
	}
	return nil
}

func jsonMsg(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s at byte %d", strings.TrimPrefix(se.Error(), "json: "), se.Offset)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// stringList decodes a string or a list of strings.
func stringList(field string, v json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(v, &one); err == nil {
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(v, &list); err != nil {
		return nil, malformed("%s must be a string or a list of strings", field)
	}
	if len(list) == 0 {
		return nil, malformed("%s is an empty list", field)
	}
	return list, nil
}

func parseStatement(b json.RawMessage, kind Kind, version string) (Statement, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return Statement{}, malformed("a statement must be a JSON object")
	}
	var s Statement
	seen := map[string]bool{}
	for k := range raw {
		switch k {
		case "Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource", "NotResource", "Condition":
			seen[k] = true
		default:
			return s, malformed("unknown field %q in a statement", k)
		}
	}
	if v, ok := raw["Sid"]; ok {
		if err := json.Unmarshal(v, &s.Sid); err != nil {
			return s, malformed("Sid must be a string")
		}
	}
	var effect string
	if v, ok := raw["Effect"]; !ok {
		return s, malformed("missing required field Effect")
	} else if err := json.Unmarshal(v, &effect); err != nil {
		return s, malformed("Effect must be a string")
	}
	switch effect {
	case "Allow":
		s.Effect = Allow
	case "Deny":
		s.Effect = Deny
	default:
		return s, malformed("Effect %q is neither Allow nor Deny", effect)
	}
	// Principal.
	switch {
	case seen["Principal"] && seen["NotPrincipal"]:
		return s, malformed("a statement has both Principal and NotPrincipal")
	case kind == Identity && (seen["Principal"] || seen["NotPrincipal"]):
		return s, malformed("an identity policy must not name a Principal")
	case kind == Bucket && !seen["Principal"] && !seen["NotPrincipal"]:
		return s, malformed("missing required field Principal")
	case seen["Principal"]:
		ps, err := parsePrincipal("Principal", raw["Principal"])
		if err != nil {
			return s, err
		}
		s.principals = ps
	case seen["NotPrincipal"]:
		ps, err := parsePrincipal("NotPrincipal", raw["NotPrincipal"])
		if err != nil {
			return s, err
		}
		s.principals, s.notPrincipal = ps, true
	}
	// Action.
	actField := "Action"
	switch {
	case seen["Action"] && seen["NotAction"]:
		return s, malformed("a statement has both Action and NotAction")
	case !seen["Action"] && !seen["NotAction"]:
		return s, malformed("missing required field Action")
	case seen["NotAction"]:
		actField, s.notAction = "NotAction", true
	}
	acts, err := stringList(actField, raw[actField])
	if err != nil {
		return s, err
	}
	for _, a := range acts {
		p, err := parseAction(a)
		if err != nil {
			return s, err
		}
		s.actions = append(s.actions, p)
	}
	// Resource.
	resField := "Resource"
	switch {
	case seen["Resource"] && seen["NotResource"]:
		return s, malformed("a statement has both Resource and NotResource")
	case !seen["Resource"] && !seen["NotResource"]:
		return s, malformed("missing required field Resource")
	case seen["NotResource"]:
		resField, s.notResource = "NotResource", true
	}
	res, err := stringList(resField, raw[resField])
	if err != nil {
		return s, err
	}
	for _, r := range res {
		if r != "*" && !strings.HasPrefix(r, "arn:aws:s3:::") {
			return s, malformed("%s %q: must be \"*\" or an S3 ARN arn:aws:s3:::bucket[/key]", resField, r)
		}
		if r == "arn:aws:s3:::" {
			return s, malformed("%s %q names no bucket", resField, r)
		}
		p, err := compilePattern(r, false, version == Version2012)
		if err != nil {
			return s, malformed("%s %q: %v", resField, r, err)
		}
		s.resources = append(s.resources, p)
	}
	if v, ok := raw["Condition"]; ok {
		s.conditions, err = parseConditions(v, version == Version2012)
		if err != nil {
			return s, err
		}
	}
	return s, nil
}

func parsePrincipal(field string, v json.RawMessage) (*principalSet, error) {
	var star string
	if err := json.Unmarshal(v, &star); err == nil {
		if star != "*" {
			return nil, malformed("%s %q: must be \"*\" or {\"AWS\": ...}", field, star)
		}
		return &principalSet{any: true}, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return nil, malformed("%s must be \"*\" or an object such as {\"AWS\": \"arn:aws:iam::TENANT:root\"}", field)
	}
	ps := &principalSet{tenants: map[string]bool{}, users: map[string]bool{}}
	for k, v := range m {
		if k != "AWS" {
			return nil, malformed("%s type %q is not supported (only \"AWS\")", field, k)
		}
		ids, err := stringList(field, v)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if err := ps.add(id); err != nil {
				return nil, malformed("%s %q: %v", field, id, err)
			}
		}
	}
	if !ps.any && len(ps.tenants) == 0 && len(ps.users) == 0 {
		return nil, malformed("%s names nobody", field)
	}
	return ps, nil
}

func (ps *principalSet) add(id string) error {
	if id == "*" {
		ps.any = true
		return nil
	}
	rest, ok := strings.CutPrefix(id, "arn:aws:iam::")
	if !ok {
		if validTenant(id) {
			ps.tenants[id] = true
			return nil
		}
		return errors.New("want arn:aws:iam::TENANT:root, arn:aws:iam::TENANT:user/NAME, a tenant id or \"*\"")
	}
	tenant, res, ok := strings.Cut(rest, ":")
	if !ok || !validTenant(tenant) {
		return errors.New("the account of the ARN must be a tenant id")
	}
	switch {
	case res == "root":
		ps.tenants[tenant] = true
	case strings.HasPrefix(res, "user/") && len(res) > len("user/"):
		name := res[len("user/"):]
		if strings.ContainsAny(name, "*?/") {
			return errors.New("a user name must not contain wildcards or /")
		}
		ps.users[tenant+"\x00"+name] = true
	default:
		return errors.New("want root or user/NAME after the tenant")
	}
	return nil
}

// validTenant matches the admin API's tenant ids: 3-63 of a-z, 0-9, -.
func validTenant(s string) bool {
	if len(s) < 3 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func parseAction(a string) (pattern, error) {
	if a == "*" {
		return compilePattern("*", true, false)
	}
	svc, name, ok := strings.Cut(a, ":")
	if !ok || !strings.EqualFold(svc, "s3") || name == "" {
		return pattern{}, malformed("Action %q: only s3:<action> actions are supported", a)
	}
	p, err := compilePattern("s3:"+name, true, false)
	if err != nil {
		return pattern{}, malformed("Action %q: %v", a, err)
	}
	if p.literal && knownActionLower[p.raw] {
		return p, nil
	}
	for _, k := range knownActionList {
		if p.match(k, nil) {
			return p, nil
		}
	}
	return pattern{}, malformed("Action %q is not a known S3 action", a)
}

// knownActionLower holds knownActionList's entries.
var knownActionLower = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range knownActionList {
		m[k] = true
	}
	return m
}()

// knownActionList is KnownActions as "s3:name" in lower case, sorted, for
// wildcard checks.
var knownActionList = func() []string {
	l := make([]string, 0, len(KnownActions))
	for k := range KnownActions {
		l = append(l, "s3:"+strings.ToLower(k))
	}
	sort.Strings(l)
	return l
}()

// ResourcesWithin checks that every Resource of p lies in bucket (the
// bucket the policy is put on: "arn:aws:s3:::bucket" or
// "arn:aws:s3:::bucket/..."), as S3 requires of a bucket policy; it
// returns the first one that does not.
func (p *Policy) ResourcesWithin(bucket string) (string, bool) {
	arn := "arn:aws:s3:::" + bucket
	for _, s := range p.Statements {
		if s.notResource {
			continue
		}
		for _, r := range s.resources {
			if r.raw != arn && !strings.HasPrefix(r.raw, arn+"/") {
				return r.raw, false
			}
		}
	}
	return "", true
}
