package s3_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestE2EBucketACL(t *testing.T) { overBoth(t, testE2EBucketACL) }

func setOwnership(c *awss3.Client, bucket string, o types.ObjectOwnership) error {
	_, err := c.PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String(bucket),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: o}}}})
	return err
}

func testE2EBucketACL(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	owner := h.client(h.secure)
	h.bucket(t, "aclb")
	put(t, owner, "aclb", "k", "hello")
	eve := h.as(h.tenantKey(t, "acme", "eve"))
	mallory := h.as(h.tenantKey(t, "acme", "mallory"))
	list := func(c *awss3.Client) error {
		_, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("root:aclb")})
		return err
	}
	putAs := func(c *awss3.Client, key string) error {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("root:aclb"), Key: aws.String(key), Body: strings.NewReader("w")})
		return err
	}
	anonList := func() int {
		resp, _ := h.do(t, rawReq{method: "GET", path: "/root:aclb?list-type=2", unsigned: true})
		return resp.StatusCode
	}
	putACL := func(in *awss3.PutBucketAclInput) error {
		in.Bucket = aws.String("aclb")
		_, err := owner.PutBucketAcl(ctx, in)
		return err
	}

	// An oversized document is refused unread. (First: the server closes
	// that connection after a linger, which must end before the test
	// binary's goroutine leak check.)
	resp, b := h.do(t, rawReq{method: "PUT", path: "/aclb?acl", body: append([]byte("<AccessControlPolicy>"), bytes.Repeat([]byte(" "), 3<<20)...)})
	expectError(t, resp, b, 400, "MaxMessageLengthExceeded")

	// BucketOwnerEnforced (the default): ACLs are refused and grant nothing.
	wantCode(t, putACL(&awss3.PutBucketAclInput{GrantRead: aws.String(`id="acme"`)}), "AccessControlListNotSupported")
	must(t, setOwnership(owner, "aclb", types.ObjectOwnershipObjectWriter))
	oc, err := owner.GetBucketOwnershipControls(ctx, &awss3.GetBucketOwnershipControlsInput{Bucket: aws.String("aclb")})
	must(t, err)
	if got := oc.OwnershipControls.Rules[0].ObjectOwnership; got != types.ObjectOwnershipObjectWriter {
		t.Fatalf("ownership %q", got)
	}
	wantCode(t, list(eve), "AccessDenied")

	t.Run("READ grant to a tenant by header", func(t *testing.T) {
		must(t, putACL(&awss3.PutBucketAclInput{GrantRead: aws.String(`id="acme"`), GrantFullControl: aws.String(`id="root"`)}))
		acl, err := owner.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("aclb")})
		must(t, err)
		if len(acl.Grants) != 2 || *acl.Grants[0].Grantee.ID != "acme" || acl.Grants[0].Permission != types.PermissionRead {
			t.Fatalf("ACL %+v", acl.Grants)
		}
		must(t, list(eve))
		must(t, list(mallory))
		wantCode(t, putAs(eve, "e"), "AccessDenied")
		_, err = eve.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("root:aclb")})
		wantCode(t, err, "AccessDenied")
		_, err = eve.PutBucketAcl(ctx, &awss3.PutBucketAclInput{Bucket: aws.String("root:aclb"), ACL: types.BucketCannedACLPublicRead})
		wantCode(t, err, "AccessDenied")
		if st := anonList(); st != 403 {
			t.Fatalf("anonymous list: %d", st)
		}
	})

	t.Run("document: WRITE and READ_ACP to one user", func(t *testing.T) {
		must(t, putACL(&awss3.PutBucketAclInput{AccessControlPolicy: &types.AccessControlPolicy{
			Owner: &types.Owner{ID: aws.String("root")},
			Grants: []types.Grant{
				{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("root")}, Permission: types.PermissionFullControl},
				{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("acme/eve")}, Permission: types.PermissionWrite},
				{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("acme/eve")}, Permission: types.PermissionReadAcp},
			}}}))
		must(t, putAs(eve, "e"))
		wantCode(t, putAs(mallory, "m"), "AccessDenied")
		wantCode(t, list(eve), "AccessDenied")
		acl, err := eve.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("root:aclb")})
		must(t, err)
		if len(acl.Grants) != 3 {
			t.Fatalf("ACL %+v", acl.Grants)
		}
		// Under ObjectWriter the grantee's tenant owns what it wrote:
		// the bucket owner reads it only where its ACL grants it
		// (TestE2EObjectACL).
		_, err = readObject(t, owner, "aclb", "e")
		wantCode(t, err, "AccessDenied")
		got, err := readObject(t, eve, "root:aclb", "e")
		must(t, err)
		if got != "w" {
			t.Fatalf("object written by the grantee: %q", got)
		}
		_, err = eve.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("root:aclb"), Key: aws.String("e")})
		must(t, err)
		// An explicit deny of the bucket policy wins over the grant.
		must(t, putPolicy(t, owner, "aclb", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":{"AWS":"arn:aws:iam::acme:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::aclb/*"}]}`))
		wantCode(t, putAs(eve, "e2"), "AccessDenied")
		_, err = owner.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("aclb")})
		must(t, err)
		must(t, putAs(eve, "e2"))
	})

	t.Run("public grants and PublicAccessBlock", func(t *testing.T) {
		must(t, putACL(&awss3.PutBucketAclInput{ACL: types.BucketCannedACLPublicRead}))
		if st := anonList(); st != 200 {
			t.Fatalf("anonymous list of a public-read bucket: %d", st)
		}
		must(t, list(eve))
		_, err := owner.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("aclb"),
			PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{IgnorePublicAcls: aws.Bool(true)}})
		must(t, err)
		if st := anonList(); st != 403 {
			t.Fatalf("anonymous list under IgnorePublicAcls: %d", st)
		}
		wantCode(t, list(eve), "AccessDenied")
		_, err = owner.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("aclb"),
			PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)}})
		must(t, err)
		if st := anonList(); st != 200 {
			t.Fatalf("BlockPublicAcls alone ignores nothing already stored: %d", st)
		}
		wantCode(t, putACL(&awss3.PutBucketAclInput{ACL: types.BucketCannedACLAuthenticatedRead}), "AccessDenied")
		wantCode(t, putACL(&awss3.PutBucketAclInput{GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)}), "AccessDenied")
		_, err = owner.DeletePublicAccessBlock(ctx, &awss3.DeletePublicAccessBlockInput{Bucket: aws.String("aclb")})
		must(t, err)
		must(t, putACL(&awss3.PutBucketAclInput{ACL: types.BucketCannedACLAuthenticatedRead}))
		must(t, list(eve))
		if st := anonList(); st != 403 {
			t.Fatalf("anonymous list of an authenticated-read bucket: %d", st)
		}
		must(t, putACL(&awss3.PutBucketAclInput{ACL: types.BucketCannedACLPublicReadWrite}))
		resp, b := h.do(t, rawReq{method: "PUT", path: "/root:aclb/anon", unsigned: true, body: []byte("a")})
		if resp.StatusCode != 200 {
			t.Fatalf("anonymous put to a public-read-write bucket: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("back to BucketOwnerEnforced", func(t *testing.T) {
		wantCode(t, setOwnership(owner, "aclb", types.ObjectOwnershipBucketOwnerEnforced), "InvalidBucketAclWithObjectOwnership")
		must(t, putACL(&awss3.PutBucketAclInput{ACL: types.BucketCannedACLPrivate}))
		must(t, setOwnership(owner, "aclb", types.ObjectOwnershipBucketOwnerEnforced))
		wantCode(t, list(eve), "AccessDenied")
	})

	t.Run("stored ACL is ignored under BucketOwnerEnforced", func(t *testing.T) {
		must(t, setOwnership(owner, "aclb", types.ObjectOwnershipBucketOwnerPreferred))
		must(t, putACL(&awss3.PutBucketAclInput{GrantRead: aws.String(`id="acme"`)}))
		must(t, list(eve))
		_, err := owner.DeleteBucketOwnershipControls(ctx, &awss3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("aclb")})
		wantCode(t, err, "InvalidBucketAclWithObjectOwnership")
		must(t, putACL(&awss3.PutBucketAclInput{ACL: types.BucketCannedACLPrivate}))
		_, err = owner.DeleteBucketOwnershipControls(ctx, &awss3.DeleteBucketOwnershipControlsInput{Bucket: aws.String("aclb")})
		must(t, err)
		wantCode(t, list(eve), "AccessDenied")
	})

	t.Run("CreateBucket with ownership and ACL", func(t *testing.T) {
		_, err := owner.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("aclc"), ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred,
			GrantRead: aws.String(`id="acme"`)})
		must(t, err)
		_, err = eve.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("root:aclc")})
		must(t, err)
	})

	t.Run("bucket READ does not read objects", func(t *testing.T) {
		must(t, setOwnership(owner, "aclc", types.ObjectOwnershipObjectWriter))
		_, err := owner.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("aclc"), Key: aws.String("o"), Body: strings.NewReader("x"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
		must(t, err)
		_, err = readObject(t, eve, "root:aclc", "o")
		wantCode(t, err, "AccessDenied")
		// The object's own ACL does (object ACLs: TestE2EObjectACL).
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("aclc"), Key: aws.String("o"), GrantRead: aws.String(`id="acme"`)})
		must(t, err)
		got, err := readObject(t, eve, "root:aclc", "o")
		must(t, err)
		if got != "x" {
			t.Fatalf("object read through its ACL: %q", got)
		}
	})

	t.Run("malformed, oversized and unauthorized PutBucketAcl", func(t *testing.T) {
		must(t, setOwnership(owner, "aclb", types.ObjectOwnershipObjectWriter))
		doc := func(grant string) []byte {
			return []byte(`<AccessControlPolicy><Owner><ID>root</ID></Owner><AccessControlList>` + grant + `</AccessControlList></AccessControlPolicy>`)
		}
		grant := func(grantee, perm string) string {
			return `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` + grantee + `</Grantee><Permission>` + perm + `</Permission></Grant>`
		}
		cases := []struct {
			name   string
			body   []byte
			hdr    http.Header
			status int
			code   string
		}{
			{"truncated XML", doc("<Grant>")[:40], nil, 400, "MalformedACLError"},
			{"not an ACL", []byte("<Wrong/>"), nil, 400, "MalformedACLError"},
			{"bad permission", doc(grant(`xsi:type="CanonicalUser"><ID>acme</ID>`, "ALL")), nil, 400, "MalformedACLError"},
			{"unknown tenant", doc(grant(`xsi:type="CanonicalUser"><ID>nosuchtenant</ID>`, "READ")), nil, 400, "InvalidArgument"},
			{"bad group", doc(grant(`xsi:type="Group"><URI>http://acs.amazonaws.com/groups/s3/LogDelivery</URI>`, "READ")), nil, 400, "InvalidArgument"},
			{"email grantee", doc(grant(`xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b.c</EmailAddress>`, "READ")), nil, 400, "UnresolvableGrantByEmailAddress"},
			{"other owner", bytes.Replace(doc(""), []byte("<ID>root</ID>"), []byte("<ID>acme</ID>"), 1), nil, 403, "AccessDenied"},
			{"too many grants", doc(strings.Repeat(grant(`xsi:type="CanonicalUser"><ID>acme</ID>`, "READ"), 101)), nil, 400, "MalformedACLError"},
			{"header and body", doc(""), http.Header{"X-Amz-Acl": {"private"}}, 400, "InvalidRequest"},
			{"canned and grants", nil, http.Header{"X-Amz-Acl": {"private"}, "X-Amz-Grant-Read": {`id="acme"`}}, 400, "InvalidRequest"},
			{"bad canned", nil, http.Header{"X-Amz-Acl": {"everyone"}}, 400, "InvalidArgument"},
			{"bad grant header", nil, http.Header{"X-Amz-Grant-Read": {`acme`}}, 400, "InvalidArgument"},
			{"no ACL", nil, nil, 400, "MalformedXML"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp, b := h.do(t, rawReq{method: "PUT", path: "/aclb?acl", body: c.body, hdr: c.hdr})
				expectError(t, resp, b, c.status, c.code)
			})
		}
		resp, b := h.do(t, rawReq{method: "PUT", path: "/root:aclb?acl", unsigned: true, hdr: http.Header{"X-Amz-Acl": {"public-read"}}})
		expectError(t, resp, b, 403, "AccessDenied")
		// None of them changed the ACL.
		acl, err := owner.GetBucketAcl(ctx, &awss3.GetBucketAclInput{Bucket: aws.String("aclb")})
		must(t, err)
		if len(acl.Grants) != 1 || *acl.Grants[0].Grantee.ID != "root" {
			t.Fatalf("ACL after refused writes: %+v", acl.Grants)
		}
	})
}
