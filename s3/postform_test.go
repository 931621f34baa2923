package s3

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"mime/multipart"
	"mime/quotedprintable"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// formTestPart is one part as a parser saw it.
type formTestPart struct {
	Name, FileName string
	Header         textproto.MIMEHeader
	Content        string
}

// splitReader returns at most n bytes per Read (n <= 0: no limit), and
// then err instead of io.EOF.
type splitReader struct {
	data []byte
	n    int
	err  error
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		return 0, io.EOF
	}
	if s.n > 0 && len(p) > s.n {
		p = p[:s.n]
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

// parseForm reads every part with formReader: the source gives split
// bytes per read, the content is read readSize bytes at a time (through
// Read, which goes direct at formDirectMin and above) or, when asValue,
// through value; the window has the given size.
func parseForm(body []byte, boundary string, split, readSize, window int, asValue bool, limit int64) ([]formTestPart, error) {
	f, err := newFormReaderSize(&splitReader{data: body, n: split}, boundary, limit, window)
	if err != nil {
		return nil, err
	}
	var parts []formTestPart
	for {
		p, err := f.nextPart()
		if err == io.EOF {
			if cap(f.buf) != window {
				return nil, fmt.Errorf("window grew to %d", cap(f.buf))
			}
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		var content []byte
		if asValue {
			content, err = f.value(p, 1<<30)
		} else {
			var r io.Reader = f
			if p.qp {
				r = quotedprintable.NewReader(f)
			}
			buf := make([]byte, readSize)
			for err == nil {
				var n int
				n, err = r.Read(buf)
				content = append(content, buf[:n]...)
			}
			if err == io.EOF {
				err = nil
			}
		}
		if err != nil {
			return nil, err
		}
		parts = append(parts, formTestPart{p.name, p.fileName, p.header, string(content)})
	}
}

// parseMultipart is the reference: mime/multipart.
func parseMultipart(body []byte, boundary string) ([]formTestPart, error) {
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	var parts []formTestPart
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		parts = append(parts, formTestPart{p.FormName(), p.FileName(), p.Header, string(b)})
	}
}

// checkAgainstMultipart parses body both ways: what formReader accepts,
// mime/multipart must accept with the same parts; when valid, formReader
// must accept it.
func checkAgainstMultipart(t *testing.T, body []byte, boundary string, split, readSize, window int, valid bool) {
	t.Helper()
	want, werr := parseMultipart(body, boundary)
	for _, asValue := range []bool{false, true} {
		got, err := parseForm(body, boundary, split, readSize, window, asValue, -1)
		if err != nil {
			if valid {
				t.Fatalf("valid body refused (split %d, read %d, window %d, value %v): %v\n%q", split, readSize, window, asValue, err, body)
			}
			if !errors.Is(err, errMalformedPOST) {
				t.Fatalf("error %v, want errMalformedPOST", err)
			}
			continue
		}
		if werr != nil {
			t.Fatalf("accepted what mime/multipart refuses (%v): %q", werr, body)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("parts differ (split %d, read %d, window %d, value %v):\n got %q\nwant %q\nbody %q", split, readSize, window, asValue, got, want, body)
		}
	}
}

// buildForm makes a well-formed body whose parts' contents are the pieces
// of data between 0xff bytes, the last one the file; pad adds transport
// padding after the delimiters, a preamble and an epilogue. valid is false
// when a content holds the delimiter (the body is then not well-formed).
func buildForm(data []byte, boundary string, pad bool) (body []byte, valid bool) {
	delim := "\r\n--" + boundary
	var b bytes.Buffer
	if pad {
		b.WriteString("This is the preamble.")
	}
	valid = true
	pieces := bytes.Split(data, []byte{0xff})
	for i, c := range pieces {
		b.WriteString(delim)
		if pad {
			b.WriteString(" \t")
		}
		b.WriteString("\r\n")
		if i == len(pieces)-1 {
			b.WriteString("Content-Disposition: form-data; name=\"file\"; filename=\"dir/f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
		} else {
			fmt.Fprintf(&b, "Content-Disposition: form-data; name=\"field%d\"\r\n\r\n", i)
		}
		if hasDelimiter(c, boundary) {
			valid = false
		}
		b.Write(c)
	}
	b.WriteString(delim + "--")
	if pad {
		b.WriteString("  \r\nThis is the epilogue, ignored.\r\n")
	}
	body = b.Bytes()
	if !pad {
		body = body[2:] // the first delimiter without its CRLF
	}
	return body, valid
}

// hasDelimiter reports whether content c, followed by a delimiter,
// would end earlier: it holds "\r\n--boundary" or starts with
// "--boundary", either followed by LWSP, CR, LF or "--".
func hasDelimiter(c []byte, boundary string) bool {
	delim := "\r\n--" + boundary
	s := string(c) + delim + "\r\n"
	ends := func(after string) bool {
		return strings.ContainsAny(after[:1], " \t\r\n") || strings.HasPrefix(after, "--")
	}
	if strings.HasPrefix(s, delim[2:]) && ends(s[len(delim)-2:]) {
		return true
	}
	for i := 0; i < len(c); i++ {
		if strings.HasPrefix(s[i:], delim) && ends(s[i+len(delim):]) {
			return true
		}
	}
	return false
}

// FuzzPostForm holds formReader to mime/multipart on random bodies and
// on well-formed ones built from random contents, boundaries, read splits,
// read sizes and window sizes (512 bytes up, so that header and delimiter
// lines fit): it never panics, never accepts what mime/multipart refuses,
// finds the same parts, and accepts every well-formed body.
func FuzzPostForm(f *testing.F) {
	f.Add([]byte("a\xffb\r\n--x\xff--bound\r\n"), "bound", uint8(3), uint16(5), uint16(0), true)
	f.Add([]byte("--bound\r\nContent-Disposition: form-data; name=\"k\"\r\n\r\nv\r\n--bound--"), "bound", uint8(0), uint16(0), uint16(100), false)
	f.Add([]byte("\r\n--b \r\n\r\n\r\n--b--\r\n"), "b", uint8(1), uint16(40000), uint16(7), false)
	f.Add(bytes.Repeat([]byte("\r\n--xyz\r\r\n-"), 50), "xyz", uint8(7), uint16(33000), uint16(3), true)
	f.Add(bytes.Repeat([]byte("0123456789\r\n--b"), 400), "b", uint8(0), uint16(700), uint16(1), true)
	f.Fuzz(func(t *testing.T, data []byte, boundary string, split uint8, readSize, window uint16, pad bool) {
		if boundary == "" || len(boundary) > formMaxBoundary || strings.ContainsAny(boundary, "\r\n") {
			return
		}
		w := 512 + int(window)%(formWindow-512)
		checkAgainstMultipart(t, data, boundary, int(split), int(readSize)+1, w, false)
		body, valid := buildForm(data, boundary, pad)
		checkAgainstMultipart(t, body, boundary, int(split), int(readSize)+1, w, valid)
	})
}

func TestFormReaderSplits(t *testing.T) {
	// A delimiter-like sequence in the file's content, and contents that
	// end in a prefix of the delimiter, at every split of the input.
	data := []byte("v1\xff\r\n--boundar\r\n--boundaryX\r\n-\xff\r\n--\xffx\r\n--boundary-y\r\n")
	body, valid := buildForm(data, "boundary", true)
	if !valid {
		t.Fatal("test body not valid")
	}
	for split := 0; split <= len(body); split++ {
		for _, rs := range []int{1, 7, 100, formDirectMin} {
			checkAgainstMultipart(t, body, "boundary", split, rs, 512, true)
			checkAgainstMultipart(t, body, "boundary", split, rs, formWindow, true)
		}
	}
}

func TestFormReaderLargeFile(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	file := make([]byte, 3<<20+17)
	rng.Read(file)
	// Plant near-delimiters at window and read edges.
	for _, at := range []int{formWindow - 3, formWindow*2 - 10, formDirectMin - 1, 1 << 20} {
		copy(file[at:], "\r\n--AaB03x-")
	}
	body := []byte("--AaB03x\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n" +
		"--AaB03x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\n" +
		string(file) + "\r\n--AaB03x\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nz\r\n--AaB03x--\r\n")
	for _, c := range []struct{ split, read, window int }{{0, 1 << 20, formWindow}, {0, 4 << 10, formWindow}, {1500, formDirectMin, formWindow},
		{65536, 1 << 20, formWindow}, {9000, 333, formWindow}, {0, 1 << 20, 512}, {777, 5000, 1000}} {
		checkAgainstMultipart(t, body, "AaB03x", c.split, c.read, c.window, true)
	}
}

func TestFormReaderBadInput(t *testing.T) {
	field := func(name, v string) string {
		return "--b\r\nContent-Disposition: form-data; name=\"" + name + "\"\r\n\r\n" + v + "\r\n"
	}
	file := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n\r\nDATA"
	srcErr := errors.New("connection reset")
	for _, c := range []struct {
		name, body string
		boundary   string
		limit      int64
		srcErr     error
		want       error // of the whole parse
		parts      int   // parts seen when want == nil
	}{
		{"ok", field("key", "k") + file + "\r\n--b--\r\n", "b", 1000, nil, nil, 2},
		{"close delimiter without CRLF", field("key", "k") + "--b--", "b", 1000, nil, nil, 1},
		{"close delimiter with padding at the end", field("key", "k") + "--b-- \t", "b", 1000, nil, nil, 1},
		{"padding after delimiter", "--b \t\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\n--b--", "b", 1000, nil, nil, 1},
		{"empty form", "--b--\r\n", "b", 1000, nil, nil, 0},
		{"content starting with the boundary is empty", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n--b--", "b", 1000, nil, nil, 1},
		{"quoted-printable field", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx=3Dy\r\n--b--", "b", 1000, nil, nil, 1},
		{"no delimiter at all", "just text", "b", 1000, nil, errMalformedPOST, 0},
		{"empty body", "", "b", 1000, nil, errMalformedPOST, 0},
		{"truncated in a header", "--b\r\nContent-Disp", "b", 1000, nil, errMalformedPOST, 0},
		{"truncated in a field", field("key", "k")[:50], "b", 1000, nil, errMalformedPOST, 0},
		{"truncated in the file", field("key", "k") + file, "b", 1000, nil, errMalformedPOST, 0},
		{"truncated in the delimiter", field("key", "k") + file + "\r\n--b", "b", 1000, nil, errMalformedPOST, 0},
		{"truncated after the delimiter's padding", field("key", "k") + "--b  ", "b", 1000, nil, errMalformedPOST, 0},
		{"garbage after the padding", "--b x\r\n\r\n\r\n--b--", "b", 1000, nil, errMalformedPOST, 0},
		{"garbage after the close delimiter", field("key", "k") + "--b--x\r\n", "b", 1000, nil, errMalformedPOST, 0},
		{"bare LF lines", "--b\nContent-Disposition: form-data; name=\"a\"\n\nx\n--b--\n", "b", 1000, nil, errMalformedPOST, 0},
		{"malformed header", "--b\r\nno colon here\r\n\r\nx\r\n--b--", "b", 1000, nil, errMalformedPOST, 0},
		{"header continuation first", "--b\r\n folded\r\n\r\nx\r\n--b--", "b", 1000, nil, errMalformedPOST, 0},
		{"bad quoted-printable", "--b\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nx\x00y\r\n--b--", "b", 1000, nil, errMalformedPOST, 0},
		{"oversized field", field("key", strings.Repeat("v", 2000)) + "--b--", "b", 1000, nil, errPostPreData, 0},
		{"oversized header", "--b\r\nX-Pad: " + strings.Repeat("h", 2000) + "\r\n\r\nx\r\n--b--", "b", 1000, nil, errPostPreData, 0},
		{"oversized preamble", strings.Repeat("preamble ", 300) + "\r\n" + field("key", "k") + "--b--", "b", 1000, nil, errPostPreData, 0},
		{"connection fails in the file", field("key", "k") + file, "b", 1000, srcErr, srcErr, 0},
		{"connection ends early in the file", field("key", "k") + file, "b", 1000, io.ErrUnexpectedEOF, io.ErrUnexpectedEOF, 0},
		{"empty boundary", "----\r\n", "", 1000, nil, errMalformedPOST, 0},
		{"boundary too long", "--" + strings.Repeat("b", 71) + "--", strings.Repeat("b", 71), 1000, nil, errMalformedPOST, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, split := range []int{0, 1, 3} {
				f, err := newFormReader(&splitReader{data: []byte(c.body), n: split, err: c.srcErr}, c.boundary, c.limit)
				n := 0
				for err == nil {
					var p formPart
					p, err = f.nextPart()
					if err != nil {
						break
					}
					n++
					if p.name == "file" {
						f.setLimit(-1)
						_, err = io.Copy(io.Discard, f)
					} else {
						var v []byte
						v, err = f.value(p, 1<<20)
						if p.qp && err == nil && string(v) != "x=y" {
							t.Fatalf("quoted-printable value %q", v)
						}
					}
				}
				if err == io.EOF {
					err = nil
				}
				if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
					t.Fatalf("split %d: error %v, want %v", split, err, c.want)
				}
				if err == nil && n != c.parts {
					t.Fatalf("split %d: %d parts, want %d", split, n, c.parts)
				}
			}
		})
	}
}
