package bench

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// cleanupTimeout bounds emptying and deleting the bucket after a run, which
// runs even when the run's context was cancelled (Ctrl-C).
const cleanupTimeout = 10 * time.Minute

// seedMetaKey is the user-metadata key (x-amz-meta-bench-seed) that carries
// an artifact's content seed, so the Sink can regenerate what was written
// and a person can tell which run wrote an artifact.
const seedMetaKey = "bench-seed"

// opStats accumulates one op's results; safe for concurrent use.
type opStats struct {
	lat    *Histogram
	ttfb   *Histogram // GET only
	ops    atomic.Int64
	bytes  atomic.Int64
	errors atomic.Int64
	mu     struct {
		sync.Mutex
		kinds map[string]int64
	}
}

// seriesRec is one worker's time series, merged after the run (no locks
// on the hot path).
type seriesRec struct {
	ops, bytes, errs [numOps][]int64
}

func (s *seriesRec) add(op Op, sec int, ops, bytes, errs int64) {
	for len(s.ops[op]) <= sec {
		s.ops[op] = append(s.ops[op], 0)
		s.bytes[op] = append(s.bytes[op], 0)
		s.errs[op] = append(s.errs[op], 0)
	}
	s.ops[op][sec] += ops
	s.bytes[op][sec] += bytes
	s.errs[op][sec] += errs
}

// runner holds the state of one run.
type runner struct {
	cfg       Config
	transport *http.Transport
	client    *s3.Client
	uploader  *manager.Uploader
	bucket    string
	created   bool // the bucket was created by this run
	prefix    string
	seed      uint64
	gen       atomic.Uint64 // artifact generations handed out
	stats     [numOps]*opStats
	used      [numOps]bool
	start     time.Time // measurement start (monotonic)
	deadline  time.Time // zero: none
	tickets   atomic.Int64
	stopped   atomic.Bool
	runCtx    context.Context
	keys      []keySlot // get and mixed
	listKeys  []string  // list
	phase     atomic.Value
	prepared  atomic.Int64
	prepTotal int64
}

// workerState is what one worker owns.
type workerState struct {
	id      int
	rng     *rand.Rand
	series  seriesRec
	buf     []byte // read buffer
	scratch []byte // verifier buffer
	seq     int
	// list walk
	listToken *string
	listPos   int
	chooser   chooser
}

// Run measures cfg.Workload against cfg.Endpoint (and cfg.ExtraEndpoints)
// and returns the report.
// It creates the bucket (unless cfg.Bucket), writes the artifacts the
// workload reads, measures until cfg.Duration or cfg.Ops is reached or ctx
// is cancelled (a cancelled run still reports what completed, with
// Interrupted set), then removes what it wrote unless cfg.Keep. Failures of
// individual operations are counted in the report, not returned; Run
// fails when the config is invalid or the setup (bucket, prepared
// artifacts) fails.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	r := &runner{cfg: cfg, runCtx: ctx}
	r.phase.Store("setup")
	if r.seed = cfg.Seed; r.seed == 0 {
		r.seed = randomUint64()
	}
	var err error
	if r.transport, err = newHTTPTransport(cfg); err != nil {
		return nil, err
	}
	defer r.transport.CloseIdleConnections()
	r.client = newS3Client(cfg, &http.Client{Transport: r.transport})
	r.uploader = manager.NewUploader(r.client, func(u *manager.Uploader) {
		u.PartSize = cfg.PartSize
		u.Concurrency = max(cfg.PartConcurrency, 1)
		u.BufferProvider = nil
		u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		if cfg.Checksums {
			u.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported
		}
	})
	for op := range numOps {
		r.stats[op] = &opStats{lat: NewHistogram()}
	}
	r.stats[OpGet].ttfb = NewHistogram()
	r.prefix = cfg.Prefix
	runID := fmt.Sprintf("%08x", uint32(randomUint64()))
	if r.prefix == "" {
		r.prefix = "bench-" + runID + "/"
	}

	if err := r.setupBucket(ctx, runID); err != nil {
		return nil, err
	}
	rep, runErr := r.measure(ctx)
	if !cfg.Keep {
		if err := r.cleanup(ctx); err != nil {
			cfg.Logger.Warn("cleanup failed", "bucket", r.bucket, "err", err)
			if rep != nil {
				rep.Warnings = append(rep.Warnings, "cleanup: "+err.Error())
			} else {
				runErr = errors.Join(runErr, fmt.Errorf("cleanup: %w", err))
			}
		}
	}
	return rep, runErr
}

func randomUint64() uint64 {
	var b [8]byte
	_, _ = crand.Read(b[:]) // never fails (crypto/rand panics on failure)
	return binary.LittleEndian.Uint64(b[:]) | 1
}

func (r *runner) setupBucket(ctx context.Context, runID string) error {
	if r.cfg.Bucket != "" {
		r.bucket = r.cfg.Bucket
		if _, err := r.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.bucket)}); err != nil {
			return fmt.Errorf("bench: bucket %s: %w", r.bucket, err)
		}
		return nil
	}
	r.bucket = "vaultaire-bench-" + runID
	in := &s3.CreateBucketInput{Bucket: aws.String(r.bucket)}
	if r.cfg.Region != "" && r.cfg.Region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(r.cfg.Region),
		}
	}
	if _, err := r.client.CreateBucket(ctx, in); err != nil {
		return fmt.Errorf("bench: create bucket %s: %w", r.bucket, err)
	}
	r.created = true
	r.cfg.Logger.Info("created bucket", "bucket", r.bucket)
	return nil
}

// measure prepares the workload's artifacts, runs the workers and builds
// the report.
func (r *runner) measure(ctx context.Context) (*Report, error) {
	cfg := r.cfg
	var stopProgress func()
	if cfg.Progress != nil {
		stopProgress = r.startProgress()
		defer stopProgress()
	}
	prepStart := time.Now()
	switch cfg.Workload {
	case WorkloadGet, WorkloadMixed:
		if err := r.prepareKeys(ctx); err != nil {
			return nil, err
		}
	case WorkloadList:
		if err := r.prepareList(ctx); err != nil {
			return nil, err
		}
	}
	var prepare time.Duration
	if cfg.Workload == WorkloadGet || cfg.Workload == WorkloadMixed || cfg.Workload == WorkloadList {
		prepare = time.Since(prepStart)
		cfg.Logger.Info("prepared", "artifacts", r.prepTotal, "took", prepare.Round(time.Millisecond))
	}

	var mix Mix
	switch cfg.Workload {
	case WorkloadPut:
		r.used[OpPut] = true
	case WorkloadGet:
		r.used[OpGet] = true
	case WorkloadMixed:
		mix = cfg.Mix
		for _, op := range mixable {
			r.used[op] = mix.Weight(op) > 0
		}
	case WorkloadList:
		r.used[OpList] = true
	case WorkloadMultipart:
		r.used[OpMultipart] = true
	case WorkloadRefused:
		r.used[OpRefused] = true
	}

	workers := make([]*workerState, cfg.Concurrency)
	for i := range workers {
		workers[i] = &workerState{
			id:      i,
			rng:     rand.New(rand.NewPCG(r.seed, uint64(i)+1)),
			buf:     make([]byte, 256<<10),
			scratch: make([]byte, verifyChunk),
		}
		if cfg.Workload == WorkloadMixed {
			workers[i].chooser = newChooser(mix)
		}
	}
	started := time.Now()
	r.start = started
	if cfg.Duration > 0 {
		r.deadline = started.Add(cfg.Duration)
	}
	// Storing the phase publishes start and deadline to the progress
	// goroutine (atomic.Value orders the writes before its Load).
	r.phase.Store("measure")
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() { r.work(ctx, w) })
	}
	wg.Wait()
	elapsed := time.Since(started)
	r.phase.Store("cleanup")
	if stopProgress != nil {
		stopProgress()
	}

	rep := &Report{
		Version:     ReportVersion,
		Tool:        "vaultaire bench",
		Started:     started.UTC().Round(time.Millisecond),
		ElapsedNs:   int64(elapsed),
		PrepareNs:   int64(prepare),
		Interrupted: ctx.Err() != nil,
		Setup: Setup{
			Endpoint:     cfg.Endpoint,
			Bucket:       r.bucket,
			Prefix:       r.prefix,
			Workload:     string(cfg.Workload),
			Size:         cfg.Size.String(),
			SizeMin:      cfg.Size.Min,
			SizeMax:      cfg.Size.Max,
			Concurrency:  cfg.Concurrency,
			DurationNs:   int64(cfg.Duration),
			OpsLimit:     cfg.Ops,
			Seed:         r.seed,
			SignPayload:  cfg.SignPayload,
			Checksums:    cfg.Checksums,
			ListPageSize: 0,
		},
		Series: Series{IntervalNs: int64(time.Second)},
	}
	if len(cfg.ExtraEndpoints) > 0 {
		rep.Setup.Endpoints = cfg.endpoints()
	}
	switch cfg.Workload {
	case WorkloadMixed:
		rep.Setup.Mix = mix.Map()
		rep.Setup.Keys = cfg.Keys
	case WorkloadGet:
		rep.Setup.Keys = cfg.Keys
	case WorkloadList:
		rep.Setup.Keys = cfg.Keys
		rep.Setup.ListPageSize = cfg.ListPageSize
	case WorkloadMultipart:
		rep.Setup.PartSize = cfg.PartSize
		rep.Setup.PartConcurrency = cfg.PartConcurrency
	}
	secs := elapsed.Seconds()
	nIntervals := int((elapsed + time.Second - 1) / time.Second)
	for op := range numOps {
		if !r.used[op] {
			continue
		}
		st := r.stats[op]
		o := OpReport{
			Op:      op.String(),
			Count:   st.ops.Load(),
			Errors:  st.errors.Load(),
			Bytes:   st.bytes.Load(),
			Latency: latencyOf(st.lat),
		}
		if secs > 0 {
			o.OpsPerSec = float64(o.Count) / secs
			o.MiBPerSec = float64(o.Bytes) / MiB / secs
		}
		if st.ttfb != nil {
			l := latencyOf(st.ttfb)
			o.TTFB = &l
		}
		st.mu.Lock()
		if len(st.mu.kinds) > 0 {
			o.ErrorKinds = make(map[string]int64, len(st.mu.kinds))
			for k, v := range st.mu.kinds {
				o.ErrorKinds[k] = v
			}
		}
		st.mu.Unlock()
		rep.Ops = append(rep.Ops, o)

		s := OpSeries{Op: op.String(), Ops: make([]int64, nIntervals), Bytes: make([]int64, nIntervals), Errors: make([]int64, nIntervals)}
		for _, w := range workers {
			for i, v := range w.series.ops[op] {
				if i >= nIntervals {
					// An op that ended in the same nanosecond as the
					// measurement: fold into the last interval.
					i = nIntervals - 1
				}
				s.Ops[i] += v
				s.Bytes[i] += w.series.bytes[op][i]
				s.Errors[i] += w.series.errs[op][i]
			}
		}
		rep.Series.Ops = append(rep.Series.Ops, s)
	}
	return rep, nil
}

// more reports whether a worker may start another operation and claims
// it against the op limit.
func (r *runner) more(ctx context.Context) bool {
	if r.stopped.Load() || ctx.Err() != nil {
		return false
	}
	if !r.deadline.IsZero() && !time.Now().Before(r.deadline) {
		r.stopped.Store(true)
		return false
	}
	if r.cfg.Ops > 0 && r.tickets.Add(1) > r.cfg.Ops {
		r.stopped.Store(true)
		return false
	}
	return true
}

func (r *runner) work(ctx context.Context, w *workerState) {
	for r.more(ctx) {
		switch r.cfg.Workload {
		case WorkloadPut:
			r.opPutNew(ctx, w)
		case WorkloadGet:
			r.opGetStatic(ctx, w)
		case WorkloadMixed:
			r.opMixed(ctx, w)
		case WorkloadList:
			r.opList(ctx, w)
		case WorkloadMultipart:
			r.opMultipart(ctx, w)
		case WorkloadRefused:
			r.opRefused(ctx, w)
		}
	}
}

// record accounts one finished operation.
func (r *runner) record(w *workerState, op Op, start, end time.Time, bytes int64, ttfb time.Duration, err error) {
	if err != nil && r.runCtx.Err() != nil {
		// Interrupted: the op was cut short by the user, not the server.
		return
	}
	st := r.stats[op]
	sec := int(end.Sub(r.start) / time.Second)
	if err != nil {
		kind := ErrorKind(err)
		st.errors.Add(1)
		st.mu.Lock()
		if st.mu.kinds == nil {
			st.mu.kinds = map[string]int64{}
		}
		first := st.mu.kinds[kind] == 0
		st.mu.kinds[kind]++
		st.mu.Unlock()
		if first {
			r.cfg.Logger.Warn("operation failed", "op", op.String(), "kind", kind, "err", err)
		}
		w.series.add(op, sec, 0, 0, 1)
		return
	}
	st.lat.Record(int64(end.Sub(start)))
	if st.ttfb != nil && ttfb > 0 {
		st.ttfb.Record(int64(ttfb))
	}
	st.ops.Add(1)
	st.bytes.Add(bytes)
	w.series.add(op, sec, 1, bytes, 0)
}

func (r *runner) opCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.cfg.OpTimeout)
}

// put writes one artifact of the given generation and size under key.
func (r *runner) put(ctx context.Context, key string, gen uint64, size int64) error {
	seed := artifactSeed(r.seed, gen)
	_, err := r.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(r.bucket),
		Key:           aws.String(key),
		Body:          newContentReader(seed, key, size),
		ContentLength: aws.Int64(size),
		ContentType:   aws.String("application/octet-stream"),
		Metadata:      map[string]string{seedMetaKey: fmt.Sprintf("%016x", seed)},
	})
	return err
}

// get reads key and verifies it against generation gen of the given size.
// It returns the time to the first byte of the body.
func (r *runner) get(ctx context.Context, w *workerState, key string, gen uint64, size int64, start time.Time) (time.Duration, error) {
	out, err := r.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	v := newVerifier(artifactSeed(r.seed, gen), key, size, w.scratch)
	var ttfb time.Duration
	for {
		n, rerr := out.Body.Read(w.buf)
		if n > 0 {
			if ttfb == 0 {
				ttfb = time.Since(start)
			}
			if _, werr := v.Write(w.buf[:n]); werr != nil {
				return ttfb, fmt.Errorf("GET %s: %w", key, werr)
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) {
				break
			}
			return ttfb, rerr
		}
	}
	if ttfb == 0 {
		ttfb = time.Since(start)
	}
	if err := v.finish(); err != nil {
		return ttfb, fmt.Errorf("GET %s: %w", key, err)
	}
	return ttfb, nil
}

func (r *runner) opPutNew(ctx context.Context, w *workerState) {
	key := fmt.Sprintf("%sput/%04d/%09d", r.prefix, w.id, w.seq)
	w.seq++
	size := r.cfg.Size.Draw(w.rng)
	gen := r.gen.Add(1)
	octx, cancel := r.opCtx(ctx)
	start := time.Now()
	err := r.put(octx, key, gen, size)
	end := time.Now()
	cancel()
	r.record(w, OpPut, start, end, size, 0, err)
}

// opRefused PUTs a new artifact of the run's size into a bucket that does
// not exist (the run's bucket name with "-absent"): the cost of a request
// refused on its headers. SDKs send large bodies with
// "Expect: 100-continue" (the Go SDK above 2 MB), so a server that
// refuses at once never receives them. The op succeeds when the answer is
// NoSuchBucket; nothing is stored, so it moves no bytes.
func (r *runner) opRefused(ctx context.Context, w *workerState) {
	key := fmt.Sprintf("%srefused/%04d/%09d", r.prefix, w.id, w.seq)
	w.seq++
	size := r.cfg.Size.Draw(w.rng)
	bucket := strings.TrimRight(r.bucket[:min(len(r.bucket), 56)], "-.") + "-absent" // 63 at most
	octx, cancel := r.opCtx(ctx)
	start := time.Now()
	_, err := r.client.PutObject(octx, &s3.PutObjectInput{
		Bucket:        aws.String(bucket),
		Key:           aws.String(key),
		Body:          newContentReader(artifactSeed(r.seed, r.gen.Add(1)), key, size),
		ContentLength: aws.Int64(size),
	})
	end := time.Now()
	cancel()
	switch {
	case err == nil:
		err = fmt.Errorf("%w: PUT %s/%s was accepted", ErrNotRefused, bucket, key)
	case ErrorKind(err) == "NoSuchBucket":
		err = nil
	}
	r.record(w, OpRefused, start, end, 0, 0, err)
}

func (r *runner) opMultipart(ctx context.Context, w *workerState) {
	key := fmt.Sprintf("%smultipart/%04d/%09d", r.prefix, w.id, w.seq)
	w.seq++
	size := r.cfg.Size.Draw(w.rng)
	seed := artifactSeed(r.seed, r.gen.Add(1))
	octx, cancel := r.opCtx(ctx)
	start := time.Now()
	_, err := r.uploader.Upload(octx, &s3.PutObjectInput{
		Bucket:      aws.String(r.bucket),
		Key:         aws.String(key),
		Body:        newContentReader(seed, key, size),
		ContentType: aws.String("application/octet-stream"),
		Metadata:    map[string]string{seedMetaKey: fmt.Sprintf("%016x", seed)},
	})
	end := time.Now()
	cancel()
	r.record(w, OpMultipart, start, end, size, 0, err)
}

// startProgress prints a status line every ProgressInterval until the
// returned function is called (which is idempotent and clears the line).
func (r *runner) startProgress() func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(r.cfg.ProgressInterval)
		defer t.Stop()
		var lastOps, lastBytes int64
		last := time.Now()
		for {
			select {
			case <-done:
				fmt.Fprint(r.cfg.Progress, "\r\x1b[K")
				return
			case now := <-t.C:
				var ops, bytes, errs int64
				for _, st := range r.stats {
					ops += st.ops.Load()
					bytes += st.bytes.Load()
					errs += st.errors.Load()
				}
				dt := now.Sub(last).Seconds()
				last = now
				switch phase, _ := r.phase.Load().(string); phase {
				case "prepare":
					fmt.Fprintf(r.cfg.Progress, "\r\x1b[Kpreparing %d/%d artifacts", r.prepared.Load(), r.prepTotal)
				case "measure":
					fmt.Fprintf(r.cfg.Progress, "\r\x1b[K%s %5.0fs  %8.1f ops/s  %8.1f MiB/s  %d ops  %d errors",
						r.cfg.Workload, now.Sub(r.start).Seconds(), float64(ops-lastOps)/dt,
						float64(bytes-lastBytes)/MiB/dt, ops, errs)
				}
				lastOps, lastBytes = ops, bytes
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// cleanup deletes every artifact under the run's prefix and, when the run
// created it, the bucket. It runs on a context detached from the run's so
// an interrupted run still cleans up.
//
// A PUT the client gave up on may still complete on the server after the
// listing, so when the bucket is then found not empty the pass repeats, a
// few times, with a short pause.
func (r *runner) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	var err error
	for attempt := 0; attempt < cleanupAttempts; attempt++ {
		if attempt > 0 {
			time.Sleep(cleanupPause)
		}
		if err = r.emptyAndDelete(ctx); err == nil || !isBucketNotEmpty(err) {
			return err
		}
	}
	return err
}

// cleanupAttempts and cleanupPause bound the retries of cleanup for
// artifacts that land after their PUT was abandoned.
const (
	cleanupAttempts = 5
	cleanupPause    = 200 * time.Millisecond
)

func isBucketNotEmpty(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "BucketNotEmpty"
}

func (r *runner) emptyAndDelete(ctx context.Context) error {
	keys := make(chan string, 1024)
	var (
		mu       sync.Mutex
		firstErr error
		deleted  atomic.Int64
		wg       sync.WaitGroup
	)
	for range r.cfg.Concurrency {
		wg.Go(func() {
			for k := range keys {
				_, err := r.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(k)})
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("delete %s: %w", k, err)
					}
					mu.Unlock()
					continue
				}
				deleted.Add(1)
			}
		})
	}
	p := s3.NewListObjectsV2Paginator(r.client, &s3.ListObjectsV2Input{Bucket: aws.String(r.bucket), Prefix: aws.String(r.prefix)})
	var listErr error
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			listErr = fmt.Errorf("list %s: %w", r.prefix, err)
			break
		}
		for _, o := range page.Contents {
			keys <- aws.ToString(o.Key)
		}
	}
	close(keys)
	wg.Wait()
	r.cfg.Logger.Info("deleted artifacts", "count", deleted.Load())
	if err := errors.Join(listErr, firstErr); err != nil {
		return err
	}
	if r.created {
		if _, err := r.client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(r.bucket)}); err != nil {
			return fmt.Errorf("delete bucket %s: %w", r.bucket, err)
		}
		r.cfg.Logger.Info("deleted bucket", "bucket", r.bucket)
	}
	return nil
}

// yield lets other workers run when a worker found nothing to do.
func yield() {
	runtime.Gosched()
	time.Sleep(100 * time.Microsecond)
}
