package s3

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/vaultaire/vaultaire/policy"
)

func TestACLGrantsActions(t *testing.T) {
	eve := policy.Principal{Tenant: "acme", User: "eve"}
	anon := policy.Principal{}
	cases := []struct {
		grantee, perm, action string
		pr                    policy.Principal
		want                  bool
	}{
		{"id:acme", permRead, "s3:ListBucket", eve, true},
		{"id:acme", permRead, "s3:PutObject", eve, false},
		{"id:acme", permWrite, "s3:PutObject", eve, true},
		{"id:acme", permWrite, "s3:GetBucketAcl", eve, false},
		{"id:acme", permReadACP, "s3:GetBucketAcl", eve, true},
		{"id:acme", permWriteACP, "s3:PutBucketAcl", eve, true},
		{"id:acme", permFullControl, "s3:PutBucketAcl", eve, true},
		{"id:acme", permFullControl, "s3:DeleteBucket", eve, false},
		{"id:acme", permFullControl, "s3:PutBucketPolicy", eve, false},
		{"id:acme/eve", permRead, "s3:ListBucket", eve, true},
		{"id:acme/bob", permRead, "s3:ListBucket", eve, false},
		{"id:other", permRead, "s3:ListBucket", eve, false},
		{"id:acme", permRead, "s3:ListBucket", anon, false},
		{"uri:AllUsers", permRead, "s3:ListBucket", anon, true},
		{"uri:AuthenticatedUsers", permRead, "s3:ListBucket", anon, false},
		{"uri:AuthenticatedUsers", permRead, "s3:ListBucket", eve, true},
	}
	for _, c := range cases {
		if got := grants(c.perm, c.action) && granteeMatches(c.grantee, c.pr); got != c.want {
			t.Errorf("%s %s %s for %+v: %v, want %v", c.grantee, c.perm, c.action, c.pr, got, c.want)
		}
	}
}

// What each permission of an object ACL allows (S3's table): a bucket
// permission never reads an object, an object permission never lists.
func TestObjectACLPermissions(t *testing.T) {
	cases := []struct {
		perm, action string
		want         bool
	}{
		{permRead, "s3:GetObject", true},
		{permRead, "s3:GetObjectVersion", true},
		{permRead, "s3:GetObjectAcl", false},
		{permRead, "s3:ListBucket", false},
		{permWrite, "s3:PutObject", false},
		{permWrite, "s3:GetObject", false},
		{permReadACP, "s3:GetObjectAcl", true},
		{permReadACP, "s3:GetObjectVersionAcl", true},
		{permReadACP, "s3:GetObject", false},
		{permWriteACP, "s3:PutObjectAcl", true},
		{permWriteACP, "s3:PutObjectVersionAcl", true},
		{permWriteACP, "s3:GetObjectAcl", false},
		{permFullControl, "s3:GetObject", true},
		{permFullControl, "s3:PutObjectVersionAcl", true},
		{permFullControl, "s3:DeleteObject", false},
		{permFullControl, "s3:PutObjectTagging", false},
	}
	for _, c := range cases {
		if got := permAllows(objPermActions, c.perm, c.action); got != c.want {
			t.Errorf("object %s %s: %v, want %v", c.perm, c.action, got, c.want)
		}
	}
	for _, a := range []string{"s3:GetObject", "s3:GetObjectVersion", "s3:GetObjectAcl", "s3:PutObjectVersionAcl"} {
		if !objectACLAction(a) {
			t.Errorf("%s is not decided by object ACLs", a)
		}
		if grants(permFullControl, a) {
			t.Errorf("bucket FULL_CONTROL allows %s", a)
		}
	}
	for _, a := range []string{"s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:GetObjectTagging"} {
		if objectACLAction(a) {
			t.Errorf("%s is decided by object ACLs", a)
		}
	}
}

// An ACL is stored as "" exactly when it is its owner's FULL_CONTROL
// alone, so that records of private objects stay as they were.
func TestStoredACLValue(t *testing.T) {
	priv, err := privateACL("acme").storedValue("acme")
	if err != nil || priv != "" {
		t.Fatalf("private: %q %v", priv, err)
	}
	for _, a := range []storedACL{
		privateACL("root"), // another owner's
		{Grants: []aclGrant{{"id:acme", permRead}}},
		{Grants: []aclGrant{{"id:acme", permFullControl}, {"uri:AllUsers", permRead}}},
		{},
	} {
		v, err := a.storedValue("acme")
		if err != nil || v == "" {
			t.Fatalf("%+v stored as %q %v", a, v, err)
		}
		back, err := decodeStoredACL(v, "acme")
		if err != nil || len(back.Grants) != len(a.Grants) {
			t.Fatalf("%+v decoded back as %+v %v", a, back, err)
		}
	}
	big := storedACL{}
	for i := 0; i < 100; i++ {
		big.Grants = append(big.Grants, aclGrant{"id:acme/" + strings.Repeat("u", 200), permRead})
	}
	if _, err := big.storedValue("acme"); !errors.Is(err, errMalformedACL) {
		t.Fatalf("an oversized ACL: %v", err)
	}
}

func TestParseGrantHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("X-Amz-Grant-Read", `id="acme", uri="http://acs.amazonaws.com/groups/global/AllUsers"`)
	h.Set("X-Amz-Grant-Full-Control", `ID=root`)
	a, err := parseGrantHeaders(h)
	if err != nil {
		t.Fatal(err)
	}
	want := []aclGrant{{"id:acme", permRead}, {"uri:AllUsers", permRead}, {"id:root", permFullControl}}
	if len(a.Grants) != len(want) {
		t.Fatalf("%+v", a.Grants)
	}
	for i := range want {
		if a.Grants[i] != want[i] {
			t.Fatalf("grant %d: %+v, want %+v", i, a.Grants[i], want[i])
		}
	}
	if !a.public() || a.ownerOnly("root") {
		t.Fatal("public/ownerOnly")
	}
	for _, bad := range []string{`acme`, `id="Bad_Tenant"`, `id="acme/"`, `uri="http://example.com/x"`, `emailAddress="a@b.c"`, `kind="x"`} {
		h := http.Header{"X-Amz-Grant-Read": {bad}}
		if _, err := parseGrantHeaders(h); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseACLDocumentWithoutXSIDeclaration(t *testing.T) {
	// Some clients send xsi:type without declaring the prefix, or leave
	// the type out; both still name the grantee.
	doc := `<AccessControlPolicy><AccessControlList>
<Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AuthenticatedUsers</URI></Grantee><Permission>READ</Permission></Grant>
<Grant><Grantee><ID>acme/eve</ID></Grantee><Permission>WRITE</Permission></Grant>
</AccessControlList></AccessControlPolicy>`
	a, err := parseACLDocument([]byte(doc), "root")
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Grants) != 2 || a.Grants[0] != (aclGrant{"uri:AuthenticatedUsers", permRead}) || a.Grants[1] != (aclGrant{"id:acme/eve", permWrite}) {
		t.Fatalf("%+v", a.Grants)
	}
}

// FuzzACLDocument checks that the ACL parser never panics and that what
// it accepts survives the stored form and the XML it is served as.
func FuzzACLDocument(f *testing.F) {
	f.Add(`<AccessControlPolicy><Owner><ID>root</ID></Owner><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>acme</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`)
	f.Add(`<AccessControlPolicy><AccessControlList><Grant><Grantee xsi:type="Group"><URI>http://acs.amazonaws.com/groups/global/AllUsers</URI></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`)
	f.Add(`<AccessControlPolicy><AccessControlList><Grant><Permission>READ</Permission></Grant></AccessControlList></AccessControlPolicy>`)
	f.Add(`<AccessControlPolicy>`)
	f.Fuzz(func(t *testing.T, doc string) {
		a, err := parseACLDocument([]byte(doc), "root")
		if err != nil {
			return
		}
		if len(a.Grants) > maxGrants {
			t.Fatalf("%d grants accepted", len(a.Grants))
		}
		var back storedACL
		if err := json.Unmarshal([]byte(a.encode()), &back); err != nil || len(back.Grants) != len(a.Grants) {
			t.Fatalf("stored form: %v %+v", err, back)
		}
		for i, g := range a.Grants {
			if back.Grants[i] != g {
				t.Fatalf("stored grant %d: %+v, want %+v", i, back.Grants[i], g)
			}
			if !strings.HasPrefix(g.Grantee, "id:") && g.Grantee != "uri:AllUsers" && g.Grantee != "uri:AuthenticatedUsers" {
				t.Fatalf("grantee %q", g.Grantee)
			}
		}
		x := aclToXML(a, "root")
		if len(x.Grants) != len(a.Grants) {
			t.Fatalf("served %d grants of %d", len(x.Grants), len(a.Grants))
		}
	})
}

// FuzzGrantHeaders checks the x-amz-grant-* parser the same way.
func FuzzGrantHeaders(f *testing.F) {
	f.Add(`id="acme", uri="http://acs.amazonaws.com/groups/global/AllUsers"`)
	f.Add(`emailAddress="a@b.c"`)
	f.Add(`,,id=`)
	f.Fuzz(func(t *testing.T, v string) {
		a, err := parseGrantHeaders(http.Header{"X-Amz-Grant-Write": {v}})
		if err != nil {
			return
		}
		for _, g := range a.Grants {
			if g.Perm != permWrite {
				t.Fatalf("perm %q", g.Perm)
			}
			if id, ok := strings.CutPrefix(g.Grantee, "id:"); ok {
				tn, _, _ := strings.Cut(id, "/")
				if !validTenantID(tn) {
					t.Fatalf("grantee tenant %q", tn)
				}
			}
		}
	})
}
