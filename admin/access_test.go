package admin

import (
	"context"
	"strings"
	"testing"
)

func TestUserPolicyAndPublicAccessBlock(t *testing.T) {
	a := startAPI(t)
	ctx := context.Background()
	if _, err := a.eng.CreateTenant(ctx, "acme", "Acme", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.eng.CreateUser(ctx, "acme", "alice", ""); err != nil {
		t.Fatal(err)
	}
	const pol = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}`
	st, m := a.call("GET", "/admin/v1/tenants/acme/users/alice/policy", "")
	if st != 200 || m["policy"] != nil {
		t.Fatalf("no policy yet: %d %v", st, m)
	}
	st, m = a.call("PUT", "/admin/v1/tenants/acme/users/alice/policy", `{"policy":`+pol+`}`)
	if st != 200 {
		t.Fatalf("set: %d %v", st, m)
	}
	if doc, _ := a.eng.UserPolicy(ctx, "acme", "alice"); doc != pol {
		t.Fatalf("stored: %s", doc)
	}
	st, m = a.call("GET", "/admin/v1/tenants/acme/users/alice/policy", "")
	if st != 200 || m["policy"] == nil {
		t.Fatalf("show: %d %v", st, m)
	}
	big := `{"policy":{"Statement":[{"Sid":"` + strings.Repeat("x", 21<<10) + `","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}}`
	for _, c := range []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"malformed JSON", "PUT", "/admin/v1/tenants/acme/users/alice/policy", `{"policy":{"Statement":`, 400, "MalformedJSON"},
		{"no policy", "PUT", "/admin/v1/tenants/acme/users/alice/policy", `{}`, 400, "MalformedPolicy"},
		{"principal in identity policy", "PUT", "/admin/v1/tenants/acme/users/alice/policy", `{"policy":{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}]}}`, 400, "MalformedPolicy"},
		{"unknown action", "PUT", "/admin/v1/tenants/acme/users/alice/policy", `{"policy":{"Statement":[{"Effect":"Allow","Action":"s3:Teleport","Resource":"*"}]}}`, 400, "MalformedPolicy"},
		{"unknown operator", "PUT", "/admin/v1/tenants/acme/users/alice/policy", `{"policy":{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Maybe":{"s3:prefix":"a"}}}]}}`, 400, "MalformedPolicy"},
		{"over 20 KiB", "PUT", "/admin/v1/tenants/acme/users/alice/policy", big, 400, "MalformedPolicy"},
		{"missing user", "PUT", "/admin/v1/tenants/acme/users/bob/policy", `{"policy":` + pol + `}`, 404, "UserNotFound"},
		{"show missing user", "GET", "/admin/v1/tenants/acme/users/bob/policy", "", 404, "UserNotFound"},
		{"missing tenant", "PUT", "/admin/v1/tenants/nope/users/alice/policy", `{"policy":` + pol + `}`, 404, "TenantNotFound"},
		{"bad user name", "PUT", "/admin/v1/tenants/acme/users/a%20b/policy", `{"policy":` + pol + `}`, 400, "InvalidUserName"},
		{"block unknown field", "PUT", "/admin/v1/tenants/acme/public-access-block", `{"BlockEverything":true}`, 400, "UnknownField"},
		{"block of missing tenant", "PUT", "/admin/v1/tenants/nope/public-access-block", `{"RestrictPublicBuckets":true}`, 404, "TenantNotFound"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, m := a.call(c.method, c.path, c.body)
			if st != c.status || m["code"] != c.code {
				t.Fatalf("%d %v, want %d %s", st, m, c.status, c.code)
			}
		})
	}
	if doc, _ := a.eng.UserPolicy(ctx, "acme", "alice"); doc != pol {
		t.Fatalf("refused calls changed the policy: %s", doc)
	}
	if st, _, _ := a.do("PUT", "/admin/v1/tenants/acme/users/alice/policy", "wrong-token", `{"policy":`+pol+`}`); st != 401 {
		t.Fatalf("wrong token: %d", st)
	}
	st, _ = a.call("DELETE", "/admin/v1/tenants/acme/users/alice/policy", "")
	if doc, _ := a.eng.UserPolicy(ctx, "acme", "alice"); st != 200 || doc != "" {
		t.Fatalf("delete: %d %q", st, doc)
	}

	st, m = a.call("PUT", "/admin/v1/tenants/acme/public-access-block", `{"RestrictPublicBuckets":true,"BlockPublicPolicy":true}`)
	if st != 200 || m["RestrictPublicBuckets"] != true {
		t.Fatalf("set block: %d %v", st, m)
	}
	st, m = a.call("GET", "/admin/v1/tenants/acme/public-access-block", "")
	if st != 200 || m["RestrictPublicBuckets"] != true || m["BlockPublicPolicy"] != true || m["BlockPublicAcls"] != false {
		t.Fatalf("show block: %d %v", st, m)
	}
	st, _ = a.call("DELETE", "/admin/v1/tenants/acme/public-access-block", "")
	if doc, _ := a.eng.TenantPublicAccessBlock(ctx, "acme"); st != 200 || doc != "" {
		t.Fatalf("delete block: %d %q", st, doc)
	}
}
