package console

import (
	"container/list"
	"net"
	"net/http"
	"sync"

	"golang.org/x/time/rate"
)

// throttle limits sign-in attempts per source address with one token
// bucket per address, keeping at most max addresses (least recently used
// forgotten, which only forgives an address that stayed quiet while max
// others tried).
type throttle struct {
	rate  rate.Limit
	burst int
	max   int
	mu    struct {
		sync.Mutex
		byAddr map[string]*list.Element
		lru    *list.List // of *throttleEntry, most recent first
	}
}

type throttleEntry struct {
	addr string
	lim  *rate.Limiter
}

func newThrottle(perSec float64, burst, max int) *throttle {
	t := &throttle{rate: rate.Limit(perSec), burst: burst, max: max}
	t.mu.byAddr = make(map[string]*list.Element)
	t.mu.lru = list.New()
	return t
}

// allow spends one attempt of addr's budget.
func (t *throttle) allow(addr string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.mu.byAddr[addr]; ok {
		t.mu.lru.MoveToFront(el)
		return el.Value.(*throttleEntry).lim.Allow()
	}
	e := &throttleEntry{addr: addr, lim: rate.NewLimiter(t.rate, t.burst)}
	t.mu.byAddr[addr] = t.mu.lru.PushFront(e)
	for t.mu.lru.Len() > t.max {
		last := t.mu.lru.Back()
		delete(t.mu.byAddr, last.Value.(*throttleEntry).addr)
		t.mu.lru.Remove(last)
	}
	return e.lim.Allow()
}

// sourceAddr is the address a request came from (the peer: a header a
// client chooses is not trusted).
func sourceAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
