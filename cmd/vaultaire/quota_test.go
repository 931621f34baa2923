package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/tenancy"
)

// newTenantKey creates tenant with one user and returns its access key.
func (a *adminServer) newTenantKey(t *testing.T, tenant string) (string, string) {
	t.Helper()
	a.cli(t, 0, "tenant", "create", tenant)
	a.cli(t, 0, "user", "create", tenant, "u1")
	var k struct {
		AccessKeyID string `json:"access_key_id"`
		SecretKey   string `json:"secret_key"`
	}
	out := a.cli(t, 0, "--json", "key", "create", tenant, "u1")
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("key create: %q: %v", out, err)
	}
	return k.AccessKeyID, k.SecretKey
}

// usageCLI runs `vaultaire usage` and returns stdout and stderr.
func (a *adminServer) usageCLI(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	stdout, stderr, code := runCLI(t, []string{"VAULTAIRE_ADMIN_TOKEN="}, append([]string{"usage", "export", "--endpoint", "http://" + a.admin, "--data", a.dir}, args...)...)
	if code != want {
		t.Fatalf("vaultaire usage %v: exit %d, want %d\n%s%s", args, code, want, stdout, stderr)
	}
	return stdout, stderr
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// TestQuotasEndToEnd drives quotas through the admin CLI and the AWS SDK
// on a real server: refusals at the exact boundary with 403
// QuotaExceeded, overwrites counting the difference, deletes freeing,
// multipart parts counting, container quotas, and audit events.
func TestQuotasEndToEnd(t *testing.T) {
	a := startAdminServer(t)
	ctx := context.Background()
	key, secret := a.newTenantKey(t, "acme")
	c := a.client(key, secret)
	bucket := aws.String("photos")
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	out := a.cli(t, 0, "tenant", "set-quota", "acme", "--max-bytes", "100", "--max-artifacts", "10")
	if !strings.Contains(out, "quota bytes") || !strings.Contains(out, "100") {
		t.Errorf("set-quota output:\n%s", out)
	}
	put := func(k string, n int) error {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: bytes.NewReader(bytes.Repeat([]byte("x"), n))})
		return err
	}
	wantQuota := func(err error, what string) {
		t.Helper()
		if s3Code(err) != "QuotaExceeded" || httpStatus(err) != http.StatusForbidden {
			t.Fatalf("%s: %v (code %s, status %d), want 403 QuotaExceeded", what, err, s3Code(err), httpStatus(err))
		}
	}
	if err := put("a", 60); err != nil {
		t.Fatal(err)
	}
	if err := put("b", 40); err != nil { // exactly at the quota
		t.Fatalf("put to exactly the quota: %v", err)
	}
	wantQuota(put("c", 1), "one byte over")
	wantQuota(put("a", 61), "overwrite one byte bigger")
	if err := put("a", 59); err != nil {
		t.Fatalf("shrinking overwrite: %v", err)
	}
	if err := put("c", 1); err != nil {
		t.Fatalf("put into the freed byte: %v", err)
	}
	// A big PUT over the quota is refused before its body is read.
	wantQuota(put("big", 1<<20), "1 MiB over quota")
	// Multipart parts count too.
	mu, err := c.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: bucket, Key: aws.String("mp")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: bucket, Key: aws.String("mp"), UploadId: mu.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("x")})
	wantQuota(err, "upload part over quota")
	// A delete frees.
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: bucket, Key: aws.String("b")}); err != nil {
		t.Fatal(err)
	}
	up, err := c.UploadPart(ctx, &awss3.UploadPartInput{Bucket: bucket, Key: aws.String("mp"), UploadId: mu.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader(strings.Repeat("p", 40))})
	if err != nil {
		t.Fatalf("upload part after delete: %v", err)
	}
	wantQuota(put("b", 1), "put while parts hold the space")
	if _, err := c.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: bucket, Key: aws.String("mp"), UploadId: mu.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: up.ETag}}}}); err != nil {
		t.Fatalf("complete within quota: %v", err)
	}
	// The raw answer: 403, QuotaExceeded, a message naming the quota.
	pre, err := awss3.NewPresignClient(c).PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: bucket, Key: aws.String("raw")})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPut, pre.URL, strings.NewReader("z"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>QuotaExceeded</Code>") || !strings.Contains(string(body), "bytes quota 100") {
		t.Fatalf("raw over-quota PUT: %d %s", resp.StatusCode, body)
	}
	out = a.cli(t, 0, "tenant", "limits", "acme")
	if !strings.Contains(out, "stored bytes") || !strings.Contains(out, "100 (+0") {
		t.Errorf("tenant limits:\n%s", out)
	}

	// Container quota: artifact count.
	a.cli(t, 0, "tenant", "set-quota", "acme", "--max-bytes", "0") // unlimited again
	a.cli(t, 0, "container", "set-quota", "acme", "photos", "--max-artifacts", "3")
	wantQuota(put("d", 1), "fourth artifact in the container")
	if err := put("a", 500); err != nil {
		t.Fatalf("overwrite under the container's artifact quota: %v", err)
	}
	out = a.cli(t, 0, "container", "quota", "acme", "photos")
	if !strings.Contains(out, "photos") || !strings.Contains(out, "unlimited") {
		t.Errorf("container quota:\n%s", out)
	}
	a.cli(t, 1, "container", "quota", "acme", "nope")
	a.cli(t, 2, "tenant", "set-quota", "acme")
	a.cli(t, 2, "tenant", "set-quota", "acme", "--max-bytes", "lots")
	if st, m := a.call(t, "PUT", "/admin/v1/tenants/acme/quota", a.token, strings.NewReader(`{"max_bytes":-1}`)); st != 400 {
		t.Errorf("negative quota: %d %v", st, m)
	}
	if st, _ := a.call(t, "PUT", "/admin/v1/tenants/nope/quota", a.token, strings.NewReader(`{"max_bytes":1}`)); st != 404 {
		t.Errorf("quota of unknown tenant: %d", st)
	}

	// Every admin action is an audit event.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(a.audit)
		if strings.Contains(string(b), `"SetTenantQuota"`) && strings.Contains(string(b), `"SetContainerQuota"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("quota changes not audited:\n%s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRateOverrideAndUsageExport checks a per-tenant rate override in
// the X-RateLimit-Limit header, and the usage export (CSV and JSON, with
// GB-months) after traffic and after a restart.
func TestRateOverrideAndUsageExport(t *testing.T) {
	a := startAdminServer(t)
	ctx := context.Background()
	key, secret := a.newTenantKey(t, "acme")
	c := a.client(key, secret)
	bucket := aws.String("logs")
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: bucket}); err != nil {
		t.Fatal(err)
	}
	limitOf := func() string {
		t.Helper()
		pre, err := awss3.NewPresignClient(c).PresignHeadBucket(ctx, &awss3.HeadBucketInput{Bucket: bucket})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodHead, pre.URL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-RateLimit-Limit")
	}
	if got := limitOf(); got != "200" {
		t.Fatalf("default X-RateLimit-Limit %q, want 200", got)
	}
	out := a.cli(t, 0, "tenant", "set-limits", "acme", "--rps", "50", "--burst", "37")
	if !strings.Contains(out, "50/s, burst 37") {
		t.Errorf("set-limits output:\n%s", out)
	}
	if got := limitOf(); got != "37" {
		t.Fatalf("X-RateLimit-Limit after override %q, want 37", got)
	}
	var lim admin.Limits
	if err := json.Unmarshal([]byte(a.cli(t, 0, "--json", "tenant", "limits", "acme")), &lim); err != nil || !lim.RateOverride || lim.Burst != 37 {
		t.Fatalf("limits JSON %+v: %v", lim, err)
	}
	a.cli(t, 0, "tenant", "set-limits", "acme", "--default")
	if got := limitOf(); got != "200" {
		t.Fatalf("X-RateLimit-Limit after --default %q, want 200", got)
	}

	// Traffic: 3 PUTs of 1000 bytes (class A), 2 GETs (class B).
	for _, k := range []string{"a", "b", "c"} {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: bucket, Key: aws.String(k), Body: bytes.NewReader(make([]byte, 1000))}); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := getObject(ctx, c, "logs", "a"); err != nil {
			t.Fatal(err)
		}
	}
	csvOut, summary := a.usageCLI(t, 0, "--tenant", "acme")
	hours, err := tenancy.ReadCSV(strings.NewReader(csvOut))
	if err != nil {
		t.Fatalf("usage CSV: %v\n%s", err, csvOut)
	}
	sum := func(hs []tenancy.Hour) (h tenancy.Hour) {
		for _, x := range hs {
			h.IngressBytes += x.IngressBytes
			h.EgressBytes += x.EgressBytes
			h.ClassA += x.ClassA
			h.ClassB += x.ClassB
			h.StoredBytes = max(h.StoredBytes, x.StoredBytes)
		}
		return h
	}
	before := sum(hours)
	// CreateBucket + 3 PUTs are class A; 2 GETs and the 3 presigned HEADs class B.
	if before.ClassA != 4 || before.ClassB != 5 || before.IngressBytes < 3000 || before.EgressBytes < 2000 || before.StoredBytes != 3000 {
		t.Fatalf("usage after traffic = %+v\n%s", before, csvOut)
	}
	if !strings.Contains(summary, "GB-months") {
		t.Errorf("CSV export summary: %q", summary)
	}

	// One more request, reported only by the shutdown flush.
	if _, err := getObject(ctx, c, "logs", "b"); err != nil {
		t.Fatal(err)
	}
	a.stop(t)
	a.server = startServer(t, a.dir, nil, "--admin-address", a.admin, "--audit-file", a.audit)
	waitAdmin(t, a.admin)

	jsonOut, _ := a.usageCLI(t, 0, "--tenant", "acme", "--format", "json", "--from", time.Now().UTC().Format(time.DateOnly))
	var u admin.Usage
	if err := json.Unmarshal([]byte(jsonOut), &u); err != nil {
		t.Fatalf("usage JSON: %v\n%s", err, jsonOut)
	}
	after := sum(u.Hours)
	if after.ClassB != before.ClassB+1 || after.ClassA != before.ClassA || after.StoredBytes != 3000 {
		t.Fatalf("usage after restart = %+v, before %+v", after, before)
	}
	if want := tenancy.GBMonths(u.Hours); u.GBMonths != want || u.GBMonths <= 0 {
		t.Fatalf("gb_months %v, want %v > 0", u.GBMonths, want)
	}
	if u.Totals.ClassB != after.ClassB {
		t.Fatalf("totals %+v", u.Totals)
	}
	// The monthly egress quota: refused once the recorded egress reached it.
	c = a.client(key, secret) // the restarted server listens elsewhere
	a.cli(t, 0, "tenant", "set-quota", "acme", "--max-egress", "1K")
	if _, err := getObject(ctx, c, "logs", "a"); s3Code(err) != "QuotaExceeded" || httpStatus(err) != 403 {
		t.Fatalf("GET over the egress quota: %v", err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: bucket, Key: aws.String("d"), Body: strings.NewReader("writes still pass")}); err != nil {
		t.Fatalf("PUT with egress used up: %v", err)
	}
	a.cli(t, 0, "tenant", "set-quota", "acme", "--max-egress", "0")
	if _, err := getObject(ctx, c, "logs", "a"); err != nil {
		t.Fatalf("GET after lifting the egress quota: %v", err)
	}
	a.usageCLI(t, 2, "--format", "xml", "--tenant", "acme")
	a.usageCLI(t, 1, "--tenant", "nope")
	a.usageCLI(t, 1, "--tenant", "acme", "--from", "yesterday")
}
