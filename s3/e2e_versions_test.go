package s3_test

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/node/nodetest"
)

func versioningOn(t *testing.T, c *awss3.Client, bucket string, status types.BucketVersioningStatus) {
	t.Helper()
	_, err := c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: status}})
	must(t, err)
}

func getBody(t *testing.T, c *awss3.Client, in *awss3.GetObjectInput) string {
	t.Helper()
	g, err := c.GetObject(ctx, in)
	must(t, err)
	defer g.Body.Close()
	b, err := io.ReadAll(g.Body)
	must(t, err)
	return string(b)
}

func put(t *testing.T, c *awss3.Client, bucket, key, body string) *awss3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	must(t, err)
	return out
}

// listVersions returns "key@id[ latest][ marker]" for every version.
func listVersions(t *testing.T, c *awss3.Client, bucket string, max int32) []string {
	t.Helper()
	var out []string
	in := &awss3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(max)}
	for pages := 0; ; pages++ {
		if pages > 100 {
			t.Fatal("listing does not end")
		}
		res, err := c.ListObjectVersions(ctx, in)
		must(t, err)
		// The SDK splits versions and markers; rebuild S3's order: by key,
		// newest first.
		type entry struct {
			key, id string
			latest  bool
			marker  bool
			at      time.Time
		}
		var es []entry
		for _, v := range res.Versions {
			es = append(es, entry{*v.Key, *v.VersionId, *v.IsLatest, false, *v.LastModified})
		}
		for _, m := range res.DeleteMarkers {
			es = append(es, entry{*m.Key, *m.VersionId, *m.IsLatest, true, *m.LastModified})
		}
		sortEntries := func(a, b entry) bool {
			if a.key != b.key {
				return a.key < b.key
			}
			return a.at.After(b.at)
		}
		for i := 1; i < len(es); i++ {
			for j := i; j > 0 && sortEntries(es[j], es[j-1]); j-- {
				es[j], es[j-1] = es[j-1], es[j]
			}
		}
		for _, e := range es {
			s := e.key + "@" + e.id
			if e.latest {
				s += " latest"
			}
			if e.marker {
				s += " marker"
			}
			out = append(out, s)
		}
		if !*res.IsTruncated {
			return out
		}
		in.KeyMarker, in.VersionIdMarker = res.NextKeyMarker, res.NextVersionIdMarker
	}
}

func TestE2EVersioning(t *testing.T) { overBoth(t, testE2EVersioning) }

func testE2EVersioning(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("ver")})
	must(t, err)

	// Never versioned: an empty configuration, no version ids.
	gv, err := c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("ver")})
	must(t, err)
	if gv.Status != "" {
		t.Fatalf("never-versioned status %q", gv.Status)
	}
	p := put(t, c, "ver", "k", "null-one")
	if p.VersionId != nil {
		t.Fatalf("unversioned PUT answered x-amz-version-id %q", *p.VersionId)
	}
	put(t, c, "ver", "k", "null-two") // replaces it

	versioningOn(t, c, "ver", types.BucketVersioningStatusEnabled)
	gv, err = c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("ver")})
	must(t, err)
	if gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("status %q", gv.Status)
	}
	v1 := *put(t, c, "ver", "k", "one").VersionId
	v2 := *put(t, c, "ver", "k", "two").VersionId
	if v1 == v2 || v1 == "null" {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	if got := getBody(t, c, &awss3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")}); got != "two" {
		t.Fatalf("latest = %q", got)
	}
	for id, want := range map[string]string{v1: "one", v2: "two", "null": "null-two"} {
		if got := getBody(t, c, &awss3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(id)}); got != want {
			t.Fatalf("version %s = %q, want %q", id, got, want)
		}
		hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(id)})
		must(t, err)
		if *hd.VersionId != id || *hd.ContentLength != int64(len(want)) {
			t.Fatalf("HEAD version %s: %s %d", id, *hd.VersionId, *hd.ContentLength)
		}
	}

	// A delete adds a marker: the key reads as deleted, every version stays.
	d, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")})
	must(t, err)
	if d.DeleteMarker == nil || !*d.DeleteMarker || d.VersionId == nil {
		t.Fatalf("delete: %+v", d)
	}
	marker := *d.VersionId
	resp, b := h.do(t, rawReq{method: "GET", path: "/ver/k"})
	expectError(t, resp, b, 404, "NoSuchKey")
	if resp.Header.Get("X-Amz-Delete-Marker") != "true" || resp.Header.Get("X-Amz-Version-Id") != marker {
		t.Fatalf("GET of a deleted key: headers %v", resp.Header)
	}
	resp, b = h.do(t, rawReq{method: "GET", path: "/ver/k?versionId=" + marker})
	expectError(t, resp, b, 405, "MethodNotAllowed")
	if resp.Header.Get("X-Amz-Delete-Marker") != "true" || resp.Header.Get("Last-Modified") == "" {
		t.Fatalf("GET of a delete marker by id: headers %v", resp.Header)
	}
	resp, _ = h.do(t, rawReq{method: "HEAD", path: "/ver/k?versionId=" + marker})
	if resp.StatusCode != 405 || resp.Header.Get("X-Amz-Delete-Marker") != "true" {
		t.Fatalf("HEAD of a delete marker: %d %v", resp.StatusCode, resp.Header)
	}
	want := []string{"k@" + marker + " latest marker", "k@" + v2, "k@" + v1, "k@null"}
	for _, max := range []int32{1, 2, 1000} {
		if got := listVersions(t, c, "ver", max); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("versions (pages of %d) = %q, want %q", max, got, want)
		}
	}
	// ListObjects shows only keys whose latest version is an artifact.
	lo, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("ver")})
	must(t, err)
	if len(lo.Contents) != 0 {
		t.Fatalf("deleted key listed: %+v", lo.Contents)
	}
	// Removing the marker brings the key back.
	d, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(marker)})
	must(t, err)
	if d.DeleteMarker == nil || !*d.DeleteMarker || *d.VersionId != marker {
		t.Fatalf("delete of the marker: %+v", d)
	}
	if got := getBody(t, c, &awss3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")}); got != "two" {
		t.Fatalf("after removing the marker: %q", got)
	}
	// Deleting a version removes it and its bytes.
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(v2)})
	must(t, err)
	if got := getBody(t, c, &awss3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")}); got != "one" {
		t.Fatalf("after deleting the latest version: %q", got)
	}
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(v2)})
	wantCode(t, err, "NoSuchVersion")
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String("not-a-version")})
	wantCode(t, err, "InvalidArgument")
	// A missing version deletes like a missing key.
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(v2)})
	must(t, err)

	// Suspended: writes make the null version, replacing the one there.
	versioningOn(t, c, "ver", types.BucketVersioningStatusSuspended)
	p = put(t, c, "ver", "k", "suspended")
	if p.VersionId == nil || *p.VersionId != "null" {
		t.Fatalf("suspended PUT version %v", p.VersionId)
	}
	want = []string{"k@null latest", "k@" + v1}
	if got := listVersions(t, c, "ver", 1000); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("after a suspended write: %q, want %q", got, want)
	}
	// Copying an old version makes it the latest again.
	cp, err := c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"),
		CopySource: aws.String("ver/k?versionId=" + v1)})
	must(t, err)
	if cp.CopySourceVersionId == nil || *cp.CopySourceVersionId != v1 {
		t.Fatalf("copy source version %v", cp.CopySourceVersionId)
	}
	if got := getBody(t, c, &awss3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k")}); got != "one" {
		t.Fatalf("after copying %s: %q", v1, got)
	}

	// Multipart completion makes a version; DeleteObjects takes versions.
	versioningOn(t, c, "ver", types.BucketVersioningStatusEnabled)
	cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("ver"), Key: aws.String("mp")})
	must(t, err)
	up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("ver"), Key: aws.String("mp"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
	must(t, err)
	done, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("ver"), Key: aws.String("mp"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}})
	must(t, err)
	if done.VersionId == nil || *done.VersionId == "null" {
		t.Fatalf("completion version %v", done.VersionId)
	}
	mp1 := *done.VersionId
	mp2 := *put(t, c, "ver", "mp", "plain").VersionId
	do, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("ver"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("mp"), VersionId: aws.String(mp1)}, {Key: aws.String("mp")}, {Key: aws.String("gone"), VersionId: aws.String("bogus")}}}})
	must(t, err)
	if len(do.Deleted) != 2 || len(do.Errors) != 1 || *do.Errors[0].Code != "InvalidArgument" {
		t.Fatalf("DeleteObjects %+v %+v", do.Deleted, do.Errors)
	}
	var markerID string
	for _, e := range do.Deleted {
		switch {
		case e.VersionId != nil && *e.VersionId == mp1:
			if e.DeleteMarker != nil && *e.DeleteMarker {
				t.Fatalf("deleting a version reported a marker: %+v", e)
			}
		case e.VersionId == nil:
			if e.DeleteMarker == nil || !*e.DeleteMarker || e.DeleteMarkerVersionId == nil {
				t.Fatalf("plain delete in a versioned bucket: %+v", e)
			}
			markerID = *e.DeleteMarkerVersionId
		default:
			t.Fatalf("unexpected deleted entry %+v", e)
		}
	}
	want = []string{"mp@" + markerID + " latest marker", "mp@" + mp2}
	got := listVersions(t, c, "ver", 1000)
	if strings.Join(got[len(got)-2:], ",") != strings.Join(want, ",") {
		t.Fatalf("mp versions %q, want suffix %q", got, want)
	}

	// A versioned bucket with versions is not empty.
	_, err = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("ver")})
	wantCode(t, err, "BucketNotEmpty")

	// Bad input changes nothing.
	before := listVersions(t, c, "ver", 1000)
	for _, body := range []string{"<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>", "<Versioning", ""} {
		resp, b := h.do(t, rawReq{method: "PUT", path: "/ver?versioning", body: []byte(body)})
		expectError(t, resp, b, 400, "MalformedXML")
	}
	resp, b = h.do(t, rawReq{method: "PUT", path: "/ver?versioning",
		body: []byte("<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>")})
	expectError(t, resp, b, 501, "NotImplemented")
	if !strings.Contains(string(b), "MFA") {
		t.Fatalf("MFA refusal does not say why: %s", b)
	}
	resp, b = h.do(t, rawReq{method: "GET", path: "/ver?versions&version-id-marker=x"})
	expectError(t, resp, b, 400, "InvalidArgument")
	resp, b = h.do(t, rawReq{method: "GET", path: "/ver?versions&key-marker=k&version-id-marker=bogus"})
	expectError(t, resp, b, 400, "InvalidArgument")
	if after := listVersions(t, c, "ver", 1000); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Fatalf("bad input changed versions:\n%q\n%q", before, after)
	}
	gv, err = c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("ver")})
	must(t, err)
	if gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("bad input changed the status to %q", gv.Status)
	}
	// A version id of another bucket does not name anything here.
	_, err = c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("other")})
	must(t, err)
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("other"), Key: aws.String("k"), VersionId: aws.String(v1)})
	wantCode(t, err, "NoSuchVersion")
}

func TestE2EVersionListingPrefixesAndEncoding(t *testing.T) {
	overBoth(t, testE2EVersionListingPrefixesAndEncoding)
}

func testE2EVersionListingPrefixesAndEncoding(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("lvs")})
	must(t, err)
	versioningOn(t, c, "lvs", types.BucketVersioningStatusEnabled)
	for _, k := range []string{"a/1", "a/2", "b", "c d"} {
		put(t, c, "lvs", k, "x")
		put(t, c, "lvs", k, "y")
	}
	res, err := c.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String("lvs"), Delimiter: aws.String("/")})
	must(t, err)
	if len(res.CommonPrefixes) != 1 || *res.CommonPrefixes[0].Prefix != "a/" || len(res.Versions) != 4 {
		t.Fatalf("delimited listing: %d prefixes, %d versions", len(res.CommonPrefixes), len(res.Versions))
	}
	resp, b := h.do(t, rawReq{method: "GET", path: "/lvs?versions&prefix=c&encoding-type=url"})
	expectOK(t, resp, b)
	if !bytes.Contains(b, []byte("<Key>c+d</Key>")) || !bytes.Contains(b, []byte("<EncodingType>url</EncodingType>")) {
		t.Fatalf("url-encoded listing: %s", b)
	}
}

func md5b64(b []byte) string {
	s := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(s[:])
}

func TestE2ETags(t *testing.T) { overBoth(t, testE2ETags) }

func testE2ETags(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("tags")})
	must(t, err)
	versioningOn(t, c, "tags", types.BucketVersioningStatusEnabled)
	p, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("k"), Body: strings.NewReader("v"),
		Tagging: aws.String("project=blue&team=x%20y")})
	must(t, err)
	v1 := *p.VersionId
	hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	must(t, err)
	resp, _ := h.do(t, rawReq{method: "HEAD", path: "/tags/k"})
	if resp.Header.Get("X-Amz-Tagging-Count") != "2" || hd.ETag == nil {
		t.Fatalf("tagging count %q", resp.Header.Get("X-Amz-Tagging-Count"))
	}
	gt, err := c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	must(t, err)
	if len(gt.TagSet) != 2 || *gt.TagSet[1].Key != "team" || *gt.TagSet[1].Value != "x y" || *gt.VersionId != v1 {
		t.Fatalf("tags %+v", gt.TagSet)
	}
	// Tags belong to a version.
	v2 := *put(t, c, "tags", "k", "w").VersionId
	_, err = c.PutObjectTagging(ctx, &awss3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("only"), Value: aws.String("v2")}}}})
	must(t, err)
	gt, err = c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: aws.String(v1)})
	must(t, err)
	if len(gt.TagSet) != 2 {
		t.Fatalf("v1 tags changed: %+v", gt.TagSet)
	}
	gt, err = c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: aws.String(v2)})
	must(t, err)
	if len(gt.TagSet) != 1 || *gt.TagSet[0].Value != "v2" {
		t.Fatalf("v2 tags %+v", gt.TagSet)
	}
	_, err = c.DeleteObjectTagging(ctx, &awss3.DeleteObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: aws.String(v1)})
	must(t, err)
	gt, err = c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: aws.String(v1)})
	must(t, err)
	if len(gt.TagSet) != 0 {
		t.Fatalf("deleted tags still there: %+v", gt.TagSet)
	}
	// Copy keeps the tags, or replaces them.
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("tags"), Key: aws.String("c1"), CopySource: aws.String("tags/k")})
	must(t, err)
	_, err = c.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("tags"), Key: aws.String("c2"), CopySource: aws.String("tags/k"),
		TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String("new=1")})
	must(t, err)
	for key, want := range map[string]string{"c1": "only=v2", "c2": "new=1"} {
		gt, err = c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String(key)})
		must(t, err)
		if len(gt.TagSet) != 1 || *gt.TagSet[0].Key+"="+*gt.TagSet[0].Value != want {
			t.Fatalf("%s tags %+v, want %s", key, gt.TagSet, want)
		}
	}
	// Multipart uploads take x-amz-tagging at creation.
	cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("tags"), Key: aws.String("mp"), Tagging: aws.String("mp=1")})
	must(t, err)
	up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("tags"), Key: aws.String("mp"), UploadId: cr.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("part")})
	must(t, err)
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("tags"), Key: aws.String("mp"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}})
	must(t, err)
	gt, err = c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("mp")})
	must(t, err)
	if len(gt.TagSet) != 1 || *gt.TagSet[0].Key != "mp" {
		t.Fatalf("multipart tags %+v", gt.TagSet)
	}

	// Bucket tags.
	_, err = c.GetBucketTagging(ctx, &awss3.GetBucketTaggingInput{Bucket: aws.String("tags")})
	wantCode(t, err, "NoSuchTagSet")
	_, err = c.PutBucketTagging(ctx, &awss3.PutBucketTaggingInput{Bucket: aws.String("tags"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("cost-center"), Value: aws.String("42")}}}})
	must(t, err)
	bt, err := c.GetBucketTagging(ctx, &awss3.GetBucketTaggingInput{Bucket: aws.String("tags")})
	must(t, err)
	if len(bt.TagSet) != 1 || *bt.TagSet[0].Value != "42" {
		t.Fatalf("bucket tags %+v", bt.TagSet)
	}

	// S3's limits, each InvalidTag (or MalformedXML), changing nothing.
	tagXML := func(n int, key func(int) string, val string) []byte {
		var sb strings.Builder
		sb.WriteString("<Tagging><TagSet>")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&sb, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", key(i), val)
		}
		sb.WriteString("</TagSet></Tagging>")
		return []byte(sb.String())
	}
	seq := func(i int) string { return fmt.Sprintf("k%d", i) }
	same := func(int) string { return "dup" }
	long := func(int) string { return strings.Repeat("k", 129) }
	for _, tc := range []struct {
		path string
		body []byte
		code string
	}{
		{"/tags/k?tagging", tagXML(11, seq, "v"), "InvalidTag"},
		{"/tags/k?tagging", tagXML(2, same, "v"), "InvalidTag"},
		{"/tags/k?tagging", tagXML(1, long, "v"), "InvalidTag"},
		{"/tags/k?tagging", tagXML(1, seq, strings.Repeat("v", 257)), "InvalidTag"},
		{"/tags/k?tagging", tagXML(1, seq, "bad#chars*"), "InvalidTag"},
		{"/tags/k?tagging", tagXML(1, func(int) string { return "aws:x" }, "v"), "InvalidTag"},
		{"/tags/k?tagging", []byte("<Tagging><TagSet><Tag><Key>a</Key>"), "MalformedXML"},
		{"/tags?tagging", tagXML(51, seq, "v"), "InvalidTag"},
	} {
		resp, b := h.do(t, rawReq{method: "PUT", path: tc.path, body: tc.body})
		expectError(t, resp, b, 400, tc.code)
	}
	gt, err = c.GetObjectTagging(ctx, &awss3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	must(t, err)
	if len(gt.TagSet) != 1 || *gt.TagSet[0].Key != "only" {
		t.Fatalf("refused tag sets changed the tags: %+v", gt.TagSet)
	}
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("bad"), Body: strings.NewReader("v"),
		Tagging: aws.String(strings.Repeat("a=b&", 11))})
	wantCode(t, err, "InvalidTag")
	h.absent(t, "tags", "bad")
	_, err = c.DeleteBucketTagging(ctx, &awss3.DeleteBucketTaggingInput{Bucket: aws.String("tags")})
	must(t, err)
	_, err = c.GetBucketTagging(ctx, &awss3.GetBucketTaggingInput{Bucket: aws.String("tags")})
	wantCode(t, err, "NoSuchTagSet")
}

// TestE2EObjectLockAsVeeamUsesIt follows how backup software uses a
// bucket: lock enabled at creation, every object written with a COMPLIANCE
// retain-until date; until the date passes nothing removes a version
// (plain delete only adds a marker; by version, batch, bypass, suspending
// versioning all fail), then everything can go. The metastore's clock is
// injected: no sleeps.
func TestE2EObjectLockAsVeeamUsesIt(t *testing.T) { overBoth(t, testE2EObjectLockAsVeeamUsesIt) }

func testE2EObjectLockAsVeeamUsesIt(t *testing.T, secure bool) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := newHarnessNode(t, nodetest.Options{MetaNow: clock}, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("veeam"), ObjectLockEnabledForBucket: aws.Bool(true)})
	must(t, err)
	gv, err := c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("veeam")})
	must(t, err)
	if gv.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("lock-enabled bucket versioning %q", gv.Status)
	}
	lc, err := c.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String("veeam")})
	must(t, err)
	if lc.ObjectLockConfiguration.ObjectLockEnabled != types.ObjectLockEnabledEnabled || lc.ObjectLockConfiguration.Rule != nil {
		t.Fatalf("lock configuration %+v", lc.ObjectLockConfiguration)
	}
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	var ids []string
	for i := 0; i < 3; i++ {
		out, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("veeam"), Key: aws.String(fmt.Sprintf("blk%d", i)),
			Body: strings.NewReader(fmt.Sprintf("block %d", i)), ObjectLockMode: types.ObjectLockModeCompliance,
			ObjectLockRetainUntilDate: aws.Time(until), ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
		must(t, err)
		ids = append(ids, *out.VersionId)
	}
	gr, err := c.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String("veeam"), Key: aws.String("blk0")})
	must(t, err)
	if gr.Retention.Mode != types.ObjectLockRetentionModeCompliance || !gr.Retention.RetainUntilDate.Equal(until) {
		t.Fatalf("retention %+v", gr.Retention)
	}
	hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("veeam"), Key: aws.String("blk0")})
	must(t, err)
	if hd.ObjectLockMode != types.ObjectLockModeCompliance || !hd.ObjectLockRetainUntilDate.Equal(until) {
		t.Fatalf("HEAD lock headers %q %v", hd.ObjectLockMode, hd.ObjectLockRetainUntilDate)
	}
	// Every kind of delete fails until the date.
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("veeam"), Key: aws.String("blk0"), VersionId: aws.String(ids[0])})
	wantCode(t, err, "AccessDenied")
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("veeam"), Key: aws.String("blk0"), VersionId: aws.String(ids[0]),
		BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, err, "AccessDenied")
	do, err := c.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("veeam"), BypassGovernanceRetention: aws.Bool(true),
		Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("blk1"), VersionId: aws.String(ids[1])}, {Key: aws.String("blk2"), VersionId: aws.String(ids[2])}}}})
	must(t, err)
	if len(do.Errors) != 2 || *do.Errors[0].Code != "AccessDenied" {
		t.Fatalf("batch delete of locked versions: %+v %+v", do.Deleted, do.Errors)
	}
	_, err = c.PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{Bucket: aws.String("veeam"), Key: aws.String("blk0"),
		Retention:                 &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeCompliance, RetainUntilDate: aws.Time(until.Add(-time.Hour))},
		BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, err, "AccessDenied")
	_, err = c.PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{Bucket: aws.String("veeam"), Key: aws.String("blk0"),
		Retention: &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(until.Add(time.Hour))}})
	wantCode(t, err, "AccessDenied")
	_, err = c.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("veeam"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
	wantCode(t, err, "InvalidBucketState")
	// A plain delete adds a marker and removes nothing.
	d, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("veeam"), Key: aws.String("blk0")})
	must(t, err)
	if d.DeleteMarker == nil || !*d.DeleteMarker {
		t.Fatalf("plain delete on a locked key: %+v", d)
	}
	if got := getBody(t, c, &awss3.GetObjectInput{Bucket: aws.String("veeam"), Key: aws.String("blk0"), VersionId: aws.String(ids[0])}); got != "block 0" {
		t.Fatalf("locked version after a delete: %q", got)
	}
	_, err = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("veeam")})
	wantCode(t, err, "BucketNotEmpty")

	// The date passes: every version can go.
	mu.Lock()
	now = until.Add(time.Minute)
	mu.Unlock()
	for i, id := range ids {
		_, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("veeam"), Key: aws.String(fmt.Sprintf("blk%d", i)), VersionId: aws.String(id)})
		must(t, err)
	}
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("veeam"), Key: aws.String("blk0"), VersionId: d.VersionId})
	must(t, err)
	_, err = c.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("veeam")})
	must(t, err)
}

func TestE2EGovernanceLegalHoldAndDefaults(t *testing.T) {
	overBoth(t, testE2EGovernanceLegalHoldAndDefaults)
}

func testE2EGovernanceLegalHoldAndDefaults(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("gov"), ObjectLockEnabledForBucket: aws.Bool(true)})
	must(t, err)
	_, err = c.PutObjectLockConfiguration(ctx, &awss3.PutObjectLockConfigurationInput{Bucket: aws.String("gov"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(2)}}}})
	must(t, err)
	lc, err := c.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String("gov")})
	must(t, err)
	if r := lc.ObjectLockConfiguration.Rule; r == nil || r.DefaultRetention.Mode != types.ObjectLockRetentionModeGovernance || *r.DefaultRetention.Days != 2 {
		t.Fatalf("default retention %+v", lc.ObjectLockConfiguration.Rule)
	}
	v := *put(t, c, "gov", "doc", "governed").VersionId
	gr, err := c.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String("gov"), Key: aws.String("doc")})
	must(t, err)
	if gr.Retention.Mode != types.ObjectLockRetentionModeGovernance || time.Until(*gr.Retention.RetainUntilDate) < 47*time.Hour {
		t.Fatalf("default retention applied: %+v", gr.Retention)
	}
	del := func(bypass bool) error {
		in := &awss3.DeleteObjectInput{Bucket: aws.String("gov"), Key: aws.String("doc"), VersionId: aws.String(v)}
		if bypass {
			in.BypassGovernanceRetention = aws.Bool(true)
		}
		_, err := c.DeleteObject(ctx, in)
		return err
	}
	wantCode(t, del(false), "AccessDenied")
	// A legal hold stops even a bypass.
	_, err = c.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: aws.String("gov"), Key: aws.String("doc"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}})
	must(t, err)
	lh, err := c.GetObjectLegalHold(ctx, &awss3.GetObjectLegalHoldInput{Bucket: aws.String("gov"), Key: aws.String("doc")})
	must(t, err)
	if lh.LegalHold.Status != types.ObjectLockLegalHoldStatusOn {
		t.Fatalf("legal hold %q", lh.LegalHold.Status)
	}
	wantCode(t, del(true), "AccessDenied")
	_, err = c.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: aws.String("gov"), Key: aws.String("doc"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOff}})
	must(t, err)
	// A user that is not the tenant's root cannot bypass.
	bob := h.userKey(t, "bob")
	cb := h.client(h.secure, func(o *awss3.Options) { o.Credentials = bob })
	_, err = cb.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("gov"), Key: aws.String("doc"), VersionId: aws.String(v),
		BypassGovernanceRetention: aws.Bool(true)})
	wantCode(t, err, "AccessDenied")
	// The root user can, and shorten the retention first too.
	_, err = c.PutObjectRetention(ctx, &awss3.PutObjectRetentionInput{Bucket: aws.String("gov"), Key: aws.String("doc"),
		Retention:                 &types.ObjectLockRetention{Mode: types.ObjectLockRetentionModeGovernance, RetainUntilDate: aws.Time(time.Now().Add(time.Hour))},
		BypassGovernanceRetention: aws.Bool(true)})
	must(t, err)
	must(t, del(true))

	// Bad input: each gets S3's code and changes nothing.
	v2 := *put(t, c, "gov", "doc2", "x").VersionId
	retention := func(mode, until string) []byte {
		return []byte("<Retention><Mode>" + mode + "</Mode><RetainUntilDate>" + until + "</RetainUntilDate></Retention>")
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		name, path string
		body       []byte
		md5        bool
		status     int
		code       string
	}{
		{"past date", "/gov/doc2?retention", retention("GOVERNANCE", past), true, 400, "InvalidArgument"},
		{"unknown mode", "/gov/doc2?retention", retention("FOREVER", future), true, 400, "MalformedXML"},
		{"no Content-MD5", "/gov/doc2?retention", retention("GOVERNANCE", future), false, 400, "InvalidRequest"},
		{"bad legal hold", "/gov/doc2?legal-hold", []byte("<LegalHold><Status>MAYBE</Status></LegalHold>"), true, 400, "MalformedXML"},
		{"malformed lock config", "/gov?object-lock", []byte("<ObjectLockConfiguration>"), true, 400, "MalformedXML"},
		{"days and years", "/gov?object-lock", []byte("<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>1</Days><Years>1</Years></DefaultRetention></Rule></ObjectLockConfiguration>"), true, 400, "MalformedXML"},
		{"lock off", "/gov?object-lock", []byte("<ObjectLockConfiguration><ObjectLockEnabled>Disabled</ObjectLockEnabled></ObjectLockConfiguration>"), true, 400, "MalformedXML"},
		{"version of another bucket", "/gov/doc2?retention&versionId=00000000000000ff", retention("GOVERNANCE", future), true, 404, "NoSuchVersion"},
	} {
		hdr := http.Header{}
		if tc.md5 {
			hdr.Set("Content-Md5", md5b64(tc.body))
		}
		resp, b := h.do(t, rawReq{method: "PUT", path: tc.path, body: tc.body, hdr: hdr})
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, resp.StatusCode, tc.status, b)
		}
		expectError(t, resp, b, tc.status, tc.code)
	}
	gr, err = c.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String("gov"), Key: aws.String("doc2"), VersionId: aws.String(v2)})
	must(t, err)
	if gr.Retention.Mode != types.ObjectLockRetentionModeGovernance {
		t.Fatalf("bad input changed the retention: %+v", gr.Retention)
	}
	lc, err = c.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String("gov")})
	must(t, err)
	if *lc.ObjectLockConfiguration.Rule.DefaultRetention.Days != 2 {
		t.Fatalf("bad input changed the lock configuration")
	}

	// A bucket without lock: no lock settings, no configuration.
	_, err = c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("plain")})
	must(t, err)
	put(t, c, "plain", "x", "x")
	_, err = c.GetObjectLockConfiguration(ctx, &awss3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")})
	wantCode(t, err, "ObjectLockConfigurationNotFoundError")
	_, err = c.GetObjectRetention(ctx, &awss3.GetObjectRetentionInput{Bucket: aws.String("plain"), Key: aws.String("x")})
	wantCode(t, err, "NoSuchObjectLockConfiguration")
	_, err = c.PutObjectLegalHold(ctx, &awss3.PutObjectLegalHoldInput{Bucket: aws.String("plain"), Key: aws.String("x"),
		LegalHold: &types.ObjectLockLegalHold{Status: types.ObjectLockLegalHoldStatusOn}})
	wantCode(t, err, "InvalidRequest")
	_, err = c.PutObjectLockConfiguration(ctx, &awss3.PutObjectLockConfigurationInput{Bucket: aws.String("plain"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}})
	wantCode(t, err, "InvalidBucketState")
}

// userKey creates a user of the root tenant (not its root user) and
// returns its credentials.
func (h *harness) userKey(t *testing.T, name string) aws.CredentialsProvider {
	t.Helper()
	_, err := h.eng.CreateUser(ctx, "root", name, "")
	must(t, err)
	k, err := h.eng.CreateAccessKey(ctx, "root", name)
	must(t, err)
	return credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.Secret, "")
}

func TestE2EConditionalDeleteAttributesAndParts(t *testing.T) {
	overBoth(t, testE2EConditionalDeleteAttributesAndParts)
}

func testE2EConditionalDeleteAttributesAndParts(t *testing.T, secure bool) {
	h := newHarnessNode(t, nodetest.Options{MinPartSize: 1}, nil).over(secure)
	c := h.client(h.secure)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("attr")})
	must(t, err)

	// Conditional deletes.
	p := put(t, c, "attr", "k", "payload")
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("attr"), Key: aws.String("k"), IfMatch: aws.String(`"00000000000000000000000000000000"`)})
	wantCode(t, err, "PreconditionFailed")
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("attr"), Key: aws.String("missing"), IfMatch: p.ETag})
	wantCode(t, err, "NoSuchKey")
	if getBody(t, c, &awss3.GetObjectInput{Bucket: aws.String("attr"), Key: aws.String("k")}) != "payload" {
		t.Fatal("refused conditional delete removed the object")
	}
	_, err = c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("attr"), Key: aws.String("k"), IfMatch: p.ETag})
	must(t, err)
	h.absent(t, "attr", "k")

	// A multipart artifact: parts by number, attributes with pages of parts.
	bodies := []string{"aaa", "bbbb", "ccccc"}
	cr, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("attr"), Key: aws.String("mp"),
		StorageClass: types.StorageClassStandardIa})
	must(t, err)
	var parts []types.CompletedPart
	for i, b := range bodies {
		up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("attr"), Key: aws.String("mp"), UploadId: cr.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader(b)})
		must(t, err)
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: up.ETag})
	}
	_, err = c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("attr"), Key: aws.String("mp"), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	must(t, err)
	g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("attr"), Key: aws.String("mp"), PartNumber: aws.Int32(2)})
	must(t, err)
	got, _ := io.ReadAll(g.Body)
	g.Body.Close()
	if string(got) != "bbbb" || *g.PartsCount != 3 || *g.ContentRange != "bytes 3-6/12" {
		t.Fatalf("part 2: %q count %d range %s", got, *g.PartsCount, *g.ContentRange)
	}
	hd, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("attr"), Key: aws.String("mp"), PartNumber: aws.Int32(3)})
	must(t, err)
	if *hd.ContentLength != 5 || hd.StorageClass != types.StorageClassStandardIa {
		t.Fatalf("HEAD part 3: %d bytes, class %q", *hd.ContentLength, hd.StorageClass)
	}
	_, err = c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("attr"), Key: aws.String("mp"), PartNumber: aws.Int32(4)})
	wantCode(t, err, "InvalidPartNumber")
	at, err := c.GetObjectAttributes(ctx, &awss3.GetObjectAttributesInput{Bucket: aws.String("attr"), Key: aws.String("mp"), MaxParts: aws.Int32(2),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesEtag, types.ObjectAttributesObjectParts,
			types.ObjectAttributesObjectSize, types.ObjectAttributesStorageClass}})
	must(t, err)
	if *at.ObjectSize != 12 || at.StorageClass != types.StorageClassStandardIa || !strings.HasSuffix(*at.ETag, "-3") ||
		*at.ObjectParts.TotalPartsCount != 3 || !*at.ObjectParts.IsTruncated || len(at.ObjectParts.Parts) != 2 ||
		*at.ObjectParts.NextPartNumberMarker != "2" || *at.ObjectParts.Parts[1].Size != 4 {
		t.Fatalf("attributes %+v parts %+v", at, at.ObjectParts)
	}
	at, err = c.GetObjectAttributes(ctx, &awss3.GetObjectAttributesInput{Bucket: aws.String("attr"), Key: aws.String("mp"),
		PartNumberMarker: aws.String("2"), ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesObjectParts}})
	must(t, err)
	if len(at.ObjectParts.Parts) != 1 || *at.ObjectParts.Parts[0].PartNumber != 3 || *at.ObjectParts.IsTruncated {
		t.Fatalf("second page of parts %+v", at.ObjectParts)
	}
	// A single-part artifact with a checksum.
	_, err = c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("attr"), Key: aws.String("one"), Body: strings.NewReader("one"),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256})
	must(t, err)
	at, err = c.GetObjectAttributes(ctx, &awss3.GetObjectAttributesInput{Bucket: aws.String("attr"), Key: aws.String("one"),
		ObjectAttributes: []types.ObjectAttributes{types.ObjectAttributesChecksum, types.ObjectAttributesObjectParts}})
	must(t, err)
	if at.Checksum == nil || at.Checksum.ChecksumSHA256 == nil || at.ObjectParts != nil {
		t.Fatalf("single-part attributes %+v", at)
	}
	resp, b := h.do(t, rawReq{method: "GET", path: "/attr/one?attributes"})
	expectError(t, resp, b, 400, "InvalidRequest")
	resp, b = h.do(t, rawReq{method: "GET", path: "/attr/one?attributes", hdr: http.Header{"X-Amz-Object-Attributes": {"Color"}}})
	expectError(t, resp, b, 400, "InvalidArgument")
	lo, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("attr")})
	must(t, err)
	classes := map[string]types.ObjectStorageClass{}
	for _, o := range lo.Contents {
		classes[*o.Key] = o.StorageClass
	}
	if classes["mp"] != types.ObjectStorageClassStandardIa || classes["one"] != types.ObjectStorageClassStandard {
		t.Fatalf("listed classes %v", classes)
	}
}
