package s3_test

import (
	"bytes"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func TestE2EObjectACL(t *testing.T) { overBoth(t, testE2EObjectACL) }

// objectACL reads a version's ACL as c sees it.
func objectACL(c *awss3.Client, bucket, key, version string) (*awss3.GetObjectAclOutput, error) {
	in := &awss3.GetObjectAclInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if version != "" {
		in.VersionId = aws.String(version)
	}
	return c.GetObjectAcl(ctx, in)
}

// wantObjectACL checks a version's owner and its grants ("grantee perm",
// grantee an id or AllUsers/AuthenticatedUsers), in order.
func wantObjectACL(t *testing.T, c *awss3.Client, bucket, key, version, owner string, grants ...string) {
	t.Helper()
	out, err := objectACL(c, bucket, key, version)
	must(t, err)
	var got []string
	for _, g := range out.Grants {
		who := aws.ToString(g.Grantee.ID)
		if u := aws.ToString(g.Grantee.URI); u != "" {
			who = u[strings.LastIndexByte(u, '/')+1:]
		}
		got = append(got, who+" "+string(g.Permission))
	}
	if aws.ToString(out.Owner.ID) != owner || strings.Join(got, ",") != strings.Join(grants, ",") {
		t.Fatalf("ACL of %s/%s@%s: owner %q grants %q, want %q %q", bucket, key, version, aws.ToString(out.Owner.ID), got, owner, grants)
	}
}

func testE2EObjectACL(t *testing.T, secure bool) {
	h := newHarness(t, nil).over(secure)
	owner := h.client(h.secure)
	eve := h.as(h.tenantKey(t, "acme", "eve"))
	zoe := h.as(h.tenantKey(t, "zed", "zoe"))
	putIn := func(c *awss3.Client, bucket, key, body string, acl types.ObjectCannedACL) error {
		_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body), ACL: acl})
		return err
	}
	// Buckets whose ownership enables ACLs, writable by tenant acme.
	for _, b := range []struct {
		name string
		o    types.ObjectOwnership
	}{{"objw", types.ObjectOwnershipObjectWriter}, {"objp", types.ObjectOwnershipBucketOwnerPreferred}} {
		h.bucket(t, b.name)
		must(t, setOwnership(owner, b.name, b.o))
		_, err := owner.PutBucketAcl(ctx, &awss3.PutBucketAclInput{Bucket: aws.String(b.name), GrantWrite: aws.String(`id="acme"`), GrantFullControl: aws.String(`id="root"`)})
		must(t, err)
	}
	put(t, owner, "objw", "pub", "public bytes")

	t.Run("refused ACL writes leave the ACL unchanged", func(t *testing.T) {
		// Oversized first: the server lingers closing that connection.
		resp, b := h.do(t, rawReq{method: "PUT", path: "/objw/pub?acl", body: append([]byte("<AccessControlPolicy>"), bytes.Repeat([]byte(" "), 3<<20)...)})
		expectError(t, resp, b, 400, "MaxMessageLengthExceeded")
		_, err := owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objw"), Key: aws.String("pub"), ACL: types.ObjectCannedACLPublicRead})
		must(t, err)
		doc := func(ownerID, grant string) []byte {
			return []byte(`<AccessControlPolicy><Owner><ID>` + ownerID + `</ID></Owner><AccessControlList>` + grant + `</AccessControlList></AccessControlPolicy>`)
		}
		grant := func(grantee, perm string) string {
			return `<Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ` + grantee + `</Grantee><Permission>` + perm + `</Permission></Grant>`
		}
		cases := []struct {
			name     string
			path     string
			body     []byte
			hdr      http.Header
			unsigned bool
			status   int
			code     string
		}{
			{"truncated XML", "/objw/pub?acl", doc("root", "<Grant>")[:40], nil, false, 400, "MalformedACLError"},
			{"not an ACL", "/objw/pub?acl", []byte("<Wrong/>"), nil, false, 400, "MalformedACLError"},
			{"bad permission", "/objw/pub?acl", doc("root", grant(`xsi:type="CanonicalUser"><ID>acme</ID>`, "ALL")), nil, false, 400, "MalformedACLError"},
			{"unknown tenant", "/objw/pub?acl", doc("root", grant(`xsi:type="CanonicalUser"><ID>nosuchtenant</ID>`, "READ")), nil, false, 400, "InvalidArgument"},
			{"email grantee", "/objw/pub?acl", doc("root", grant(`xsi:type="AmazonCustomerByEmail"><EmailAddress>a@b.c</EmailAddress>`, "READ")), nil, false, 400, "UnresolvableGrantByEmailAddress"},
			{"other owner", "/objw/pub?acl", doc("acme", ""), nil, false, 403, "AccessDenied"},
			{"too many grants", "/objw/pub?acl", doc("root", strings.Repeat(grant(`xsi:type="CanonicalUser"><ID>acme</ID>`, "READ"), 101)), nil, false, 400, "MalformedACLError"},
			{"header and body", "/objw/pub?acl", doc("root", ""), http.Header{"X-Amz-Acl": {"private"}}, false, 400, "InvalidRequest"},
			{"canned and grants", "/objw/pub?acl", nil, http.Header{"X-Amz-Acl": {"private"}, "X-Amz-Grant-Read": {`id="acme"`}}, false, 400, "InvalidRequest"},
			{"bad canned", "/objw/pub?acl", nil, http.Header{"X-Amz-Acl": {"everyone"}}, false, 400, "InvalidArgument"},
			{"bad grant header", "/objw/pub?acl", nil, http.Header{"X-Amz-Grant-Read": {`acme`}}, false, 400, "InvalidArgument"},
			{"no ACL", "/objw/pub?acl", nil, nil, false, 400, "MalformedXML"},
			{"no such version", "/objw/pub?acl&versionId=0000000000000009", nil, http.Header{"X-Amz-Acl": {"private"}}, false, 404, "NoSuchVersion"},
			{"anonymous", "/root:objw/pub?acl", nil, http.Header{"X-Amz-Acl": {"private"}}, true, 403, "AccessDenied"},
			{"PutObject with a bad ACL", "/objw/pub", []byte("overwritten"), http.Header{"X-Amz-Grant-Read": {`id="nosuchtenant"`}}, false, 400, "InvalidArgument"},
			{"PutObject with canned and grants", "/objw/pub", []byte("overwritten"), http.Header{"X-Amz-Acl": {"private"}, "X-Amz-Grant-Read": {`id="acme"`}}, false, 400, "InvalidRequest"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				resp, b := h.do(t, rawReq{method: "PUT", path: c.path, body: c.body, hdr: c.hdr, unsigned: c.unsigned})
				expectError(t, resp, b, c.status, c.code)
			})
		}
		_, err = zoe.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("root:objw"), Key: aws.String("pub"), ACL: types.ObjectCannedACLPrivate})
		wantCode(t, err, "AccessDenied")
		_, err = zoe.GetObjectAcl(ctx, &awss3.GetObjectAclInput{Bucket: aws.String("root:objw"), Key: aws.String("pub")})
		wantCode(t, err, "AccessDenied")
		wantObjectACL(t, owner, "objw", "pub", "", "root", "root FULL_CONTROL", "AllUsers READ")
		if got, err := readObject(t, owner, "objw", "pub"); err != nil || got != "public bytes" {
			t.Fatalf("object after refused writes: %q %v", got, err)
		}
	})

	t.Run("public-read object, anonymous reads and PublicAccessBlock", func(t *testing.T) {
		// What curl does: an unsigned GET of the tenant-qualified name.
		if st, body := h.anonGet(t, "/root:objw/pub"); st != 200 || body != "public bytes" {
			t.Fatalf("anonymous GET of a public-read object: %d %q", st, body)
		}
		resp, _ := h.do(t, rawReq{method: "HEAD", path: "/root:objw/pub", unsigned: true})
		if resp.StatusCode != 200 {
			t.Fatalf("anonymous HEAD: %d", resp.StatusCode)
		}
		if got, err := readObject(t, zoe, "root:objw", "pub"); err != nil || got != "public bytes" {
			t.Fatalf("another tenant's read: %q %v", got, err)
		}
		// READ does not read the ACL, nor list the bucket.
		_, err := zoe.GetObjectAcl(ctx, &awss3.GetObjectAclInput{Bucket: aws.String("root:objw"), Key: aws.String("pub")})
		wantCode(t, err, "AccessDenied")
		if st, _ := h.anonGet(t, "/root:objw?list-type=2"); st != 403 {
			t.Fatalf("anonymous list: %d", st)
		}
		must(t, putIn(owner, "objw", "auth", "signed only", types.ObjectCannedACLAuthenticatedRead))
		if st, _ := h.anonGet(t, "/root:objw/auth"); st != 403 {
			t.Fatalf("anonymous GET of an authenticated-read object: %d", st)
		}
		if got, err := readObject(t, zoe, "root:objw", "auth"); err != nil || got != "signed only" {
			t.Fatalf("authenticated read: %q %v", got, err)
		}
		if st, _ := h.anonGet(t, "/root:objw/private"); st != 403 {
			t.Fatalf("anonymous GET of a missing object: %d", st)
		}

		// IgnorePublicAcls: group grants count for nothing.
		_, err = owner.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("objw"),
			PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{IgnorePublicAcls: aws.Bool(true)}})
		must(t, err)
		if st, _ := h.anonGet(t, "/root:objw/pub"); st != 403 {
			t.Fatalf("anonymous GET under IgnorePublicAcls: %d", st)
		}
		_, err = readObject(t, zoe, "root:objw", "auth")
		wantCode(t, err, "AccessDenied")
		// BlockPublicAcls: public ACLs cannot be written; those stored stay.
		_, err = owner.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("objw"),
			PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true)}})
		must(t, err)
		if st, _ := h.anonGet(t, "/root:objw/pub"); st != 200 {
			t.Fatalf("BlockPublicAcls alone ignores nothing already stored: %d", st)
		}
		wantCode(t, putIn(owner, "objw", "pub2", "x", types.ObjectCannedACLPublicRead), "AccessDenied")
		_, err = owner.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("objw"), Key: aws.String("pub2")})
		if err == nil {
			t.Fatal("a refused public PutObject stored the object")
		}
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objw"), Key: aws.String("auth"), GrantRead: aws.String(`uri="http://acs.amazonaws.com/groups/global/AllUsers"`)})
		wantCode(t, err, "AccessDenied")
		_, err = owner.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("objw"), Key: aws.String("pub3"), CopySource: aws.String("objw/pub"), ACL: types.ObjectCannedACLPublicRead})
		wantCode(t, err, "AccessDenied")
		_, err = owner.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("objw"), Key: aws.String("pub4"), ACL: types.ObjectCannedACLPublicReadWrite})
		wantCode(t, err, "AccessDenied")
		wantObjectACL(t, owner, "objw", "auth", "", "root", "root FULL_CONTROL", "AuthenticatedUsers READ")
		_, err = owner.DeletePublicAccessBlock(ctx, &awss3.DeletePublicAccessBlockInput{Bucket: aws.String("objw")})
		must(t, err)

		// An explicit deny of the bucket policy wins over the object ACL.
		must(t, putPolicy(t, owner, "objw", `{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::objw/pub"}]}`))
		if st, _ := h.anonGet(t, "/root:objw/pub"); st != 403 {
			t.Fatalf("anonymous GET against an explicit deny: %d", st)
		}
		_, err = owner.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("objw")})
		must(t, err)
		if st, _ := h.anonGet(t, "/root:objw/pub"); st != 200 {
			t.Fatalf("anonymous GET after the deny went: %d", st)
		}

		// RestrictPublicBuckets silences a public policy, not an object ACL.
		must(t, putPolicy(t, owner, "objw", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::objw/*"}]}`))
		if st, _ := h.anonGet(t, "/root:objw/auth"); st != 200 {
			t.Fatalf("anonymous GET through a public policy: %d", st)
		}
		_, err = owner.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("objw"),
			PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{RestrictPublicBuckets: aws.Bool(true)}})
		must(t, err)
		if st, _ := h.anonGet(t, "/root:objw/auth"); st != 403 {
			t.Fatalf("anonymous GET through a restricted public policy: %d", st)
		}
		if st, _ := h.anonGet(t, "/root:objw/pub"); st != 200 {
			t.Fatalf("anonymous GET of a public-read object under RestrictPublicBuckets: %d", st)
		}
		_, err = owner.DeletePublicAccessBlock(ctx, &awss3.DeletePublicAccessBlockInput{Bucket: aws.String("objw")})
		must(t, err)
		_, err = owner.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("objw")})
		must(t, err)
	})

	t.Run("ObjectWriter: the writer owns its object", func(t *testing.T) {
		must(t, putIn(eve, "root:objw", "ew", "eve's", ""))
		wantObjectACL(t, eve, "root:objw", "ew", "", "acme", "acme FULL_CONTROL")
		if got, err := readObject(t, eve, "root:objw", "ew"); err != nil || got != "eve's" {
			t.Fatalf("the writer's own read: %q %v", got, err)
		}
		// The bucket owner reads it only once its ACL grants it.
		_, err := readObject(t, owner, "objw", "ew")
		wantCode(t, err, "AccessDenied")
		resp, _ := h.do(t, rawReq{method: "HEAD", path: "/objw/ew"})
		if resp.StatusCode != 403 {
			t.Fatalf("bucket owner's HEAD of a foreign object: %d", resp.StatusCode)
		}
		_, err = objectACL(owner, "objw", "ew", "")
		wantCode(t, err, "AccessDenied")
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objw"), Key: aws.String("ew"), ACL: types.ObjectCannedACLPublicRead})
		wantCode(t, err, "AccessDenied")
		// ...nor can a bucket policy give it away.
		must(t, putPolicy(t, owner, "objw", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::zed:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::objw/*"}]}`))
		_, err = readObject(t, zoe, "root:objw", "ew")
		wantCode(t, err, "AccessDenied")
		if got, err := readObject(t, zoe, "root:objw", "pub"); err != nil || got != "public bytes" {
			t.Fatalf("the policy's grant on the bucket owner's object: %q %v", got, err)
		}
		_, err = owner.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("objw")})
		must(t, err)

		// Listings show the owner.
		lo, err := owner.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("objw"), FetchOwner: aws.Bool(true)})
		must(t, err)
		owners := map[string]string{}
		for _, o := range lo.Contents {
			owners[aws.ToString(o.Key)] = aws.ToString(o.Owner.ID)
		}
		if owners["ew"] != "acme" || owners["pub"] != "root" {
			t.Fatalf("list owners %v", owners)
		}
		lv, err := owner.ListObjectVersions(ctx, &awss3.ListObjectVersionsInput{Bucket: aws.String("objw")})
		must(t, err)
		for _, v := range lv.Versions {
			if want := map[bool]string{true: "acme", false: "root"}[aws.ToString(v.Key) == "ew"]; aws.ToString(v.Owner.ID) != want {
				t.Fatalf("version owner of %s: %q", aws.ToString(v.Key), aws.ToString(v.Owner.ID))
			}
		}

		// The writer grants READ to the bucket owner: read, not its ACL.
		_, err = eve.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("root:objw"), Key: aws.String("ew"), GrantRead: aws.String(`id="root"`), GrantFullControl: aws.String(`id="acme"`)})
		must(t, err)
		if got, err := readObject(t, owner, "objw", "ew"); err != nil || got != "eve's" {
			t.Fatalf("granted read: %q %v", got, err)
		}
		_, err = objectACL(owner, "objw", "ew", "")
		wantCode(t, err, "AccessDenied")
		_, err = readObject(t, zoe, "root:objw", "ew")
		wantCode(t, err, "AccessDenied")
		// bucket-owner-full-control at write time: still the writer's.
		must(t, putIn(eve, "root:objw", "ew2", "eve's too", types.ObjectCannedACLBucketOwnerFullControl))
		wantObjectACL(t, owner, "objw", "ew2", "", "acme", "acme FULL_CONTROL", "root FULL_CONTROL")
		// A document must name the real owner.
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objw"), Key: aws.String("ew2"), AccessControlPolicy: &types.AccessControlPolicy{
			Owner:  &types.Owner{ID: aws.String("root")},
			Grants: []types.Grant{{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("root")}, Permission: types.PermissionFullControl}}}})
		wantCode(t, err, "AccessDenied")
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objw"), Key: aws.String("ew2"), AccessControlPolicy: &types.AccessControlPolicy{
			Owner: &types.Owner{ID: aws.String("acme")},
			Grants: []types.Grant{{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("root")}, Permission: types.PermissionFullControl},
				{Grantee: &types.Grantee{Type: types.TypeCanonicalUser, ID: aws.String("zed/zoe")}, Permission: types.PermissionRead}}}})
		must(t, err)
		wantObjectACL(t, owner, "objw", "ew2", "", "acme", "root FULL_CONTROL", "zed/zoe READ")
		if got, err := readObject(t, zoe, "root:objw", "ew2"); err != nil || got != "eve's too" {
			t.Fatalf("a user grant: %q %v", got, err)
		}
		// The owner keeps FULL_CONTROL whatever the ACL lists.
		if got, err := readObject(t, eve, "root:objw", "ew2"); err != nil || got != "eve's too" {
			t.Fatalf("owner's read after its grant went: %q %v", got, err)
		}
		// The bucket owner may always delete.
		_, err = owner.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("objw"), Key: aws.String("ew2")})
		must(t, err)
	})

	t.Run("BucketOwnerPreferred: bucket-owner-full-control transfers ownership", func(t *testing.T) {
		must(t, putIn(eve, "root:objp", "t1", "to the bucket owner", types.ObjectCannedACLBucketOwnerFullControl))
		wantObjectACL(t, owner, "objp", "t1", "", "root", "root FULL_CONTROL")
		if got, err := readObject(t, owner, "objp", "t1"); err != nil || got != "to the bucket owner" {
			t.Fatalf("transferred object: %q %v", got, err)
		}
		_, err := readObject(t, eve, "root:objp", "t1")
		wantCode(t, err, "AccessDenied")
		// Without it the writer keeps the object.
		must(t, putIn(eve, "root:objp", "t2", "kept", ""))
		wantObjectACL(t, eve, "root:objp", "t2", "", "acme", "acme FULL_CONTROL")
		_, err = readObject(t, owner, "objp", "t2")
		wantCode(t, err, "AccessDenied")
		// Multipart: the ACL of CreateMultipartUpload applies at Complete.
		mu, err := eve.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("root:objp"), Key: aws.String("mp"), ACL: types.ObjectCannedACLBucketOwnerFullControl})
		must(t, err)
		pu, err := eve.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("root:objp"), Key: aws.String("mp"), UploadId: mu.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("parted")})
		must(t, err)
		// Listings show the upload's owner-to-be and the user who created it;
		// an upload the writer keeps shows the writer's tenant as owner.
		kept, err := eve.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("root:objp"), Key: aws.String("mpk")})
		must(t, err)
		eveARN := "arn:aws:iam::acme:user/eve"
		lu, err := owner.ListMultipartUploads(ctx, &awss3.ListMultipartUploadsInput{Bucket: aws.String("objp")})
		must(t, err)
		got := map[string]string{}
		for _, u := range lu.Uploads {
			got[aws.ToString(u.Key)] = aws.ToString(u.Owner.ID) + " " + aws.ToString(u.Initiator.ID) + " " + aws.ToString(u.Initiator.DisplayName)
		}
		if want := map[string]string{"mp": "root " + eveARN + " eve", "mpk": "acme " + eveARN + " eve"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("ListMultipartUploads owner and initiator: %q, want %q", got, want)
		}
		for _, c := range []struct{ key, id, owner string }{{"mp", aws.ToString(mu.UploadId), "root"}, {"mpk", aws.ToString(kept.UploadId), "acme"}} {
			for _, maxParts := range []int32{0, 10} {
				lp, err := owner.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("objp"), Key: aws.String(c.key), UploadId: aws.String(c.id), MaxParts: aws.Int32(maxParts)})
				must(t, err)
				if aws.ToString(lp.Owner.ID) != c.owner || aws.ToString(lp.Initiator.ID) != eveARN {
					t.Fatalf("ListParts %s (max-parts %d): owner %q initiator %q", c.key, maxParts, aws.ToString(lp.Owner.ID), aws.ToString(lp.Initiator.ID))
				}
			}
		}
		_, err = eve.AbortMultipartUpload(ctx, &awss3.AbortMultipartUploadInput{Bucket: aws.String("root:objp"), Key: aws.String("mpk"), UploadId: kept.UploadId})
		must(t, err)
		_, err = eve.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("root:objp"), Key: aws.String("mp"), UploadId: mu.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: pu.ETag, PartNumber: aws.Int32(1)}}}})
		must(t, err)
		wantObjectACL(t, owner, "objp", "mp", "", "root", "root FULL_CONTROL")
		mu, err = owner.CreateMultipartUpload(ctx, &awss3.CreateMultipartUploadInput{Bucket: aws.String("objp"), Key: aws.String("mp2"), GrantRead: aws.String(`id="zed"`)})
		must(t, err)
		// The tenant's root user shows as the tenant.
		if lp, err := owner.ListParts(ctx, &awss3.ListPartsInput{Bucket: aws.String("objp"), Key: aws.String("mp2"), UploadId: mu.UploadId}); err != nil ||
			aws.ToString(lp.Owner.ID) != "root" || aws.ToString(lp.Initiator.ID) != "root" {
			t.Fatalf("ListParts of the bucket owner's upload: %v %v", lp, err)
		}
		pu, err = owner.UploadPart(ctx, &awss3.UploadPartInput{Bucket: aws.String("objp"), Key: aws.String("mp2"), UploadId: mu.UploadId, PartNumber: aws.Int32(1), Body: strings.NewReader("granted")})
		must(t, err)
		_, err = owner.CompleteMultipartUpload(ctx, &awss3.CompleteMultipartUploadInput{Bucket: aws.String("objp"), Key: aws.String("mp2"), UploadId: mu.UploadId,
			MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{ETag: pu.ETag, PartNumber: aws.Int32(1)}}}})
		must(t, err)
		wantObjectACL(t, owner, "objp", "mp2", "", "root", "zed READ")
		if got, err := readObject(t, zoe, "root:objp", "mp2"); err != nil || got != "granted" {
			t.Fatalf("read of a multipart object granted at creation: %q %v", got, err)
		}
		// A copy gets the request's ACL, never its source's.
		_, err = owner.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("objp"), Key: aws.String("c1"), CopySource: aws.String("objp/t1"), ACL: types.ObjectCannedACLPublicRead})
		must(t, err)
		if st, body := h.anonGet(t, "/root:objp/c1"); st != 200 || body != "to the bucket owner" {
			t.Fatalf("anonymous GET of a public-read copy: %d %q", st, body)
		}
		_, err = owner.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("objp"), Key: aws.String("c2"), CopySource: aws.String("objp/c1")})
		must(t, err)
		wantObjectACL(t, owner, "objp", "c2", "", "root", "root FULL_CONTROL")
		if st, _ := h.anonGet(t, "/root:objp/c2"); st != 403 {
			t.Fatalf("a copy took its source's ACL: %d", st)
		}
		// Copying needs READ on the source: the bucket owner cannot copy
		// what the writer kept.
		_, err = owner.CopyObject(ctx, &awss3.CopyObjectInput{Bucket: aws.String("objp"), Key: aws.String("c3"), CopySource: aws.String("objp/t2")})
		wantCode(t, err, "AccessDenied")
	})

	t.Run("Put/GetObjectAcl on a versionId", func(t *testing.T) {
		h.bucket(t, "objv")
		must(t, setOwnership(owner, "objv", types.ObjectOwnershipObjectWriter))
		_, err := owner.PutBucketVersioning(ctx, &awss3.PutBucketVersioningInput{Bucket: aws.String("objv"),
			VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
		must(t, err)
		v1 := aws.ToString(put(t, owner, "objv", "k", "first").VersionId)
		v2 := aws.ToString(put(t, owner, "objv", "k", "second").VersionId)
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objv"), Key: aws.String("k"), VersionId: aws.String(v1), ACL: types.ObjectCannedACLPublicRead})
		must(t, err)
		wantObjectACL(t, owner, "objv", "k", v1, "root", "root FULL_CONTROL", "AllUsers READ")
		wantObjectACL(t, owner, "objv", "k", v2, "root", "root FULL_CONTROL")
		wantObjectACL(t, owner, "objv", "k", "", "root", "root FULL_CONTROL")
		if st, body := h.anonGet(t, "/root:objv/k?versionId="+v1); st != 200 || body != "first" {
			t.Fatalf("anonymous GET of the public version: %d %q", st, body)
		}
		if st, _ := h.anonGet(t, "/root:objv/k"); st != 403 {
			t.Fatalf("anonymous GET of the private latest version: %d", st)
		}
		if st, _ := h.anonGet(t, "/root:objv/k?versionId="+v2); st != 403 {
			t.Fatalf("anonymous GET of the private version: %d", st)
		}
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objv"), Key: aws.String("k"), ACL: types.ObjectCannedACLAuthenticatedRead})
		must(t, err)
		wantObjectACL(t, owner, "objv", "k", v2, "root", "root FULL_CONTROL", "AuthenticatedUsers READ")
		wantObjectACL(t, owner, "objv", "k", v1, "root", "root FULL_CONTROL", "AllUsers READ")
		// A version id that names nothing.
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("objv"), Key: aws.String("k"), VersionId: aws.String("00000000000000ff"), ACL: types.ObjectCannedACLPublicRead})
		wantCode(t, err, "NoSuchVersion")
	})

	t.Run("BucketOwnerEnforced keeps ACLs off", func(t *testing.T) {
		h.bucket(t, "enf")
		wantCode(t, putIn(owner, "enf", "o", "x", types.ObjectCannedACLPublicRead), "AccessControlListNotSupported")
		must(t, putIn(owner, "enf", "o", "x", types.ObjectCannedACLBucketOwnerFullControl))
		_, err := owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("enf"), Key: aws.String("o"), GrantRead: aws.String(`id="acme"`)})
		wantCode(t, err, "AccessControlListNotSupported")
		_, err = owner.PutObjectAcl(ctx, &awss3.PutObjectAclInput{Bucket: aws.String("enf"), Key: aws.String("o"), ACL: types.ObjectCannedACLPrivate})
		must(t, err)
		wantObjectACL(t, owner, "enf", "o", "", "root", "root FULL_CONTROL")
		// Back to BucketOwnerEnforced: the bucket owner owns every object
		// and stored object ACLs grant nothing.
		_, err = owner.PutBucketAcl(ctx, &awss3.PutBucketAclInput{Bucket: aws.String("objw"), ACL: types.BucketCannedACLPrivate})
		must(t, err)
		must(t, setOwnership(owner, "objw", types.ObjectOwnershipBucketOwnerEnforced))
		if got, err := readObject(t, owner, "objw", "ew"); err != nil || got != "eve's" {
			t.Fatalf("bucket owner's read under BucketOwnerEnforced: %q %v", got, err)
		}
		wantObjectACL(t, owner, "objw", "ew", "", "root", "root FULL_CONTROL")
		if st, _ := h.anonGet(t, "/root:objw/pub"); st != 403 {
			t.Fatalf("a stored public ACL under BucketOwnerEnforced: %d", st)
		}
		_, err = readObject(t, eve, "root:objw", "ew")
		wantCode(t, err, "AccessDenied")
	})
}

// POST Object's acl field is the x-amz-acl of the new object.
func TestPostObjectACL(t *testing.T) {
	h := newHarness(t, nil)
	h.bucket(t, "forms")
	h.bucket(t, "aclforms")
	must(t, setOwnership(h.client(false), "aclforms", types.ObjectOwnershipObjectWriter))
	hour := time.Now().Add(time.Hour)
	form := func(bucket, key, acl string) postForm {
		conds := []any{map[string]string{"bucket": bucket}, []any{"starts-with", "$key", ""}, map[string]string{"acl": acl}}
		fs := append([]formField{{"key", key}, {"acl", acl}}, h.v4Policy(t, hour, conds, "")...)
		return postForm{fields: fs, fileName: "f", file: []byte("form bytes")}
	}
	resp, body := h.post(t, "aclforms", form("aclforms", "pub", "public-read"))
	if resp.StatusCode != 204 {
		t.Fatalf("public-read post: %d %s", resp.StatusCode, body)
	}
	if st, got := h.anonGet(t, "/root:aclforms/pub"); st != 200 || got != "form bytes" {
		t.Fatalf("anonymous GET of a public-read form upload: %d %q", st, got)
	}
	resp, body = h.post(t, "aclforms", form("aclforms", "priv", "private"))
	if resp.StatusCode != 204 {
		t.Fatalf("private post: %d %s", resp.StatusCode, body)
	}
	if st, _ := h.anonGet(t, "/root:aclforms/priv"); st != 403 {
		t.Fatalf("anonymous GET of a private form upload: %d", st)
	}
	resp, body = h.post(t, "aclforms", form("aclforms", "bad", "everyone"))
	expectError(t, resp, body, 400, "InvalidArgument")
	resp, body = h.post(t, "forms", form("forms", "pub", "public-read"))
	expectError(t, resp, body, 400, "AccessControlListNotSupported")
	_, err := h.client(false).HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("forms"), Key: aws.String("pub")})
	if err == nil {
		t.Fatal("a refused form upload stored the object")
	}
}
