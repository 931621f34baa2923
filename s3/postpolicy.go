package s3

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// maxPolicyBytes bounds the decoded policy document; it is a form field,
// so the pre-data limit bounds it already.
const maxPolicyBytes = maxPostPreData

// postPolicy is a decoded POST policy document:
//
//	{"expiration": "2026-01-02T03:04:05.000Z",
//	 "conditions": [{"bucket": "b"}, ["starts-with", "$key", "u/"],
//	                ["eq", "$Content-Type", "image/png"],
//	                ["content-length-range", 1, 1048576], ...]}
type postPolicy struct {
	expiration time.Time
	conds      []postCondition
	// minSize and maxSize come from content-length-range (-1: none).
	minSize, maxSize int64
}

// postCondition is an eq or starts-with condition on a form field (lower
// case, without "$"); "bucket" is the bucket the request addresses.
type postCondition struct {
	op    string // "eq" or "starts-with"
	field string
	value string
}

// String renders the condition as S3 quotes it in "Policy Condition
// failed" messages.
func (c postCondition) String() string {
	b, _ := json.Marshal([]string{c.op, "$" + c.field, c.value})
	return strings.ReplaceAll(string(b), `","`, `", "`)
}

func policyError(format string, args ...any) error {
	return withMessage(errInvalidPolicyDocument, "Invalid Policy: "+format, args...)
}

// parsePostPolicy decodes the base64 policy field and its JSON document.
func parsePostPolicy(b64 string) (*postPolicy, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return nil, policyError("Invalid 'Policy' base64 encoding.")
	}
	if len(raw) > maxPolicyBytes {
		return nil, policyError("Policy document too large.")
	}
	var doc struct {
		Expiration *string            `json:"expiration"`
		Conditions *[]json.RawMessage `json:"conditions"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil || dec.More() {
		return nil, policyError("Invalid JSON.")
	}
	if doc.Expiration == nil {
		return nil, policyError("Policy missing expiration.")
	}
	if doc.Conditions == nil {
		return nil, policyError("Policy missing conditions.")
	}
	p := &postPolicy{minSize: -1, maxSize: -1}
	if p.expiration, err = time.Parse(time.RFC3339Nano, *doc.Expiration); err != nil {
		return nil, policyError("Invalid 'expiration' value: '%s'", *doc.Expiration)
	}
	for _, c := range *doc.Conditions {
		if err := p.addCondition(c); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *postPolicy) addCondition(raw json.RawMessage) error {
	var obj map[string]any
	if json.Unmarshal(raw, &obj) == nil {
		if len(obj) != 1 {
			return policyError("Each condition object must have exactly one entry.")
		}
		for k, v := range obj {
			s, ok := v.(string)
			if !ok {
				return policyError("Condition value for '%s' must be a string.", k)
			}
			p.conds = append(p.conds, postCondition{op: "eq", field: strings.ToLower(k), value: s})
		}
		return nil
	}
	var arr []any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if dec.Decode(&arr) != nil || len(arr) != 3 {
		return policyError("Condition must be an object or an array of three elements: %s", compact(raw))
	}
	op, _ := arr[0].(string)
	switch strings.ToLower(op) {
	case "eq", "starts-with":
		field, ok1 := arr[1].(string)
		value, ok2 := arr[2].(string)
		if !ok1 || !ok2 || !strings.HasPrefix(field, "$") || len(field) < 2 {
			return policyError("Invalid condition %s", compact(raw))
		}
		p.conds = append(p.conds, postCondition{op: strings.ToLower(op), field: strings.ToLower(field[1:]), value: value})
	case "content-length-range":
		lo, ok1 := policyInt(arr[1])
		hi, ok2 := policyInt(arr[2])
		if !ok1 || !ok2 || lo < 0 || hi < lo {
			return policyError("Invalid content-length-range %s", compact(raw))
		}
		p.minSize, p.maxSize = lo, hi
	default:
		return policyError("Invalid condition operation '%s'", op)
	}
	return nil
}

// policyInt reads a non-negative integer given as a JSON number or string.
func policyInt(v any) (int64, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = x.String()
	case string:
		s = x
	default:
		return 0, false
	}
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || n < 0 || n > math.MaxInt64/2 {
		return 0, false
	}
	return n, true
}

func compact(raw json.RawMessage) string {
	s := string(raw)
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// postExemptFields need no policy condition: the signature fields, the
// policy itself, the file, and x-ignore-* (as in S3).
func postExempt(field string) bool {
	switch field {
	case "awsaccesskeyid", "signature", "x-amz-signature", "policy", "file":
		return true
	}
	return strings.HasPrefix(field, "x-ignore-")
}

// check evaluates the policy against the form fields (lower-case names,
// key already with ${filename} substituted) and the addressed bucket: not
// expired, every condition holds, and every field is covered by one.
func (p *postPolicy) check(now time.Time, bucket string, fields map[string]string) error {
	if now.After(p.expiration) {
		return withMessage(errAccessDenied, "Invalid according to Policy: Policy expired.")
	}
	covered := map[string]bool{}
	for _, c := range p.conds {
		covered[c.field] = true
		v, ok := fields[c.field]
		if c.field == "bucket" {
			v, ok = bucket, true
		}
		if !ok || !c.holds(v) {
			return withMessage(errAccessDenied, "Invalid according to Policy: Policy Condition failed: %s", c)
		}
	}
	var extra []string
	for name := range fields {
		if !covered[name] && !postExempt(name) {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return withMessage(errAccessDenied, "Invalid according to Policy: Extra input fields: %s", strings.Join(extra, ", "))
	}
	return nil
}

func (c postCondition) holds(v string) bool {
	if c.op == "eq" {
		return v == c.value
	}
	if c.field == "content-type" {
		// Each of a comma-separated list of types must match.
		for _, t := range strings.Split(v, ",") {
			if !strings.HasPrefix(strings.TrimSpace(t), c.value) {
				return false
			}
		}
		return true
	}
	return strings.HasPrefix(v, c.value)
}
