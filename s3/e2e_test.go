package s3_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node/nodetest"
	"github.com/vaultaire/vaultaire/s3"
)

var ctx = context.Background()

func TestE2EBuckets(t *testing.T) { overBoth(t, testE2EBuckets) }

func testE2EBuckets(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)

	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("alpha")})
	must(t, err)
	_, err = c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketAlreadyOwnedByYou")
	_, err = c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("beta.b-2"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "us-east-1"}})
	must(t, err)
	_, err = c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("gamma"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}})
	wantCode(t, err, "IllegalLocationConstraintException")

	lb, err := c.ListBuckets(ctx, &awss3.ListBucketsInput{})
	must(t, err)
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, *b.Name)
		if b.CreationDate == nil || b.CreationDate.IsZero() {
			t.Fatal("no creation date")
		}
	}
	if strings.Join(names, ",") != "alpha,beta.b-2" {
		t.Fatalf("buckets %v", names)
	}
	if lb.Owner == nil || *lb.Owner.ID != h.cred.Tenant {
		t.Fatalf("owner %+v", lb.Owner)
	}
	lb, err = c.ListBuckets(ctx, &awss3.ListBucketsInput{MaxBuckets: aws.Int32(1)})
	must(t, err)
	if len(lb.Buckets) != 1 || lb.ContinuationToken == nil {
		t.Fatalf("paged list %+v", lb)
	}
	lb, err = c.ListBuckets(ctx, &awss3.ListBucketsInput{MaxBuckets: aws.Int32(1), ContinuationToken: lb.ContinuationToken})
	must(t, err)
	if len(lb.Buckets) != 1 || *lb.Buckets[0].Name != "beta.b-2" || lb.ContinuationToken != nil {
		t.Fatalf("page 2 %+v", lb)
	}

	_, err = c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("alpha")})
	must(t, err)
	_, err = c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("nothere")})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("head missing bucket: %v", err)
	}
	loc, err := c.GetBucketLocation(ctx, &awss3.GetBucketLocationInput{Bucket: aws.String("alpha")})
	must(t, err)
	if loc.LocationConstraint != "" {
		t.Fatalf("location %q", loc.LocationConstraint)
	}
	ver, err := c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("alpha")})
	if err != nil || ver.Status != "" {
		t.Fatalf("GetBucketVersioning = %+v, %v; want never enabled", ver, err)
	}
	_, err = c.GetBucketLocation(ctx, &awss3.GetBucketLocationInput{Bucket: aws.String("nothere")})
	wantCode(t, err, "NoSuchBucket")

	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k"), Body: strings.NewReader("x")})
	must(t, err)
	_, err = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "BucketNotEmpty")
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("alpha"), Key: aws.String("k")})
	must(t, err)
	_, err = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("alpha")})
	must(t, err)
	_, err = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("alpha")})
	wantCode(t, err, "NoSuchBucket")
	_, err = c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("alpha")})
	wantCode(t, err, "NoSuchBucket")

	for _, bad := range []string{"ab", "Upper", "a..b", "192.168.1.1", "xn--abc", "abc-s3alias", strings.Repeat("a", 64)} {
		resp, body := h.do(t, rawReq{method: "PUT", path: "/" + bad})
		expectError(t, resp, body, 400, "InvalidBucketName")
	}
	resp, body := h.do(t, rawReq{method: "PUT", path: "/delta", body: []byte("<CreateBucketConfiguration><LocationConstraint>")})
	expectError(t, resp, body, 400, "MalformedXML")
	resp, body = h.do(t, rawReq{method: "PUT", path: "/delta", body: []byte("<Wrong/>")})
	expectError(t, resp, body, 400, "MalformedXML")
	resp, body = h.do(t, rawReq{method: "PUT", path: "/delta", body: bytes.Repeat([]byte(" "), 3<<20)})
	expectError(t, resp, body, 400, "MaxMessageLengthExceeded")
	resp, body = h.do(t, rawReq{method: "PUT", path: "/delta", hdr: http.Header{"X-Amz-Acl": {"public-read"}}})
	expectError(t, resp, body, 400, "AccessControlListNotSupported") // ACLs are off (BucketOwnerEnforced)
	resp, body = h.do(t, rawReq{method: "PUT", path: "/delta", hdr: http.Header{"X-Amz-Object-Ownership": {"Mine"}}})
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = h.do(t, rawReq{method: "PUT", path: "/delta", hdr: http.Header{"X-Amz-Object-Ownership": {"ObjectWriter"}, "X-Amz-Acl": {"public-read"}, "X-Amz-Grant-Read": {`uri="http://acs.amazonaws.com/groups/global/AllUsers"`}}})
	expectError(t, resp, body, 400, "InvalidRequest") // canned and grant headers together
	resp, body = h.do(t, rawReq{method: "PUT", path: "/delta", hdr: http.Header{"X-Amz-Object-Ownership": {"ObjectWriter"}, "X-Amz-Grant-Read": {`id="nosuchtenant"`}}})
	expectError(t, resp, body, 400, "InvalidArgument")
	// None of the failed creations left a bucket behind.
	_, err = c.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("delta")})
	if err == nil {
		t.Fatal("failed CreateBucket left a bucket")
	}
}

func md5hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

func TestE2EObjects(t *testing.T) { overBoth(t, testE2EObjects) }

func testE2EObjects(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	for _, tlsOn := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", tlsOn), func(t *testing.T) {
			c := h.client(tlsOn)
			bucket := fmt.Sprintf("objects-%v", tlsOn)
			_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)})
			must(t, err)
			data := bytes.Repeat([]byte("0123456789"), 30000) // 300 kB: shards, not inline
			exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
			put, err := c.PutObject(ctx, &awss3.PutObjectInput{
				Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), Body: bytes.NewReader(data),
				ContentType: aws.String("text/plain"), ContentEncoding: aws.String("identity"),
				ContentDisposition: aws.String(`attachment; filename="x.txt"`), ContentLanguage: aws.String("fr"),
				CacheControl: aws.String("max-age=60"), Expires: aws.Time(exp),
				Metadata:          map[string]string{"color": "blue", "Mixed-Case": "v"},
				ChecksumAlgorithm: types.ChecksumAlgorithmCrc32c,
			})
			must(t, err)
			if *put.ETag != `"`+md5hex(data)+`"` {
				t.Fatalf("etag %s", *put.ETag)
			}
			if put.ChecksumCRC32C == nil {
				t.Fatal("no checksum echoed")
			}
			get, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), ChecksumMode: types.ChecksumModeEnabled})
			must(t, err)
			got, err := io.ReadAll(get.Body)
			get.Body.Close()
			must(t, err)
			if !bytes.Equal(got, data) {
				t.Fatal("body differs")
			}
			if *get.ContentType != "text/plain" || *get.ContentEncoding != "identity" || *get.ContentLanguage != "fr" ||
				*get.CacheControl != "max-age=60" || *get.ContentDisposition != `attachment; filename="x.txt"` ||
				get.Metadata["color"] != "blue" || get.Metadata["mixed-case"] != "v" || *get.ETag != *put.ETag ||
				*get.ContentLength != int64(len(data)) || get.ChecksumCRC32C == nil || *get.ChecksumCRC32C != *put.ChecksumCRC32C {
				t.Fatalf("GET headers %+v", get)
			}
			if get.ExpiresString == nil || *get.ExpiresString != exp.Format(http.TimeFormat) {
				t.Fatalf("expires %v", get.ExpiresString)
			}
			head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt")})
			must(t, err)
			if *head.ContentLength != int64(len(data)) || *head.ETag != *put.ETag || head.LastModified == nil {
				t.Fatalf("HEAD %+v", head)
			}

			// Ranges.
			for _, rc := range []struct {
				rng        string
				start, end int
			}{{"bytes=0-9", 0, 9}, {"bytes=299990-", 299990, 299999}, {"bytes=-5", 299995, 299999}, {"bytes=100-100", 100, 100}, {"bytes=299995-500000", 299995, 299999}} {
				g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), Range: aws.String(rc.rng)})
				must(t, err)
				b, _ := io.ReadAll(g.Body)
				g.Body.Close()
				if !bytes.Equal(b, data[rc.start:rc.end+1]) || *g.ContentRange != fmt.Sprintf("bytes %d-%d/%d", rc.start, rc.end, len(data)) {
					t.Fatalf("range %s: %d bytes, %v", rc.rng, len(b), *g.ContentRange)
				}
			}
			g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), Range: aws.String("bytes=0-1,5-6")})
			must(t, err)
			b, _ := io.ReadAll(g.Body)
			g.Body.Close()
			if len(b) != len(data) || g.ContentRange != nil {
				t.Fatalf("multi-range: %d bytes", len(b))
			}
			_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), Range: aws.String("bytes=300000-")})
			wantCode(t, err, "InvalidRange")

			// Conditionals.
			_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), IfMatch: aws.String(`"nope"`)})
			wantCode(t, err, "PreconditionFailed")
			_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), IfNoneMatch: put.ETag})
			if err == nil || !strings.Contains(err.Error(), "304") {
				t.Fatalf("If-None-Match: %v", err)
			}
			_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), IfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
			if err == nil || !strings.Contains(err.Error(), "304") {
				t.Fatalf("If-Modified-Since: %v", err)
			}
			_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), IfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))})
			wantCode(t, err, "PreconditionFailed")
			g, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"), IfMatch: put.ETag,
				IfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))})
			must(t, err) // If-Match true wins over If-Unmodified-Since false
			g.Body.Close()

			// Response overrides.
			g, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt"),
				ResponseContentType: aws.String("application/x-override"), ResponseCacheControl: aws.String("no-cache"),
				ResponseContentDisposition: aws.String("inline"), ResponseContentLanguage: aws.String("de"),
				ResponseContentEncoding: aws.String("br"), ResponseExpires: aws.Time(exp)})
			must(t, err)
			g.Body.Close()
			if *g.ContentType != "application/x-override" || *g.CacheControl != "no-cache" || *g.ContentDisposition != "inline" ||
				*g.ContentLanguage != "de" || *g.ContentEncoding != "br" {
				t.Fatalf("overrides %+v", g)
			}

			// Zero-byte artifact.
			_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("empty"), Body: bytes.NewReader(nil)})
			must(t, err)
			g, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("empty")})
			must(t, err)
			b, _ = io.ReadAll(g.Body)
			g.Body.Close()
			if len(b) != 0 || *g.ETag != `"d41d8cd98f00b204e9800998ecf8427e"` || *g.ContentLength != 0 {
				t.Fatalf("empty: %d %s", len(b), *g.ETag)
			}
			_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("empty"), Range: aws.String("bytes=0-")})
			wantCode(t, err, "InvalidRange")

			// Awkward keys.
			keys := []string{"a b", "ünï/cödé ✓", "plus+sign", "per%cent", "x//y", "/lead", "trail/", "q?a=b&c", "hash#frag",
				"semi;colon", "tilde~", "star*", "quote'\"", "back\\slash", "tab\tkey", "<xml>&amp;", strings.Repeat("k", 1024),
				strings.Repeat("é", 512)}
			for _, k := range keys {
				_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader("v:" + k)})
				if err != nil {
					t.Fatalf("put %q: %v", k, err)
				}
				g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
				if err != nil {
					t.Fatalf("get %q: %v", k, err)
				}
				b, _ := io.ReadAll(g.Body)
				g.Body.Close()
				if string(b) != "v:"+k {
					t.Fatalf("key %q: %q", k, b)
				}
			}
			var listed []string
			p := awss3.NewListObjectsV2Paginator(c, &awss3.ListObjectsV2Input{Bucket: aws.String(bucket), MaxKeys: aws.Int32(7)})
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				must(t, err)
				for _, o := range page.Contents {
					listed = append(listed, *o.Key)
				}
			}
			want := append([]string{"dir/obj.txt", "empty"}, keys...)
			sort.Strings(want)
			if strings.Join(listed, "\n") != strings.Join(want, "\n") {
				t.Fatalf("listed %q\nwant %q", listed, want)
			}
			_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(strings.Repeat("k", 1025)), Body: strings.NewReader("x")})
			wantCode(t, err, "KeyTooLongError")

			// Delete, then the key is gone; deleting again is fine.
			_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt")})
			must(t, err)
			_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt")})
			must(t, err)
			_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt")})
			wantCode(t, err, "NoSuchKey")
			_, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/obj.txt")})
			if err == nil || !strings.Contains(err.Error(), "404") {
				t.Fatalf("head deleted: %v", err)
			}
			_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
			wantCode(t, err, "NoSuchBucket")
		})
	}
}

func TestE2EConditionalWrites(t *testing.T) { overBoth(t, testE2EConditionalWrites) }

func testE2EConditionalWrites(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("cond")})
	must(t, err)

	// Racing creators: exactly one wins.
	const racers = 8
	var wg sync.WaitGroup
	errs := make([]error, racers)
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, errs[i] = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("once"),
				Body: strings.NewReader(fmt.Sprintf("writer %d", i)), IfNoneMatch: aws.String("*")})
		}(i)
	}
	wg.Wait()
	wins := 0
	winner := -1
	for i, err := range errs {
		switch apiCode(err) {
		case "":
			wins++
			winner = i
		case "PreconditionFailed":
		default:
			t.Fatalf("racer %d: %v", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners", wins)
	}
	g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("once")})
	must(t, err)
	b, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(b) != fmt.Sprintf("writer %d", winner) {
		t.Fatalf("content %q, winner %d", b, winner)
	}

	// If-Match.
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("once"), Body: strings.NewReader("v2"), IfMatch: aws.String(`"0123"`)})
	wantCode(t, err, "PreconditionFailed")
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("once"), Body: strings.NewReader("v2"), IfMatch: g.ETag})
	must(t, err)
	if *put.ETag != `"`+md5hex([]byte("v2"))+`"` {
		t.Fatal(*put.ETag)
	}
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("cond"), Key: aws.String("missing"), Body: strings.NewReader("v"), IfMatch: put.ETag})
	if code := apiCode(err); code != "NoSuchKey" && code != "PreconditionFailed" {
		t.Fatalf("If-Match on a missing key: %v", err)
	}
}

func TestE2EConcurrentOverwrites(t *testing.T) { overBoth(t, testE2EConcurrentOverwrites) }

func testE2EConcurrentOverwrites(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("race")})
	must(t, err)
	version := func(i int) []byte {
		// Each version is 200 kB of one repeated line naming it.
		return bytes.Repeat([]byte(fmt.Sprintf("version-%04d|", i)), 200000/14)
	}
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String("k"), Body: bytes.NewReader(version(0))})
	must(t, err)
	const writers, perWriter, readers, reads = 3, 4, 3, 8
	var wg sync.WaitGroup
	errc := make(chan error, writers*perWriter+readers*reads)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				n := 1 + w*perWriter + i
				if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("race"), Key: aws.String("k"), Body: bytes.NewReader(version(n))}); err != nil {
					errc <- err
				}
			}
		}(w)
	}
	for r := 0; r < readers; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < reads; i++ {
				g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("race"), Key: aws.String("k")})
				if err != nil {
					errc <- err
					continue
				}
				b, err := io.ReadAll(g.Body)
				g.Body.Close()
				if err != nil {
					errc <- err
					continue
				}
				var n int
				if _, err := fmt.Sscanf(string(b), "version-%04d|", &n); err != nil || !bytes.Equal(b, version(n)) {
					errc <- fmt.Errorf("torn read: %.40q (%d bytes)", b, len(b))
				}
				if `"`+md5hex(b)+`"` != *g.ETag {
					errc <- fmt.Errorf("ETag %s does not match the body", *g.ETag)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
}

func TestE2ECopy(t *testing.T) { overBoth(t, testE2ECopy) }

func testE2ECopy(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	for _, b := range []string{"src", "dst"} {
		_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(b)})
		must(t, err)
	}
	data := bytes.Repeat([]byte("copy me "), 40000)
	srcKey := "dir/ü name+%.txt"
	put, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), Body: bytes.NewReader(data),
		ContentType: aws.String("text/x-src"), Metadata: map[string]string{"a": "1"}})
	must(t, err)
	source := "src/" + escapeKey(srcKey)

	cp, err := c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"), CopySource: aws.String(source)})
	must(t, err)
	if *cp.CopyObjectResult.ETag != *put.ETag {
		t.Fatalf("copy etag %s", *cp.CopyObjectResult.ETag)
	}
	g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy")})
	must(t, err)
	b, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if !bytes.Equal(b, data) || *g.ContentType != "text/x-src" || g.Metadata["a"] != "1" {
		t.Fatalf("COPY directive: %d bytes %s %v", len(b), *g.ContentType, g.Metadata)
	}
	// REPLACE.
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: aws.String("/" + source),
		MetadataDirective: types.MetadataDirectiveReplace, ContentType: aws.String("text/x-new"), Metadata: map[string]string{"b": "2"}})
	must(t, err)
	hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2")})
	must(t, err)
	if *hd.ContentType != "text/x-new" || hd.Metadata["b"] != "2" || hd.Metadata["a"] != "" || *hd.ContentLength != int64(len(data)) {
		t.Fatalf("REPLACE: %+v", hd)
	}
	// Onto itself: illegal without REPLACE, fine with it.
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), CopySource: aws.String(source)})
	wantCode(t, err, "InvalidRequest")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey), CopySource: aws.String(source),
		MetadataDirective: types.MetadataDirectiveReplace, Metadata: map[string]string{"c": "3"}})
	must(t, err)
	// Conditions on the source.
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3"), CopySource: aws.String(source), CopySourceIfMatch: aws.String(`"bad"`)})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3"), CopySource: aws.String(source), CopySourceIfNoneMatch: put.ETag})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3"), CopySource: aws.String(source), CopySourceIfModifiedSince: aws.Time(time.Now().Add(time.Hour))})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3"), CopySource: aws.String(source), CopySourceIfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3"), CopySource: aws.String(source),
		CopySourceIfMatch: put.ETag, CopySourceIfUnmodifiedSince: aws.Time(time.Now().Add(-time.Hour))})
	must(t, err)
	_, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("c3")})
	must(t, err)
	// Errors.
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c4"), CopySource: aws.String("src/missing")})
	wantCode(t, err, "NoSuchKey")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c4"), CopySource: aws.String("nobucket/x")})
	wantCode(t, err, "NoSuchBucket")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c4"), CopySource: aws.String("src")})
	wantCode(t, err, "InvalidArgument")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c4"), CopySource: aws.String(source + "?versionId=nope")})
	wantCode(t, err, "InvalidArgument")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c4"), CopySource: aws.String(source + "?versionId=00000000000000ff")})
	wantCode(t, err, "NoSuchVersion")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c4"), CopySource: aws.String(source), MetadataDirective: "MERGE"})
	wantCode(t, err, "InvalidArgument")
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("nodst"), Key: aws.String("c4"), CopySource: aws.String(source)})
	wantCode(t, err, "NoSuchBucket")
	hd, err = c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String(srcKey)})
	must(t, err)
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("c5"), CopySource: aws.String(source + "?versionId=" + url.QueryEscape(aws.ToString(hd.VersionId)))})
	if hd.VersionId != nil {
		must(t, err)
	}
}

func TestE2EList(t *testing.T) { overBoth(t, testE2EList) }

func testE2EList(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("list")})
	must(t, err)
	keys := []string{"a/1", "a/2", "a/b/3", "b/4", "c", "d e/5", "d+e/6"}
	for _, k := range keys {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("list"), Key: aws.String(k), Body: strings.NewReader(k)})
		must(t, err)
	}
	// Delimiter.
	out, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("list"), Delimiter: aws.String("/")})
	must(t, err)
	var prefixes, contents []string
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, *p.Prefix)
	}
	for _, o := range out.Contents {
		contents = append(contents, *o.Key)
		if *o.Size != int64(len(*o.Key)) || *o.ETag != `"`+md5hex([]byte(*o.Key))+`"` || o.Owner != nil {
			t.Fatalf("entry %+v", o)
		}
	}
	if strings.Join(prefixes, ",") != "a/,b/,d e/,d+e/" || strings.Join(contents, ",") != "c" || *out.KeyCount != 5 {
		t.Fatalf("prefixes %v contents %v count %d", prefixes, contents, *out.KeyCount)
	}
	// Prefix + delimiter.
	out, err = c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("list"), Prefix: aws.String("a/"), Delimiter: aws.String("/"), FetchOwner: aws.Bool(true)})
	must(t, err)
	if len(out.Contents) != 2 || len(out.CommonPrefixes) != 1 || *out.CommonPrefixes[0].Prefix != "a/b/" || out.Contents[0].Owner == nil {
		t.Fatalf("prefix list %+v", out)
	}
	// Pagination with tokens, every page size.
	for size := int32(1); size <= 4; size++ {
		var got []string
		var token *string
		for pages := 0; ; pages++ {
			if pages > 10 {
				t.Fatal("pagination does not end")
			}
			out, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("list"), MaxKeys: aws.Int32(size), ContinuationToken: token})
			must(t, err)
			for _, o := range out.Contents {
				got = append(got, *o.Key)
			}
			if !*out.IsTruncated {
				break
			}
			token = out.NextContinuationToken
		}
		if strings.Join(got, ",") != strings.Join(keys, ",") {
			t.Fatalf("size %d: %v", size, got)
		}
	}
	// StartAfter.
	out, err = c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("list"), StartAfter: aws.String("b/4")})
	must(t, err)
	if len(out.Contents) != 3 || *out.Contents[0].Key != "c" {
		t.Fatalf("start-after %+v", out.Contents)
	}
	// V1 with marker.
	v1, err := c.ListObjects(ctx, &awss3.ListObjectsInput{Bucket: aws.String("list"), Marker: aws.String("a/b/3"), MaxKeys: aws.Int32(2)})
	must(t, err)
	if len(v1.Contents) != 2 || *v1.Contents[0].Key != "b/4" || !*v1.IsTruncated || *v1.NextMarker != "c" || v1.Contents[0].Owner == nil {
		t.Fatalf("v1 %+v", v1)
	}
	// encoding-type=url.
	resp, body := h.do(t, rawReq{method: "GET", path: "/list?list-type=2&encoding-type=url&prefix=d"})
	expectOK(t, resp, body)
	if !bytes.Contains(body, []byte("<Key>d+e/5</Key>")) || !bytes.Contains(body, []byte("<Key>d%2Be/6</Key>")) {
		t.Fatalf("url encoding: %s", body)
	}
	// Errors.
	resp, body = h.do(t, rawReq{method: "GET", path: "/list?list-type=2&max-keys=-1"})
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = h.do(t, rawReq{method: "GET", path: "/list?list-type=2&max-keys=abc"})
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = h.do(t, rawReq{method: "GET", path: "/list?list-type=2&continuation-token=%21%21"})
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = h.do(t, rawReq{method: "GET", path: "/list?list-type=2&encoding-type=zip"})
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = h.do(t, rawReq{method: "GET", path: "/list?list-type=2&max-keys=5000"})
	expectOK(t, resp, body)
	if !bytes.Contains(body, []byte("<MaxKeys>1000</MaxKeys>")) {
		t.Fatalf("max-keys ceiling: %s", body)
	}
	resp, body = h.do(t, rawReq{method: "GET", path: "/list?list-type=2&max-keys=0"})
	expectOK(t, resp, body)
	if bytes.Contains(body, []byte("<Contents>")) {
		t.Fatalf("max-keys=0: %s", body)
	}
}

// etagOf returns the quoted ETag S3 computes for a multipart artifact.
func multipartETag(parts ...[]byte) string {
	var all []byte
	for _, p := range parts {
		s := md5.Sum(p)
		all = append(all, s[:]...)
	}
	s := md5.Sum(all)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(s[:]), len(parts))
}

func TestE2EMultipart(t *testing.T) { overBoth(t, testE2EMultipart) }

func testE2EMultipart(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure) // TLS: the SDK streams parts with trailer checksums
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("mpu")})
	must(t, err)
	key := "big/ob ject+1"
	cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key),
		ContentType: aws.String("application/x-mp"), Metadata: map[string]string{"m": "1"}, ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	must(t, err)
	id := cr.UploadId
	part := func(n int, size int) []byte {
		return bytes.Repeat([]byte{byte('a' + n)}, size)
	}
	bodies := [][]byte{part(1, 5<<20), part(2, 5<<20), part(3, 5<<20), part(4, 1234)}
	var completed []types.CompletedPart
	for i, b := range bodies {
		n := int32(i + 1)
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(b), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		must(t, err)
		if up.ChecksumCRC32 == nil {
			t.Fatal("part checksum not echoed")
		}
		completed = append(completed, types.CompletedPart{PartNumber: aws.Int32(n), ETag: up.ETag, ChecksumCRC32: up.ChecksumCRC32})
	}
	// ListParts, paged.
	lp, err := c.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id, MaxParts: aws.Int32(2)})
	must(t, err)
	if len(lp.Parts) != 2 || !*lp.IsTruncated || *lp.NextPartNumberMarker != "2" {
		t.Fatalf("list parts %+v", lp)
	}
	lp, err = c.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id, PartNumberMarker: lp.NextPartNumberMarker})
	must(t, err)
	if len(lp.Parts) != 2 || *lp.Parts[0].PartNumber != 3 || *lp.Parts[1].Size != 1234 || *lp.IsTruncated {
		t.Fatalf("list parts page 2 %+v", lp)
	}
	lu, err := c.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	must(t, err)
	if len(lu.Uploads) != 1 || *lu.Uploads[0].UploadId != *id || *lu.Uploads[0].Key != key {
		t.Fatalf("list uploads %+v", lu)
	}
	// Bad completions leave the upload intact.
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{completed[1], completed[0]}}})
	wantCode(t, err, "InvalidPartOrder")
	bad := append([]types.CompletedPart(nil), completed...)
	bad[1] = types.CompletedPart{PartNumber: aws.Int32(2), ETag: aws.String(`"00000000000000000000000000000000"`)}
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: bad}})
	wantCode(t, err, "InvalidPart")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{completed[0], completed[1], {PartNumber: aws.Int32(9), ETag: completed[2].ETag}}}})
	wantCode(t, err, "InvalidPart")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{completed[3], {PartNumber: aws.Int32(5), ETag: completed[3].ETag}}}})
	wantCode(t, err, "EntityTooSmall")
	resp, body := h.do(t, rawReq{method: "POST", path: "/mpu/" + escapeKey(key) + "?uploadId=" + *id, body: []byte("<CompleteMultipartUpload><Part>")})
	expectError(t, resp, body, 400, "MalformedXML")

	done, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}})
	must(t, err)
	if *done.ETag != multipartETag(bodies...) {
		t.Fatalf("multipart etag %s want %s", *done.ETag, multipartETag(bodies...))
	}
	g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled})
	must(t, err)
	got, err := io.ReadAll(g.Body)
	g.Body.Close()
	must(t, err)
	if !bytes.Equal(got, bytes.Join(bodies, nil)) || *g.ContentType != "application/x-mp" || g.Metadata["m"] != "1" {
		t.Fatalf("assembled: %d bytes %s", len(got), *g.ContentType)
	}
	// A range across a part boundary.
	g, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String(key), Range: aws.String(fmt.Sprintf("bytes=%d-%d", 5<<20-2, 5<<20+1))})
	must(t, err)
	got, _ = io.ReadAll(g.Body)
	g.Body.Close()
	if string(got) != "bbcc" {
		t.Fatalf("cross-part range %q", got)
	}
	// A repeated completion (the client lost the answer) answers the same.
	again, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: completed}})
	must(t, err)
	if *again.ETag != *g.ETag {
		t.Fatalf("repeated completion ETag %s, object %s", *again.ETag, *g.ETag)
	}

	// Abort, and everything about an aborted upload is NoSuchUpload.
	cr2, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted")})
	must(t, err)
	_, err = c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: cr2.UploadId})
	must(t, err)
	_, err = c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: cr2.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantCode(t, err, "NoSuchUpload")
	_, err = c.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: cr2.UploadId})
	wantCode(t, err, "NoSuchUpload")
	_, err = c.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("aborted"), UploadId: cr2.UploadId})
	wantCode(t, err, "NoSuchUpload")
	_, err = c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	wantCode(t, err, "NoSuchBucket")

	// Part numbers outside 1..10000.
	cr3, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("pn")})
	must(t, err)
	for _, n := range []string{"0", "10001", "x", "-1"} {
		resp, body := h.do(t, rawReq{method: "PUT", path: "/mpu/pn?partNumber=" + n + "&uploadId=" + *cr3.UploadId, body: []byte("x")})
		expectError(t, resp, body, 400, "InvalidArgument")
	}

	// UploadPartCopy with a range, from the assembled artifact.
	src := "mpu/" + escapeKey(key)
	pc1, err := c.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("pn"), UploadId: cr3.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String(src), CopySourceRange: aws.String(fmt.Sprintf("bytes=0-%d", 5<<20-1))})
	must(t, err)
	pc2, err := c.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("pn"), UploadId: cr3.UploadId,
		PartNumber: aws.Int32(2), CopySource: aws.String(src), CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", 15<<20, 15<<20+1233))})
	must(t, err)
	_, err = c.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("pn"), UploadId: cr3.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String(src), CopySourceRange: aws.String("bytes=0-99999999999")})
	wantCode(t, err, "InvalidArgument")
	_, err = c.UploadPartCopy(ctx, &awss3.UploadPartCopyInput{Bucket: aws.String("mpu"), Key: aws.String("pn"), UploadId: cr3.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String(src), CopySourceIfMatch: aws.String(`"x"`)})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("pn"), UploadId: cr3.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: pc1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: pc2.CopyPartResult.ETag}}}})
	must(t, err)
	g, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("pn")})
	must(t, err)
	got, _ = io.ReadAll(g.Body)
	g.Body.Close()
	if !bytes.Equal(got, append(bytes.Clone(bodies[0]), bodies[3]...)) {
		t.Fatalf("part copy result: %d bytes", len(got))
	}
}

func TestE2EDeleteObjects(t *testing.T) { overBoth(t, testE2EDeleteObjects) }

func testE2EDeleteObjects(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("del")})
	must(t, err)
	for i := 0; i < 5; i++ {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("del"), Key: aws.String(fmt.Sprintf("k%d", i)), Body: strings.NewReader("x")})
		must(t, err)
	}
	out, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k0")}, {Key: aws.String("k1")}, {Key: aws.String("never-existed")}, {Key: aws.String("k2"), VersionId: aws.String("v")}}}})
	must(t, err)
	if len(out.Deleted) != 3 || len(out.Errors) != 1 || *out.Errors[0].Key != "k2" || *out.Errors[0].Code != "InvalidArgument" {
		t.Fatalf("delete result %+v %+v", out.Deleted, out.Errors)
	}
	out, err = c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("del"), Delete: &types.Delete{Quiet: aws.Bool(true),
		Objects: []types.ObjectIdentifier{{Key: aws.String("k3")}}}})
	must(t, err)
	if len(out.Deleted) != 0 || len(out.Errors) != 0 {
		t.Fatalf("quiet result %+v", out)
	}
	l, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("del")})
	must(t, err)
	if len(l.Contents) != 2 {
		t.Fatalf("left %d", len(l.Contents))
	}
	_, err = c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("nobucket"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("k")}}}})
	wantCode(t, err, "NoSuchBucket")

	doc := []byte("<Delete><Object><Key>k4</Key></Object></Delete>")
	sum := md5.Sum(doc)
	goodMD5 := base64.StdEncoding.EncodeToString(sum[:])
	resp, body := h.do(t, rawReq{method: "POST", path: "/del?delete", body: doc})
	expectError(t, resp, body, 400, "InvalidRequest")
	resp, body = h.do(t, rawReq{method: "POST", path: "/del?delete", body: doc, hdr: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(make([]byte, 16))}}})
	expectError(t, resp, body, 400, "BadDigest")
	resp, body = h.do(t, rawReq{method: "POST", path: "/del?delete", body: doc, hdr: http.Header{"Content-Md5": {"short"}}})
	expectError(t, resp, body, 400, "InvalidDigest")
	mal := []byte("<Delete><Object><Key>k4</Key></Object>")
	ms := md5.Sum(mal)
	resp, body = h.do(t, rawReq{method: "POST", path: "/del?delete", body: mal, hdr: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(ms[:])}}})
	expectError(t, resp, body, 400, "MalformedXML")
	var many bytes.Buffer
	many.WriteString("<Delete>")
	for i := 0; i < 1001; i++ {
		fmt.Fprintf(&many, "<Object><Key>x%d</Key></Object>", i)
	}
	many.WriteString("</Delete>")
	mm := md5.Sum(many.Bytes())
	resp, body = h.do(t, rawReq{method: "POST", path: "/del?delete", body: many.Bytes(), hdr: http.Header{"Content-Md5": {base64.StdEncoding.EncodeToString(mm[:])}}})
	expectError(t, resp, body, 400, "MalformedXML")
	// k4 survived every failed request; a good one deletes it.
	if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("del"), Key: aws.String("k4")}); err != nil {
		t.Fatal(err)
	}
	resp, body = h.do(t, rawReq{method: "POST", path: "/del?delete", body: doc, hdr: http.Header{"Content-Md5": {goodMD5}}})
	expectOK(t, resp, body)
	if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("del"), Key: aws.String("k4")}); err == nil {
		t.Fatal("k4 not deleted")
	}
}

func TestE2EVirtualHost(t *testing.T) { overBoth(t, testE2EVirtualHost) }

func testE2EVirtualHost(t *testing.T, secure bool) {
	h := newHarness(t, func(c *s3.Config) { c.Domain = "s3.local" }).over(secure)
	scheme, addr, _ := strings.Cut(h.ep().URL, "://")
	_, port, _ := strings.Cut(addr, ":")
	tr := h.ep().raw.Clone()
	dialer := &net.Dialer{}
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		// Every *.s3.local name is this loopback server.
		return dialer.DialContext(ctx, network, addr)
	}
	t.Cleanup(tr.CloseIdleConnections)
	c := awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(scheme + "://s3.local:" + port), UsePathStyle: false,
		Credentials: h.creds(), HTTPClient: &http.Client{Transport: tr}, Retryer: aws.NopRetryer{},
	})
	var seenHosts []string
	var mu sync.Mutex
	c2 := awss3.New(c.Options(), func(o *awss3.Options) {
		o.HTTPClient = hostRecorder{&http.Client{Transport: tr}, func(host string) {
			mu.Lock()
			seenHosts = append(seenHosts, host)
			mu.Unlock()
		}}
	})
	_, err := c2.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("vhost")})
	must(t, err)
	_, err = c2.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a b/c"), Body: strings.NewReader("hello")})
	must(t, err)
	g, err := c2.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a b/c")})
	must(t, err)
	b, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("%q", b)
	}
	l, err := c2.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("vhost")})
	must(t, err)
	if len(l.Contents) != 1 || *l.Contents[0].Key != "a b/c" {
		t.Fatalf("%+v", l.Contents)
	}
	mu.Lock()
	for _, host := range seenHosts {
		if !strings.HasPrefix(host, "vhost.s3.local:") {
			t.Fatalf("request to %q was not virtual-hosted", host)
		}
	}
	mu.Unlock()
	// Path style still works on the same server.
	_, err = h.client(h.secure).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a b/c")})
	must(t, err)

	// The host name resolves in the signer's tenant, like a path: another
	// tenant has its own vhost.s3.local.
	now := time.Now()
	must(t, h.node.Meta.PutTenant(ctx, metastore.Tenant{ID: "acme", Name: "Acme", State: metastore.TenantActive, Created: now}))
	must(t, h.node.Meta.PutUser(ctx, metastore.User{Tenant: "acme", Name: "alice", Created: now}))
	must(t, h.node.Meta.CreateAccessKey(ctx, metastore.AccessKey{ID: "ACMEVHOST", Tenant: "acme", User: "alice", Enabled: true, Created: now}, "acme-secret"))
	acme := awss3.New(c2.Options(), func(o *awss3.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider("ACMEVHOST", "acme-secret", "")
	})
	_, err = acme.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a b/c")})
	wantCode(t, err, "NoSuchBucket")
	_, err = acme.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("vhost")})
	must(t, err)
	_, err = acme.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a b/c"), Body: strings.NewReader("acme's")})
	must(t, err)
	for _, tc := range []struct {
		c    *awss3.Client
		want string
	}{{c2, "hello"}, {acme, "acme's"}} {
		g, err := tc.c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a b/c")})
		must(t, err)
		b, _ := io.ReadAll(g.Body)
		g.Body.Close()
		if string(b) != tc.want {
			t.Fatalf("vhost.s3.local/a b/c read %q, want %q", b, tc.want)
		}
	}
	mu.Lock()
	for _, host := range seenHosts {
		if !strings.HasPrefix(host, "vhost.s3.local:") {
			t.Fatalf("request to %q was not virtual-hosted", host)
		}
	}
	mu.Unlock()

	// Tenant-qualified: vhost.root.s3.local is root's bucket vhost, for
	// whoever a policy lets in (acme's alice, and anonymous readers).
	_, err = c2.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("vhost"), Policy: aws.String(`{"Statement":[
		{"Effect":"Allow","Principal":{"AWS":"acme"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::vhost/*"},
		{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::vhost/a b/*"}]}`)})
	must(t, err)
	acmeQ := awss3.New(acme.Options(), func(o *awss3.Options) { o.BaseEndpoint = aws.String(scheme + "://root.s3.local:" + port) })
	g, err = acmeQ.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("vhost"), Key: aws.String("a b/c")})
	must(t, err)
	b, _ = io.ReadAll(g.Body)
	g.Body.Close()
	if string(b) != "hello" {
		t.Fatalf("vhost.root.s3.local/a b/c read %q, want root's", b)
	}
	_, err = acmeQ.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("vhost"), Key: aws.String("x"), Body: strings.NewReader("no")})
	wantCode(t, err, "AccessDenied")
	anon := &http.Client{Transport: tr}
	resp, err := anon.Get(scheme + "://vhost.root.s3.local:" + port + "/a%20b/c")
	must(t, err)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Fatalf("anonymous vhost.root.s3.local/a b/c: %d %q", resp.StatusCode, b)
	}
	if !secure { // the certificate names one label below s3.local
		// A last label that names no tenant is a dotted bucket name as
		// before: unsigned, it is refused.
		resp, err = anon.Get(scheme + "://vhost.nosuchtenant.s3.local:" + port + "/a%20b/c")
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode != 403 {
			t.Fatalf("anonymous, unknown tenant label: %d", resp.StatusCode)
		}
	}
}

type hostRecorder struct {
	c    *http.Client
	seen func(string)
}

func (h hostRecorder) Do(r *http.Request) (*http.Response, error) {
	h.seen(r.URL.Host)
	return h.c.Do(r)
}

func TestE2EMultipartLimits(t *testing.T) { overBoth(t, testE2EMultipartLimits) }

func testE2EMultipartLimits(t *testing.T, secure bool) {
	// Small parts keep early rejections below what net/http drains, so the
	// client reads the error instead of a reset connection.
	const kb = 1 << 10
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 50 * kb}, func(c *s3.Config) { c.MaxPutSize = 60 * kb; c.MaxObjectSize = 100 * kb }).over(secure)
	c := h.client(h.secure)
	h.bucket(t, "limits")
	cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("limits"), Key: aws.String("k")})
	must(t, err)
	var parts []types.CompletedPart
	for i, size := range []int{50 * kb, 50*kb + 1} {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("limits"), Key: aws.String("k"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(make([]byte, size))})
		must(t, err)
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	_, err = c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("limits"), Key: aws.String("k"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(3), Body: bytes.NewReader(make([]byte, 60*kb+1))})
	wantCode(t, err, "EntityTooLarge")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("limits"), Key: aws.String("k"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	wantCode(t, err, "EntityTooLarge")
	h.absent(t, "limits", "k")
	// Within the limit, and a conditional completion.
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("limits"), Key: aws.String("k"), Body: strings.NewReader("exists")})
	must(t, err)
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("limits"), Key: aws.String("k"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts[:1]}, IfNoneMatch: aws.String("*")})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("limits"), Key: aws.String("k"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts[:1]}})
	must(t, err)
	if got := h.content(t, "limits", "k"); len(got) != 50*kb {
		t.Fatalf("%d bytes", len(got))
	}
}

// TestE2EManagerUpload drives the SDK's transfer manager as applications
// use it: concurrent parts, default checksums, aws-chunked over TLS.
func TestE2EManagerUpload(t *testing.T) { overBoth(t, testE2EManagerUpload) }

func testE2EManagerUpload(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	h.bucket(t, "manager")
	data := make([]byte, 16<<20+4321)
	for i := range data {
		data[i] = byte(i * 7 / 5)
	}
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 3 })
	out, err := up.Upload(ctx, &awss3.PutObjectInput{Bucket: aws.String("manager"), Key: aws.String("big.bin"), Body: bytes.NewReader(data)})
	must(t, err)
	if !strings.HasSuffix(aws.ToString(out.ETag), `-4"`) {
		t.Fatalf("etag %v", aws.ToString(out.ETag))
	}
	dl := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = 4 << 20; d.Concurrency = 3 })
	buf := manager.NewWriteAtBuffer(nil)
	n, err := dl.Download(ctx, buf, &awss3.GetObjectInput{Bucket: aws.String("manager"), Key: aws.String("big.bin")})
	must(t, err)
	if n != int64(len(data)) || !bytes.Equal(buf.Bytes(), data) {
		t.Fatalf("downloaded %d bytes, equal=%v", n, bytes.Equal(buf.Bytes(), data))
	}
	// A small one goes through a single PutObject.
	_, err = up.Upload(ctx, &awss3.PutObjectInput{Bucket: aws.String("manager"), Key: aws.String("small"), Body: bytes.NewReader(data[:1000])})
	must(t, err)
	if got := h.content(t, "manager", "small"); !bytes.Equal(got, data[:1000]) {
		t.Fatal("small upload differs")
	}
}
