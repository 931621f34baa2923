package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// ctx builds a request context from key/value pairs.
func ctx(kv ...string) map[string]string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var (
	alice  = Principal{Tenant: "acme", User: "alice"}
	bob    = Principal{Tenant: "acme", User: "bob"}
	eve    = Principal{Tenant: "evil", User: "eve"}
	anon   = Principal{}
	tlsOn  = ctx(KeySecureTransport, "true", KeySourceIP, "192.0.2.10")
	tlsOff = ctx(KeySecureTransport, "false", KeySourceIP, "192.0.2.10")
)

// The policies are AWS's documented bucket policy examples ("Examples of
// Amazon S3 bucket policies"), with the account as a tenant id.
func TestEvaluateAWSExamples(t *testing.T) {
	type check struct {
		name   string
		req    Request
		expect Decision
	}
	cases := []struct {
		name   string
		kind   Kind
		doc    string
		checks []check
	}{
		{
			name: "public read",
			doc: `{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*",
				"Action":["s3:GetObject","s3:GetObjectVersion"],"Resource":["arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"]}]}`,
			checks: []check{
				{"anonymous get", Request{anon, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/a/b.txt", nil}, Allowed},
				{"action case does not matter", Request{anon, "S3:GETOBJECT", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/x", nil}, Allowed},
				{"anonymous put", Request{anon, "s3:PutObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/x", nil}, NotApplicable},
				{"list is not granted", Request{anon, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET", nil}, NotApplicable},
				{"other bucket", Request{anon, "s3:GetObject", "arn:aws:s3:::other/x", nil}, NotApplicable},
			},
		},
		{
			name: "restrict to IP ranges",
			doc: `{"Version":"2012-10-17","Id":"S3PolicyId1","Statement":[{"Sid":"IPAllow","Effect":"Deny","Principal":"*",
				"Action":"s3:*","Resource":["arn:aws:s3:::DOC-EXAMPLE-BUCKET","arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
				"Condition":{"NotIpAddress":{"aws:SourceIp":["192.0.2.0/24","2001:db8::/32"]}}},
				{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::acme:root"},"Action":"s3:*","Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"}]}`,
			checks: []check{
				{"inside v4 range", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", ctx(KeySourceIP, "192.0.2.77")}, Allowed},
				{"inside v6 range", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", ctx(KeySourceIP, "2001:db8::1")}, Allowed},
				{"v4-mapped v6", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", ctx(KeySourceIP, "::ffff:192.0.2.1")}, Allowed},
				{"outside", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", ctx(KeySourceIP, "203.0.113.5")}, Denied},
				{"no address (negated operator holds)", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", nil}, Denied},
				{"other tenant inside range", Request{eve, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", ctx(KeySourceIP, "192.0.2.77")}, NotApplicable},
			},
		},
		{
			name: "require TLS",
			doc: `{"Version":"2012-10-17","Statement":[{"Sid":"RestrictToTLSRequestsOnly","Action":"s3:*","Effect":"Deny",
				"Resource":["arn:aws:s3:::DOC-EXAMPLE-BUCKET","arn:aws:s3:::DOC-EXAMPLE-BUCKET/*"],
				"Condition":{"Bool":{"aws:SecureTransport":"false"}},"Principal":"*"}]}`,
			checks: []check{
				{"plain http", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", tlsOff}, Denied},
				{"https", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", tlsOn}, NotApplicable},
				{"bucket itself", Request{bob, "s3:ListBucket", "arn:aws:s3:::DOC-EXAMPLE-BUCKET", tlsOff}, Denied},
			},
		},
		{
			name: "read-only on a prefix for another account's user",
			doc: `{"Version":"2012-10-17","Statement":[
				{"Sid":"List","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::evil:user/eve"]},"Action":"s3:ListBucket",
				 "Resource":"arn:aws:s3:::shared","Condition":{"StringLike":{"s3:prefix":["public/*",""]}}},
				{"Sid":"Read","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::evil:user/eve"},"Action":["s3:GetObject"],
				 "Resource":"arn:aws:s3:::shared/public/*"}]}`,
			checks: []check{
				{"read inside", Request{eve, "s3:GetObject", "arn:aws:s3:::shared/public/a", nil}, Allowed},
				{"read outside", Request{eve, "s3:GetObject", "arn:aws:s3:::shared/private/a", nil}, NotApplicable},
				{"write inside", Request{eve, "s3:PutObject", "arn:aws:s3:::shared/public/a", nil}, NotApplicable},
				{"list the prefix", Request{eve, "s3:ListBucket", "arn:aws:s3:::shared", ctx(KeyPrefix, "public/x")}, Allowed},
				{"list the root", Request{eve, "s3:ListBucket", "arn:aws:s3:::shared", ctx(KeyPrefix, "")}, Allowed},
				{"list elsewhere", Request{eve, "s3:ListBucket", "arn:aws:s3:::shared", ctx(KeyPrefix, "private/")}, NotApplicable},
				{"list without prefix", Request{eve, "s3:ListBucket", "arn:aws:s3:::shared", nil}, NotApplicable},
				{"another user of that tenant", Request{Principal{"evil", "mallory"}, "s3:GetObject", "arn:aws:s3:::shared/public/a", nil}, NotApplicable},
				{"anonymous", Request{anon, "s3:GetObject", "arn:aws:s3:::shared/public/a", nil}, NotApplicable},
			},
		},
		{
			name: "deny unencrypted uploads",
			doc: `{"Version":"2012-10-17","Id":"PutObjPolicy","Statement":[
				{"Sid":"DenyIncorrectEncryptionHeader","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
				 "Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"AES256"}}},
				{"Sid":"DenyUnEncryptedObjectUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject",
				 "Resource":"arn:aws:s3:::DOC-EXAMPLE-BUCKET/*","Condition":{"Null":{"s3:x-amz-server-side-encryption":true}}}]}`,
			checks: []check{
				{"no header", Request{alice, "s3:PutObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", nil}, Denied},
				{"kms", Request{alice, "s3:PutObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", ctx(KeySSE, "aws:kms")}, Denied},
				{"AES256", Request{alice, "s3:PutObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", ctx(KeySSE, "AES256")}, NotApplicable},
				{"reads untouched", Request{alice, "s3:GetObject", "arn:aws:s3:::DOC-EXAMPLE-BUCKET/k", nil}, NotApplicable},
			},
		},
		{
			name: "identity policy: a user's home prefix with ${aws:username}",
			kind: Identity,
			doc: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::home",
				 "Condition":{"StringLike":{"s3:prefix":["${aws:username}/*"]}}},
				{"Effect":"Allow","Action":["s3:GetObject","s3:PutObject","s3:DeleteObject*"],"Resource":"arn:aws:s3:::home/${aws:username}/*"},
				{"Effect":"Deny","NotAction":"s3:Get*","Resource":"arn:aws:s3:::home/${aws:username}/readonly/*"}]}`,
			checks: []check{
				{"own prefix", Request{alice, "s3:PutObject", "arn:aws:s3:::home/alice/f", ctx(KeyUsername, "alice")}, Allowed},
				{"version delete by wildcard", Request{alice, "s3:DeleteObjectVersion", "arn:aws:s3:::home/alice/f", ctx(KeyUsername, "alice")}, Allowed},
				{"other's prefix", Request{alice, "s3:GetObject", "arn:aws:s3:::home/bob/f", ctx(KeyUsername, "alice")}, NotApplicable},
				{"no username: variable does not resolve", Request{alice, "s3:GetObject", "arn:aws:s3:::home/alice/f", nil}, NotApplicable},
				{"list own", Request{alice, "s3:ListBucket", "arn:aws:s3:::home", ctx(KeyUsername, "alice", KeyPrefix, "alice/docs/")}, Allowed},
				{"list other", Request{alice, "s3:ListBucket", "arn:aws:s3:::home", ctx(KeyUsername, "alice", KeyPrefix, "bob/")}, NotApplicable},
				{"NotAction deny", Request{alice, "s3:PutObject", "arn:aws:s3:::home/alice/readonly/x", ctx(KeyUsername, "alice")}, Denied},
				{"NotAction spares reads", Request{alice, "s3:GetObject", "arn:aws:s3:::home/alice/readonly/x", ctx(KeyUsername, "alice")}, Allowed},
			},
		},
		{
			name: "numeric, date, string and tag conditions; NotResource; NotPrincipal",
			doc: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":{"AWS":"acme"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::b",
				 "Condition":{"NumericLessThanEquals":{"s3:max-keys":"10"},"StringEquals":{"s3:delimiter":"/"}}},
				{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*",
				 "Condition":{"StringEquals":{"s3:ExistingObjectTag/class":"public"},"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}},
				{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::acme:user/alice"},"Action":"s3:PutObject","NotResource":"arn:aws:s3:::b/inbox/*"},
				{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::acme:root"},"Action":"s3:PutObject","Resource":"arn:aws:s3:::b/*",
				 "Condition":{"StringEqualsIfExists":{"s3:x-amz-acl":"private"},"StringLike":{"s3:RequestObjectTag/team":"ops-*"}}},
				{"Effect":"Allow","Principal":{"AWS":"acme"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/v4/*",
				 "Condition":{"StringEquals":{"s3:signatureversion":"AWS4-HMAC-SHA256"}}}]}`,
			checks: []check{
				{"max-keys small", Request{bob, "s3:ListBucket", "arn:aws:s3:::b", ctx(KeyMaxKeys, "5", KeyDelimiter, "/")}, Allowed},
				{"max-keys large", Request{bob, "s3:ListBucket", "arn:aws:s3:::b", ctx(KeyMaxKeys, "1000", KeyDelimiter, "/")}, NotApplicable},
				{"max-keys not a number", Request{bob, "s3:ListBucket", "arn:aws:s3:::b", ctx(KeyMaxKeys, "ten", KeyDelimiter, "/")}, NotApplicable},
				{"no delimiter", Request{bob, "s3:ListBucket", "arn:aws:s3:::b", ctx(KeyMaxKeys, "5")}, NotApplicable},
				{"tagged public before date", Request{anon, "s3:GetObject", "arn:aws:s3:::b/k", ctx("s3:existingobjecttag/class", "public", KeyCurrentTime, "2026-06-01T00:00:00Z")}, Allowed},
				{"tagged public after date", Request{anon, "s3:GetObject", "arn:aws:s3:::b/k", ctx("s3:existingobjecttag/class", "public", KeyCurrentTime, "2031-06-01T00:00:00Z")}, NotApplicable},
				{"tag name is case-sensitive", Request{anon, "s3:GetObject", "arn:aws:s3:::b/k", ctx("s3:existingobjecttag/Class", "public", KeyCurrentTime, "2026-06-01T00:00:00Z")}, NotApplicable},
				{"bob puts outside inbox", Request{bob, "s3:PutObject", "arn:aws:s3:::b/x", ctx("s3:requestobjecttag/team", "ops-1")}, Denied},
				{"bob puts in inbox", Request{bob, "s3:PutObject", "arn:aws:s3:::b/inbox/x", ctx("s3:requestobjecttag/team", "ops-1")}, Allowed},
				{"alice puts anywhere", Request{alice, "s3:PutObject", "arn:aws:s3:::b/x", ctx("s3:requestobjecttag/team", "ops-1", KeyACL, "private")}, Allowed},
				{"alice with public acl", Request{alice, "s3:PutObject", "arn:aws:s3:::b/x", ctx("s3:requestobjecttag/team", "ops-1", KeyACL, "public-read")}, NotApplicable},
				{"alice without tag", Request{alice, "s3:PutObject", "arn:aws:s3:::b/x", nil}, NotApplicable},
				{"sigv4 read", Request{bob, "s3:GetObject", "arn:aws:s3:::b/v4/k", ctx(KeySignatureVersion, "AWS4-HMAC-SHA256")}, Allowed},
				{"sigv2 read", Request{bob, "s3:GetObject", "arn:aws:s3:::b/v4/k", ctx(KeySignatureVersion, "AWS")}, NotApplicable},
			},
		},
		{
			name: "more operators",
			doc: `{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a",
				 "Condition":{"StringEqualsIgnoreCase":{"aws:UserAgent":"CURL"},"NumericGreaterThan":{"aws:EpochTime":100},"DateGreaterThanEquals":{"aws:CurrentTime":"2020-01-01"}}},
				{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/b",
				 "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::acme:user/*"},"StringNotLike":{"aws:Referer":"*evil*"},"Null":{"aws:Referer":"false"}}},
				{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/c",
				 "Condition":{"NumericLessThanIfExists":{"s3:max-keys":3},"NotIpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"},"DateNotEquals":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}}]}`,
			checks: []check{
				{"ignore case", Request{anon, "s3:GetObject", "arn:aws:s3:::b/a", ctx(KeyUserAgent, "curl", KeyEpochTime, "200", KeyCurrentTime, "2024-02-02T00:00:00Z")}, Allowed},
				{"epoch too small", Request{anon, "s3:GetObject", "arn:aws:s3:::b/a", ctx(KeyUserAgent, "curl", KeyEpochTime, "50", KeyCurrentTime, "2024-02-02T00:00:00Z")}, NotApplicable},
				{"arn like", Request{alice, "s3:GetObject", "arn:aws:s3:::b/b", ctx(KeyPrincipalArn, "arn:aws:iam::acme:user/alice", KeyReferer, "https://good.example")}, Allowed},
				{"evil referer", Request{alice, "s3:GetObject", "arn:aws:s3:::b/b", ctx(KeyPrincipalArn, "arn:aws:iam::acme:user/alice", KeyReferer, "https://evil.example")}, NotApplicable},
				{"null false needs the key", Request{alice, "s3:GetObject", "arn:aws:s3:::b/b", ctx(KeyPrincipalArn, "arn:aws:iam::acme:user/alice")}, NotApplicable},
				{"IfExists absent", Request{anon, "s3:GetObject", "arn:aws:s3:::b/c", ctx(KeyCurrentTime, "2025-01-01T00:00:00Z")}, Allowed},
				{"IfExists present, fails", Request{anon, "s3:GetObject", "arn:aws:s3:::b/c", ctx(KeySourceIP, "10.1.2.3", KeyCurrentTime, "2025-01-01T00:00:00Z")}, NotApplicable},
				{"date equals excluded", Request{anon, "s3:GetObject", "arn:aws:s3:::b/c", ctx(KeyCurrentTime, "2024-01-01T00:00:00Z")}, NotApplicable},
			},
		},
	}
	for _, c := range cases {
		p, err := Parse([]byte(c.doc), c.kind)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, ch := range c.checks {
			if got := p.Evaluate(&ch.req); got != ch.expect {
				t.Errorf("%s / %s: got %v, want %v", c.name, ch.name, got, ch.expect)
			}
		}
	}
}

func TestPublic(t *testing.T) {
	for doc, want := range map[string]bool{
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`:                                                         true,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`:                                                 true,
		`{"Statement":{"Effect":"Deny","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`:                                                          false,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"acme"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`:                                              false,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}}`: false,
	} {
		p, err := Parse([]byte(doc), Bucket)
		if err != nil {
			t.Fatal(err)
		}
		if p.Public != want {
			t.Errorf("%s: Public %v, want %v", doc, p.Public, want)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	stmt := func(s string) string { return `{"Version":"2012-10-17","Statement":[` + s + `]}` }
	ok := `"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"`
	cases := []struct {
		name, doc, want string
		kind            Kind
	}{
		{"empty", ``, "empty policy", Bucket},
		{"not json", `{"Version":`, "not a JSON object", Bucket},
		{"trailing data", `{"Statement":[{` + ok + `}]} {}`, "not a JSON object", Bucket},
		{"array", `[]`, "not a JSON object", Bucket},
		{"unknown top field", `{"Statement":[{` + ok + `}],"Versions":"x"}`, `unknown field "Versions"`, Bucket},
		{"bad version", `{"Version":"2013-01-01","Statement":[{` + ok + `}]}`, "unknown Version", Bucket},
		{"no statement", `{"Version":"2012-10-17"}`, "missing required field Statement", Bucket},
		{"empty statement", `{"Version":"2012-10-17","Statement":[]}`, "Statement is empty", Bucket},
		{"no effect", stmt(`{"Principal":"*","Action":"s3:GetObject","Resource":"*"}`), "missing required field Effect", Bucket},
		{"bad effect", stmt(`{"Effect":"Maybe","Principal":"*","Action":"s3:GetObject","Resource":"*"}`), `Effect "Maybe"`, Bucket},
		{"no principal", stmt(`{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}`), "missing required field Principal", Bucket},
		{"principal in identity", stmt(`{` + ok + `}`), "must not name a Principal", Identity},
		{"both principals", stmt(`{"Effect":"Allow","Principal":"*","NotPrincipal":"*","Action":"s3:GetObject","Resource":"*"}`), "both Principal and NotPrincipal", Bucket},
		{"bad principal", stmt(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::ACME:root"},"Action":"s3:GetObject","Resource":"*"}`), "tenant id", Bucket},
		{"bad principal type", stmt(`{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"s3:GetObject","Resource":"*"}`), `type "Service"`, Bucket},
		{"unknown action", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObjekt","Resource":"*"}`), `"s3:GetObjekt" is not a known S3 action`, Bucket},
		{"unknown wildcard action", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:Frob*","Resource":"*"}`), "not a known S3 action", Bucket},
		{"other service", stmt(`{"Effect":"Allow","Principal":"*","Action":"iam:CreateUser","Resource":"*"}`), "only s3:", Bucket},
		{"no action", stmt(`{"Effect":"Allow","Principal":"*","Resource":"*"}`), "missing required field Action", Bucket},
		{"empty action list", stmt(`{"Effect":"Allow","Principal":"*","Action":[],"Resource":"*"}`), "empty list", Bucket},
		{"bad resource", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:sqs:::q"}`), "must be \"*\" or an S3 ARN", Bucket},
		{"no resource", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject"}`), "missing required field Resource", Bucket},
		{"unknown operator", stmt(`{` + ok + `,"Condition":{"StringSorta":{"s3:prefix":"a"}}}`), `unknown condition operator "StringSorta"`, Bucket},
		{"NullIfExists", stmt(`{` + ok + `,"Condition":{"NullIfExists":{"s3:prefix":"true"}}}`), `unknown condition operator "NullIfExists"`, Bucket},
		{"unknown key", stmt(`{` + ok + `,"Condition":{"StringEquals":{"s3:prefixx":"a"}}}`), `unknown condition key "s3:prefixx"`, Bucket},
		{"bad number", stmt(`{` + ok + `,"Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}`), "not a number", Bucket},
		{"bad date", stmt(`{` + ok + `,"Condition":{"DateLessThan":{"aws:CurrentTime":"tomorrow"}}}`), "not a date", Bucket},
		{"bad ip", stmt(`{` + ok + `,"Condition":{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}}`), "not an IP address", Bucket},
		{"bad bool", stmt(`{` + ok + `,"Condition":{"Bool":{"aws:SecureTransport":"yes"}}}`), "neither true nor false", Bucket},
		{"unknown variable", stmt(`{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:nope}/*"}`), "unknown policy variable", Bucket},
		{"unknown statement field", stmt(`{` + ok + `,"Actions":"x"}`), `unknown field "Actions"`, Bucket},
		{"duplicate sid", stmt(`{"Sid":"a",` + ok + `},{"Sid":"a",` + ok + `}`), `duplicate Sid "a"`, Bucket},
		{"too large", `{"Statement":[{` + ok + `,"Sid":"` + strings.Repeat("x", MaxSize) + `"}]}`, "larger than", Bucket},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.doc), c.kind)
		if err == nil {
			t.Errorf("%s: parsed", c.name)
			continue
		}
		if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrMalformed saying %q", c.name, err, c.want)
		}
	}
}

func TestGlob(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*c", "abc", true}, {"a*c", "ac", true},
		{"a*c", "abd", false}, {"a?c", "abc", true}, {"a?c", "ac", false}, {"a?c", "aéc", true},
		{"*a*b*", "xxaxxbxx", true}, {"*a*b", "xxaxxbxxb", true}, {"*a*b", "ba", false},
		{"abc", "abc", true}, {"abc", "abcd", false}, {"", "", true}, {"", "a", false},
		{"a**b", "ab", true}, {"arn:aws:s3:::b/*", "arn:aws:s3:::b/", true},
	} {
		p, err := compilePattern(c.pat, false, false)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.match(c.s, nil); got != c.want {
			t.Errorf("%q ~ %q: %v", c.pat, c.s, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:Get*","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"IpAddressIfExists":{"aws:SourceIp":["10.0.0.0/8"]},"Null":{"s3:prefix":true}}}]}`))
	f.Add([]byte(`{"Statement":{"Effect":"Deny","NotPrincipal":{"AWS":["acme","arn:aws:iam::acme:user/a"]},"NotAction":"s3:*","NotResource":"*"}}`))
	f.Add([]byte(`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":1700000000}}}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		for _, kind := range []Kind{Bucket, Identity} {
			p, err := Parse(doc, kind)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("error not ErrMalformed: %v", err)
				}
				continue
			}
			// A parsed policy evaluates without panicking.
			for _, pr := range []Principal{alice, anon} {
				p.Evaluate(&Request{Principal: pr, Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k",
					Context: ctx(KeySourceIP, "10.1.1.1", KeyUsername, "alice", KeyCurrentTime, "2026-01-01T00:00:00Z", KeyPrefix, "a")})
			}
		}
	})
}

// policy20 is a bucket policy of 20 statements, the last the one that
// allows; every one has a condition, as real policies do.
func policy20() []byte {
	var b strings.Builder
	b.WriteString(`{"Version":"2012-10-17","Statement":[`)
	for i := 0; i < 19; i++ {
		fmt.Fprintf(&b, `{"Sid":"s%d","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::t%02d:user/u"},"Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::bucket/p%d/*","Condition":{"StringLike":{"s3:prefix":"p%d/*"}}},`, i, i+10, i, i)
	}
	b.WriteString(`{"Sid":"last","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"arn:aws:s3:::bucket/*","Condition":{"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}}]}`)
	return []byte(b.String())
}

func BenchmarkEvaluate20(b *testing.B) {
	p, err := Parse(policy20(), Bucket)
	if err != nil {
		b.Fatal(err)
	}
	r := &Request{Principal: alice, Action: "s3:GetObject", Resource: "arn:aws:s3:::bucket/p19/some/key.txt",
		Context: ctx(KeySourceIP, "10.1.2.3", KeySecureTransport, "true", KeyUsername, "alice", KeyCurrentTime, "2026-01-01T00:00:00Z")}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if p.Evaluate(r) != NotApplicable {
			b.Fatal("unexpected decision")
		}
	}
}

func BenchmarkParse20(b *testing.B) {
	doc := policy20()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Parse(doc, Bucket); err != nil {
			b.Fatal(err)
		}
	}
}
