package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/vaultaire/vaultaire/admin"
)

// Tenancy in a cluster: tenants, users, keys, limits and quotas are
// replicated metadata, so what the admin API of one node changes holds on
// every node.

// tenancyAdmin is node i's admin API as an adminServer, so the admin
// tests' call helper drives it with the cluster's admin token.
func (c *testCluster) tenancyAdmin(i int) *adminServer {
	p := c.nodes[i]
	return &adminServer{server: p.server, admin: p.admin, token: clusterAdminToken}
}

// tenancyCall sends one admin request to node i and fails the test unless
// the answer has status want; it returns the decoded body.
func (c *testCluster) tenancyCall(t *testing.T, i int, method, path, body string, want int) map[string]any {
	t.Helper()
	a := c.tenancyAdmin(i)
	st, m := a.call(t, method, path, a.token, strings.NewReader(body))
	if st != want {
		t.Fatalf("node %d: %s %s %s: %d %v, want %d", i, method, path, body, st, m, want)
	}
	return m
}

// tenancyKey creates an access key for tenant's user through node i.
func (c *testCluster) tenancyKey(t *testing.T, i int, tenant, user string) (string, string) {
	t.Helper()
	m := c.tenancyCall(t, i, "POST", "/admin/v1/tenants/"+tenant+"/users/"+user+"/keys", "", http.StatusCreated)
	key, _ := m["access_key_id"].(string)
	secret, _ := m["secret_key"].(string)
	if key == "" || secret == "" {
		t.Fatalf("key create through node %d: %v", i, m)
	}
	return key, secret
}

// reJSON decodes an admin answer (already decoded into a map) into v.
func reJSON(t *testing.T, m map[string]any, v any) {
	t.Helper()
	b, err := json.Marshal(m)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		t.Fatalf("admin answer %v: %v", m, err)
	}
}

// noRetry is cl without the SDK's retries: every refusal is seen.
func noRetry(cl *awss3.Client) *awss3.Client {
	return awss3.New(cl.Options(), func(o *awss3.Options) { o.Retryer = aws.NopRetryer{} })
}

// responseHeader returns the HTTP response headers behind an SDK answer:
// from the result metadata of a success, or from the error.
func responseHeader(md middleware.Metadata, err error) http.Header {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header
	}
	if r, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok && r != nil {
		return r.Header
	}
	return http.Header{}
}

// rateLimitOf returns the X-RateLimit-Limit header (this node's bucket
// size for the tenant) of a HEAD bucket through cl.
func rateLimitOf(ctx context.Context, cl *awss3.Client, bucket string) (string, error) {
	out, err := noRetry(cl).HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err != nil {
		return "", err
	}
	return responseHeader(out.ResultMetadata, nil).Get("X-RateLimit-Limit"), nil
}

// TestClusterTenancyReplicates drives tenants, users, keys, limits and
// quotas through the admin APIs of different nodes of a 3-node cluster and
// checks that each change holds on every node:
//   - a key created through node 0 works at once through nodes 1 and 2;
//   - a key disabled or deleted through one node is refused
//     (InvalidAccessKeyId) by every node on the very next request: S3
//     authentication reads the key with a linearizable read (read-index
//     through the leader), so no node answers from a state older than the
//     acknowledged change; enabling works the same way;
//   - rate limits set through node 2 read back through node 0, and each
//     node's limiter takes them (at once on node 2, within the refresh
//     interval elsewhere);
//   - tenant and container quotas set through one node refuse, on
//     another, exactly the write that would pass them (403 QuotaExceeded)
//     and admit the one that reaches them, also right after a delete or a
//     quota change made through a third node.
func TestClusterTenancyReplicates(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()

	c.tenancyCall(t, 0, "POST", "/admin/v1/tenants", `{"id":"acme","name":"Acme"}`, http.StatusCreated)
	c.tenancyCall(t, 0, "POST", "/admin/v1/tenants/acme/users", `{"name":"alice"}`, http.StatusCreated)
	key, secret := c.tenancyKey(t, 0, "acme", "alice")
	cl := func(i int) *awss3.Client { return c.nodes[i].client(key, secret) }

	// The new key works at once on the other nodes.
	if _, err := cl(1).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatalf("create bucket via node 1 with a key made via node 0: %v", err)
	}
	hello := payload(100, 1)
	if err := putObject(ctx, cl(2), "photos", "hello", hello); err != nil {
		t.Fatalf("put via node 2: %v", err)
	}
	if got, err := getObject(ctx, cl(0), "photos", "hello"); err != nil || string(got) != string(hello) {
		t.Fatalf("get via node 0: %v, %d bytes", err, len(got))
	}
	// The tenant's bucket is its own: root does not see it.
	if rb, err := c.client(2).ListBuckets(ctx, &awss3.ListBucketsInput{}); err != nil || len(rb.Buckets) != 0 {
		t.Fatalf("root's buckets via node 2: %v %v", rb, err)
	}

	// wantCode checks, on every node, that the next request with k
	// answers want ("" for success). Linearizable key reads make it so on
	// the first request; when not, it measures how long the node took,
	// for the failure message.
	wantCode := func(k, s, want, after string) {
		t.Helper()
		for i := range c.nodes {
			cli := c.nodes[i].client(k, s)
			_, err := getObject(ctx, cli, "photos", "hello")
			if got := s3Code(err); got != want {
				start, lag := time.Now(), "still after 2s"
				for time.Since(start) < 2*time.Second {
					time.Sleep(20 * time.Millisecond)
					if _, err := getObject(ctx, cli, "photos", "hello"); s3Code(err) == want {
						lag = "after " + time.Since(start).Round(time.Millisecond).String()
						break
					}
				}
				t.Fatalf("node %d right after %s: %q, want %q (it answered %q %s)", i, after, got, want, want, lag)
			}
		}
	}
	c.tenancyCall(t, 1, "POST", "/admin/v1/keys/"+key+"/disable", "", http.StatusOK)
	wantCode(key, secret, "InvalidAccessKeyId", "the key was disabled via node 1")
	c.tenancyCall(t, 2, "POST", "/admin/v1/keys/"+key+"/enable", "", http.StatusOK)
	wantCode(key, secret, "", "the key was enabled via node 2")

	key2, secret2 := c.tenancyKey(t, 2, "acme", "alice")
	wantCode(key2, secret2, "", "the key was created via node 2")
	c.tenancyCall(t, 0, "DELETE", "/admin/v1/keys/"+key2, "", http.StatusOK)
	wantCode(key2, secret2, "InvalidAccessKeyId", "the key was deleted via node 0")
	if m := c.tenancyCall(t, 2, "DELETE", "/admin/v1/keys/"+key2, "", http.StatusNotFound); m["code"] != "AccessKeyNotFound" {
		t.Fatalf("deleting the deleted key via node 2: %v", m)
	}
	var keys struct {
		Keys []admin.Key `json:"keys"`
	}
	reJSON(t, c.tenancyCall(t, 1, "GET", "/admin/v1/tenants/acme/keys", "", http.StatusOK), &keys)
	if len(keys.Keys) != 1 || keys.Keys[0].AccessKeyID != key || !keys.Keys[0].Enabled {
		t.Fatalf("acme's keys via node 1: %+v, want only %s, enabled", keys.Keys, key)
	}

	// Rate limits: set via node 2, read back via node 0.
	c.tenancyCall(t, 2, "PUT", "/admin/v1/tenants/acme/limits", `{"requests_per_sec":50,"burst":37,"bytes_out_per_sec":1048576}`, http.StatusOK)
	var lim admin.Limits
	reJSON(t, c.tenancyCall(t, 0, "GET", "/admin/v1/tenants/acme/limits", "", http.StatusOK), &lim)
	if !lim.RateOverride || lim.RequestsPerSec != 50 || lim.Burst != 37 || lim.BytesOutPerSec != 1<<20 || lim.BytesInPerSec != 0 {
		t.Fatalf("limits via node 0 after setting them via node 2: %+v", lim)
	}
	// Each node's limiter enforces its share of the cluster-wide limit:
	// a bucket of ceil(37/3) = 13. Node 2 applied it at once; the others
	// take it at their next refresh.
	wantLimit := strconv.Itoa(int(math.Ceil(37.0 / 3)))
	if got, err := rateLimitOf(ctx, cl(2), "photos"); err != nil || got != wantLimit {
		t.Fatalf("X-RateLimit-Limit via node 2 right after setting limits there: %q %v, want %s", got, err, wantLimit)
	}
	for _, i := range []int{0, 1} {
		deadline := time.Now().Add(2*limitsRefreshInterval + time.Second)
		for {
			got, err := rateLimitOf(ctx, cl(i), "photos")
			if err == nil && got == wantLimit {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("X-RateLimit-Limit via node %d: %q %v, want %s within %v", i, got, err, wantLimit, 2*limitsRefreshInterval)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	wantQuota := func(err error, what string) {
		t.Helper()
		if s3Code(err) != "QuotaExceeded" || httpStatus(err) != http.StatusForbidden {
			t.Fatalf("%s: %v (code %s, status %d), want 403 QuotaExceeded", what, err, s3Code(err), httpStatus(err))
		}
	}
	put := func(i int, k string, n int) error {
		return putObject(ctx, cl(i), "photos", k, payload(n, byte(len(k))))
	}
	mustPut := func(i int, k string, n int, what string) {
		t.Helper()
		if err := put(i, k, n); err != nil {
			t.Fatalf("%s (put %s via node %d): %v", what, k, i, err)
		}
	}

	// Tenant artifact quota set via node 2, enforced via nodes 0 and 1.
	reJSON(t, c.tenancyCall(t, 2, "PUT", "/admin/v1/tenants/acme/quota", `{"max_artifacts":3}`, http.StatusOK), &lim)
	if lim.Quota.MaxArtifacts != 3 || lim.Usage.Artifacts != 1 {
		t.Fatalf("quota answer via node 2: %+v", lim)
	}
	mustPut(0, "b", 10, "second artifact")
	mustPut(1, "c", 10, "third artifact: exactly the quota")
	wantQuota(put(0, "d", 10), "fourth artifact via node 0")
	mustPut(0, "b", 20, "overwrite at the artifact quota")
	if _, err := cl(2).DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("photos"), Key: aws.String("c")}); err != nil {
		t.Fatal(err)
	}
	mustPut(0, "d", 10, "right after a delete via node 2 freed an artifact")
	wantQuota(put(1, "e", 10), "fourth artifact via node 1")

	// Tenant bytes quota: exactly what is stored plus 50.
	reJSON(t, c.tenancyCall(t, 2, "GET", "/admin/v1/tenants/acme/limits", "", http.StatusOK), &lim)
	used := lim.Usage.Bytes + lim.Usage.UploadBytes
	if lim.Usage.Artifacts != 3 || used != 100+20+10 {
		t.Fatalf("usage via node 2: %+v, want 3 artifacts, 130 bytes", lim.Usage)
	}
	c.tenancyCall(t, 2, "PUT", "/admin/v1/tenants/acme/quota", fmt.Sprintf(`{"max_artifacts":0,"max_bytes":%d}`, used+50), http.StatusOK)
	wantQuota(put(0, "f", 51), "one byte over the bytes quota via node 0")
	mustPut(0, "f", 50, "exactly the bytes quota")
	wantQuota(put(1, "g", 1), "one more byte via node 1")
	reJSON(t, c.tenancyCall(t, 0, "GET", "/admin/v1/tenants/acme/limits", "", http.StatusOK), &lim)
	if lim.Quota.MaxBytes != used+50 || lim.Usage.Bytes != used+50 || lim.Usage.Artifacts != 4 {
		t.Fatalf("limits via node 0 at the bytes quota: %+v", lim)
	}
	// Raising the quota via node 1 lets the next write through node 0 in.
	c.tenancyCall(t, 1, "PUT", "/admin/v1/tenants/acme/quota", `{"max_bytes":0}`, http.StatusOK)
	mustPut(0, "g", 1, "right after the bytes quota was lifted via node 1")

	// Container quota: set via node 1, read via node 2, enforced via 0.
	c.tenancyCall(t, 1, "PUT", "/admin/v1/tenants/acme/containers/photos/quota", `{"max_artifacts":6,"max_bytes":1000}`, http.StatusOK)
	var cq admin.ContainerQuota
	reJSON(t, c.tenancyCall(t, 2, "GET", "/admin/v1/tenants/acme/containers/photos/quota", "", http.StatusOK), &cq)
	if cq.Container != "photos" || cq.Quota.MaxArtifacts != 6 || cq.Quota.MaxBytes != 1000 || cq.Usage.Artifacts != 5 || cq.Usage.Bytes != used+51 {
		t.Fatalf("container quota via node 2: %+v", cq)
	}
	mustPut(0, "h", 10, "sixth artifact: exactly the container's quota")
	wantQuota(put(0, "i", 10), "seventh artifact in the container via node 0")
	wantQuota(put(2, "i", 10), "seventh artifact in the container via node 2")
	wantQuota(put(1, "h", 1000), "overwrite past the container's bytes quota via node 1")
	// The quota is the tenant's: root's own buckets are not bound by it.
	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatalf("root's bucket of the same name: %v", err)
	}
	if err := putObject(ctx, c.client(2), "photos", "i", payload(2000, 3)); err != nil {
		t.Fatalf("root's put into its own photos: %v", err)
	}
}

// TestClusterRateLimitIsClusterWide checks that a tenant's request rate is
// a limit for the whole cluster, not for each node. Each node's limiter
// admits its share of it, share = 1/live nodes (server.go sets
// tenancy.LimiterConfig.Share from gossip; tenancy.go reloads the
// replicated per-tenant overrides every limitsRefreshInterval): with rate
// r and burst b on n nodes, a node refills r/n tokens per second into a
// bucket of ceil(b/n). Clients hitting all n nodes at once for a window w
// therefore get about r·w + b requests through in all, where n
// independent per-node limits would let n times that through. The test
// sets 20 req/s, burst 20, on 3 nodes, hammers every node at once with
// several workers each (SDK retries off, so every refusal is counted) for
// about 6 s, and bounds the accepted total by [0.4·r·w, 1.6·(r·w + b)],
// well under the 3·(r·w + b) of per-node limits; every node admits its
// share and no more. A refusal is 503 SlowDown with Retry-After: 1 (the
// next token is < 1 s away), X-RateLimit-Limit: 7 (this node's bucket,
// ceil(20/3)) and X-RateLimit-Remaining: 0; admitted requests carry
// X-RateLimit-Limit: 7 as well, which also shows that all three nodes
// stayed live (the share stayed 1/3) throughout.
func TestClusterRateLimitIsClusterWide(t *testing.T) {
	const (
		nodes   = 3
		rps     = 20.0
		burst   = 20
		window  = 6 * time.Second
		workers = 3                     // per node
		pace    = 10 * time.Millisecond // between a worker's requests
	)
	c := startCluster(t, nodes)
	ctx := context.Background()
	c.tenancyCall(t, 0, "POST", "/admin/v1/tenants", `{"id":"rated"}`, http.StatusCreated)
	c.tenancyCall(t, 0, "POST", "/admin/v1/tenants/rated/users", `{"name":"bot"}`, http.StatusCreated)
	key, secret := c.tenancyKey(t, 0, "rated", "bot")
	clients := make([]*awss3.Client, nodes)
	for i := range clients {
		clients[i] = noRetry(c.nodes[i].client(key, secret))
	}
	if _, err := clients[0].CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("hot")}); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, clients[0], "hot", "obj", payload(16, 7)); err != nil {
		t.Fatal(err)
	}

	c.tenancyCall(t, 1, "PUT", "/admin/v1/tenants/rated/limits", fmt.Sprintf(`{"requests_per_sec":%v,"burst":%d}`, rps, burst), http.StatusOK)
	nodeBurst := int(math.Ceil(burst / float64(nodes)))
	wantLimit := strconv.Itoa(nodeBurst)
	// Every node takes the new limit within its refresh interval.
	deadline := time.Now().Add(2*limitsRefreshInterval + time.Second)
	for i := range clients {
		for {
			got, err := rateLimitOf(ctx, clients[i], "hot")
			if err == nil && got == wantLimit {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %d: X-RateLimit-Limit %q (%v), want %s within %v of the change", i, got, err, wantLimit, 2*limitsRefreshInterval)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// Let every node's bucket fill up again: nodeBurst tokens at rps/nodes
	// per second.
	time.Sleep(time.Duration(float64(nodeBurst)/(rps/nodes)*float64(time.Second)) + 300*time.Millisecond)

	type tally struct {
		accepted, refused int
		others            []error
		badHeaders        []string
	}
	var (
		mu     sync.Mutex
		counts = make([]tally, nodes)
		wg     sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(window)
	for i := 0; i < nodes; i++ {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				for time.Now().Before(end) {
					rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
					out, err := clients[i].GetObject(rctx, &awss3.GetObjectInput{Bucket: aws.String("hot"), Key: aws.String("obj")})
					var md middleware.Metadata
					if err == nil {
						md = out.ResultMetadata
						out.Body.Close()
					}
					cancel()
					h := responseHeader(md, err)
					mu.Lock()
					tl := &counts[i]
					switch {
					case err == nil:
						tl.accepted++
						if h.Get("X-RateLimit-Limit") != wantLimit {
							tl.badHeaders = append(tl.badHeaders, fmt.Sprintf("admitted: X-RateLimit-Limit %q", h.Get("X-RateLimit-Limit")))
						}
					case s3Code(err) == "SlowDown" && httpStatus(err) == http.StatusServiceUnavailable:
						tl.refused++
						if h.Get("Retry-After") != "1" || h.Get("X-RateLimit-Limit") != wantLimit || h.Get("X-RateLimit-Remaining") != "0" {
							tl.badHeaders = append(tl.badHeaders, fmt.Sprintf("refused: Retry-After %q, X-RateLimit-Limit %q, X-RateLimit-Remaining %q",
								h.Get("Retry-After"), h.Get("X-RateLimit-Limit"), h.Get("X-RateLimit-Remaining")))
						}
					default:
						tl.others = append(tl.others, err)
					}
					mu.Unlock()
					time.Sleep(pace)
				}
			}(i)
		}
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()

	accepted, refused := 0, 0
	for i, tl := range counts {
		t.Logf("node %d: %d admitted, %d SlowDown", i, tl.accepted, tl.refused)
		if len(tl.others) > 0 {
			t.Errorf("node %d: %d answers neither admitted nor SlowDown, first: %v", i, len(tl.others), tl.others[0])
		}
		if len(tl.badHeaders) > 0 {
			t.Errorf("node %d: %d answers with wrong rate-limit headers, first: %s", i, len(tl.badHeaders), tl.badHeaders[0])
		}
		accepted += tl.accepted
		refused += tl.refused
		// Each node admits its share: rps/nodes per second plus its bucket.
		if share := rps/nodes*elapsed + float64(nodeBurst); tl.accepted == 0 || float64(tl.accepted) > 1.6*share {
			t.Errorf("node %d admitted %d, want about %.0f (its share of the cluster-wide limit)", i, tl.accepted, share)
		}
	}
	want := rps*elapsed + burst
	perNode := nodes * (rps*elapsed + burst)
	t.Logf("in %.1fs: %d admitted, %d SlowDown; cluster-wide limit allows %.0f, %d independent per-node limits would allow %.0f",
		elapsed, accepted, refused, want, nodes, perNode)
	if refused == 0 {
		t.Fatalf("no request was refused: the load (%d admitted) did not reach the limit", accepted)
	}
	if float64(accepted) > 1.6*want || float64(accepted) < 0.4*rps*elapsed {
		t.Fatalf("%d requests admitted in %.1fs, want about %.0f (between %.0f and %.0f); per-node limits would admit %.0f",
			accepted, elapsed, want, 0.4*rps*elapsed, 1.6*want, perNode)
	}
}
