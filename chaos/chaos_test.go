package chaos

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// store is a fake node for the ledger: what a read through it answers.
type store map[string][]byte

func (s store) read(key string) ([]byte, bool, error) {
	if b, ok := s[key]; ok {
		if b == nil {
			return nil, false, errors.New("503 SlowDown")
		}
		return b, true, nil
	}
	return nil, false, nil
}

func TestLedgerCheck(t *testing.T) {
	errLost := errors.New("connection reset")
	newLedger := func() *Ledger {
		l := NewLedger()
		l.Put("a", 100, nil)    // acknowledged
		l.Put("b", 2000, nil)   // acknowledged, then deleted
		l.Delete("b", nil)      //
		l.Put("c", 10, errLost) // unknown
		l.Put("d", 50, nil)     // acknowledged, delete failed: unknown
		l.Delete("d", errLost)  //
		l.Delete("never", errLost)
		return l
	}
	good := store{"a": Payload("a", 100), "c": Payload("c", 10)}
	for _, tc := range []struct {
		name string
		s    store
		want []string // problems, by key: what
	}{
		{"all good", good, nil},
		{"unknown keys absent", store{"a": Payload("a", 100)}, nil},
		{"unknown keys present", store{"a": Payload("a", 100), "c": Payload("c", 10), "d": Payload("d", 50), "never": []byte("x")}, nil},
		{"lost write", store{}, []string{"a: lost"}},
		{"wrong bytes", store{"a": Payload("b", 100), "c": Payload("c", 10)}, []string{"a: wrong bytes"}},
		{"truncated", store{"a": Payload("a", 99)}, []string{"a: wrong bytes"}},
		{"wrong bytes of an unknown write", store{"a": Payload("a", 100), "c": []byte("0123456789")}, []string{"c: wrong bytes"}},
		{"wrong bytes after a failed delete", store{"a": Payload("a", 100), "d": make([]byte, 50)}, []string{"d: wrong bytes"}},
		{"deleted key resurrected", store{"a": Payload("a", 100), "b": Payload("b", 2000)}, []string{"b: resurrected"}},
		{"acknowledged key unreadable", store{"a": nil}, []string{"a: unreadable"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := newLedger().Check(tc.s.read, 3)
			if len(problems) != len(tc.want) {
				t.Fatalf("problems %v, want %v", problems, tc.want)
			}
			for i, p := range problems {
				if !strings.HasPrefix(p.String(), tc.want[i]) {
					t.Errorf("problem %d: %v, want %s…", i, p, tc.want[i])
				}
			}
		})
	}
	acked, deleted, maybe := newLedger().Counts()
	if acked != 1 || deleted != 1 || maybe != 3 {
		t.Fatalf("counts %d %d %d, want 1 1 3", acked, deleted, maybe)
	}
	// Live: a, c and d may exist; b is gone and "never" has no bytes.
	l := newLedger()
	if got := l.Live(); got != 160 {
		t.Fatalf("Live() = %d, want 160 (a, c, d)", got)
	}
	l.Delete("a", nil)
	l.Delete("a", nil) // a second acknowledged DELETE frees nothing more
	l.Delete("c", errLost)
	if got := l.Live(); got != 60 {
		t.Fatalf("after deleting a: Live() = %d, want 60 (c, d)", got)
	}
	if n, ok := newLedger().Acked("a"); !ok || n != 100 {
		t.Fatalf("Acked(a) = %d %v", n, ok)
	}
	if _, ok := newLedger().Acked("d"); ok {
		t.Fatal("a key whose DELETE failed is not acknowledged any more")
	}
}

// TestLedgerPlan: a planned check reads what changed since the last plan
// and a rotating slice of the rest, every key within every rounds, and
// the keys it names are the only ones CheckKeys reads.
func TestLedgerPlan(t *testing.T) {
	l := NewLedger()
	for i := range 100 {
		l.Put(fmt.Sprintf("k%d", i), 10, nil)
	}
	if got := l.Plan(1, 10); len(got) != 100 {
		t.Fatalf("first plan: %d keys, want all 100 (all recorded since)", len(got))
	}
	const every = 10
	seen := map[string]int{}
	for r := 2; r < 2+every; r++ {
		if r == 5 {
			l.Put("new", 10, nil)
			l.Delete("k7", nil)
		}
		keys := l.Plan(r, every)
		if len(keys) > 40 {
			t.Fatalf("round %d: %d keys, want about a tenth of 100", r, len(keys))
		}
		for _, k := range keys {
			seen[k]++
		}
		if r == 5 && (!slices.Contains(keys, "new") || !slices.Contains(keys, "k7")) {
			t.Fatalf("round 5 leaves out what changed since round 4: %v", keys)
		}
	}
	if len(seen) != 101 {
		t.Fatalf("%d keys read in %d rounds, want every one of 101", len(seen), every)
	}
	if got := l.Plan(20, 1); len(got) != 101 {
		t.Fatalf("every=1 plans %d keys, want 101", len(got))
	}
	// CheckKeys reads only the keys named (and skips unknown ones).
	var mu sync.Mutex
	var read []string
	l.CheckKeys([]string{"k1", "k2", "nope"}, func(key string) ([]byte, bool, error) {
		mu.Lock()
		read = append(read, key)
		mu.Unlock()
		return Payload(key, 10), true, nil
	}, 2)
	slices.Sort(read)
	if !slices.Equal(read, []string{"k1", "k2"}) {
		t.Fatalf("CheckKeys read %v", read)
	}
}

func TestPayload(t *testing.T) {
	if string(Payload("k", 64)) != string(Payload("k", 64)) {
		t.Fatal("not deterministic")
	}
	if string(Payload("k", 64)) == string(Payload("l", 64)) {
		t.Fatal("two keys, same bytes")
	}
	if string(Payload("k", 64)[:32]) != string(Payload("k", 32)) {
		t.Fatal("a prefix differs")
	}
}

// at builds an Op from milliseconds.
func at(client int, key string, kind Kind, value string, call, ret int) Op {
	t0 := time.Unix(1000, 0)
	return Op{Client: client, Key: key, Kind: kind, Value: value,
		Call: t0.Add(time.Duration(call) * time.Millisecond), Return: t0.Add(time.Duration(ret) * time.Millisecond)}
}

func ambiguous(op Op) Op { op.Ambiguous = true; return op }

func TestCheckLinearizable(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    []Op
		ok   bool
	}{
		{"empty", nil, true},
		{"sequential", []Op{
			at(0, "x", Put, "a", 0, 10), at(1, "x", Get, "a", 20, 30), at(2, "x", Delete, "", 40, 50), at(1, "x", Get, "", 60, 70),
		}, true},
		{"concurrent read sees either", []Op{
			at(0, "x", Put, "a", 0, 10), at(0, "x", Put, "b", 20, 40), at(1, "x", Get, "a", 25, 30), at(2, "x", Get, "b", 35, 50),
		}, true},
		{"stale read after an acknowledged overwrite", []Op{
			at(0, "x", Put, "a", 0, 10), at(0, "x", Put, "b", 20, 30), at(1, "x", Get, "a", 40, 50),
		}, false},
		{"read of a value never written", []Op{
			at(0, "x", Put, "a", 0, 10), at(1, "x", Get, "zzz", 20, 30),
		}, false},
		{"deleted key read back", []Op{
			at(0, "x", Put, "a", 0, 10), at(1, "x", Delete, "", 20, 30), at(2, "x", Get, "a", 40, 50),
		}, false},
		{"reads go back in time", []Op{
			at(0, "x", Put, "a", 0, 10), at(0, "x", Put, "b", 20, 100), at(1, "x", Get, "b", 30, 40), at(2, "x", Get, "a", 50, 60),
		}, false},
		{"lost answer may apply late", []Op{
			ambiguous(at(0, "x", Put, "a", 0, 10)), at(1, "x", Get, "", 20, 30), at(1, "x", Get, "a", 40, 50),
		}, true},
		{"lost answer may never apply", []Op{
			at(0, "x", Put, "b", 0, 5), ambiguous(at(0, "x", Put, "a", 10, 20)), at(1, "x", Get, "b", 30, 40),
		}, true},
		{"lost answer cannot apply before its call", []Op{
			at(1, "x", Get, "a", 0, 5), ambiguous(at(0, "x", Put, "a", 10, 20)),
		}, false},
		{"keys are independent", []Op{
			at(0, "x", Put, "a", 0, 10), at(1, "y", Get, "", 20, 30), at(2, "y", Put, "a", 40, 50), at(1, "x", Get, "a", 60, 70),
		}, true},
		{"violation on the second key", []Op{
			at(0, "x", Put, "a", 0, 10), at(1, "x", Get, "a", 20, 30), at(0, "y", Put, "c", 0, 10), at(1, "y", Get, "", 20, 30),
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err, unknown := CheckLinearizable(tc.h, 10*time.Second)
			if unknown {
				t.Fatalf("check did not finish: %v", err)
			}
			if (err == nil) != tc.ok {
				t.Fatalf("linearizable = %v (%v), want %v", err == nil, err, tc.ok)
			}
			if err != nil {
				t.Log(err)
			}
		})
	}
}

func TestWriteTable(t *testing.T) {
	var b strings.Builder
	err := WriteTable(&b, []Round{
		{N: 1, Nemesis: "kill -9 leader n0", Errors: map[string]int{"503 SlowDown": 3, "timeout": 1}, Longest: 3 * time.Second, LongestAny: 4500 * time.Millisecond, RSS: []float64{80, 90, 100}, Start: 4200 * time.Millisecond, Corrupt: 200 * time.Second, Linear: "ok"},
		{N: 2, Nemesis: "partition n1", Skipped: "not root", Linear: "ok"},
	})
	if err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"kill -9 leader n0", "503 SlowDown×3, timeout×1", "3s (over 2 s)", "4.5s", "4.2s (over 3 s)", "3m20s (over 3m)", "80 90 100", "(skipped: not root)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 4 || len(lines[0]) != len(lines[1]) {
		t.Errorf("table of 2 rounds:\n%s", out)
	}
}
