package s3_test

import (
	"bytes"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// classTiers serves the storage classes it lists, as the tiers work's
// resolver will (node.TierResolver).
type classTiers map[string]string

func (c classTiers) TierForClass(class string) (string, bool) {
	t, ok := c[class]
	return t, ok
}

func TestE2ELifecycleConfiguration(t *testing.T) {
	h := newHarness(t, nil)
	cl := h.client(false)
	h.bucket(t, "lcfg")

	_, err := cl.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcfg")})
	wantCode(t, err, "NoSuchLifecycleConfiguration")

	rules := []types.LifecycleRule{
		{ID: aws.String("old-logs"), Status: types.ExpirationStatusEnabled,
			Filter:     &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(30)}},
		{ID: aws.String("uploads"), Status: types.ExpirationStatusEnabled,
			Filter:                         &types.LifecycleRuleFilter{Prefix: aws.String("")},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(2)},
			NoncurrentVersionExpiration:    &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(7), NewerNoncurrentVersions: aws.Int32(3)}},
		{ID: aws.String("big-tagged"), Status: types.ExpirationStatusDisabled,
			Filter: &types.LifecycleRuleFilter{And: &types.LifecycleRuleAndOperator{
				Prefix: aws.String("data/"), Tags: []types.Tag{{Key: aws.String("class"), Value: aws.String("tmp")}},
				ObjectSizeGreaterThan: aws.Int64(1 << 20)}},
			Expiration: &types.LifecycleExpiration{Date: aws.Time(time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC))}},
	}
	_, err = cl.PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String("lcfg"), LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	})
	must(t, err)
	got, err := cl.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcfg")})
	must(t, err)
	if len(got.Rules) != 3 || aws.ToString(got.Rules[0].ID) != "old-logs" || aws.ToInt32(got.Rules[0].Expiration.Days) != 30 ||
		aws.ToInt32(got.Rules[1].AbortIncompleteMultipartUpload.DaysAfterInitiation) != 2 ||
		aws.ToInt32(got.Rules[1].NoncurrentVersionExpiration.NewerNoncurrentVersions) != 3 ||
		got.Rules[2].Status != types.ExpirationStatusDisabled || aws.ToInt64(got.Rules[2].Filter.And.ObjectSizeGreaterThan) != 1<<20 ||
		!aws.ToTime(got.Rules[2].Expiration.Date).Equal(time.Date(2031, 3, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("GET answered %+v", got.Rules)
	}

	// HEAD and GET of an artifact a rule expires say when and by which
	// rule; others say nothing.
	_, err = cl.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("lcfg"), Key: aws.String("logs/a"), Body: strings.NewReader("x")})
	must(t, err)
	_, err = cl.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("lcfg"), Key: aws.String("keep"), Body: strings.NewReader("x")})
	must(t, err)
	head, err := cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("lcfg"), Key: aws.String("logs/a")})
	must(t, err)
	want := time.Now().UTC().Add(30 * 24 * time.Hour).Truncate(24 * time.Hour).Add(24 * time.Hour)
	exp := aws.ToString(head.Expiration)
	if !strings.Contains(exp, `rule-id="old-logs"`) || !strings.Contains(exp, want.Format(http.TimeFormat)) {
		t.Fatalf("x-amz-expiration = %q, want the rule and %s", exp, want.Format(http.TimeFormat))
	}
	g, err := cl.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("lcfg"), Key: aws.String("logs/a")})
	must(t, err)
	g.Body.Close()
	if aws.ToString(g.Expiration) != exp {
		t.Fatalf("GET x-amz-expiration = %q, HEAD said %q", aws.ToString(g.Expiration), exp)
	}
	head, err = cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("lcfg"), Key: aws.String("keep")})
	must(t, err)
	if head.Expiration != nil {
		t.Fatalf("an artifact no rule expires has x-amz-expiration %q", aws.ToString(head.Expiration))
	}

	// A transition needs a tier serving its storage class.
	trans := []types.LifecycleRule{{ID: aws.String("cold"), Status: types.ExpirationStatusEnabled,
		Filter:      &types.LifecycleRuleFilter{Prefix: aws.String("")},
		Transitions: []types.Transition{{Days: aws.Int32(30), StorageClass: types.TransitionStorageClassGlacier}}}}
	_, err = cl.PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String("lcfg"), LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: trans},
	})
	wantCode(t, err, "InvalidArgument")
	if !strings.Contains(err.Error(), "no tier is configured for storage class GLACIER") {
		t.Fatalf("refusal without the reason: %v", err)
	}
	h.eng.SetTierResolver(classTiers{"GLACIER": "lyve"})
	_, err = cl.PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String("lcfg"), LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: trans},
	})
	must(t, err)

	_, err = cl.DeleteBucketLifecycle(ctx, &awss3.DeleteBucketLifecycleInput{Bucket: aws.String("lcfg")})
	must(t, err)
	_, err = cl.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("lcfg")})
	wantCode(t, err, "NoSuchLifecycleConfiguration")
	head, err = cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("lcfg"), Key: aws.String("logs/a")})
	must(t, err)
	if head.Expiration != nil {
		t.Fatalf("x-amz-expiration %q after the rules were deleted", aws.ToString(head.Expiration))
	}
	_, err = cl.PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String("nobucket"), LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
	})
	wantCode(t, err, "NoSuchBucket")
}

func TestE2ELifecycleBadInput(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "lcbad")
	const good = `<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days></Expiration></Rule></LifecycleConfiguration>`
	for _, tc := range []struct {
		name   string
		rr     rawReq
		status int
		code   string
	}{
		{"malformed", rawReq{body: []byte("<LifecycleConfiguration><Rule>")}, 400, "MalformedXML"},
		{"empty", rawReq{}, 400, "MalformedXML"},
		{"days and date", rawReq{body: []byte(`<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><Days>1</Days><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>`)}, 400, "MalformedXML"},
		{"date not midnight", rawReq{body: []byte(`<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status><Expiration><Date>2030-01-01T01:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>`)}, 400, "InvalidArgument"},
		{"no action", rawReq{body: []byte(`<LifecycleConfiguration><Rule><Filter/><Status>Enabled</Status></Rule></LifecycleConfiguration>`)}, 400, "InvalidRequest"},
		{"oversized", rawReq{body: append([]byte("<LifecycleConfiguration>"), bytes.Repeat([]byte("<Rule></Rule>"), 200000)...)}, 400, "MaxMessageLengthExceeded"},
		{"unsigned", rawReq{body: []byte(good), unsigned: true}, 403, "AccessDenied"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := tc.rr
			rr.method, rr.path = "PUT", "/lcbad?lifecycle"
			resp, body := h.do(t, rr)
			expectError(t, resp, body, tc.status, tc.code)
		})
	}
	// A body cut short: the client stops sending before Content-Length.
	req := h.signReq(t, rawReq{method: "PUT", path: "/lcbad?lifecycle", body: []byte(good)})
	if out := h.rawHTTP(t, dump(t, req, []byte(good[:20]))); !strings.Contains(out, "400 Bad Request") || !strings.Contains(out, "IncompleteBody") {
		t.Fatalf("truncated body answered %q", out)
	}
	resp, body := h.do(t, rawReq{method: "GET", path: "/lcbad?lifecycle"})
	expectError(t, resp, body, 404, "NoSuchLifecycleConfiguration") // nothing was stored
	resp, body = h.do(t, rawReq{method: "GET", path: "/lcbad?lifecycle", unsigned: true})
	expectError(t, resp, body, 403, "AccessDenied")
	resp, body = h.do(t, rawReq{method: "DELETE", path: "/lcbad?lifecycle", unsigned: true})
	expectError(t, resp, body, 403, "AccessDenied")
}

// TestE2ELifecycleEngine: rules set with the SDK are carried out by the
// engine when days pass (a moved clock, no sleeping): objects expire in a
// plain bucket, a versioned bucket gets a delete marker and loses its old
// versions, and a forgotten multipart upload is aborted.
func TestE2ELifecycleEngine(t *testing.T) {
	var skew atomic.Int64
	clock := func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	h := newHarnessNode(t, nodetest.Options{Now: clock, MetaNow: clock, Tune: func(c *node.Config) { c.LifecycleInterval = -1 }}, nil)
	cl := h.client(false)
	for _, b := range []string{"lcplain", "lcvers"} {
		h.bucket(t, b)
	}
	_, err := cl.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("lcvers"),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	must(t, err)
	putObj := func(b, k, body string) {
		_, err := cl.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(k), Body: strings.NewReader(body)})
		must(t, err)
	}
	putObj("lcplain", "tmp/a", "a")
	putObj("lcplain", "keep", "k")
	putObj("lcvers", "doc", "v1")
	putObj("lcvers", "doc", "v2")
	up, err := cl.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("lcplain"), Key: aws.String("tmp/big")})
	must(t, err)
	_, err = cl.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("lcplain"), Key: aws.String("tmp/big"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: bytes.NewReader(bytes.Repeat([]byte("p"), 1<<20))})
	must(t, err)
	for b, rule := range map[string]types.LifecycleRule{
		"lcplain": {ID: aws.String("tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration:                     &types.LifecycleExpiration{Days: aws.Int32(2)},
			AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(1)}},
		"lcvers": {ID: aws.String("all"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{},
			Expiration:                  &types.LifecycleExpiration{Days: aws.Int32(2)},
			NoncurrentVersionExpiration: &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(1)}},
	} {
		_, err := cl.PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{
			Bucket: aws.String(b), LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{rule}},
		})
		must(t, err)
	}
	head, err := cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("lcplain"), Key: aws.String("tmp/a")})
	must(t, err)
	if !strings.Contains(aws.ToString(head.Expiration), `rule-id="tmp"`) {
		t.Fatalf("x-amz-expiration = %q", aws.ToString(head.Expiration))
	}

	skew.Store(int64(3 * 24 * time.Hour))
	must(t, h.eng.RunLifecycle(ctx))

	_, err = cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("lcplain"), Key: aws.String("tmp/a")})
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("tmp/a after expiry: %v", err)
	}
	_, err = cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("lcplain"), Key: aws.String("keep")})
	must(t, err)
	ups, err := cl.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String("lcplain")})
	must(t, err)
	if len(ups.Uploads) != 0 {
		t.Fatalf("uploads left: %d", len(ups.Uploads))
	}
	vs, err := cl.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String("lcvers")})
	must(t, err)
	// v1 went (noncurrent for 3 days); v2 is hidden by a delete marker.
	if len(vs.Versions) != 1 || len(vs.DeleteMarkers) != 1 || !aws.ToBool(vs.DeleteMarkers[0].IsLatest) {
		t.Fatalf("versions %d, markers %d", len(vs.Versions), len(vs.DeleteMarkers))
	}
}
