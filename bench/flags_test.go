package bench

import (
	"bytes"
	"errors"
	"flag"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseArgsDefaults(t *testing.T) {
	var out bytes.Buffer
	o, err := ParseArgs([]string{"--endpoint", "http://127.0.0.1:9000", "--access-key", "a", "--secret-key", "s"}, envMap(nil), &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	c := o.Config
	if c.Workload != WorkloadPut || c.Size != FixedSize(1<<20) || c.Concurrency != DefaultConcurrency || c.Region != "us-east-1" ||
		!c.PathStyle || c.Mix != DefaultMix() || c.Keys != DefaultKeys || c.PartSize != DefaultPartSize || c.Duration != 0 || o.Progress != "auto" {
		t.Fatalf("defaults: %+v %+v", c, o)
	}
	if c.withDefaults().Duration != DefaultDuration {
		t.Fatal("no default duration")
	}
}

func TestParseArgsAllFlags(t *testing.T) {
	args := strings.Fields(`--endpoint https://s3.example:9443 --region eu-west-1 --access-key a --secret-key s --session-token tok
		--path-style=false --insecure --ca-file /tmp/ca.pem --sign-payload --checksums --retries 2 --workload mixed
		--mix get=1,put=2,delete=1 --size 1KiB..2MiB --concurrency 3 --duration 5s --ops 99 --keys 7 --part-size 6MiB
		--part-concurrency 5 --list-page-size 50 --op-timeout 9s --bucket my-bucket --prefix p/ --keep --seed 42
		--out /tmp/o --progress never --verbose`)
	o, err := ParseArgs(args, envMap(nil), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Config
	mix, _ := ParseMix("get=1,put=2,delete=1")
	want := Config{
		Endpoint: "https://s3.example:9443", Region: "eu-west-1", AccessKey: "a", SecretKey: "s", SessionToken: "tok",
		PathStyle: false, Insecure: true, CAFile: "/tmp/ca.pem", SignPayload: true, Checksums: true, Retries: 2,
		Workload: WorkloadMixed, Mix: mix, Size: SizeSpec{Min: 1 << 10, Max: 2 << 20}, Concurrency: 3, Duration: 5 * time.Second,
		Ops: 99, Keys: 7, PartSize: 6 << 20, PartConcurrency: 5, ListPageSize: 50, OpTimeout: 9 * time.Second,
		Bucket: "my-bucket", Prefix: "p/", Keep: true, Seed: 42,
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("config\n got %+v\nwant %+v", c, want)
	}
	if o.OutDir != "/tmp/o" || o.Progress != "never" || !o.Verbose || o.Sink {
		t.Fatalf("options %+v", o)
	}
}

func TestParseArgsEnvPrecedence(t *testing.T) {
	env := map[string]string{
		"AWS_ENDPOINT_URL":           "http://aws-generic:1",
		"AWS_ENDPOINT_URL_S3":        "http://aws-s3:2",
		"AWS_ACCESS_KEY_ID":          "aws-key",
		"AWS_SECRET_ACCESS_KEY":      "aws-secret",
		"VAULTAIRE_BENCH_SECRET_KEY": "vb-secret",
		"AWS_REGION":                 "aws-region",
		"AWS_DEFAULT_REGION":         "aws-default-region",
		"VAULTAIRE_BENCH_PATH_STYLE": "false",
		"AWS_SESSION_TOKEN":          "aws-token",
	}
	o, err := ParseArgs(nil, envMap(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	c := o.Config
	// VAULTAIRE_BENCH_* beats AWS_*, AWS_ENDPOINT_URL_S3 beats AWS_ENDPOINT_URL,
	// AWS_REGION beats AWS_DEFAULT_REGION.
	if c.Endpoint != "http://aws-s3:2" || c.AccessKey != "aws-key" || c.SecretKey != "vb-secret" || c.Region != "aws-region" ||
		c.PathStyle || c.SessionToken != "aws-token" {
		t.Fatalf("env: %+v", c)
	}
	// A flag beats every variable.
	o, err = ParseArgs([]string{"--endpoint", "http://flag:3", "--secret-key", "flag-secret", "--path-style", "--region", "r"}, envMap(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c := o.Config; c.Endpoint != "http://flag:3" || c.SecretKey != "flag-secret" || !c.PathStyle || c.Region != "r" {
		t.Fatalf("flags over env: %+v", c)
	}
	// --sink ignores the environment's endpoint and credentials.
	o, err = ParseArgs([]string{"--sink"}, envMap(env), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if !o.Sink || o.Config.AccessKey != "bench" || !o.Config.PathStyle {
		t.Fatalf("sink: %+v", o)
	}
}

func TestParseArgsSeveralEndpoints(t *testing.T) {
	want := []string{"http://127.0.0.21:9000", "http://127.0.0.22:9000", "http://127.0.0.23:9000"}
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"repeated":    {[]string{"--endpoint", want[0], "--endpoint", want[1], "--endpoint", want[2]}, nil},
		"commas":      {[]string{"--endpoint", want[0] + ", " + want[1] + "," + want[2]}, nil},
		"mixed":       {[]string{"--endpoint", want[0], "--endpoint", want[1] + "," + want[2]}, nil},
		"environment": {nil, map[string]string{"VAULTAIRE_BENCH_ENDPOINT": strings.Join(want, ",")}},
	} {
		o, err := ParseArgs(append(c.args, "--access-key", "a", "--secret-key", "s"), envMap(c.env), &bytes.Buffer{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := o.Config; got.Endpoint != want[0] || !reflect.DeepEqual(got.ExtraEndpoints, want[1:]) {
			t.Errorf("%s: endpoint %q, extra %q", name, got.Endpoint, got.ExtraEndpoints)
		}
	}
	_, err := ParseArgs([]string{"--endpoint", "http://h:1,h:2", "--access-key", "a", "--secret-key", "s"}, envMap(nil), &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), `endpoint "h:2"`) {
		t.Fatalf("a bad second endpoint: %v", err)
	}
}

func TestParseArgsErrors(t *testing.T) {
	var out bytes.Buffer
	_, err := ParseArgs(strings.Fields("--workload copy --size 1XB --mix get=x --concurrency 0 --keys 0 --progress loud --part-size 1Q"), envMap(nil), &out)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"unknown workload", "--size", "--mix", "--concurrency", "--keys", "--progress", "--part-size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not report %q: %v", want, err)
		}
	}
	if !strings.Contains(out.String(), "vaultaire bench -h") {
		t.Errorf("no hint printed: %q", out.String())
	}
	for name, c := range map[string]struct {
		args []string
		env  map[string]string
		want string
	}{
		"no endpoint":       {[]string{"--access-key", "a", "--secret-key", "b"}, nil, "no endpoint"},
		"no credentials":    {[]string{"--endpoint", "http://h:1"}, nil, "no credentials"},
		"bad endpoint":      {[]string{"--endpoint", "h:1", "--access-key", "a", "--secret-key", "b"}, nil, "endpoint"},
		"sink + endpoint":   {[]string{"--sink", "--endpoint", "http://h:1"}, nil, "exclude"},
		"bad env bool":      {[]string{"--sink=false", "--endpoint", "http://h:1", "--access-key", "a", "--secret-key", "b"}, map[string]string{"VAULTAIRE_BENCH_INSECURE": "maybe"}, "VAULTAIRE_BENCH_INSECURE"},
		"mix without mixed": {[]string{"--sink", "--mix", "get=1"}, nil, "--mix is for"},
		"stray argument":    {[]string{"--sink", "extra"}, nil, "unexpected argument"},
		"multipart small":   {[]string{"--sink", "--workload", "multipart", "--size", "4MiB"}, nil, "larger than the part size"},
		"deletes only":      {[]string{"--sink", "--workload", "mixed", "--mix", "get=1,delete=1"}, nil, "never puts"},
		"unknown flag":      {[]string{"--frobnicate"}, nil, "frobnicate"},
	} {
		_, err := ParseArgs(c.args, envMap(c.env), &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, c.want)
		}
	}
	var help bytes.Buffer
	if _, err := ParseArgs([]string{"-h"}, envMap(nil), &help); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"Usage: vaultaire bench", "compare A.json B.json", "VAULTAIRE_BENCH_ENDPOINT, AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL", "-workload"} {
		if !strings.Contains(help.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func FuzzParseArgs(f *testing.F) {
	f.Add("--sink --workload mixed --mix get=1,put=1 --size 1KiB..4KiB")
	f.Add("--endpoint http://h:1 --access-key a --secret-key b --ops 5")
	f.Add("--sink --duration -1s")
	f.Fuzz(func(t *testing.T, line string) {
		o, err := ParseArgs(strings.Fields(line), envMap(nil), &bytes.Buffer{})
		if err != nil {
			return
		}
		if err := o.Config.Validate(); err != nil {
			t.Fatalf("ParseArgs(%q) accepted a config that does not validate: %v", line, err)
		}
	})
}
