package audit

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// Sink receives events from a Logger.
type Sink interface {
	// Write hands e to the sink. It never blocks on I/O: a sink that
	// cannot keep up drops the event and counts it.
	Write(Event)
	// Close delivers what is queued, bounded by ctx, and releases the
	// sink's resources. Write after Close is a no-op. Close is idempotent.
	Close(ctx context.Context) error
}

// Logger fans each event out to several sinks. It is safe for concurrent
// use; the zero value is not usable, call New.
type Logger struct {
	sinks  []Sink
	closed atomic.Bool
	now    func() time.Time
}

// New returns a Logger writing to sinks, in order. Nil sinks are skipped.
func New(sinks ...Sink) *Logger {
	l := &Logger{now: time.Now}
	for _, s := range sinks {
		if s != nil {
			l.sinks = append(l.sinks, s)
		}
	}
	return l
}

// Emit hands e to every sink. It never blocks on I/O and never fails the
// caller: a sink that panics is ignored for this event. A zero e.Time is
// set to the current time. Emit after Close is a no-op.
func (l *Logger) Emit(e Event) {
	if l == nil || l.closed.Load() {
		return
	}
	if e.Time.IsZero() {
		e.Time = l.now()
	}
	for _, s := range l.sinks {
		write(s, e)
	}
}

func write(s Sink, e Event) {
	defer func() { _ = recover() }()
	s.Write(e)
}

// Close closes every sink, bounded by ctx, and returns their errors
// joined. The sinks are closed concurrently so one slow sink does not
// spend another's share of ctx. Close is idempotent.
func (l *Logger) Close(ctx context.Context) error {
	if l == nil || l.closed.Swap(true) {
		return nil
	}
	errs := make([]error, len(l.sinks))
	done := make(chan struct{}, len(l.sinks))
	for i, s := range l.sinks {
		go func() {
			defer func() { done <- struct{}{} }()
			errs[i] = s.Close(ctx)
		}()
	}
	for range l.sinks {
		<-done
	}
	return errors.Join(errs...)
}
