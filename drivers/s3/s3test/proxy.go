package s3test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Effect is what a Fault does to a request.
type Effect int

const (
	// Fail answers Status with an S3 error body of Code, without
	// forwarding the request.
	Fail Effect = iota + 1
	// Hang accepts the request and never answers (until the client gives
	// up or the proxy closes).
	Hang
	// CorruptRequest flips the bits of the request body's byte at Offset
	// on its way to the server.
	CorruptRequest
	// CorruptResponse flips the bits of the response body's byte at
	// Offset on its way to the client.
	CorruptResponse
	// CutResponse sends Offset bytes of the response body, then drops
	// the connection (the client sees a body cut short).
	CutResponse
	// StallResponse sends Offset bytes of the response body, then sends
	// nothing more while holding the connection open.
	StallResponse
	// MangleETag replaces the ETag header of the response with one that
	// is not the MD5 of the body (as servers with encryption do).
	MangleETag
)

// Fault is one programmed misbehaviour of a FaultProxy.
type Fault struct {
	Effect Effect
	// Method limits the fault to requests of this HTTP method ("" any).
	Method string
	// Query limits it to requests whose raw query contains this string
	// (for example "uploadId" for multipart part uploads; "" any).
	Query string
	// Times is how many matching requests it hits; 0 means all of them.
	Times int
	// Offset is the body offset of Corrupt*, CutResponse, StallResponse.
	Offset int64
	// Status and Code are the answer of Fail (default 503 SlowDown).
	Status int
	Code   string
}

// FaultProxy is a real HTTP reverse proxy in front of an S3 server. With
// no fault set it passes everything through unchanged (the Host header
// too, so SigV4 signatures made for the proxy's address verify upstream).
type FaultProxy struct {
	// URL is the proxy's endpoint (http://127.0.0.1:port).
	URL      string
	upstream string
	ln       net.Listener
	srv      *http.Server
	tr       *http.Transport
	done     chan struct{}
	wg       sync.WaitGroup

	mu     sync.Mutex
	faults []*armed

	requests      atomic.Int64
	hits          atomic.Int64
	responseBytes atomic.Int64
}

type armed struct {
	Fault
	left int // remaining hits; -1 unlimited
}

// NewFaultProxy starts a proxy to upstream (a Remote's Endpoint) on a free
// 127.0.0.1 port; it stops when the test ends.
func NewFaultProxy(t testing.TB, upstream string) *FaultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{
		URL:      "http://" + ln.Addr().String(),
		upstream: strings.TrimSuffix(upstream, "/"),
		ln:       ln,
		tr:       &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 64, DisableCompression: true},
		done:     make(chan struct{}),
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); _ = p.srv.Serve(ln) }()
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy, releasing hung requests.
func (p *FaultProxy) Close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	_ = p.srv.Close()
	p.wg.Wait()
	p.tr.CloseIdleConnections()
}

// Set replaces the programmed faults; they apply in order, the first that
// matches a request (and has hits left) takes effect.
func (p *FaultProxy) Set(faults ...Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = p.faults[:0]
	for _, f := range faults {
		left := f.Times
		if left == 0 {
			left = -1
		}
		p.faults = append(p.faults, &armed{Fault: f, left: left})
	}
}

// Clear removes every fault: the proxy passes everything through.
func (p *FaultProxy) Clear() { p.Set() }

// Requests is how many requests the proxy received.
func (p *FaultProxy) Requests() int64 { return p.requests.Load() }

// Hits is how many requests a fault took effect on.
func (p *FaultProxy) Hits() int64 { return p.hits.Load() }

// ResponseBytes is how many response body bytes the proxy sent to clients.
func (p *FaultProxy) ResponseBytes() int64 { return p.responseBytes.Load() }

func (p *FaultProxy) take(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.faults {
		if a.left == 0 || (a.Method != "" && a.Method != r.Method) ||
			(a.Query != "" && !strings.Contains(r.URL.RawQuery, a.Query)) {
			continue
		}
		if a.left > 0 {
			a.left--
		}
		p.hits.Add(1)
		f := a.Fault
		return &f
	}
	return nil
}

// hopHeaders are not forwarded (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	f := p.take(r)
	if f != nil {
		switch f.Effect {
		case Fail:
			_, _ = io.Copy(io.Discard, r.Body)
			status, code := f.Status, f.Code
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			if code == "" {
				code = "SlowDown"
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			if r.Method != http.MethodHead {
				fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>injected by s3test.FaultProxy</Message></Error>", code)
			}
			return
		case Hang:
			select {
			case <-r.Context().Done():
			case <-p.done:
			}
			return
		}
	}

	out, err := http.NewRequestWithContext(r.Context(), r.Method, p.upstream+r.URL.RequestURI(), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	for _, h := range hopHeaders {
		out.Header.Del(h)
	}
	out.Host = r.Host
	out.ContentLength = r.ContentLength
	if r.ContentLength == 0 {
		out.Body = http.NoBody
	}
	if f != nil && f.Effect == CorruptRequest {
		out.Body = io.NopCloser(&flipper{r: r.Body, at: f.Offset})
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, vs := range resp.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	for _, h := range hopHeaders {
		w.Header().Del(h)
	}
	if f != nil && f.Effect == MangleETag && w.Header().Get("ETag") != "" {
		w.Header().Set("ETag", `"0123456789abcdef0123456789abcdef"`)
	}
	w.WriteHeader(resp.StatusCode)

	var body io.Reader = resp.Body
	limit := int64(-1)
	if f != nil {
		switch f.Effect {
		case CorruptResponse:
			body = &flipper{r: resp.Body, at: f.Offset}
		case CutResponse, StallResponse:
			limit = f.Offset
		}
	}
	if limit >= 0 {
		body = io.LimitReader(body, limit)
	}
	_, _ = io.Copy(countingWriter{w, &p.responseBytes}, body)
	if limit < 0 {
		return
	}
	if fl, ok := w.(http.Flusher); ok {
		fl.Flush()
	}
	if f.Effect == StallResponse {
		select {
		case <-r.Context().Done():
		case <-p.done:
		}
		return
	}
	panic(http.ErrAbortHandler) // CutResponse: drop the connection mid-body
}

// flipper inverts the byte at offset at of a stream.
type flipper struct {
	r   io.Reader
	at  int64
	pos int64
}

func (f *flipper) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if f.at >= f.pos && f.at < f.pos+int64(n) {
		b[f.at-f.pos] ^= 0xff
	}
	f.pos += int64(n)
	return n, err
}

// countingWriter counts bytes before writing them, so a client that has
// read them never sees a count that lags behind.
type countingWriter struct {
	w io.Writer
	n *atomic.Int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	c.n.Add(int64(len(p)))
	return c.w.Write(p)
}
