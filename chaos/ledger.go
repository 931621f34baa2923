package chaos

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"
)

// Payload returns the n bytes the load writes under key: a deterministic
// stream seeded by the key, so a wrong or misplaced object never matches.
func Payload(key string, n int) []byte {
	h := fnv.New64a()
	h.Write([]byte(key))
	x := h.Sum64() | 1
	b := make([]byte, n)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x >> 32)
	}
	return b
}

// keyState is what the ledger knows of a key.
type keyState uint8

const (
	stateAcked   keyState = iota + 1 // PUT acknowledged: must exist
	stateMaybe                       // PUT or DELETE failed: may exist
	stateDeleted                     // DELETE acknowledged: must be gone
)

type entry struct {
	size  int
	state keyState
	// dirty: recorded (PUT or DELETE, whatever the outcome) since the
	// last Plan.
	dirty bool
}

// Ledger records the outcome of every PUT and DELETE of the load. It is
// safe for concurrent use.
type Ledger struct {
	mu   sync.Mutex
	keys map[string]*entry
	// live is the bytes of the keys that may exist: acknowledged, or
	// written or deleted with an unknown outcome.
	live int64
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{keys: map[string]*entry{}} }

// Put records a PUT of Payload(key, size) that ended with err.
func (l *Ledger) Put(key string, size int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := stateAcked
	if err != nil {
		st = stateMaybe
	}
	if e := l.keys[key]; e != nil && e.state != stateDeleted {
		l.live -= int64(e.size)
	}
	l.keys[key] = &entry{size: size, state: st, dirty: true}
	l.live += int64(size)
}

// Delete records a DELETE of key that ended with err.
func (l *Ledger) Delete(key string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.keys[key]
	if e == nil {
		e = &entry{state: stateMaybe}
		l.keys[key] = e
	}
	if err == nil {
		if e.state != stateDeleted {
			l.live -= int64(e.size)
		}
		e.state = stateDeleted
	} else if e.state != stateDeleted {
		e.state = stateMaybe
	}
	e.dirty = true
}

// Plan returns the keys a round's check reads, sorted, and starts the next
// round: every key recorded since the last Plan, and of the others those
// in slice round mod every of every slices (by a hash of the key), so that
// each key is read again in any every consecutive rounds. every <= 1 picks
// every key.
//
// A full check of each round costs in proportion to everything written
// so far, so a long run's checks grow with the square of its rounds (100
// rounds: many hours). A planned check costs the round's own writes plus
// 1/every of the rest, and a run that ends with every = 1 still reads
// every key through every node at its end.
func (l *Ledger) Plan(round, every int) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var keys []string
	for k, e := range l.keys {
		if e.dirty || every <= 1 || int(keyHash(k)%uint32(every)) == round%every {
			keys = append(keys, k)
		}
		e.dirty = false
	}
	sort.Strings(keys)
	return keys
}

func keyHash(k string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(k))
	return h.Sum32()
}

// Acked returns the size of key if its PUT was acknowledged and no DELETE
// of it was tried since.
func (l *Ledger) Acked(key string) (size int, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.keys[key]; e != nil && e.state == stateAcked {
		return e.size, true
	}
	return 0, false
}

// Live returns the bytes of the keys that may exist: those whose PUT was
// acknowledged or may have been, and no DELETE of them acknowledged since.
func (l *Ledger) Live() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.live
}

// Counts returns how many keys must exist, how many must be gone, and how
// many are unknown.
func (l *Ledger) Counts() (acked, deleted, maybe int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.keys {
		switch e.state {
		case stateAcked:
			acked++
		case stateDeleted:
			deleted++
		default:
			maybe++
		}
	}
	return
}

// Reader reads a key through one node: found false means NoSuchKey; err
// means the read failed (and is retried by the caller of Check, if it
// wishes, before it reaches the ledger).
type Reader func(key string) (body []byte, found bool, err error)

// Problem is one key the ledger found wrong.
type Problem struct {
	Key  string
	What string // "lost", "wrong bytes", "resurrected", "unreadable"
}

func (p Problem) String() string { return p.Key + ": " + p.What }

// Check reads every key the ledger knows through read, with up to
// parallel readers, and returns the problems: an acknowledged key that is
// missing ("lost") or unreadable, bytes that differ from its payload
// ("wrong bytes", for acknowledged and unknown keys alike), and a key whose
// DELETE was acknowledged that still answers ("resurrected").
func (l *Ledger) Check(read Reader, parallel int) []Problem {
	return l.CheckKeys(nil, read, parallel)
}

// CheckKeys is Check of the given keys only (nil: every key); keys the
// ledger does not know are skipped.
func (l *Ledger) CheckKeys(keys []string, read Reader, parallel int) []Problem {
	type job struct {
		key string
		e   entry
	}
	l.mu.Lock()
	var jobs []job
	if keys == nil {
		for k, e := range l.keys {
			jobs = append(jobs, job{k, *e})
		}
	}
	for _, k := range keys {
		if e := l.keys[k]; e != nil {
			jobs = append(jobs, job{k, *e})
		}
	}
	l.mu.Unlock()
	sort.Slice(jobs, func(i, j int) bool { return jobs[i].key < jobs[j].key })
	var (
		mu       sync.Mutex
		problems []Problem
		wg       sync.WaitGroup
		next     = make(chan job)
	)
	report := func(key, what string) {
		mu.Lock()
		problems = append(problems, Problem{key, what})
		mu.Unlock()
	}
	for range max(parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				body, found, err := read(j.key)
				switch {
				case err != nil:
					if j.e.state == stateAcked || j.e.state == stateDeleted {
						report(j.key, fmt.Sprintf("unreadable: %v", err))
					}
				case !found:
					if j.e.state == stateAcked {
						report(j.key, "lost")
					}
				case j.e.state == stateDeleted:
					report(j.key, fmt.Sprintf("resurrected (%d bytes after an acknowledged DELETE)", len(body)))
				case j.e.state == stateMaybe && j.e.size == 0:
					// A DELETE of a key whose PUT was never recorded.
				case !bytes.Equal(body, Payload(j.key, j.e.size)):
					report(j.key, fmt.Sprintf("wrong bytes (%d bytes, want %d)", len(body), j.e.size))
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	sort.Slice(problems, func(i, j int) bool { return problems[i].Key < problems[j].Key })
	return problems
}
