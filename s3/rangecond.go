package s3

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

// byteRange is a resolved single byte range.
type byteRange struct {
	start, length int64
}

// parseRange interprets a Range header against an artifact of size bytes,
// as S3 does: no header, a header that is not a well-formed single
// "bytes=" range, or several ranges (S3 serves no multipart/byteranges)
// select the whole artifact (ok false); a well-formed range that selects
// nothing is errInvalidRange (416); otherwise the clamped range.
func parseRange(h string, size int64) (r byteRange, ok bool, err error) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !found || strings.Contains(spec, ",") {
		return byteRange{}, false, nil
	}
	first, last, found := strings.Cut(strings.TrimSpace(spec), "-")
	if !found {
		return byteRange{}, false, nil
	}
	first, last = strings.TrimSpace(first), strings.TrimSpace(last)
	if first == "" {
		// Suffix range: the last n bytes.
		n, perr := parseRangeNum(last)
		if perr {
			return byteRange{}, false, nil
		}
		if n == 0 || size == 0 {
			return byteRange{}, false, errInvalidRange
		}
		if n > size {
			n = size
		}
		return byteRange{start: size - n, length: n}, true, nil
	}
	start, perr := parseRangeNum(first)
	if perr {
		return byteRange{}, false, nil
	}
	end := int64(-1)
	if last != "" {
		e, perr := parseRangeNum(last)
		if perr || e < start {
			return byteRange{}, false, nil
		}
		end = e
	}
	if start >= size {
		return byteRange{}, false, errInvalidRange
	}
	if end < 0 || end >= size {
		end = size - 1
	}
	return byteRange{start: start, length: end - start + 1}, true, nil
}

// parseRangeNum parses a non-negative decimal; bad reports a syntax error.
func parseRangeNum(s string) (n int64, bad bool) {
	if s == "" || len(s) > 19 {
		return 0, true
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, true
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err != nil
}

// etagMatches reports whether an If-Match / If-None-Match list matches etag
// (unquoted). "*" matches any existing artifact; weak tags compare by value.
func etagMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		t = strings.TrimPrefix(t, "W/")
		t = strings.Trim(t, `"`)
		if t == etag && t != "" {
			return true
		}
	}
	return false
}

// condHeaders names the four conditional headers of a request: the plain
// ones for GET/HEAD, the x-amz-copy-source-if-* ones for copies.
type condHeaders struct {
	ifMatch, ifNoneMatch, ifModifiedSince, ifUnmodifiedSince string
}

var (
	readConds = condHeaders{"If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since"}
	copyConds = condHeaders{"X-Amz-Copy-Source-If-Match", "X-Amz-Copy-Source-If-None-Match",
		"X-Amz-Copy-Source-If-Modified-Since", "X-Amz-Copy-Source-If-Unmodified-Since"}
)

// evalConditions applies conditional headers to the current artifact, with
// S3's precedence (RFC 9110 section 13.2.2):
//
//  1. If-Match false -> 412; if it is true, If-Unmodified-Since is ignored.
//  2. Otherwise If-Unmodified-Since: modified after the date -> 412.
//  3. If-None-Match true -> 304 (412 for copies); if it is false,
//     If-Modified-Since is ignored.
//  4. Otherwise If-Modified-Since: not modified since the date -> 304 (412
//     for copies).
//
// Dates that do not parse are ignored, as S3 does. Last-Modified is compared
// at one-second resolution, the resolution of HTTP dates.
func evalConditions(h http.Header, names condHeaders, etag string, modified time.Time, copy bool) error {
	mod := modified.Truncate(time.Second)
	notModified := errNotModified
	if copy {
		notModified = node.ErrPreconditionFailed
	}
	if im := h.Get(names.ifMatch); im != "" {
		if !etagMatches(im, etag) {
			return node.ErrPreconditionFailed
		}
	} else if ius := h.Get(names.ifUnmodifiedSince); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && mod.After(t) {
			return node.ErrPreconditionFailed
		}
	}
	if inm := h.Get(names.ifNoneMatch); inm != "" {
		if etagMatches(inm, etag) {
			return notModified
		}
	} else if ims := h.Get(names.ifModifiedSince); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !mod.After(t) {
			return notModified
		}
	}
	return nil
}
