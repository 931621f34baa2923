package console

import (
	"context"
	"errors"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/s3"
)

// s3Client serves the env's Engine through a real S3 server on loopback
// and returns an SDK client signed with a key of acme's alice: what the
// console sets must be what S3 answers, and the reverse. (A test-only
// import: the console itself never imports s3.)
func (e *env) s3Client() *awss3.Client {
	t := e.t
	t.Helper()
	srv, err := s3.New(s3.Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, e.eng)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := srv.HTTPServer("")
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	tr := &http.Transport{}
	t.Cleanup(func() { tr.CloseIdleConnections(); hs.Close(); <-done })
	cred, err := e.eng.CreateAccessKey(context.Background(), "acme", "alice")
	if err != nil {
		t.Fatal(err)
	}
	return awss3.New(awss3.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("http://" + ln.Addr().String()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.Secret, ""),
		HTTPClient:  &http.Client{Transport: tr}, Retryer: aws.NopRetryer{},
	})
}

func s3Code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

const goodPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"ro<script>","Effect":"Allow","Principal":{"AWS":"*"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::photos/*"}]}`

func settingsEnv(t *testing.T, mod ...func(*Config)) (*env, *browser, *awss3.Client) {
	e := newEnv(t, mod...)
	if err := e.eng.CreateContainer(context.Background(), "acme", node.CreateContainerInput{Name: "photos"}); err != nil {
		t.Fatal(err)
	}
	b := e.browser()
	if r := b.login("acme", "alice", "alice password"); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	return e, b, e.s3Client()
}

func (b *browser) setting(name, action, value string) resp {
	b.e.t.Helper()
	f := url.Values{"csrf": {b.csrf}, "action": {action}}
	if value != "" {
		f.Set("value", value)
	}
	return b.post("/buckets/photos/settings/"+name, f)
}

func TestSettingsPolicy(t *testing.T) {
	e, b, c := settingsEnv(t)
	ctx := context.Background()
	if r := b.get("/buckets/photos/settings"); r.status != 200 || !strings.Contains(r.body, "No bucket policy.") {
		t.Fatalf("settings page: %d\n%s", r.status, r.body)
	}
	if r := b.setting("policy", "set", goodPolicy); r.status != http.StatusSeeOther {
		t.Fatalf("set policy: %d %s", r.status, r.body)
	}
	// S3 serves what the console set.
	out, err := c.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("photos")})
	if err != nil || aws.ToString(out.Policy) != goodPolicy {
		t.Fatalf("GetBucketPolicy: %v %q", err, aws.ToString(out.Policy))
	}
	// The page shows it, inert.
	r := b.get("/buckets/photos/settings")
	if strings.Contains(r.body, "ro<script>") || !strings.Contains(r.body, html.EscapeString(`"ro<script>"`)) && !strings.Contains(r.body, "ro&lt;script&gt;") {
		t.Fatalf("policy not shown as text:\n%s", r.body)
	}
	if n := len(e.events("ConsolePutBucketPolicy")); n != 1 {
		t.Fatalf("audit: %d ConsolePutBucketPolicy events", n)
	}

	// Malformed policies are refused with the S3 edge's message and change
	// nothing.
	for name, doc := range map[string]string{
		"not json":        `{"Version":`,
		"no statement":    `{"Version":"2012-10-17"}`,
		"other bucket":    strings.Replace(goodPolicy, "photos/*", "other/*", 1),
		"unknown action":  strings.Replace(goodPolicy, "s3:GetObject", "s3:Fly", 1),
		"markup in error": `<img src=x onerror=alert(1)>`,
	} {
		r := b.setting("policy", "set", doc)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `class="error"`) {
			t.Fatalf("%s: %d\n%s", name, r.status, r.body)
		}
		if strings.Contains(r.body, "<img src=x") {
			t.Fatalf("%s: the draft reached the page as markup", name)
		}
		got, _ := e.eng.ContainerConfig(ctx, "acme", "photos", cfgPolicy)
		if got != goodPolicy {
			t.Fatalf("%s: the refused policy changed the stored one: %q", name, got)
		}
	}
	if r := b.setting("policy", "set", strings.Replace(goodPolicy, "other", "x", 1)); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	// A public policy under a BlockPublicPolicy access block is refused, as
	// S3 refuses it.
	if _, err := c.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutPublicAccessBlock(ctx, &awss3.PutPublicAccessBlockInput{Bucket: aws.String("photos"),
		PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{BlockPublicPolicy: aws.Bool(true)}}); err != nil {
		t.Fatal(err)
	}
	if r := b.setting("policy", "set", goodPolicy); r.status != http.StatusBadRequest || !strings.Contains(r.body, "blocks public policies") {
		t.Fatalf("public policy under a block: %d", r.status)
	}
	if _, err := c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("photos"), Policy: aws.String(goodPolicy)}); s3Code(err) != "AccessDenied" {
		t.Fatalf("S3 accepts what the console refused? %v", err)
	}
	if _, err := c.DeleteBucketPolicy(ctx, &awss3.DeleteBucketPolicyInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeletePublicAccessBlock(ctx, &awss3.DeletePublicAccessBlockInput{Bucket: aws.String("photos")}); err != nil {
		t.Fatal(err)
	}

	// Delete.
	if r := b.setting("policy", "set", goodPolicy); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	if r := b.setting("policy", "delete", ""); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d", r.status)
	}
	if _, err := c.GetBucketPolicy(ctx, &awss3.GetBucketPolicyInput{Bucket: aws.String("photos")}); s3Code(err) != "NoSuchBucketPolicy" {
		t.Fatalf("after delete: %v", err)
	}
	if n := len(e.events("ConsoleDeleteBucketPolicy")); n != 1 {
		t.Fatalf("audit: %d ConsoleDeleteBucketPolicy events", n)
	}
}

func TestSettingsEncryptionAndVersioning(t *testing.T) {
	e, b, c := settingsEnv(t)
	ctx := context.Background()
	if r := b.setting("encryption", "set", "aws:kms"); r.status != http.StatusBadRequest || !strings.Contains(r.body, "AES256") {
		t.Fatalf("kms: %d", r.status)
	}
	if _, err := c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("photos")}); s3Code(err) != "ServerSideEncryptionConfigurationNotFoundError" {
		t.Fatalf("refused change stored something: %v", err)
	}
	if r := b.setting("encryption", "set", "AES256"); r.status != http.StatusSeeOther {
		t.Fatalf("set: %d %s", r.status, r.body)
	}
	out, err := c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("photos")})
	if err != nil || out.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != s3types.ServerSideEncryptionAes256 {
		t.Fatalf("GetBucketEncryption: %v", err)
	}
	// A new object is encrypted by default.
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("photos"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Fatal(err)
	}
	h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("photos"), Key: aws.String("k")})
	if err != nil || h.ServerSideEncryption != s3types.ServerSideEncryptionAes256 {
		t.Fatalf("HeadObject: %v %q", err, h.ServerSideEncryption)
	}
	if r := b.get("/buckets/photos/settings"); !strings.Contains(r.body, "On: new objects are encrypted with AES256") {
		t.Fatalf("page:\n%s", r.body)
	}
	if r := b.setting("encryption", "delete", ""); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	if _, err := c.GetBucketEncryption(ctx, &awss3.GetBucketEncryptionInput{Bucket: aws.String("photos")}); s3Code(err) != "ServerSideEncryptionConfigurationNotFoundError" {
		t.Fatalf("after delete: %v", err)
	}

	// Versioning.
	if r := b.setting("versioning", "set", "Sometimes"); r.status != http.StatusBadRequest {
		t.Fatalf("bad state: %d", r.status)
	}
	if r := b.setting("versioning", "set", "Enabled"); r.status != http.StatusSeeOther {
		t.Fatalf("enable: %d %s", r.status, r.body)
	}
	v, err := c.GetBucketVersioning(ctx, &awss3.GetBucketVersioningInput{Bucket: aws.String("photos")})
	if err != nil || v.Status != s3types.BucketVersioningStatusEnabled {
		t.Fatalf("GetBucketVersioning: %v %q", err, v.Status)
	}
	if r := b.setting("versioning", "set", "Suspended"); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	if r := b.get("/buckets/photos/settings"); !strings.Contains(r.body, "Enable versioning") {
		t.Fatal("page does not offer to enable versioning again")
	}
	if len(e.events("ConsolePutBucketEncryption")) != 2 || len(e.events("ConsoleDeleteBucketEncryption")) != 1 || len(e.events("ConsolePutBucketVersioning")) != 3 {
		t.Fatalf("audit events missing")
	}
	// A locked bucket's versioning cannot be suspended: the state machine's
	// refusal is shown beside the setting.
	if err := e.eng.CreateContainer(ctx, "acme", node.CreateContainerInput{Name: "vault", ObjectLock: true}); err != nil {
		t.Fatal(err)
	}
	r := b.post("/buckets/vault/settings/versioning", url.Values{"csrf": {b.csrf}, "action": {"set"}, "value": {"Suspended"}})
	if r.status == http.StatusSeeOther || !strings.Contains(r.body, `class="error"`) {
		t.Fatalf("suspending a locked bucket: %d", r.status)
	}
	if r := b.get("/buckets/vault/settings"); !strings.Contains(r.body, "Object lock") || !strings.Contains(r.body, "<td>Enabled</td>") {
		t.Fatalf("lock not shown:\n%s", r.body)
	}
}

func TestSettingsLifecycleAndCORS(t *testing.T) {
	e, b, c := settingsEnv(t)
	ctx := context.Background()
	if _, err := c.PutBucketLifecycleConfiguration(ctx, &awss3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("photos"),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
			ID: aws.String("tmp<b>"), Status: s3types.ExpirationStatusEnabled, Filter: &s3types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(7)}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketCors(ctx, &awss3.PutBucketCorsInput{Bucket: aws.String("photos"), CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://app.example"}}}}}); err != nil {
		t.Fatal(err)
	}
	r := b.get("/buckets/photos/settings")
	if !strings.Contains(r.body, "tmp&lt;b&gt;") || strings.Contains(r.body, "tmp<b>") || !strings.Contains(r.body, "https://app.example") {
		t.Fatalf("lifecycle and CORS not shown (inert):\n%s", r.body)
	}
	if r := b.setting("lifecycle", "delete", ""); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	if _, err := c.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("photos")}); s3Code(err) != "NoSuchLifecycleConfiguration" {
		t.Fatalf("after delete: %v", err)
	}
	if r := b.setting("cors", "delete", ""); r.status != http.StatusSeeOther {
		t.Fatal(r.status)
	}
	if _, err := c.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("photos")}); s3Code(err) != "NoSuchCORSConfiguration" {
		t.Fatalf("after delete: %v", err)
	}
	if len(e.events("ConsoleDeleteBucketLifecycle")) != 1 || len(e.events("ConsoleDeleteBucketCors")) != 1 {
		t.Fatal("audit events missing")
	}
	// Without the S3 edge's parsers (Config.ParseLifecycle, ParseCORS)
	// they cannot be set here.
	if r := b.setting("cors", "set", "<CORSConfiguration/>"); r.status != http.StatusNotFound {
		t.Fatalf("cors set: %d", r.status)
	}
}

// withS3Parsers hands the console the S3 edge's parsers, as
// cmd/vaultaire does.
func withS3Parsers(c *Config) {
	c.ParseLifecycle, c.ParseCORS = s3.ParseLifecycleConfiguration, s3.ParseCORSConfiguration
}

// TestSettingsSetLifecycleAndCORS: rules set in the console are what S3
// answers; a document S3 would refuse is refused with S3's message and
// changes nothing.
func TestSettingsSetLifecycleAndCORS(t *testing.T) {
	e, b, c := settingsEnv(t, withS3Parsers)
	ctx := context.Background()
	const lc = `<LifecycleConfiguration><Rule><ID>old-logs</ID><Status>Enabled</Status><Filter><Prefix>logs/</Prefix></Filter><Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>`
	if r := b.setting("lifecycle", "set", lc); r.status != http.StatusSeeOther {
		t.Fatalf("lifecycle set: %d %s", r.status, r.body)
	}
	got, err := c.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("photos")})
	if err != nil || len(got.Rules) != 1 || aws.ToString(got.Rules[0].ID) != "old-logs" || aws.ToInt32(got.Rules[0].Expiration.Days) != 30 {
		t.Fatalf("S3 sees %+v, %v", got, err)
	}
	const cors = `<CORSConfiguration><CORSRule><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod></CORSRule></CORSConfiguration>`
	if r := b.setting("cors", "set", cors); r.status != http.StatusSeeOther {
		t.Fatalf("cors set: %d %s", r.status, r.body)
	}
	cg, err := c.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("photos")})
	if err != nil || len(cg.CORSRules) != 1 || cg.CORSRules[0].AllowedMethods[0] != "PUT" {
		t.Fatalf("S3 sees %+v, %v", cg, err)
	}
	for _, bad := range []struct{ setting, doc, want string }{
		{"lifecycle", "<LifecycleConfiguration><Rule>", "not well-formed"},
		{"lifecycle", `<LifecycleConfiguration><Rule><ID>x</ID><Status>Enabled</Status><Filter/><Expiration><Days>3</Days><Date>2030-01-01T00:00:00Z</Date></Expiration></Rule></LifecycleConfiguration>`, ""},
		{"lifecycle", `<LifecycleConfiguration><Rule><ID>t</ID><Status>Enabled</Status><Filter/><Transition><Days>3</Days><StorageClass>GLACIER</StorageClass></Transition></Rule></LifecycleConfiguration>`, "no tier"},
		{"cors", `<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH</AllowedMethod></CORSRule></CORSConfiguration>`, "PATCH"},
		{"cors", `<CORSConfiguration><CORSRule>`, "not well-formed"},
	} {
		r := b.setting(bad.setting, "set", bad.doc)
		if r.status != http.StatusBadRequest || !strings.Contains(r.body, `class="error"`) || !strings.Contains(html.UnescapeString(r.body), bad.want) {
			t.Fatalf("%s %q: %d, want 400 with %q:\n%s", bad.setting, bad.doc, r.status, bad.want, r.body)
		}
	}
	// Nothing changed.
	if got, err := c.GetBucketLifecycleConfiguration(ctx, &awss3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("photos")}); err != nil || len(got.Rules) != 1 || aws.ToString(got.Rules[0].ID) != "old-logs" {
		t.Fatalf("after refusals: %+v, %v", got, err)
	}
	if cg, err := c.GetBucketCors(ctx, &awss3.GetBucketCorsInput{Bucket: aws.String("photos")}); err != nil || cg.CORSRules[0].AllowedMethods[0] != "PUT" {
		t.Fatalf("after refusals: %+v, %v", cg, err)
	}
	if len(e.events("ConsolePutBucketLifecycleConfiguration")) != 4 || len(e.events("ConsolePutBucketCors")) != 3 {
		t.Fatal("audit events missing")
	}
	// Without the token: refused, unchanged.
	if r := b.post("/buckets/photos/settings/cors", url.Values{"action": {"set"}, "value": {cors}}); r.status != http.StatusForbidden {
		t.Fatalf("cors set without token: %d", r.status)
	}
}

// TestSettingsNeedToken: every settings form is refused without the
// session's anti-forgery token, and nothing changes.
func TestSettingsNeedToken(t *testing.T) {
	e, b, _ := settingsEnv(t)
	ctx := context.Background()
	for _, c := range []struct{ setting, action, value string }{
		{"policy", "set", goodPolicy}, {"encryption", "set", "AES256"}, {"versioning", "set", "Enabled"},
		{"policy", "delete", ""}, {"lifecycle", "delete", ""}, {"cors", "delete", ""},
	} {
		for _, tok := range []string{"", "x" + b.csrf} {
			f := url.Values{"action": {c.action}, "value": {c.value}}
			if tok != "" {
				f.Set("csrf", tok)
			}
			if r := b.post("/buckets/photos/settings/"+c.setting, f); r.status != http.StatusForbidden {
				t.Fatalf("%s %s with token %q: %d", c.action, c.setting, tok, r.status)
			}
		}
	}
	if p, _ := e.eng.ContainerConfig(ctx, "acme", "photos", cfgPolicy); p != "" {
		t.Fatal("a forged form set the policy")
	}
	if m, _ := e.eng.ContainerConfig(ctx, "acme", "photos", node.ContainerConfigEncryption); m != "" {
		t.Fatal("a forged form set encryption")
	}
	if info, _ := e.eng.HeadContainer(ctx, "acme", "photos"); info.Versioning != "" {
		t.Fatal("a forged form enabled versioning")
	}
	// Another tenant's bucket of the same name is not reachable: the
	// session's tenant is used.
	if _, err := e.eng.CreateTenant(ctx, "other", "Other", "standard"); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.CreateContainer(ctx, "other", node.CreateContainerInput{Name: "theirs"}); err != nil {
		t.Fatal(err)
	}
	if r := b.post("/buckets/theirs/settings/policy", url.Values{"csrf": {b.csrf}, "action": {"delete"}}); r.status != http.StatusNotFound {
		t.Fatalf("other tenant's bucket: %d", r.status)
	}
}
