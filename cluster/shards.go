package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/vaultaire/vaultaire/drivers"
)

// streamBufSize is the write size of shard streams, both ways: one erasure
// block (erasure.DefaultBlockSize, which the encoder writes and the decoder
// reads at once). net/http copies a body 32 KiB at a time, and its chunked
// writer frames every write as a chunk (a request's is flushed after each),
// so each 32 KiB cost a small TLS record for the chunk header, two full
// ones and, for a request, one of two bytes for the chunk's end: four
// records and four system calls where 32 KiB needs two. Writes of a
// whole block amortise the framing over 16 full records.
const streamBufSize = 256 << 10

// streamBufs pools *[]byte of streamBufSize for the stream copies.
var streamBufs = sync.Pool{New: func() any {
	b := make([]byte, streamBufSize)
	return &b
}}

// writerOnly and readerOnly hide ReadFrom and WriteTo, so that io.CopyBuffer
// uses the buffer it is given (http.ResponseWriter's ReadFrom and an
// *os.File's WriteTo copy 32 KiB at a time).
type (
	writerOnly struct{ io.Writer }
	readerOnly struct{ io.Reader }
)

// fillBuf reads into buf until it is full or r fails (io.EOF included),
// passing r's error through as it is.
func fillBuf(r io.Reader, buf []byte) (int, error) {
	n, empty := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
		if m == 0 {
			if empty++; empty > 100 {
				return n, io.ErrNoProgress
			}
		}
	}
	return n, nil
}

// DriveLookup finds a local drive by id; false means this node has no such
// drive (the client then sees drivers.ErrOffline).
type DriveLookup func(driveID string) (drivers.Driver, bool)

// statusTrailer is the trailer that closes a shard stream: "ok <bytes>" or a
// JSON wireError.
const statusTrailer = "Vaultaire-Status"

// wireInfo is drivers.Info on the wire.
type wireInfo struct {
	Name  string `json:"name"`
	Size  int64  `json:"size"`
	MTime int64  `json:"mtime"` // unix nanoseconds
}

func infoToWire(i drivers.Info) wireInfo {
	var t int64
	if !i.ModTime.IsZero() {
		t = i.ModTime.UnixNano()
	}
	return wireInfo{Name: i.Name, Size: i.Size, MTime: t}
}

func (w wireInfo) info() drivers.Info {
	i := drivers.Info{Name: w.Name, Size: w.Size}
	if w.MTime != 0 {
		i.ModTime = time.Unix(0, w.MTime)
	}
	return i
}

// listLine is one line of a List stream.
type listLine struct {
	Entry *wireInfo  `json:"entry,omitempty"`
	End   bool       `json:"end,omitempty"`
	Error *wireError `json:"error,omitempty"`
}

// wireUsage is drivers.Usage on the wire.
type wireUsage struct {
	Total  int64      `json:"total"`
	Free   int64      `json:"free"`
	Used   int64      `json:"used"`
	Online bool       `json:"online"`
	Error  *wireError `json:"error,omitempty"`
}

// RegisterShards serves the shard endpoints (see the RPC section in rpc.go)
// for the drives lookup finds, on mux. Every stream is copied through a
// fixed-size buffer: memory per request is bounded whatever the shard size.
func RegisterShards(mux *http.ServeMux, lookup DriveLookup) {
	s := &shardServer{lookup: lookup}
	mux.Handle("PUT /rpc/drive/{drive}/shard", handle(s.put))
	mux.Handle("GET /rpc/drive/{drive}/shard", handle(s.open))
	mux.Handle("DELETE /rpc/drive/{drive}/shard", handle(s.delete))
	mux.Handle("GET /rpc/drive/{drive}/stat", handle(s.stat))
	mux.Handle("GET /rpc/drive/{drive}/list", handle(s.list))
	mux.Handle("GET /rpc/drive/{drive}/usage", handle(s.usage))
}

type shardServer struct {
	lookup DriveLookup
}

// target resolves the drive and, when withName, the validated shard name.
func (s *shardServer) target(r *http.Request, withName bool) (drivers.Driver, string, error) {
	id := r.PathValue("drive")
	d, ok := s.lookup(id)
	if !ok || d == nil {
		return nil, "", fmt.Errorf("%w: %q", ErrNoDrive, id)
	}
	if !withName {
		return d, "", nil
	}
	name := r.URL.Query().Get("name")
	if !drivers.ValidName(name) {
		return nil, "", fmt.Errorf("cluster: drive %q: name %q: %w", id, name, drivers.ErrInvalidName)
	}
	return d, name, nil
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (s *shardServer) put(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, name, err := s.target(r, true)
	if err != nil {
		return err
	}
	// r.Body reports a body cut short (the client aborted the request) as
	// an error, so Put fails and leaves no shard.
	n, err := d.Put(ctx, name, r.Body)
	if err != nil {
		return err
	}
	writeJSON(w, struct {
		Size int64 `json:"size"`
	}{n})
	return nil
}

func (s *shardServer) open(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, name, err := s.target(r, true)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	off, err1 := strconv.ParseInt(q.Get("off"), 10, 64)
	length, err2 := strconv.ParseInt(q.Get("len"), 10, 64)
	if err1 != nil || err2 != nil || off < 0 {
		return fmt.Errorf("%w: bad off/len %q/%q", errBadRequest, q.Get("off"), q.Get("len"))
	}
	rc, err := d.Open(ctx, name, off, length)
	if err != nil {
		return err
	}
	defer rc.Close()
	// The length is not known without a Stat that could race with a
	// concurrent Put, so the body is chunked and a trailer says whether
	// the stream ended cleanly.
	w.Header().Set("Trailer", statusTrailer)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	bp := streamBufs.Get().(*[]byte)
	n, err := io.CopyBuffer(writerOnly{w}, readerOnly{rc}, *bp)
	streamBufs.Put(bp)
	if err != nil {
		if ctx.Err() != nil {
			// The caller is gone (or out of time); nobody reads a trailer.
			return nil
		}
		b, _ := json.Marshal(toWire(err))
		w.Header().Set(statusTrailer, string(b))
		return nil
	}
	w.Header().Set(statusTrailer, "ok "+strconv.FormatInt(n, 10))
	return nil
}

func (s *shardServer) stat(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, name, err := s.target(r, true)
	if err != nil {
		return err
	}
	info, err := d.Stat(ctx, name)
	if err != nil {
		return err
	}
	writeJSON(w, infoToWire(info))
	return nil
}

func (s *shardServer) delete(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, name, err := s.target(r, true)
	if err != nil {
		return err
	}
	if err := d.Delete(ctx, name); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *shardServer) list(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, _, err := s.target(r, false)
	if err != nil {
		return err
	}
	prefix := r.URL.Query().Get("prefix")
	if !drivers.ValidPrefix(prefix) {
		return fmt.Errorf("cluster: list prefix %q: %w", prefix, drivers.ErrInvalidName)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w) // writes through the ResponseWriter's buffer
	started := false
	err = d.List(ctx, prefix, func(i drivers.Info) error {
		started = true
		wi := infoToWire(i)
		return enc.Encode(listLine{Entry: &wi})
	})
	if err != nil && !started {
		return err
	}
	if ctx.Err() != nil {
		return nil // the caller stopped reading
	}
	if err != nil {
		we := toWire(err)
		_ = enc.Encode(listLine{Error: &we})
		return nil
	}
	_ = enc.Encode(listLine{End: true})
	return nil
}

func (s *shardServer) usage(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	d, _, err := s.target(r, false)
	if err != nil {
		return err
	}
	u, err := d.Usage(ctx)
	if err != nil {
		return err
	}
	wu := wireUsage{Total: u.Total, Free: u.Free, Used: u.Used, Online: u.Online}
	if u.Err != nil {
		we := toWire(u.Err)
		wu.Error = &we
	}
	writeJSON(w, wu)
	return nil
}
