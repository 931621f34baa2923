package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// File sink defaults.
const (
	// DefaultFileMaxBytes is the size at which the file is rotated.
	DefaultFileMaxBytes = 100 << 20
	// DefaultFileKeep is how many rotated files (name.1 .. name.N) are kept.
	DefaultFileKeep = 5
	// DefaultQueueLen bounds each sink's queue. At ~400 bytes an event it
	// holds ~4 MB: enough to ride out a slow disk or webhook for a few
	// seconds at thousands of requests a second without unbounded memory.
	DefaultQueueLen = 10000

	// fileBatchMax bounds how many events one flush covers, so a full
	// queue still reaches the disk in steady steps.
	fileBatchMax = 1024
)

// FileConfig configures a FileSink. Zero values take the defaults noted.
type FileConfig struct {
	// Path of the live file; required. Rotated files are Path.1 (newest)
	// to Path.Keep (oldest).
	Path string
	// MaxBytes: rotate before a line would take the file past this size;
	// default DefaultFileMaxBytes (100 MiB). A single line larger than
	// MaxBytes gets a file of its own.
	MaxBytes int64
	// Keep rotated files; default DefaultFileKeep (5).
	Keep int
	// QueueLen events may wait for the writer; default DefaultQueueLen.
	QueueLen int
	// OnDrop, if set, is called with the sink name "file" for every event
	// dropped on overflow (e.g. to increment a metric). It runs on the
	// emitting goroutine: keep it fast and non-blocking.
	OnDrop func(sink string)
	// Logger for the sink's own problems; default slog.Default().
	Logger *slog.Logger
}

// Validate reports every problem with c at once.
func (c FileConfig) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("audit: file: Path is required"))
	}
	if c.MaxBytes < 0 {
		errs = append(errs, fmt.Errorf("audit: file: MaxBytes %d is negative", c.MaxBytes))
	}
	if c.Keep < 0 {
		errs = append(errs, fmt.Errorf("audit: file: Keep %d is negative", c.Keep))
	}
	if c.QueueLen < 0 {
		errs = append(errs, fmt.Errorf("audit: file: QueueLen %d is negative", c.QueueLen))
	}
	return errors.Join(errs...)
}

func (c FileConfig) withDefaults() FileConfig {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultFileMaxBytes
	}
	if c.Keep == 0 {
		c.Keep = DefaultFileKeep
	}
	if c.QueueLen == 0 {
		c.QueueLen = DefaultQueueLen
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// FileSink writes events as JSON lines to a file with size-based rotation.
// One goroutine owns the file; Write only enqueues.
type FileSink struct {
	cfg  FileConfig
	q    *queue
	done chan struct{}

	abort     atomic.Bool // Close's context ended: stop writing
	closeOnce sync.Once
	closeErr  error // set by the worker before done is closed

	// Owned by the worker goroutine.
	f        *os.File
	w        *bufio.Writer
	size     int64
	errLogAt int64
}

var _ Sink = (*FileSink)(nil)

// NewFile opens (appending to) cfg.Path and starts the writer.
func NewFile(cfg FileConfig) (*FileSink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &FileSink{
		cfg:  cfg,
		q:    newQueue("file", cfg.QueueLen, cfg.OnDrop, cfg.Logger),
		done: make(chan struct{}),
	}
	if err := s.open(); err != nil {
		return nil, err
	}
	go s.run()
	return s, nil
}

// Write enqueues e; it drops and counts e when the queue is full.
func (s *FileSink) Write(e Event) { s.q.put(e) }

// Dropped is how many events were refused because the queue was full.
func (s *FileSink) Dropped() int64 { return s.q.dropped.Load() }

// Stats reports the sink's counters; exact once Close has returned.
func (s *FileSink) Stats() Stats { return s.q.stats() }

// Close writes everything queued, fsyncs and closes the file. If ctx ends
// first, the writer stops after its current batch, the rest is counted as
// Discarded, and Close returns ctx's error.
func (s *FileSink) Close(ctx context.Context) error {
	s.q.close()
	var ctxErr error
	select {
	case <-s.done:
	case <-ctx.Done():
		s.abort.Store(true)
		<-s.done // bounded by one batch of writes
		ctxErr = ctx.Err()
	}
	var err error
	s.closeOnce.Do(func() { err = s.closeErr })
	return errors.Join(ctxErr, err)
}

func (s *FileSink) open() error {
	f, err := os.OpenFile(s.cfg.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit: file: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("audit: file: %w", err)
	}
	s.f, s.size = f, st.Size()
	if s.w == nil {
		s.w = bufio.NewWriterSize(f, 64<<10)
	} else {
		s.w.Reset(f)
	}
	return nil
}

func (s *FileSink) run() {
	defer close(s.done)
	var line []byte
	for e := range s.q.ch {
		if s.abort.Load() {
			s.q.discarded.Add(1)
			s.q.discardRest()
			break
		}
		n := 0
		pending := int64(0) // lines in the buffer, not yet flushed
		for {
			line = appendLine(line[:0], e)
			if err := s.writeLine(line, &pending); err != nil {
				s.logErr("write", err)
			}
			n++
			if n == fileBatchMax {
				break
			}
			var ok bool
			select {
			case e, ok = <-s.q.ch:
			default:
			}
			if !ok {
				break
			}
		}
		s.flush(&pending)
	}
	s.closeErr = s.closeFile()
}

// writeLine rotates if line would take the file past MaxBytes, then
// buffers line. Lines are only ever whole in one file.
func (s *FileSink) writeLine(line []byte, pending *int64) error {
	if s.f != nil && s.size > 0 && s.size+int64(len(line)) > s.cfg.MaxBytes {
		s.flush(pending)
		if err := s.rotate(); err != nil {
			s.logErr("rotate", err)
		}
	}
	if s.f == nil {
		if err := s.open(); err != nil {
			s.q.failed.Add(1)
			return err
		}
	}
	if _, err := s.w.Write(line); err != nil {
		s.q.failed.Add(1)
		return err
	}
	s.size += int64(len(line))
	*pending++
	return nil
}

// flush writes the buffered lines to the file and counts them.
func (s *FileSink) flush(pending *int64) {
	if *pending == 0 {
		return
	}
	if err := s.w.Flush(); err != nil {
		// bufio keeps failing after an error; start the file afresh.
		s.q.failed.Add(*pending)
		s.logErr("flush", err)
		s.f.Close()
		s.f = nil
	} else {
		s.q.delivered.Add(*pending)
	}
	*pending = 0
}

// rotate fsyncs and closes the live file, shifts Path.i to Path.i+1
// (dropping Path.Keep), renames Path to Path.1, and opens a new Path.
func (s *FileSink) rotate() error {
	if err := s.closeFile(); err != nil {
		s.logErr("close before rotate", err)
	}
	p, keep := s.cfg.Path, s.cfg.Keep
	var errs []error
	if err := os.Remove(p + "." + strconv.Itoa(keep)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	for i := keep - 1; i >= 1; i-- {
		err := os.Rename(p+"."+strconv.Itoa(i), p+"."+strconv.Itoa(i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if err := os.Rename(p, p+".1"); err != nil {
		errs = append(errs, err)
	}
	syncDir(filepath.Dir(p))
	if err := s.open(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (s *FileSink) closeFile() error {
	if s.f == nil {
		return nil
	}
	f := s.f
	s.f = nil
	return errors.Join(f.Sync(), f.Close())
}

func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}

// logErr logs a write problem at most once per dropLogInterval.
func (s *FileSink) logErr(op string, err error) {
	now := nanotime()
	if now-s.errLogAt < int64(dropLogInterval) {
		return
	}
	s.errLogAt = now
	s.cfg.Logger.Error("audit: file sink", "op", op, "path", s.cfg.Path, "err", err,
		"failed_total", s.q.failed.Load())
}

func appendLine(b []byte, e Event) []byte {
	j, err := json.Marshal(e)
	if err != nil { // cannot happen: every field encodes
		j = []byte(`{"schema_version":1,"error":"unencodable event"}`)
	}
	b = append(b, j...)
	return append(b, '\n')
}

func nanotime() int64 { return time.Now().UnixNano() }
