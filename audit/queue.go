package audit

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// dropLogInterval bounds how often a sink logs that it is dropping events,
// so an overloaded sink cannot flood the process log.
const dropLogInterval = time.Second

// Stats counts what happened to the events a sink was given. Once Close
// has returned:
//
//	Accepted + Dropped + AfterClose == calls to Write
//	Delivered + Failed + Discarded  == Accepted
type Stats struct {
	Accepted   int64 // entered the queue
	Dropped    int64 // refused because the queue was full (overflow)
	AfterClose int64 // refused because the sink was closed
	Delivered  int64 // written to the file, or acknowledged 2xx by the webhook
	Failed     int64 // lost to an I/O error or after the last retry
	Discarded  int64 // still queued or in flight when Close's context ended
}

// queue is the bounded hand-off shared by the sinks: Write never blocks,
// one worker drains it.
type queue struct {
	name   string
	onDrop func(sink string)
	log    *slog.Logger

	// mu guards closed and the close of ch. put holds it for reading
	// only around a non-blocking send, so close waits at most for that.
	mu     sync.RWMutex
	closed bool
	ch     chan Event

	accepted, dropped, afterClose atomic.Int64
	delivered, failed, discarded  atomic.Int64
	lastDropLog, dropsAtLastLog   atomic.Int64
}

func newQueue(name string, n int, onDrop func(string), log *slog.Logger) *queue {
	return &queue{name: name, onDrop: onDrop, log: log, ch: make(chan Event, n)}
}

// put enqueues e without blocking. It reports nothing: the outcome is
// counted.
func (q *queue) put(e Event) {
	q.mu.RLock()
	if q.closed {
		q.mu.RUnlock()
		q.afterClose.Add(1)
		return
	}
	select {
	case q.ch <- e:
		q.accepted.Add(1) // under the lock, so Stats after close is exact
		q.mu.RUnlock()
		return
	default:
	}
	n := q.dropped.Add(1)
	q.mu.RUnlock()
	if q.onDrop != nil {
		q.onDrop(q.name)
	}
	now := time.Now().UnixNano()
	last := q.lastDropLog.Load()
	if now-last >= int64(dropLogInterval) && q.lastDropLog.CompareAndSwap(last, now) {
		prev := q.dropsAtLastLog.Swap(n)
		q.log.Warn("audit: queue full, dropping events",
			"sink", q.name, "dropped_since_last_log", n-prev, "dropped_total", n)
	}
}

// close stops put and closes ch so the worker's range ends once it has
// drained what was queued. It reports whether this call closed it.
func (q *queue) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	close(q.ch)
	return true
}

// discardRest counts everything still in ch as discarded. ch must be
// closed.
func (q *queue) discardRest() {
	for range q.ch {
		q.discarded.Add(1)
	}
}

func (q *queue) stats() Stats {
	return Stats{
		Accepted:   q.accepted.Load(),
		Dropped:    q.dropped.Load(),
		AfterClose: q.afterClose.Load(),
		Delivered:  q.delivered.Load(),
		Failed:     q.failed.Load(),
		Discarded:  q.discarded.Load(),
	}
}
