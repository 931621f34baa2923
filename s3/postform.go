package s3

import (
	"bufio"
	"bytes"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/textproto"
	"path/filepath"
	"strings"
)

// formReader reads the multipart/form-data body of a POST Object
// (RFC 7578 over RFC 2046 section 5.1) for postObject: the small form
// fields before the file, under a limit, and then the file's content as a
// stream, without the 4 KiB granularity and second copy of mime/multipart.
//
// The body is: a preamble (ignored), then parts, each introduced by a
// delimiter line, CRLF "--" boundary, optional linear white space (space,
// tab) and CRLF, then MIME headers, an empty line and the content; the
// close delimiter "--" boundary "--" (LWSP, then CRLF or the end) ends
// the form, and what follows (the epilogue) is ignored. The delimiter's
// CRLF belongs to it, not to the content before it; the body's first
// delimiter may come without it (the reader pretends the body starts with
// CRLF).
//
// The content of a part is scanned for the delimiter over a large window
// (formWindow) with bytes.Index; a read of at least formDirectMin bytes
// of the file's content goes straight into the caller's buffer (the
// engine's erasure stripe) and is scanned there: only the tail that may
// begin a delimiter, at most len(delimiter)+1 bytes, is copied back into
// the window, and, when the delimiter is found, what follows it.
//
// Where the RFC leaves room, it decides as mime/multipart does (the
// fuzzer FuzzPostForm holds it to that: a body this reader accepts gives
// the same parts there): "\r\n--boundary" followed by anything but LWSP,
// CR, LF or "--" is content; content that starts with "--boundary" and
// LWSP, CR, LF or "--" is empty; headers are parsed by net/textproto; a
// quoted-printable Content-Transfer-Encoding is decoded. Stricter than
// mime/multipart, it refuses bodies whose lines end in a bare LF (no
// browser or SDK sends them), preamble lines that begin with the
// delimiter but are not one, and boundaries longer than the 70
// characters RFC 2046 allows.
//
// Memory is the window, whatever the body's size. While limit >= 0 the
// parser looks no further than limit bytes into the body: a structure
// (preamble, headers, field) that does not end before it is
// errPostPreData.
type formReader struct {
	src   io.Reader
	delim []byte // CRLF "--" boundary
	buf   []byte // the window: buf[r:w] is read and not yet consumed
	r, w  int
	base  int64 // the body offset of buf[0], counting the pretended CRLF
	limit int64 // see the type's comment; < 0 for none
	// srcErr is the source's error once it returned one (io.EOF too):
	// nothing more comes after buf[:w].
	srcErr error
	state  formState
	start  bool  // no content of the current part consumed yet
	dlen   int   // length of the delimiter at r in stateDelim (without its CRLF at a part's start)
	err    error // sticky: the error that ended parsing
	zero   int   // consecutive empty reads from src
}

type formState int

const (
	statePreamble formState = iota // before the first delimiter
	stateContent                   // in a part's content
	stateDelim                     // r is at the delimiter that ends the content
	stateEnd                       // after the close delimiter
)

const (
	// formWindow is the window over the body: the largest read from the
	// connection into it, and the most a direct read puts back.
	formWindow = 256 << 10
	// formDirectMin is the smallest read of the file's content that
	// goes straight into the caller's buffer; smaller ones are copied
	// from the window.
	formDirectMin = 32 << 10
	// formMaxBoundary is RFC 2046's limit on a boundary's length; it
	// also bounds the tail a scan holds back.
	formMaxBoundary = 70
)

// formPart is one part's header and what postObject reads of it.
type formPart struct {
	header   textproto.MIMEHeader
	name     string // the form-data name, "" for another disposition
	fileName string // the base name of the filename parameter, or ""
	qp       bool   // Content-Transfer-Encoding: quoted-printable (removed from header)
}

// newFormReader reads src, a multipart/form-data body with boundary;
// limit as for formReader (< 0: none). A boundary that is empty or longer
// than RFC 2046 allows is refused.
func newFormReader(src io.Reader, boundary string, limit int64) (*formReader, error) {
	return newFormReaderSize(src, boundary, limit, formWindow)
}

// newFormReaderSize is newFormReader with a window of the given size,
// which must hold the limit and a delimiter line (tests use small ones to
// reach the window's edges often).
func newFormReaderSize(src io.Reader, boundary string, limit int64, window int) (*formReader, error) {
	if len(boundary) == 0 || len(boundary) > formMaxBoundary {
		return nil, errMalformedPOST
	}
	f := &formReader{src: src, delim: []byte("\r\n--" + boundary), buf: make([]byte, window), limit: limit}
	if limit >= 0 {
		f.limit = limit + 2 // the pretended CRLF
	}
	f.w = copy(f.buf, "\r\n")
	f.base = 0
	return f, nil
}

// setLimit changes how far the parser may look (< 0: no limit).
func (f *formReader) setLimit(limit int64) {
	if limit >= 0 {
		limit += 2
	}
	f.limit = limit
}

// window returns the unread bytes the parser may look at, and whether the
// limit hides more of them (or any that could still come).
func (f *formReader) window() (win []byte, clipped bool) {
	win = f.buf[f.r:f.w]
	if f.limit >= 0 && f.base+int64(f.w) > f.limit {
		end := f.limit - f.base
		if end < int64(f.r) {
			end = int64(f.r)
		}
		return f.buf[f.r:end], true
	}
	return win, false
}

// atEOF reports whether nothing may be added to the window: the source
// ended (or failed) and the limit hides nothing.
func (f *formReader) atEOF(clipped bool) bool { return f.srcErr != nil && !clipped }

// fill reads more of the source into the window. It fails with
// errPostPreData when the limit is what stops the parser, with
// errMalformedPOST when the body ended, and with the source's own error
// when it failed.
func (f *formReader) fill(clipped bool) error {
	if clipped {
		return errPostPreData
	}
	if f.srcErr != nil {
		if f.srcErr == io.EOF {
			return errMalformedPOST // the body ends before the form does
		}
		return f.srcErr
	}
	if f.r > 0 {
		f.w = copy(f.buf, f.buf[f.r:f.w])
		f.base += int64(f.r)
		f.r = 0
	}
	if f.w == len(f.buf) {
		// Only a tail of at most len(delim)+1 bytes is ever held back.
		return errMalformedPOST
	}
	n, err := f.src.Read(f.buf[f.w:])
	f.w += n
	f.noteRead(n, err)
	return nil
}

// noteRead records a read's error, and turns a source that keeps
// returning nothing into io.ErrNoProgress.
func (f *formReader) noteRead(n int, err error) {
	if err != nil {
		f.srcErr = err
		return
	}
	if n > 0 {
		f.zero = 0
	} else if f.zero++; f.zero >= 100 {
		f.srcErr = io.ErrNoProgress
	}
}

// matchAfter decides whether the bytes after "--boundary" make it a
// delimiter: 1 yes (LWSP, CR, LF or "--"), -1 no, 0 more bytes decide.
func matchAfter(rest []byte, atEOF bool) int {
	if len(rest) == 0 {
		if atEOF {
			return -1
		}
		return 0
	}
	switch c := rest[0]; c {
	case ' ', '\t', '\r', '\n':
		return 1
	case '-':
		if len(rest) == 1 {
			if atEOF {
				return -1
			}
			return 0
		}
		if rest[1] == '-' {
			return 1
		}
	}
	return -1
}

// scan looks in win, the next bytes of a part's content, for the
// delimiter that ends it. n bytes are content for sure; found reports a
// delimiter at n (its length in f.dlen). When not found, win[n:] may be
// the beginning of a delimiter and more input decides.
func (f *formReader) scan(win []byte, atEOF bool) (n int, found bool) {
	if f.start {
		dash := f.delim[2:]
		if bytes.HasPrefix(win, dash) {
			switch matchAfter(win[len(dash):], atEOF) {
			case 1:
				f.dlen = len(dash)
				return 0, true
			case 0:
				return 0, false
			}
		} else if !atEOF && bytes.HasPrefix(dash, win) {
			return 0, false
		}
	}
	off := 0
	for {
		i := bytes.Index(win[off:], f.delim)
		if i < 0 {
			break
		}
		i += off
		switch matchAfter(win[i+len(f.delim):], atEOF) {
		case 1:
			f.dlen = len(f.delim)
			return i, true
		case 0:
			return i, false
		}
		off = i + len(f.delim)
	}
	if atEOF {
		return len(win), false
	}
	// Only the last CR of the tail can begin a delimiter that continues
	// in the input to come.
	from := max(off, len(win)-len(f.delim)+1)
	if j := bytes.LastIndexByte(win[from:], '\r'); j >= 0 && bytes.HasPrefix(f.delim, win[from+j:]) {
		return from + j, false
	}
	return len(win), false
}

// next returns the next content bytes of the current part from the window
// (not consumed: the caller advances f.r), filling it as needed; io.EOF
// when the window starts at the delimiter that ends the content (the
// state is then stateDelim).
func (f *formReader) next() ([]byte, error) {
	for {
		win, clipped := f.window()
		n, found := f.scan(win, f.atEOF(clipped))
		if n > 0 {
			return win[:n], nil
		}
		if found {
			f.state = stateDelim
			return nil, io.EOF
		}
		if err := f.fill(clipped); err != nil {
			return nil, err
		}
	}
}

// fail records the error that ends parsing.
func (f *formReader) fail(err error) error {
	if f.err == nil {
		f.err = err
	}
	return f.err
}

// line returns the index in the window, counted from f.r, just past the
// first LF at or after from, filling as needed; io.EOF when the input
// ends without one (the window then holds all of it).
func (f *formReader) line(from int) (int, error) {
	for {
		win, clipped := f.window()
		if i := bytes.IndexByte(win[from:], '\n'); i >= 0 {
			return from + i + 1, nil
		}
		if f.atEOF(clipped) {
			return 0, io.EOF
		}
		if err := f.fill(clipped); err != nil {
			return 0, err
		}
	}
}

// skipLWSP returns b without its leading spaces and tabs.
func skipLWSP(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// nextPart skips what is left of the preamble or the current part and
// returns the next part's header, leaving the reader at its content;
// io.EOF after the close delimiter.
func (f *formReader) nextPart() (formPart, error) {
	if f.err != nil {
		return formPart{}, f.err
	}
	for f.state == statePreamble || f.state == stateContent {
		if f.state == statePreamble {
			// The pretended CRLF makes a delimiter at the body's
			// start look like any other.
			f.start = false
		}
		chunk, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return formPart{}, f.fail(err)
		}
		f.r += len(chunk)
		f.start = false
	}
	if f.state == stateEnd {
		return formPart{}, io.EOF
	}
	// The delimiter line: "--" (the close delimiter), or LWSP and CRLF.
	end, err := f.line(f.dlen)
	switch {
	case err == io.EOF:
		win, _ := f.window()
		if rest, ok := bytes.CutPrefix(win[f.dlen:], []byte("--")); ok && len(skipLWSP(rest)) == 0 {
			f.state = stateEnd
			f.r = f.w
			return formPart{}, io.EOF
		}
		return formPart{}, f.fail(errMalformedPOST)
	case err != nil:
		return formPart{}, f.fail(err)
	}
	win, _ := f.window()
	if rest, ok := bytes.CutPrefix(win[f.dlen:end], []byte("--")); ok {
		if string(skipLWSP(rest)) != "\r\n" {
			return formPart{}, f.fail(errMalformedPOST)
		}
		f.state = stateEnd
		f.r += end
		return formPart{}, io.EOF
	}
	if string(skipLWSP(win[f.dlen:end])) != "\r\n" {
		return formPart{}, f.fail(errMalformedPOST)
	}
	f.r += end

	// The header ends at the first empty line (CRLF or a bare LF, as
	// net/textproto reads it).
	from := 0
	for {
		end, err := f.line(from)
		if err == io.EOF {
			return formPart{}, f.fail(errMalformedPOST)
		}
		if err != nil {
			return formPart{}, f.fail(err)
		}
		win, _ := f.window()
		if l := win[from:end]; string(l) == "\r\n" || string(l) == "\n" {
			from = end
			break
		}
		from = end
	}
	win, _ = f.window()
	hdr, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(win[:from]))).ReadMIMEHeader()
	if err != nil {
		return formPart{}, f.fail(errMalformedPOST)
	}
	f.r += from
	f.state, f.start = stateContent, true

	p := formPart{header: hdr}
	const cte = "Content-Transfer-Encoding"
	if strings.EqualFold(hdr.Get(cte), "quoted-printable") {
		hdr.Del(cte)
		p.qp = true
	}
	// As mime/multipart's Part.FormName and FileName.
	if disp, params, err := mime.ParseMediaType(hdr.Get("Content-Disposition")); err == nil {
		if disp == "form-data" {
			p.name = params["name"]
		}
		if fn := params["filename"]; fn != "" {
			p.fileName = filepath.Base(fn)
		}
	}
	return p, nil
}

// value reads the rest of the current part's content, a form field, up to
// max bytes: more is errPostPreData. A quoted-printable part is decoded.
func (f *formReader) value(p formPart, max int) ([]byte, error) {
	var v []byte
	for {
		chunk, err := f.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, f.fail(err)
		}
		if len(v)+len(chunk) > max {
			return nil, f.fail(errPostPreData)
		}
		v = append(v, chunk...)
		f.r += len(chunk)
		f.start = false
	}
	if p.qp {
		d, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(v)))
		if err != nil {
			return nil, f.fail(errMalformedPOST)
		}
		v = d
	}
	return v, nil
}

// Read reads the current part's content (the file); io.EOF at its end.
// A body that ends before the delimiter is errMalformedPOST; a source
// that fails returns its own error.
func (f *formReader) Read(p []byte) (int, error) {
	switch {
	case f.err != nil:
		return 0, f.err
	case f.state == stateDelim || f.state == stateEnd:
		return 0, io.EOF
	case f.state != stateContent:
		return 0, f.fail(errMalformedPOST)
	case len(p) == 0:
		return 0, nil
	}
	for {
		if len(p) >= formDirectMin && f.limit < 0 && f.srcErr == nil && f.w-f.r <= len(f.delim)+1 {
			n, err := f.readDirect(p)
			if n > 0 || err != nil {
				return n, err
			}
			continue
		}
		chunk, err := f.next()
		if err == io.EOF {
			return 0, io.EOF
		}
		if err != nil {
			return 0, f.fail(err)
		}
		n := copy(p, chunk)
		f.r += n
		f.start = false
		return n, nil
	}
}

// readDirect reads into p: the window's few held-back bytes, then the
// source, scanned in place; what may not be returned yet (a tail that may
// begin the delimiter, or the delimiter and what follows) goes back into
// the window.
func (f *formReader) readDirect(p []byte) (int, error) {
	if len(p) > len(f.buf) {
		p = p[:len(f.buf)] // what follows a delimiter must fit the window
	}
	k := copy(p, f.buf[f.r:f.w])
	off := f.base + int64(f.r)
	m, err := f.src.Read(p[k:])
	f.noteRead(m, err)
	t := k + m
	n, found := f.scan(p[:t], f.srcErr != nil)
	f.w = copy(f.buf, p[n:t])
	f.r, f.base = 0, off+int64(n)
	if n > 0 {
		f.start = false
		return n, nil
	}
	if found {
		f.state = stateDelim
		return 0, io.EOF
	}
	// Only a possible delimiter's beginning so far (Read reads on), or
	// the source ended (Read's next call reports it through next).
	return 0, nil
}
