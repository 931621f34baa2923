package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

type opKind uint8

const (
	opStringEquals opKind = iota
	opStringEqualsIgnoreCase
	opStringLike
	opNumericEquals
	opNumericLess
	opNumericLessEq
	opNumericGreater
	opNumericGreaterEq
	opDateEquals
	opDateLess
	opDateLessEq
	opDateGreater
	opDateGreaterEq
	opBool
	opIPAddress
	opArnLike
	opNull
)

// operators maps each operator name to its kind and whether it is the
// negated form.
var operators = map[string]struct {
	kind   opKind
	negate bool
}{
	"StringEquals":              {opStringEquals, false},
	"StringNotEquals":           {opStringEquals, true},
	"StringEqualsIgnoreCase":    {opStringEqualsIgnoreCase, false},
	"StringNotEqualsIgnoreCase": {opStringEqualsIgnoreCase, true},
	"StringLike":                {opStringLike, false},
	"StringNotLike":             {opStringLike, true},
	"NumericEquals":             {opNumericEquals, false},
	"NumericNotEquals":          {opNumericEquals, true},
	"NumericLessThan":           {opNumericLess, false},
	"NumericLessThanEquals":     {opNumericLessEq, false},
	"NumericGreaterThan":        {opNumericGreater, false},
	"NumericGreaterThanEquals":  {opNumericGreaterEq, false},
	"DateEquals":                {opDateEquals, false},
	"DateNotEquals":             {opDateEquals, true},
	"DateLessThan":              {opDateLess, false},
	"DateLessThanEquals":        {opDateLessEq, false},
	"DateGreaterThan":           {opDateGreater, false},
	"DateGreaterThanEquals":     {opDateGreaterEq, false},
	"Bool":                      {opBool, false},
	"IpAddress":                 {opIPAddress, false},
	"NotIpAddress":              {opIPAddress, true},
	"ArnEquals":                 {opArnLike, false},
	"ArnNotEquals":              {opArnLike, true},
	"ArnLike":                   {opArnLike, false},
	"ArnNotLike":                {opArnLike, true},
	"Null":                      {opNull, false},
}

// condition is one (operator, key, values) triple.
type condition struct {
	op       opKind
	negate   bool
	ifExists bool
	key      string
	strs     []string
	nums     []float64
	times    []time.Time
	nets     []netip.Prefix
	pats     []pattern
	b        bool
}

func parseConditions(v json.RawMessage, vars bool) ([]condition, error) {
	var ops map[string]map[string]json.RawMessage
	if err := json.Unmarshal(v, &ops); err != nil {
		return nil, malformed("Condition must be an object of operators, each an object of keys")
	}
	names := make([]string, 0, len(ops))
	for n := range ops {
		names = append(names, n)
	}
	sort.Strings(names) // a deterministic order, for errors and tests
	var out []condition
	for _, name := range names {
		base, ifExists := strings.CutSuffix(name, "IfExists")
		op, ok := operators[base]
		if !ok || ifExists && op.kind == opNull {
			return nil, malformed("unknown condition operator %q", name)
		}
		keys := make([]string, 0, len(ops[name]))
		for k := range ops[name] {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if len(keys) == 0 {
			return nil, malformed("condition operator %q has no keys", name)
		}
		for _, k := range keys {
			nk, ok := normalizeKey(k)
			if !ok {
				return nil, malformed("unknown condition key %q", k)
			}
			vals, err := condValues(name, k, ops[name][k])
			if err != nil {
				return nil, err
			}
			c := condition{op: op.kind, negate: op.negate, ifExists: ifExists, key: nk}
			if err := c.compile(vals, vars); err != nil {
				return nil, malformed("%s %q: %v", name, k, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// condValues decodes a condition's value: a string, number or boolean, or
// a list of them.
func condValues(op, key string, v json.RawMessage) ([]string, error) {
	var list []any
	if err := json.Unmarshal(v, &list); err != nil {
		var one any
		if err := json.Unmarshal(v, &one); err != nil {
			return nil, malformed("%s %q: bad value", op, key)
		}
		list = []any{one}
	}
	if len(list) == 0 {
		return nil, malformed("%s %q: empty list of values", op, key)
	}
	out := make([]string, 0, len(list))
	for _, x := range list {
		switch x := x.(type) {
		case string:
			out = append(out, x)
		case float64:
			out = append(out, strconv.FormatFloat(x, 'f', -1, 64))
		case bool:
			out = append(out, strconv.FormatBool(x))
		default:
			return nil, malformed("%s %q: values must be strings, numbers or booleans", op, key)
		}
	}
	return out, nil
}

func (c *condition) compile(vals []string, vars bool) error {
	switch c.op {
	case opStringEquals:
		c.strs = vals
	case opStringEqualsIgnoreCase:
		for _, v := range vals {
			c.strs = append(c.strs, strings.ToLower(v))
		}
	case opStringLike, opArnLike:
		for _, v := range vals {
			p, err := compilePattern(v, false, vars)
			if err != nil {
				return err
			}
			c.pats = append(c.pats, p)
		}
	case opNumericEquals, opNumericLess, opNumericLessEq, opNumericGreater, opNumericGreaterEq:
		for _, v := range vals {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%q is not a number", v)
			}
			c.nums = append(c.nums, f)
		}
	case opDateEquals, opDateLess, opDateLessEq, opDateGreater, opDateGreaterEq:
		for _, v := range vals {
			t, ok := parseDate(v)
			if !ok {
				return fmt.Errorf("%q is not a date (ISO 8601 or epoch seconds)", v)
			}
			c.times = append(c.times, t)
		}
	case opBool, opNull:
		if len(vals) != 1 {
			return fmt.Errorf("want one value, true or false")
		}
		b, err := strconv.ParseBool(strings.ToLower(vals[0]))
		if err != nil || strings.ToLower(vals[0]) != "true" && strings.ToLower(vals[0]) != "false" {
			return fmt.Errorf("%q is neither true nor false", vals[0])
		}
		c.b = b
	case opIPAddress:
		for _, v := range vals {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				a, aerr := netip.ParseAddr(v)
				if aerr != nil {
					return fmt.Errorf("%q is not an IP address or CIDR", v)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			c.nets = append(c.nets, p.Masked())
		}
	}
	return nil
}

func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, true
		}
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Unix(n, 0), true
	}
	return time.Time{}, false
}

// holds evaluates the condition against the request context.
func (c *condition) holds(ctx map[string]string) bool {
	v, present := ctx[c.key]
	if c.op == opNull {
		return c.b != present
	}
	if !present {
		return c.ifExists || c.negate
	}
	m := c.matchAny(v, ctx)
	if c.negate {
		return !m
	}
	return m
}

// matchAny reports whether v matches any of the condition's values (a
// request value that does not parse as the operator's type matches none).
func (c *condition) matchAny(v string, ctx map[string]string) bool {
	switch c.op {
	case opStringEquals:
		for _, s := range c.strs {
			if s == v {
				return true
			}
		}
	case opStringEqualsIgnoreCase:
		lv := strings.ToLower(v)
		for _, s := range c.strs {
			if s == lv {
				return true
			}
		}
	case opStringLike, opArnLike:
		for i := range c.pats {
			if c.pats[i].match(v, ctx) {
				return true
			}
		}
	case opNumericEquals, opNumericLess, opNumericLessEq, opNumericGreater, opNumericGreaterEq:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return false
		}
		for _, n := range c.nums {
			if cmpHolds(c.op-opNumericEquals, compare(f, n)) {
				return true
			}
		}
	case opDateEquals, opDateLess, opDateLessEq, opDateGreater, opDateGreaterEq:
		t, ok := parseDate(v)
		if !ok {
			return false
		}
		for _, d := range c.times {
			if cmpHolds(c.op-opDateEquals, t.Compare(d)) {
				return true
			}
		}
	case opBool:
		return strings.EqualFold(v, strconv.FormatBool(c.b))
	case opIPAddress:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, n := range c.nets {
			if n.Contains(a) {
				return true
			}
		}
	}
	return false
}

func compare(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// cmpHolds applies a comparison: rel 0 equals, 1 less, 2 less or equal,
// 3 greater, 4 greater or equal (the order of the op constants).
func cmpHolds(rel opKind, c int) bool {
	switch rel {
	case 0:
		return c == 0
	case 1:
		return c < 0
	case 2:
		return c <= 0
	case 3:
		return c > 0
	case 4:
		return c >= 0
	}
	return false
}
