package s3_test

import (
	"encoding/xml"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestWrongRegion: a request signed for another region gets
// AuthorizationHeaderMalformed (header form) or
// AuthorizationQueryParametersError (presigned) naming the region the
// server expects in <Region> and x-amz-bucket-region, which SDKs use to
// redirect; nothing is done.
func TestWrongRegion(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "region")
	resp, body := h.do(t, rawReq{method: "PUT", path: "/region/k", body: []byte("x")})
	expectOK(t, resp, body)

	eu := h.client(false, func(o *awss3.Options) { o.Region = "eu-west-1" })
	_, err := eu.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("region"), Key: aws.String("eu")})
	wantCode(t, err, "AuthorizationHeaderMalformed")
	h.absent(t, "region", "eu")

	req := h.signReq(t, rawReq{method: "GET", path: "/region/k"})
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
	resp, body = h.doVia(t, req)
	expectError(t, resp, body, 400, "AuthorizationHeaderMalformed")
	var eb struct {
		Message string `xml:"Message"`
		Region  string `xml:"Region"`
	}
	must(t, xml.Unmarshal(body, &eb))
	if eb.Region != "us-east-1" || resp.Header.Get("X-Amz-Bucket-Region") != "us-east-1" {
		t.Fatalf("region %q / %q in %s", eb.Region, resp.Header.Get("X-Amz-Bucket-Region"), body)
	}
	if eb.Message != "The authorization header is malformed; the region 'eu-west-1' is wrong; expecting 'us-east-1'" {
		t.Fatalf("message %q", eb.Message)
	}

	pc := awss3.NewPresignClient(eu)
	pg, err := pc.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("region"), Key: aws.String("k")})
	must(t, err)
	preq, _ := http.NewRequest("GET", pg.URL, nil)
	resp, body = h.doVia(t, preq)
	expectError(t, resp, body, 400, "AuthorizationQueryParametersError")
	must(t, xml.Unmarshal(body, &eb))
	if eb.Region != "us-east-1" {
		t.Fatalf("presigned region %q", eb.Region)
	}
}
