package s3_test

import (
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/vaultaire/vaultaire/s3"
)

// tenantKey creates a tenant with one user and returns its credentials.
func (h *harness) tenantKey(t *testing.T, tenant, user string) aws.CredentialsProvider {
	t.Helper()
	if _, err := h.eng.GetTenant(ctx, tenant); err != nil {
		_, err := h.eng.CreateTenant(ctx, tenant, tenant, "")
		must(t, err)
	}
	_, err := h.eng.CreateUser(ctx, tenant, user, "")
	must(t, err)
	k, err := h.eng.CreateAccessKey(ctx, tenant, user)
	must(t, err)
	return credentials.NewStaticCredentialsProvider(k.AccessKeyID, k.Secret, "")
}

// as returns an SDK client with other credentials.
func (h *harness) as(creds aws.CredentialsProvider) *awss3.Client {
	return h.client(h.secure, func(o *awss3.Options) { o.Credentials = creds })
}

// anonGet is what curl does: an unsigned GET.
func (h *harness) anonGet(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := h.ep().Client().Get(h.ep().URL + path)
	must(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func putPolicy(t *testing.T, c *awss3.Client, bucket, doc string) error {
	t.Helper()
	_, err := c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(doc)})
	return err
}

func readObject(t *testing.T, c *awss3.Client, bucket, key string) (string, error) {
	t.Helper()
	out, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", err
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	return string(b), err
}

func TestE2EAccessControl(t *testing.T) { overBoth(t, testE2EAccessControl) }

func testE2EAccessControl(t *testing.T, secure bool) {
	var mu sync.Mutex
	var events []s3.RequestEvent
	h := newHarness(t, func(c *s3.Config) {
		c.OnRequest = func(ev s3.RequestEvent) { mu.Lock(); events = append(events, ev); mu.Unlock() }
	}).over(secure)
	owner := h.client(h.secure)
	h.bucket(t, "shared")
	put(t, owner, "shared", "public/a", "hello public")
	put(t, owner, "shared", "private/b", "secret")
	eve := h.as(h.tenantKey(t, "acme", "eve"))

	t.Run("no policy: other tenants and anonymous see nothing", func(t *testing.T) {
		_, err := readObject(t, eve, "root:shared", "public/a")
		wantCode(t, err, "AccessDenied")
		_, err = readObject(t, eve, "shared", "public/a") // eve's own namespace
		wantCode(t, err, "NoSuchBucket")
		if st, _ := h.anonGet(t, "/root:shared/public/a"); st != 403 {
			t.Fatalf("anonymous: %d", st)
		}
		if st, _ := h.anonGet(t, "/shared/public/a"); st != 403 {
			t.Fatalf("anonymous unqualified: %d", st)
		}
		_, err = owner.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("shared")})
		wantCode(t, err, "NoSuchBucketPolicy")
	})

	t.Run("cross-tenant read-only grant on a prefix", func(t *testing.T) {
		must(t, putPolicy(t, owner, "shared", `{"Version":"2012-10-17","Statement":[
			{"Sid":"List","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::acme:user/eve"},"Action":"s3:ListBucket",
			 "Resource":"arn:aws:s3:::shared","Condition":{"StringLike":{"s3:prefix":"public/*"}}},
			{"Sid":"Read","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::acme:user/eve"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*"}]}`))
		if b, err := readObject(t, eve, "root:shared", "public/a"); err != nil || b != "hello public" {
			t.Fatalf("granted read: %q %v", b, err)
		}
		mu.Lock()
		found := false
		for _, ev := range events {
			found = found || ev.Operation.String() == "GetObject" && ev.Tenant == "root" && ev.Requester == "acme" && ev.User == "eve" && ev.Status == 200
		}
		mu.Unlock()
		if !found {
			t.Error("no request event names root as the tenant and acme as the requester")
		}
		_, err := readObject(t, eve, "root:shared", "private/b")
		wantCode(t, err, "AccessDenied")
		_, err = eve.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("root:shared"), Key: aws.String("public/x"), Body: strings.NewReader("w")})
		wantCode(t, err, "AccessDenied")
		_, err = eve.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("root:shared"), Key: aws.String("public/a")})
		wantCode(t, err, "AccessDenied")
		out, err := eve.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("root:shared"), Prefix: aws.String("public/")})
		must(t, err)
		if len(out.Contents) != 1 || *out.Contents[0].Key != "public/a" {
			t.Fatalf("list: %+v", out.Contents)
		}
		_, err = eve.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("root:shared")})
		wantCode(t, err, "AccessDenied")
		_, err = eve.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("root:shared")})
		wantCode(t, err, "AccessDenied")
		_, err = eve.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("root:shared")})
		wantCode(t, err, "AccessDenied")
		// Another user of the same tenant gets nothing.
		mallory := h.as(h.tenantKey(t, "acme", "mallory"))
		_, err = readObject(t, mallory, "root:shared", "public/a")
		wantCode(t, err, "AccessDenied")
		// Eve's own identity policy can narrow what the grant gives.
		must(t, h.eng.SetUserPolicy(ctx, "acme", "eve", `{"Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"arn:aws:s3:::root:shared/*"},
			{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`))
		_, err = readObject(t, eve, "root:shared", "public/a")
		wantCode(t, err, "AccessDenied")
		must(t, h.eng.SetUserPolicy(ctx, "acme", "eve", ""))
	})

	t.Run("anonymous public read and PublicAccessBlock", func(t *testing.T) {
		pub := `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/public/*"}]}`
		must(t, putPolicy(t, owner, "shared", pub))
		st, body := h.anonGet(t, "/root:shared/public/a")
		if st != 200 || body != "hello public" {
			t.Fatalf("anonymous public read: %d %q", st, body)
		}
		if st, _ := h.anonGet(t, "/root:shared/private/b"); st != 403 {
			t.Fatalf("anonymous private read: %d", st)
		}
		if st, _ := h.anonGet(t, "/root:shared/public/a?tagging"); st != 403 {
			t.Fatalf("anonymous tagging read: %d", st)
		}
		resp, b := h.do(t, rawReq{method: "PUT", path: "/root:shared/public/new", body: []byte("x"), unsigned: true})
		expectError(t, resp, b, 403, "AccessDenied")
		if st, _ := h.anonGet(t, "/nosuchtenant:shared/public/a"); st != 404 {
			t.Fatalf("anonymous, unknown tenant: %d", st)
		}
		ps, err := owner.GetBucketPolicyStatus(ctx, &awss3.GetBucketPolicyStatusInput{Bucket: aws.String("shared")})
		must(t, err)
		if !*ps.PolicyStatus.IsPublic {
			t.Fatal("policy status: not public")
		}
		// The bucket's block.
		_, err = owner.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("shared"),
			PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true), BlockPublicPolicy: aws.Bool(true)}})
		must(t, err)
		if st, _ := h.anonGet(t, "/root:shared/public/a"); st != 403 {
			t.Fatalf("anonymous read under RestrictPublicBuckets: %d", st)
		}
		pab, err := owner.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: aws.String("shared")})
		must(t, err)
		if c := pab.PublicAccessBlockConfiguration; !*c.RestrictPublicBuckets || !*c.BlockPublicPolicy || *c.BlockPublicAcls {
			t.Fatalf("public access block: %+v", c)
		}
		wantCode(t, putPolicy(t, owner, "shared", pub), "AccessDenied") // BlockPublicPolicy
		// The owner still reads its own bucket.
		if _, err := readObject(t, owner, "shared", "public/a"); err != nil {
			t.Fatal(err)
		}
		_, err = owner.DeletePublicAccessBlock(ctx, &awss3.DeletePublicAccessBlockInput{Bucket: aws.String("shared")})
		must(t, err)
		if st, _ := h.anonGet(t, "/root:shared/public/a"); st != 200 {
			t.Fatalf("after removing the block: %d", st)
		}
		// The tenant's block (set through the admin API) applies too.
		must(t, h.eng.SetTenantPublicAccessBlock(ctx, "root", `{"BlockPublicAcls":false,"IgnorePublicAcls":false,"BlockPublicPolicy":false,"RestrictPublicBuckets":true}`))
		if st, _ := h.anonGet(t, "/root:shared/public/a"); st != 403 {
			t.Fatalf("anonymous read under the tenant's block: %d", st)
		}
		must(t, h.eng.SetTenantPublicAccessBlock(ctx, "root", ""))
		_, err = owner.GetPublicAccessBlock(ctx, &awss3.GetPublicAccessBlockInput{Bucket: aws.String("shared")})
		wantCode(t, err, "NoSuchPublicAccessBlockConfiguration")
	})

	t.Run("a user limited to one prefix", func(t *testing.T) {
		bob := h.as(h.userKey(t, "bob"))
		carol := h.as(h.userKey(t, "carol")) // no policy: the tenant-wide default
		must(t, h.eng.SetUserPolicy(ctx, "root", "bob", `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject"],"Resource":"arn:aws:s3:::shared/home/${aws:username}/*"},
			{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared","Condition":{"StringLike":{"s3:prefix":"home/${aws:username}/*"}}}]}`))
		_, err := bob.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("home/bob/f"), Body: strings.NewReader("mine")})
		must(t, err)
		_, err = bob.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("home/carol/f"), Body: strings.NewReader("x")})
		wantCode(t, err, "AccessDenied")
		_, err = readObject(t, bob, "shared", "private/b")
		wantCode(t, err, "AccessDenied")
		_, err = bob.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("shared"), Prefix: aws.String("home/bob/")})
		must(t, err)
		_, err = bob.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("shared")})
		wantCode(t, err, "AccessDenied")
		_, err = bob.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bobs")})
		wantCode(t, err, "AccessDenied")
		// DeleteObjects decides each key.
		out, err := bob.DeleteObjects(ctx, &awss3.DeleteObjectsInput{Bucket: aws.String("shared"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
			{Key: aws.String("home/bob/f")}, {Key: aws.String("private/b")}}}})
		must(t, err)
		if len(out.Deleted) != 1 || len(out.Errors) != 1 || *out.Errors[0].Code != "AccessDenied" || *out.Errors[0].Key != "private/b" {
			t.Fatalf("DeleteObjects: deleted %+v errors %+v", out.Deleted, out.Errors)
		}
		if b, err := readObject(t, carol, "shared", "private/b"); err != nil || b != "secret" {
			t.Fatalf("user without a policy: %q %v", b, err)
		}
	})

	t.Run("explicit deny in the bucket policy binds the tenant; root can still remove it", func(t *testing.T) {
		must(t, putPolicy(t, owner, "shared", `{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::shared","arn:aws:s3:::shared/*"]}]}`))
		_, err := readObject(t, owner, "shared", "public/a")
		wantCode(t, err, "AccessDenied")
		_, err = owner.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("shared")})
		must(t, err)
		_, err = owner.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("shared")})
		must(t, err)
		if _, err := readObject(t, owner, "shared", "public/a"); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bad policies leave the policy as it was", func(t *testing.T) {
		good := `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"acme"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}`
		must(t, putPolicy(t, owner, "shared", good))
		for _, c := range []struct{ name, doc, msg string }{
			{"malformed JSON", `{"Statement":[`, "not a JSON object"},
			{"unknown action", strings.Replace(good, "s3:GetObject", "s3:GetObjekt", 1), "not a known S3 action"},
			{"unknown operator", strings.Replace(good, `"Resource"`, `"Condition":{"StringSorta":{"s3:prefix":"a"}},"Resource"`, 1), "unknown condition operator"},
			{"foreign resource", strings.Replace(good, "shared/*", "other/*", 1), "invalid resource"},
			{"over 20 KiB", strings.Replace(good, `"Effect"`, `"Sid":"`+strings.Repeat("x", 20<<10)+`","Effect"`, 1), "no larger than"},
		} {
			err := putPolicy(t, owner, "shared", c.doc)
			wantCode(t, err, "MalformedPolicy")
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s: %v, want a message saying %q", c.name, err, c.msg)
			}
			out, err := owner.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("shared")})
			must(t, err)
			if *out.Policy != good {
				t.Fatalf("%s changed the policy: %s", c.name, *out.Policy)
			}
		}
		_, err := owner.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("shared")})
		must(t, err)
	})

	t.Run("expected bucket owner", func(t *testing.T) {
		h.bucket(t, "doomed")
		_, err := owner.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("doomed"), ExpectedBucketOwner: aws.String("acme")})
		wantCode(t, err, "AccessDenied")
		_, err = owner.HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("doomed")})
		must(t, err)
		_, err = owner.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("doomed"), Key: aws.String("c"), CopySource: aws.String("shared/public/a"),
			ExpectedSourceBucketOwner: aws.String("acme")})
		wantCode(t, err, "AccessDenied")
		_, err = owner.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("doomed"), Key: aws.String("c"), CopySource: aws.String("shared/public/a"),
			ExpectedSourceBucketOwner: aws.String("root"), ExpectedBucketOwner: aws.String("root")})
		must(t, err)
		_, err = owner.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("doomed"), Key: aws.String("c")})
		must(t, err)
		_, err = owner.DeleteBucket(ctx, &awss3.DeleteBucketInput{Bucket: aws.String("doomed"), ExpectedBucketOwner: aws.String("root")})
		must(t, err)
	})

	t.Run("ACLs: BucketOwnerEnforced", func(t *testing.T) {
		acl, err := owner.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("shared")})
		must(t, err)
		if len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl || *acl.Grants[0].Grantee.ID != "root" || *acl.Owner.ID != "root" {
			t.Fatalf("bucket ACL: %+v", acl)
		}
		oacl, err := owner.GetObjectAcl(ctx, &awss3.GetObjectAclInput{Bucket: aws.String("shared"), Key: aws.String("public/a")})
		must(t, err)
		if len(oacl.Grants) != 1 || oacl.Grants[0].Permission != types.PermissionFullControl {
			t.Fatalf("object ACL: %+v", oacl)
		}
		_, err = owner.GetObjectAcl(ctx, &awss3.GetObjectAclInput{Bucket: aws.String("shared"), Key: aws.String("nope")})
		wantCode(t, err, "NoSuchKey")
		_, err = owner.PutBucketAcl(ctx, &awss3.PutBucketAclInput{Bucket: aws.String("shared"), ACL: types.BucketCannedACLPrivate})
		must(t, err)
		_, err = owner.PutBucketAcl(ctx, &awss3.PutBucketAclInput{Bucket: aws.String("shared"), ACL: types.BucketCannedACLPublicRead})
		wantCode(t, err, "AccessControlListNotSupported")
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("shared"), Key: aws.String("public/a"), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
		wantCode(t, err, "AccessControlListNotSupported")
		_, err = owner.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("acl"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
		must(t, err)
		_, err = owner.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("acl"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLPublicRead})
		wantCode(t, err, "AccessControlListNotSupported")
		oc, err := owner.GetBucketOwnershipControls(ctx, &awss3.GetBucketOwnershipControlsInput{Bucket: aws.String("shared")})
		must(t, err)
		if oc.OwnershipControls.Rules[0].ObjectOwnership != types.ObjectOwnershipBucketOwnerEnforced {
			t.Fatalf("ownership: %+v", oc.OwnershipControls.Rules)
		}
		_, err = owner.PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String("shared"),
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerEnforced}}}})
		must(t, err)
		_, err = owner.PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String("shared"),
			OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}})
		must(t, err) // ACLs on (TestE2EBucketACL); back to the default:
		_, err = owner.DeleteBucketOwnershipControls(ctx, &awss3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("shared")})
		must(t, err)
	})

	t.Run("malformed, truncated and unauthorized requests", func(t *testing.T) {
		resp, b := h.do(t, rawReq{method: "PUT", path: "/shared?publicAccessBlock", body: []byte("<PublicAccessBlockConfiguration>")})
		expectError(t, resp, b, 400, "MalformedXML")
		resp, b = h.do(t, rawReq{method: "PUT", path: "/shared?ownershipControls", body: []byte("<OwnershipControls><Rule><ObjectOwnership>Mine</ObjectOwnership></Rule></OwnershipControls>")})
		expectError(t, resp, b, 400, "MalformedXML")
		resp, b = h.do(t, rawReq{method: "GET", path: "/shared?policy", unsigned: true})
		expectError(t, resp, b, 403, "AccessDenied")
		resp, b = h.do(t, rawReq{method: "PUT", path: "/root:shared?policy", unsigned: true, body: []byte(`{}`)})
		expectError(t, resp, b, 403, "AccessDenied")
		resp, b = h.do(t, rawReq{method: "GET", path: "/nosuchtenant%3Ashared/k"})
		expectError(t, resp, b, 404, "NoSuchBucket")
		resp, b = h.do(t, rawReq{method: "GET", path: "/Bad_Tenant%3Ashared/k"})
		expectError(t, resp, b, 400, "InvalidBucketName")
		_, err := eve.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("root:shared"), Policy: aws.String(`{}`)})
		wantCode(t, err, "AccessDenied")
		_, err = eve.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("root:newbucket")})
		wantCode(t, err, "AccessDenied")
	})
}

// Unsigned and forged traffic is limited per client address before any
// metadata read: a forged key beyond the budget gets SlowDown, not
// InvalidAccessKeyId (which would need the key's lookup).
func TestE2EUnauthenticatedRateLimit(t *testing.T) {
	h := newHarness(t, func(c *s3.Config) { c.UnauthRate, c.UnauthBurst = 0.001, 3 })
	h.bucket(t, "rlim")
	for i := 0; i < 3; i++ {
		resp, b := h.do(t, rawReq{method: "GET", path: "/rlim/k", unsigned: true})
		expectError(t, resp, b, 403, "AccessDenied")
	}
	resp, b := h.do(t, rawReq{method: "GET", path: "/rlim/k", unsigned: true})
	expectError(t, resp, b, 503, "SlowDown")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// Signed traffic from the same address is not held to the unsigned
	// budget.
	resp, b = h.do(t, rawReq{method: "GET", path: "/rlim?list-type=2"})
	expectOK(t, resp, b)
	forged := &aws.Credentials{AccessKeyID: "NOSUCHKEY", SecretAccessKey: "x"}
	for i := 0; i < 3; i++ {
		resp, b := h.do(t, rawReq{method: "GET", path: "/rlim/k", creds: forged})
		expectError(t, resp, b, 403, "InvalidAccessKeyId")
	}
	resp, b = h.do(t, rawReq{method: "GET", path: "/rlim/k", creds: forged})
	expectError(t, resp, b, 503, "SlowDown")
	// Until the address refills, its signed requests wait too.
	resp, b = h.do(t, rawReq{method: "GET", path: "/rlim?list-type=2"})
	expectError(t, resp, b, 503, "SlowDown")
	// A limit turned off lets everything through to authentication.
	off := newHarness(t, func(c *s3.Config) { c.UnauthRate = -1 })
	for i := 0; i < 20; i++ {
		resp, b := off.do(t, rawReq{method: "GET", path: "/rlim/k", creds: forged})
		expectError(t, resp, b, 403, "InvalidAccessKeyId")
	}
}
