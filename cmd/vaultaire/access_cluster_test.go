package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Access control in a cluster: bucket policies are container records and
// identity policies access settings, both replicated through Raft and
// read linearizably, so a change made through one node binds every node
// on the next request.
func TestClusterAccessPolicies(t *testing.T) {
	c := startCluster(t, 3)
	ctx := context.Background()
	c.tenancyCall(t, 0, "POST", "/admin/v1/tenants", `{"id":"acme","name":"Acme"}`, http.StatusCreated)
	c.tenancyCall(t, 0, "POST", "/admin/v1/tenants/acme/users", `{"name":"alice"}`, http.StatusCreated)
	key, secret := c.tenancyKey(t, 0, "acme", "alice")
	alice := func(i int) *awss3.Client { return c.nodes[i].client(key, secret) }

	if _, err := c.client(0).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("shared")}); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, c.client(1), "shared", "public/a", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	// every checks that alice's read of root:shared/public/a answers want
	// on every node, on the first request after the change.
	every := func(want, after string) {
		t.Helper()
		for i := range c.nodes {
			_, err := getObject(ctx, alice(i), "root:shared", "public/a")
			if got := s3Code(err); got != want {
				t.Fatalf("node %d right after %s: %q, want %q", i, after, got, want)
			}
		}
	}
	every("AccessDenied", "no policy")
	grant := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::acme:user/alice"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*"}]}`
	if _, err := c.client(2).PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(grant)}); err != nil {
		t.Fatal(err)
	}
	every("", "the grant through node 2")
	// Writes stay denied.
	if err := putObject(ctx, alice(0), "root:shared", "public/w", []byte("x")); s3Code(err) != "AccessDenied" {
		t.Fatalf("cross-tenant write: %v", err)
	}

	// alice's own identity policy, set with the CLI through node 0's
	// admin API, narrows it on every node at once.
	pol := filepath.Join(t.TempDir(), "alice.json")
	if err := os.WriteFile(pol, []byte(`{"Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::root:shared/*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli := func(want int, args ...string) string {
		t.Helper()
		out, errOut, code := runCLI(t, c.env(), append([]string{"admin", "--endpoint", "http://" + c.nodes[0].admin}, args...)...)
		if code != want {
			t.Fatalf("admin %v: exit %d, want %d\n%s%s", args, code, want, out, errOut)
		}
		return out
	}
	cli(0, "user", "policy", "set", "acme", "alice", pol)
	if out := cli(0, "user", "policy", "show", "acme", "alice"); !strings.Contains(out, `"Deny"`) {
		t.Fatalf("policy show:\n%s", out)
	}
	every("AccessDenied", "the user's policy through node 0")
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"Statement":[{"Effect":"Allow","Action":"s3:Fly","Resource":"*"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(1, "user", "policy", "set", "acme", "alice", bad)
	cli(0, "user", "policy", "delete", "acme", "alice")
	every("", "removing the user's policy")

	// Anonymous public read with curl, and the tenant's block through
	// the CLI.
	public := `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*"}]}`
	if _, err := c.client(0).PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("shared"), Policy: aws.String(public)}); err != nil {
		t.Fatal(err)
	}
	curl := func(i int) string {
		t.Helper()
		out, err := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", c.nodes[i].current().endpoint+"/root:shared/public/a").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		return string(out)
	}
	for i := range c.nodes {
		if got := curl(i); got != "200" {
			t.Fatalf("anonymous curl via node %d: %s", i, got)
		}
	}
	cli(0, "tenant", "public-access-block", "root", "--restrict-public-buckets")
	for i := range c.nodes {
		if got := curl(i); got != "403" {
			t.Fatalf("anonymous curl via node %d under the tenant's block: %s", i, got)
		}
	}
	cli(0, "tenant", "public-access-block", "root", "--delete")
	if got := curl(2); got != "200" {
		t.Fatalf("after removing the block: %s", got)
	}

	// An object ACL written through one node binds every node at once.
	if _, err := c.client(0).PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String("shared"),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}}); err != nil {
		t.Fatal(err)
	}
	if err := putObject(ctx, c.client(0), "shared", "acl/b", []byte("acl")); err != nil {
		t.Fatal(err)
	}
	curlACL := func(i int) string {
		t.Helper()
		out, err := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", c.nodes[i].current().endpoint+"/root:shared/acl/b").Output()
		if err != nil {
			t.Fatalf("curl: %v", err)
		}
		return string(out)
	}
	if got := curlACL(2); got != "403" {
		t.Fatalf("anonymous curl of a private object: %s", got)
	}
	if _, err := c.client(1).PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("shared"), Key: aws.String("acl/b"), ACL: types.ObjectCannedACLPublicRead}); err != nil {
		t.Fatal(err)
	}
	for i := range c.nodes {
		if got := curlACL(i); got != "200" {
			t.Fatalf("anonymous curl of a public-read object via node %d: %s", i, got)
		}
	}
}

// --unauth-rate and --unauth-burst bound unsigned requests per address.
func TestUnauthRateFlags(t *testing.T) {
	s := startServer(t, t.TempDir(), nil, "--unauth-rate", "0.01", "--unauth-burst", "2")
	codes := ""
	for i := 0; i < 3; i++ {
		resp, err := http.Get(s.endpoint + "/root:nothing/k")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes += " " + resp.Status[:3]
	}
	if codes != " 404 404 503" {
		t.Fatalf("unsigned requests answered%s, want 404 404 503", codes)
	}
}
