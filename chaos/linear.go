package chaos

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// Kind is the kind of an Op.
type Kind uint8

const (
	Get Kind = iota + 1
	Put
	Delete
)

func (k Kind) String() string {
	switch k {
	case Get:
		return "GET"
	case Put:
		return "PUT"
	case Delete:
		return "DELETE"
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Op is one request on a shared key, as a client saw it. Value is what a
// PUT wrote or what a GET read ("" for NoSuchKey). Ambiguous marks a PUT or
// DELETE that failed: it may or may not have taken effect. A GET that
// failed is not an Op.
type Op struct {
	Client       int
	Key          string
	Kind         Kind
	Value        string
	Call, Return time.Time
	Ambiguous    bool
}

// Value returns the unique value a writer puts with its seq-th PUT.
func Value(writer string, seq int) string { return fmt.Sprintf("%s#%d", writer, seq) }

// History collects Ops; it is not safe for concurrent use on its own (the
// suite guards it).
type History struct {
	Ops []Op
}

type regInput struct {
	kind  Kind
	key   string
	value string
}

type regOutput struct {
	value     string // a GET's observation
	ambiguous bool
}

// registerModel is a register per key whose initial value is "" (absent).
var registerModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(regInput).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() interface{} { return "" },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		in, out := input.(regInput), output.(regOutput)
		switch in.kind {
		case Get:
			return out.value == state.(string), state
		case Put:
			return true, in.value
		case Delete:
			return true, ""
		}
		return false, state
	},
	DescribeOperation: func(input, output interface{}) string {
		in, out := input.(regInput), output.(regOutput)
		switch {
		case in.kind == Get:
			return fmt.Sprintf("GET %s -> %q", in.key, out.value)
		case out.ambiguous:
			return fmt.Sprintf("%s %s %q (answer lost)", in.kind, in.key, in.value)
		}
		return fmt.Sprintf("%s %s %q", in.kind, in.key, in.value)
	},
}

// CheckLinearizable checks h against a register per key. It returns nil
// when h is linearizable, an error naming the first key whose history is
// not, and an error saying so when the check did not finish within
// timeout (not a violation, but not a proof either; the suite reports it).
func CheckLinearizable(h []Op, timeout time.Duration) (err error, unknown bool) {
	if len(h) == 0 {
		return nil, false
	}
	t0 := h[0].Call
	for _, op := range h {
		if op.Call.Before(t0) {
			t0 = op.Call
		}
	}
	ops := make([]porcupine.Operation, 0, len(h))
	for _, op := range h {
		ret := op.Return.Sub(t0).Nanoseconds()
		if op.Ambiguous {
			if op.Kind == Get {
				continue
			}
			ret = math.MaxInt64
		}
		ops = append(ops, porcupine.Operation{
			ClientId: op.Client,
			Input:    regInput{kind: op.Kind, key: op.Key, value: op.Value},
			Call:     op.Call.Sub(t0).Nanoseconds(),
			Output:   regOutput{value: op.Value, ambiguous: op.Ambiguous},
			Return:   ret,
		})
	}
	// Key by key (a register per key), so a violation names its key.
	for _, part := range registerModel.Partition(ops) {
		key := part[0].Input.(regInput).key
		res, info := porcupine.CheckOperationsVerbose(registerModel, part, timeout)
		switch res {
		case porcupine.Ok:
			continue
		case porcupine.Unknown:
			return fmt.Errorf("chaos: linearizability check of key %s (%d operations) did not finish within %v", key, len(part), timeout), true
		}
		var b strings.Builder
		for _, lin := range info.PartialLinearizationsOperations() {
			longest := []porcupine.Operation{}
			for _, p := range lin {
				if len(p) > len(longest) {
					longest = p
				}
			}
			fmt.Fprintf(&b, "\n  the longest order that fits (%d of %d ops) ends:", len(longest), len(part))
			for _, op := range longest[max(0, len(longest)-6):] {
				fmt.Fprintf(&b, "\n    %s", registerModel.DescribeOperation(op.Input, op.Output))
			}
		}
		return fmt.Errorf("chaos: the history of key %s (%d operations) is not linearizable%s", key, len(part), b.String()), false
	}
	return nil, false
}
