package cluster

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/vaultaire/vaultaire/drivers"
)

// RemoteConfig configures a RemoteDriver.
type RemoteConfig struct {
	// Client speaks to the owning node (the cluster transport's mutual-TLS
	// client; required).
	Client *http.Client
	// Addr returns the current RPC host:port of the owning node; an error
	// (e.g. the node is dead) fails the call at once with drivers.ErrOffline.
	Addr func() (string, error)
	// Drive is the drive id on that node.
	Drive string
	// Scheme is "https" (default); tests may pass "http".
	Scheme string
	// Usage, when set, answers Usage() without a round trip (the lead feeds
	// it gossip data).
	Usage func(ctx context.Context) (drivers.Usage, error)
}

// Validate reports every problem of cfg at once. NewRemoteDriver does not
// require it (a missing Addr makes every call fail with drivers.ErrOffline),
// but callers building drivers from configuration should check.
func (cfg RemoteConfig) Validate() error {
	var errs []error
	if cfg.Client == nil {
		errs = append(errs, errors.New("cluster: RemoteConfig.Client is required"))
	}
	if cfg.Addr == nil {
		errs = append(errs, errors.New("cluster: RemoteConfig.Addr is required"))
	}
	if cfg.Drive == "" {
		errs = append(errs, errors.New("cluster: RemoteConfig.Drive is required"))
	}
	if cfg.Scheme != "" && cfg.Scheme != "https" && cfg.Scheme != "http" {
		errs = append(errs, fmt.Errorf("cluster: RemoteConfig.Scheme %q: want https or http", cfg.Scheme))
	}
	return errors.Join(errs...)
}

// RemoteDriver is a drive on another node, reached over the internal RPC.
// Network failures (refused dials, resets, streams cut short) come back as
// errors wrapping drivers.ErrOffline, so the erasure layer treats the shard
// as missing; errors raised by the remote driver keep their sentinel.
type RemoteDriver struct {
	cfg RemoteConfig
}

var _ drivers.Driver = (*RemoteDriver)(nil)

// NewRemoteDriver returns a driver for cfg.Drive on the node at cfg.Addr().
func NewRemoteDriver(cfg RemoteConfig) *RemoteDriver {
	if cfg.Scheme == "" {
		cfg.Scheme = "https"
	}
	if cfg.Client == nil {
		cfg.Client = http.DefaultClient
	}
	return &RemoteDriver{cfg: cfg}
}

// url builds the URL of endpoint with query q.
func (d *RemoteDriver) url(op, endpoint string, q url.Values) (string, error) {
	if d.cfg.Addr == nil {
		return "", d.offline(op, errors.New("no address function"))
	}
	addr, err := d.cfg.Addr()
	if err != nil {
		return "", d.offline(op, err)
	}
	u := url.URL{
		Scheme:   d.cfg.Scheme,
		Host:     addr,
		Path:     "/rpc/drive/" + d.cfg.Drive + "/" + endpoint,
		RawPath:  "/rpc/drive/" + url.PathEscape(d.cfg.Drive) + "/" + endpoint,
		RawQuery: q.Encode(),
	}
	return u.String(), nil
}

func (d *RemoteDriver) offline(op string, err error) error {
	return fmt.Errorf("cluster: remote drive %q: %s: %w: %v", d.cfg.Drive, op, drivers.ErrOffline, err)
}

// transportErr classifies a failure to talk to the owning node: the
// caller's cancellation, or the shard being unreachable.
func (d *RemoteDriver) transportErr(ctx context.Context, op string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("cluster: remote drive %q: %s: %w", d.cfg.Drive, op, ctx.Err())
	}
	return d.offline(op, err)
}

// remoteErr wraps an error answered by the owning node.
//
// A remote cancellation or timeout while the caller's context is still live
// (the peer is shutting down, or too slow for the deadline it was given)
// makes the shard unreachable for this call: ErrOffline, not a context
// error the caller would take for its own.
func (d *RemoteDriver) remoteErr(op string, err error) error {
	if errors.Is(err, ErrBadResponse) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) {
		return d.offline(op, err)
	}
	return fmt.Errorf("cluster: remote drive %q: %s: %w", d.cfg.Drive, op, err)
}

// do sends req and returns a 2xx response or an error.
func (d *RemoteDriver) do(ctx context.Context, op string, req *http.Request) (*http.Response, error) {
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return nil, d.transportErr(ctx, op, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		err := readError(resp)
		if ctx.Err() != nil {
			return nil, d.transportErr(ctx, op, err)
		}
		return nil, d.remoteErr(op, err)
	}
	return resp, nil
}

func (d *RemoteDriver) checkName(op, name string) error {
	if !drivers.ValidName(name) {
		return fmt.Errorf("cluster: remote drive %q: %s %q: %w", d.cfg.Drive, op, name, drivers.ErrInvalidName)
	}
	return nil
}

func (d *RemoteDriver) ctxErr(ctx context.Context, op string) error {
	if ctx.Err() != nil {
		return fmt.Errorf("cluster: remote drive %q: %s: %w", d.cfg.Drive, op, ctx.Err())
	}
	return nil
}

// bodyReader passes the caller's reader to net/http and remembers its
// error: net/http aborts the request when the body fails, so the server's
// Put sees a truncated body and stores nothing.
type bodyReader struct {
	r  io.Reader
	mu sync.Mutex
	// err is the reader's first non-EOF error. REQUIRES: mu.
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

// WriteTo sends the body in writes of up to streamBufSize bytes (net/http
// uses it instead of its own 32 KiB copy; see streamBufSize). Reads still
// go through Read, so a failure of the source is remembered.
func (b *bodyReader) WriteTo(w io.Writer) (int64, error) {
	bp := streamBufs.Get().(*[]byte)
	defer streamBufs.Put(bp)
	var total int64
	for {
		n, rerr := fillBuf(b, *bp)
		if n > 0 {
			m, werr := w.Write((*bp)[:n])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			return total, rerr
		}
	}
}

func (b *bodyReader) failure() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Put implements drivers.Driver. The body streams with unknown length
// (chunked); the call returns once the remote Put returned.
func (d *RemoteDriver) Put(ctx context.Context, name string, r io.Reader) (int64, error) {
	const op = "put"
	if err := d.checkName(op, name); err != nil {
		return 0, err
	}
	if err := d.ctxErr(ctx, op); err != nil {
		return 0, err
	}
	u, err := d.url(op, "shard", url.Values{"name": {name}})
	if err != nil {
		return 0, err
	}
	body := &bodyReader{r: r}
	// Hide any WriterTo/Len of r so net/http neither learns a length nor
	// sends the body without our bookkeeping.
	req, err := newRequest(ctx, http.MethodPut, u, io.NopCloser(body))
	if err != nil {
		return 0, d.offline(op, err)
	}
	req.ContentLength = -1
	resp, err := d.do(ctx, op, req)
	if rerr := body.failure(); rerr != nil {
		if resp != nil {
			resp.Body.Close()
		}
		return 0, fmt.Errorf("cluster: remote drive %q: put %q: reading source: %w", d.cfg.Drive, name, rerr)
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Size int64 `json:"size"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, d.transportErr(ctx, op, err)
	}
	return out.Size, nil
}

// Open implements drivers.Driver. Reading the returned stream fails with
// an error wrapping drivers.ErrOffline if it is cut short.
func (d *RemoteDriver) Open(ctx context.Context, name string, off, length int64) (io.ReadCloser, error) {
	const op = "open"
	if err := d.checkName(op, name); err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("cluster: remote drive %q: open %q: negative offset %d", d.cfg.Drive, name, off)
	}
	if err := d.ctxErr(ctx, op); err != nil {
		return nil, err
	}
	u, err := d.url(op, "shard", url.Values{
		"name": {name},
		"off":  {strconv.FormatInt(off, 10)},
		"len":  {strconv.FormatInt(length, 10)},
	})
	if err != nil {
		return nil, err
	}
	req, err := newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, d.offline(op, err)
	}
	resp, err := d.do(ctx, op, req)
	if err != nil {
		return nil, err
	}
	return &shardStream{ctx: ctx, d: d, resp: resp, want: length}, nil
}

// shardStream is the body of an Open. It turns transport failures and a
// missing or failed status trailer into errors.
type shardStream struct {
	ctx  context.Context
	d    *RemoteDriver
	resp *http.Response
	want int64 // the length asked for; < 0: to the end
	n    int64
	err  error // sticky
}

// drainReads bounds what Close reads past the bytes asked for (reads of
// 512 bytes): only the chunked encoding's last chunk and the status
// trailer, a few dozen bytes, are expected there.
const drainReads = 8

func (s *shardStream) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.resp.Body.Read(p)
	s.n += int64(n)
	switch {
	case err == nil:
	case err == io.EOF:
		if terr := s.trailer(); terr != nil {
			s.err = terr
			return n, terr
		}
		s.err = io.EOF
	default:
		s.err = s.d.transportErr(s.ctx, "open", err)
		return n, s.err
	}
	return n, err
}

// trailer checks the status trailer at the end of the stream.
func (s *shardStream) trailer() error {
	v := s.resp.Trailer.Get(statusTrailer)
	if rest, ok := strings.CutPrefix(v, "ok "); ok {
		if want, err := strconv.ParseInt(rest, 10, 64); err == nil && want == s.n {
			return nil
		}
		return s.d.offline("open", fmt.Errorf("%w: stream of %d bytes, trailer says %q", ErrBadResponse, s.n, v))
	}
	if v == "" {
		return s.d.transportErr(s.ctx, "open", fmt.Errorf("stream cut short after %d bytes", s.n))
	}
	var w wireError
	if err := json.Unmarshal([]byte(v), &w); err != nil || w.Code == "" {
		return s.d.offline("open", fmt.Errorf("%w: bad trailer %q", ErrBadResponse, v))
	}
	return s.d.remoteErr("open", fromWire(w))
}

// Close ends the stream. When every byte asked for was read but not the
// end of the body (a reader that reads exactly the range it opened, as
// erasure.Decode does), it first reads the rest: the last chunk and the
// status trailer, already sent or about to be. net/http closes the
// connection of a body closed before its end, so without this every Open
// would cost a new TCP connection and TLS handshake (and a fresh
// connection's small first TLS records); read to the end, the connection
// goes back to the pool. The trailer is checked on the way, for nothing.
func (s *shardStream) Close() error {
	if s.err == nil && s.want >= 0 && s.n >= s.want {
		var buf [512]byte
		for i := 0; i < drainReads && s.err == nil; i++ {
			_, _ = s.Read(buf[:])
		}
	}
	return s.resp.Body.Close()
}

// Stat implements drivers.Driver.
func (d *RemoteDriver) Stat(ctx context.Context, name string) (drivers.Info, error) {
	const op = "stat"
	if err := d.checkName(op, name); err != nil {
		return drivers.Info{}, err
	}
	if err := d.ctxErr(ctx, op); err != nil {
		return drivers.Info{}, err
	}
	w, err := getJSON[wireInfo](ctx, d, op, "stat", url.Values{"name": {name}})
	if err != nil {
		return drivers.Info{}, err
	}
	return w.info(), nil
}

// getJSON GETs endpoint of the remote drive and decodes its JSON answer.
func getJSON[T any](ctx context.Context, d *RemoteDriver, op, endpoint string, q url.Values) (T, error) {
	var w T
	u, err := d.url(op, endpoint, q)
	if err != nil {
		return w, err
	}
	req, err := newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return w, d.offline(op, err)
	}
	resp, err := d.do(ctx, op, req)
	if err != nil {
		return w, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&w); err != nil {
		return w, d.transportErr(ctx, op, err)
	}
	return w, nil
}

// Delete implements drivers.Driver.
func (d *RemoteDriver) Delete(ctx context.Context, name string) error {
	const op = "delete"
	if err := d.checkName(op, name); err != nil {
		return err
	}
	if err := d.ctxErr(ctx, op); err != nil {
		return err
	}
	u, err := d.url(op, "shard", url.Values{"name": {name}})
	if err != nil {
		return err
	}
	req, err := newRequest(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return d.offline(op, err)
	}
	resp, err := d.do(ctx, op, req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// maxListLine bounds one List line (a name is at most 4096 bytes, escaped).
const maxListLine = 64 << 10

// List implements drivers.Driver. Entries are streamed: fn runs as each
// line arrives, never on a buffered listing.
func (d *RemoteDriver) List(ctx context.Context, prefix string, fn func(drivers.Info) error) error {
	const op = "list"
	if !drivers.ValidPrefix(prefix) {
		return fmt.Errorf("cluster: remote drive %q: list prefix %q: %w", d.cfg.Drive, prefix, drivers.ErrInvalidName)
	}
	if err := d.ctxErr(ctx, op); err != nil {
		return err
	}
	// Stopping early (fn fails) must end the server's walk: cancel the
	// request when we return.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	u, err := d.url(op, "list", url.Values{"prefix": {prefix}})
	if err != nil {
		return err
	}
	req, err := newRequest(ctx, http.MethodGet, u, nil)
	if err != nil {
		return d.offline(op, err)
	}
	resp, err := d.do(ctx, op, req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 4096), maxListLine)
	for sc.Scan() {
		var line listLine
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return d.offline(op, fmt.Errorf("%w: %v", ErrBadResponse, err))
		}
		switch {
		case line.Error != nil:
			return d.remoteErr(op, fromWire(*line.Error))
		case line.End:
			// Read the body's end so the connection is reused.
			_, _ = io.CopyN(io.Discard, resp.Body, maxListLine)
			return nil
		case line.Entry != nil:
			if err := fn(line.Entry.info()); err != nil {
				return err
			}
		default:
			return d.offline(op, fmt.Errorf("%w: empty list line", ErrBadResponse))
		}
	}
	err = sc.Err()
	if err == nil {
		err = errors.New("listing cut short")
	}
	return d.transportErr(ctx, op, err)
}

// Usage implements drivers.Driver. Without RemoteConfig.Usage it asks the
// owning node; an unreachable node is reported as an offline Usage, not an
// error (only the caller's cancellation is an error).
func (d *RemoteDriver) Usage(ctx context.Context) (drivers.Usage, error) {
	const op = "usage"
	if d.cfg.Usage != nil {
		return d.cfg.Usage(ctx)
	}
	if err := d.ctxErr(ctx, op); err != nil {
		return drivers.Usage{}, err
	}
	u, err := d.usage(ctx)
	if err != nil {
		if cerr := d.ctxErr(ctx, op); cerr != nil {
			return drivers.Usage{}, cerr
		}
		return drivers.Usage{Online: false, Err: err}, nil
	}
	return u, nil
}

func (d *RemoteDriver) usage(ctx context.Context) (drivers.Usage, error) {
	w, err := getJSON[wireUsage](ctx, d, "usage", "usage", nil)
	if err != nil {
		return drivers.Usage{}, err
	}
	out := drivers.Usage{Total: w.Total, Free: w.Free, Used: w.Used, Online: w.Online}
	if w.Error != nil {
		out.Err = fromWire(*w.Error)
	}
	return out, nil
}
