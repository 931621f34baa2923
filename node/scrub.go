package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// Scrubbing.
//
// Reads verify only the shards they use (the data shards of a healthy
// blob), so bitrot in parity shards and in artifacts nobody reads is found
// by the scrubber alone. It walks every blob the metadata references
// (artifacts and the parts of unfinished multipart uploads, through
// metastore.ForEachBlobFrom) and verifies in full every shard of it on
// this node's drives; missing and corrupt shards are queued for healing.
//
// It runs continuously so that every shard is verified at least once in
// any span of Config.ScrubPeriod (default 7 days), so a flipped byte is
// found, and queued for healing, within one period wherever it lands:
//
//   - a pass starts half a period after the last one started
//     (scrubPassEvery), the first soon after startup (ScrubStartDelay);
//   - a pass is paced to end scrubPassShare (40%) of a period after it
//     started: at its start it reads the bytes on its drives, and it
//     sleeps only while it is ahead of that schedule (at least
//     scrubMinRate), so the time verification itself takes, the pauses
//     between shards and a restart in the middle all count against it
//     and it catches up after them.
//
// Two verifications of a shard are then at most half a period plus one
// pass apart (0.9 of a period), which leaves a tenth for healing. A pass
// pinned to a whole period (the first design) let a shard just verified
// wait a period for the next pass, plus whatever that pass overran.
//
// A blob the scrub cannot verify at all (its record does not decode, or
// its shape is invalid) does not stop the pass: it is counted
// (vaultaire_scrub_errors_total, ScrubStatus.PassErrors), logged, kept in
// a short list of the latest such errors (ScrubStatus.Errors, `vaultaire
// admin scrub status`), and the pass goes on with the next blob. Healing
// cannot act on these: it rebuilds a shard from the blob's other shards,
// which takes the blob's record and shape. (A pass that stopped there
// instead retried from the same blob every minute and never completed.)
// A missing or corrupt shard is not an error of this kind: it is a bad
// shard, queued for healing.
//
// Its position (the walk's cursor) and the times of its passes are kept
// in Config.ScrubStateFile, saved every few seconds and at stop, so a
// node restarted more often than the period still covers everything: it
// resumes where it stopped. StartScrub starts a pass now, unpaced.

// Scrub defaults.
const (
	// DefaultScrubPeriod: every shard is verified at least this often.
	DefaultScrubPeriod = 7 * 24 * time.Hour
	// DefaultScrubStartDelay: the first pass after a start begins this
	// late (the node has settled; a pass in progress resumes then).
	DefaultScrubStartDelay = time.Minute
	// scrubMinRate: bytes per second a paced pass goes at least, so small
	// nodes finish their pass quickly.
	scrubMinRate = 1 << 20
	// scrubPassEvery and scrubPassShare (of the period): passes start
	// half a period apart and are paced to end within 40% of one, so a
	// shard's two verifications are at most 0.9 of a period apart.
	scrubPassEvery = 0.5
	scrubPassShare = 0.4
	// scrubSaveEvery: how often the position is saved during a pass.
	scrubSaveEvery = 5 * time.Second
	// scrubStateVersion is the format of the state file.
	scrubStateVersion = 1
	// scrubErrorsKept: how many of the latest scrub errors the status
	// (and the state file) keeps; the metric counts them all.
	scrubErrorsKept = 16
)

// ScrubReport counts what one scrub pass saw.
type ScrubReport struct {
	Blobs    int // blobs visited
	Verified int // shards read in full and found intact
	Bad      int // shards missing or corrupt (queued for healing)
	Errors   int // blobs or records that could not be verified at all (skipped)
}

// ScrubError is a blob or a metadata record the scrub could not verify
// and skipped.
type ScrubError struct {
	Time time.Time `json:"time"`
	// Blob is the blob's id when its record decoded; Record names an
	// undecodable record (metastore.BadRecord).
	Blob   string `json:"blob,omitempty"`
	Record string `json:"record,omitempty"`
	Err    string `json:"error"`
}

// ScrubStatus is the scrubber's state (the admin API's answer).
type ScrubStatus struct {
	Period time.Duration `json:"period_ns"`
	// Running is true while a pass is under way; Fast when it is unpaced
	// (StartScrub).
	Running bool `json:"running"`
	Fast    bool `json:"fast"`
	// PassStarted is when the pass in progress started (zero: none);
	// PassBlobs, PassShards, PassBad and PassBytes are its progress, and
	// Progress estimates its fraction done (bytes verified over the bytes
	// on this node's drives when it started).
	PassStarted time.Time `json:"pass_started,omitzero"`
	PassBlobs   int64     `json:"pass_blobs"`
	PassShards  int64     `json:"pass_shards_verified"`
	PassBad     int64     `json:"pass_shards_bad"`
	PassBytes   int64     `json:"pass_bytes"`
	PassErrors  int64     `json:"pass_errors"`
	Progress    float64   `json:"progress"`
	// LastPassStarted and LastPassCompleted describe the last complete
	// pass (zero: none yet); NextPass is when the next one is due.
	LastPassStarted   time.Time `json:"last_pass_started,omitzero"`
	LastPassCompleted time.Time `json:"last_pass_completed,omitzero"`
	LastPassBlobs     int64     `json:"last_pass_blobs"`
	LastPassBad       int64     `json:"last_pass_shards_bad"`
	LastPassErrors    int64     `json:"last_pass_errors"`
	NextPass          time.Time `json:"next_pass,omitzero"`
	// Passes counts the passes completed since this process started.
	Passes int64 `json:"passes"`
	// Errors are the latest blobs and records the scrub could not verify
	// (at most scrubErrorsKept, oldest first), from any pass.
	Errors []ScrubError `json:"errors,omitempty"`
}

// scrubState is what the state file keeps (JSON).
type scrubState struct {
	Version           int          `json:"version"`
	PassStarted       time.Time    `json:"pass_started,omitzero"`
	Cursor            []byte       `json:"cursor,omitempty"`
	PassBlobs         int64        `json:"pass_blobs"`
	PassShards        int64        `json:"pass_shards"`
	PassBad           int64        `json:"pass_bad"`
	PassBytes         int64        `json:"pass_bytes"`
	PassErrors        int64        `json:"pass_errors,omitempty"`
	PassTotal         int64        `json:"pass_total_bytes"`
	LastPassStarted   time.Time    `json:"last_pass_started,omitzero"`
	LastPassCompleted time.Time    `json:"last_pass_completed,omitzero"`
	LastPassBlobs     int64        `json:"last_pass_blobs"`
	LastPassBad       int64        `json:"last_pass_bad"`
	LastPassErrors    int64        `json:"last_pass_errors,omitempty"`
	Errors            []ScrubError `json:"errors,omitempty"`
}

// scrubber runs the continuous scrub of one Engine.
type scrubber struct {
	e    *Engine
	kick chan struct{} // StartScrub
	mu   struct {
		sync.Mutex
		st      scrubState
		running bool
		fast    bool
		next    time.Time
		passes  int64
		saved   time.Time
	}
}

func newScrubber(e *Engine) *scrubber {
	s := &scrubber{e: e, kick: make(chan struct{}, 1)}
	s.mu.st.Version = scrubStateVersion
	return s
}

// load reads the state file (a missing one is a fresh start; a bad one is
// logged and ignored: the worst is a pass started over).
func (s *scrubber) load() {
	path := s.e.cfg.ScrubStateFile
	if path == "" {
		return
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var st scrubState
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err == nil && st.Version != scrubStateVersion {
		err = fmt.Errorf("state version %d, this node knows %d", st.Version, scrubStateVersion)
	}
	if err != nil {
		s.e.log.Warn("scrub state unreadable; starting a new pass", "path", path, "err", err)
		return
	}
	s.mu.Lock()
	s.mu.st = st
	s.mu.Unlock()
}

// save writes the state file (temp, fsync, rename).
func (s *scrubber) save() {
	path := s.e.cfg.ScrubStateFile
	if path == "" {
		return
	}
	s.mu.Lock()
	b, err := json.Marshal(s.mu.st)
	s.mu.saved = time.Now()
	s.mu.Unlock()
	if err == nil {
		err = writeFileAtomic(path, b)
	}
	if err != nil {
		s.e.log.Warn("scrub state not saved", "path", path, "err", err)
	}
}

// writeFileAtomic replaces path with b durably.
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// run is the scrub loop: it waits for the next pass (or StartScrub) and
// runs it, until ctx ends.
func (s *scrubber) run(ctx context.Context) {
	if s.e.cfg.ScrubPeriod <= 0 {
		return
	}
	s.load()
	first := true
	for {
		now := time.Now()
		s.mu.Lock()
		next := s.mu.st.LastPassStarted.Add(s.passEvery())
		if !s.mu.st.PassStarted.IsZero() || s.mu.st.LastPassStarted.IsZero() {
			next = now // a pass to resume, or none ever
		}
		if delayed := now.Add(s.e.cfg.ScrubStartDelay); first && next.Before(delayed) {
			next = delayed
		}
		s.mu.next = next
		s.mu.Unlock()
		first = false
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.kick:
			t.Stop()
		}
		if _, err := s.pass(ctx); err != nil && ctx.Err() == nil {
			s.e.log.Warn("scrub pass interrupted; it resumes at the next", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Minute):
			}
		}
	}
}

// passEvery is how long after a pass started the next one starts.
func (s *scrubber) passEvery() time.Duration {
	return time.Duration(scrubPassEvery * float64(s.e.cfg.ScrubPeriod))
}

// start asks for a pass now, unpaced (a pass in progress goes on unpaced).
func (s *scrubber) start() {
	s.mu.Lock()
	s.mu.fast = true
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// pass runs (or resumes) one pass to its end.
func (s *scrubber) pass(ctx context.Context) (ScrubReport, error) {
	var rep ScrubReport
	s.mu.Lock()
	if s.mu.st.PassStarted.IsZero() {
		s.mu.st.PassStarted = time.Now()
		s.mu.st.Cursor = nil
		s.mu.st.PassBlobs, s.mu.st.PassShards, s.mu.st.PassBad, s.mu.st.PassBytes, s.mu.st.PassErrors = 0, 0, 0, 0, 0
		s.mu.st.PassTotal = s.e.localBytes(ctx)
		s.e.log.Info("scrub pass started", "bytes", s.mu.st.PassTotal, "period", s.e.cfg.ScrubPeriod)
	} else {
		s.e.log.Info("scrub pass resumed", "started", s.mu.st.PassStarted, "blobs_done", s.mu.st.PassBlobs)
	}
	s.mu.running = true
	cursor := s.mu.st.Cursor
	// The pace: the pass's bytes over its share of the period, on a
	// schedule that starts when the pass started (before any restart).
	rate := float64(max(s.mu.st.PassTotal, 1)) / (scrubPassShare * s.e.cfg.ScrubPeriod.Seconds())
	rate = max(rate, scrubMinRate)
	started := s.mu.st.PassStarted
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.mu.running, s.mu.fast = false, false
		s.mu.Unlock()
		select {
		case <-s.kick: // a StartScrub this pass served
		default:
		}
		s.save()
	}()
	s.save()
	err := s.e.meta.WalkBlobsFrom(ctx, cursor, func(b metastore.Blob, size int64, next []byte) error {
		var one ScrubReport
		n, err := s.e.scrubBlob(ctx, b, size, s.e.cfg.ScrubPause, &one)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.Errors++
			s.failed(ScrubError{Blob: b.ID, Err: err.Error()}, next)
			return nil
		}
		rep.Blobs += one.Blobs
		rep.Verified += one.Verified
		rep.Bad += one.Bad
		s.mu.Lock()
		st := &s.mu.st
		st.Cursor = next
		st.PassBlobs++
		st.PassShards += int64(one.Verified)
		st.PassBad += int64(one.Bad)
		st.PassBytes += n
		done := st.PassBytes
		fast := s.mu.fast
		due := time.Since(s.mu.saved) > scrubSaveEvery
		s.mu.Unlock()
		if due {
			s.save()
		}
		if fast || n == 0 {
			return nil
		}
		// Paced: wait only while ahead of the schedule (the bytes done
		// at the pass's rate since it started); behind it, go on.
		ahead := time.Until(started.Add(time.Duration(float64(done) / rate * float64(time.Second))))
		if ahead <= 0 {
			return nil
		}
		t := time.NewTimer(ahead)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		case <-s.kick: // StartScrub: go on unpaced
		}
		return nil
	}, func(bad metastore.BadRecord) error {
		rep.Errors++
		s.failed(ScrubError{Record: bad.Record, Err: bad.Err.Error()}, bad.Next)
		return nil
	}, metastore.Stale)
	if err != nil {
		return rep, err
	}
	s.mu.Lock()
	st := &s.mu.st
	st.LastPassStarted, st.LastPassCompleted = st.PassStarted, time.Now()
	st.LastPassBlobs, st.LastPassBad, st.LastPassErrors = st.PassBlobs, st.PassBad, st.PassErrors
	st.PassStarted, st.Cursor = time.Time{}, nil
	s.mu.passes++
	s.e.stats.scrubPasses.Add(1)
	s.e.log.Info("scrub pass done", "blobs", st.LastPassBlobs, "shards_verified", st.PassShards, "bad", st.LastPassBad,
		"errors", st.LastPassErrors, "took", st.LastPassCompleted.Sub(st.LastPassStarted).Round(time.Second))
	s.mu.Unlock()
	return rep, nil
}

// failed records a blob or record the pass skipped because it could not
// verify it, and moves the pass's position past it (next).
func (s *scrubber) failed(se ScrubError, next []byte) {
	se.Time = time.Now()
	s.e.stats.scrubErrors.Add(1)
	s.e.log.Warn("scrub: cannot verify; skipped", "blob", se.Blob, "record", se.Record, "err", se.Err)
	s.mu.Lock()
	st := &s.mu.st
	st.Cursor = next
	st.PassErrors++
	st.Errors = append(st.Errors, se)
	if n := len(st.Errors) - scrubErrorsKept; n > 0 {
		st.Errors = append(st.Errors[:0:0], st.Errors[n:]...)
	}
	s.mu.Unlock()
}

// status reports the scrubber's state.
func (s *scrubber) status() ScrubStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.mu.st
	out := ScrubStatus{
		Period: s.e.cfg.ScrubPeriod, Running: s.mu.running, Fast: s.mu.fast,
		PassStarted: st.PassStarted, PassBlobs: st.PassBlobs, PassShards: st.PassShards, PassBad: st.PassBad, PassBytes: st.PassBytes,
		PassErrors:      st.PassErrors,
		LastPassStarted: st.LastPassStarted, LastPassCompleted: st.LastPassCompleted,
		LastPassBlobs: st.LastPassBlobs, LastPassBad: st.LastPassBad, LastPassErrors: st.LastPassErrors, Passes: s.mu.passes,
		Errors: slices.Clone(st.Errors),
	}
	if !st.PassStarted.IsZero() && st.PassTotal > 0 {
		out.Progress = min(float64(st.PassBytes)/float64(st.PassTotal), 1)
	}
	if !s.mu.running && s.e.cfg.ScrubPeriod > 0 {
		out.NextPass = s.mu.next
		if st.PassStarted.IsZero() && !st.LastPassStarted.IsZero() {
			if due := st.LastPassStarted.Add(s.passEvery()); due.After(out.NextPass) {
				out.NextPass = due
			}
		}
	}
	return out
}

// localBytes is the bytes used on this node's drives: the work of a pass,
// overestimated when drives share a file system (the pace then errs on
// the side of finishing early).
func (e *Engine) localBytes(ctx context.Context) int64 {
	var n int64
	for _, d := range e.order {
		if u, err := d.Driver.Usage(ctx); err == nil && u.Online {
			n += u.Used
		}
	}
	return n
}

// ScrubStatus reports the continuous scrub's position and passes.
func (e *Engine) ScrubStatus() ScrubStatus { return e.scrub.status() }

// StartScrub starts a scrub pass now, unpaced; a pass in progress goes on
// unpaced. It returns false when the scrub is disabled (ScrubPeriod 0).
func (e *Engine) StartScrub() bool {
	if e.cfg.ScrubPeriod <= 0 {
		return false
	}
	e.scrub.start()
	return true
}

// Scrub runs one whole pass now, unpaced apart from pause between shards,
// over every blob the metadata references (artifacts and the parts of
// unfinished uploads), independently of the continuous scrub and its
// state. Blobs and records it cannot verify are counted in Errors (and
// the metric), logged and skipped, as the continuous scrub does.
func (e *Engine) Scrub(ctx context.Context, pause time.Duration) (ScrubReport, error) {
	var rep ScrubReport
	err := e.meta.WalkBlobsFrom(ctx, nil, func(b metastore.Blob, size int64, _ []byte) error {
		_, err := e.scrubBlob(ctx, b, size, pause, &rep)
		if err != nil && ctx.Err() == nil {
			rep.Errors++
			e.stats.scrubErrors.Add(1)
			e.log.Warn("scrub: cannot verify; skipped", "blob", b.ID, "err", err)
			return nil
		}
		return err
	}, func(bad metastore.BadRecord) error {
		rep.Errors++
		e.stats.scrubErrors.Add(1)
		e.log.Warn("scrub: cannot verify; skipped", "record", bad.Record, "err", bad.Err)
		return nil
	}, metastore.Stale)
	return rep, err
}

// scrubBlob verifies the shards of b on this node's drives and returns
// the bytes it read.
func (e *Engine) scrubBlob(ctx context.Context, b metastore.Blob, size int64, pause time.Duration, rep *ScrubReport) (int64, error) {
	coder, err := e.coderFor(b)
	if err != nil {
		return 0, err
	}
	rep.Blobs++
	open := e.opener(b)
	var read int64
	for i, loc := range b.Shards {
		if !e.isLocal(loc) {
			continue // another node scrubs its own drives
		}
		rc, err := open(ctx, i, 0, -1)
		if err == nil {
			cr := &countReader{r: rc}
			err = coder.VerifyShard(ctx, cr, size, i)
			rc.Close()
			read += cr.n
		}
		if ctx.Err() != nil {
			return read, ctx.Err()
		}
		if err != nil {
			rep.Bad++
			e.stats.scrubBad.Add(1)
			e.log.Warn("scrub: bad shard", "blob", b.ID, "shard", i, "err", err)
			if err := e.heal.missingWait(ctx, b, size, i); err != nil {
				return read, err
			}
		} else {
			rep.Verified++
			e.stats.scrubVerified.Add(1)
		}
		if pause > 0 {
			select {
			case <-ctx.Done():
				return read, ctx.Err()
			case <-time.After(pause):
			}
		}
	}
	return read, nil
}

// countReader counts the bytes read through it.
type countReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
