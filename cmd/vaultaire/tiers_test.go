package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
)

func tierData(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// remoteKeys lists the objects of a bucket on the remote.
func remoteKeys(t *testing.T, r *s3test.Remote, bucket string) []string {
	t.Helper()
	out, err := r.Client().ListObjectsV2(context.Background(), &awss3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("list remote: %v", err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	return keys
}

func waitRemoteCount(t *testing.T, r *s3test.Remote, bucket, prefix string, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, k := range remoteKeys(t, r, bucket) {
			if strings.HasPrefix(k, prefix) {
				n++
			}
		}
		if n == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("remote bucket holds %d objects under %q, want %d: %v", n, prefix, want, remoteKeys(t, r, bucket))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestColdTierEndToEnd runs the tier commands against a second Vaultaire
// as the remote: add (refused with bad credentials or a missing bucket),
// move, reads through the tier (GET, range, HEAD, listing), remote deletes
// after overwrite and delete, archive tiers, recall then remove, and a
// tier that goes down.
func TestColdTierEndToEnd(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	bucket := remote.NewBucket(t)
	a := startAdminServer(t, "--tier-journal-interval", "200ms")
	ctx := context.Background()
	c := a.client(testKey, testSecret)

	add := func(want int, name string, extra ...string) string {
		t.Helper()
		args := append([]string{"admin", "--endpoint", a.admin, "--data", a.dir, "tier", "add", name,
			"--endpoint", remote.Endpoint, "--path-style", "--secret-key", "-"}, extra...)
		cmd := exec.Command(binary(t), args...)
		cmd.Env = append(os.Environ(), "VAULTAIRE_ADMIN_TOKEN=")
		secret := remote.SecretKey
		for i, x := range extra {
			if x == "--wrong-secret" {
				secret = "not-the-secret"
				cmd.Args = append(cmd.Args[:len(cmd.Args)-len(extra)+i], extra[i+1:]...)
			}
		}
		cmd.Stdin = strings.NewReader(secret + "\n")
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != want {
			t.Fatalf("tier add %s %v: exit %d, want %d\n%s%s", name, extra, code, want, out.String(), errOut.String())
		}
		return out.String() + errOut.String()
	}
	// Refused: a missing bucket, wrong credentials.
	if out := add(1, "cold", "--bucket", "no-such-bucket", "--access-key", remote.AccessKey); !strings.Contains(out, "TierCheckFailed") {
		t.Errorf("missing bucket: %s", out)
	}
	if out := add(1, "cold", "--bucket", bucket, "--access-key", remote.AccessKey, "--wrong-secret"); !strings.Contains(out, "TierCheckFailed") {
		t.Errorf("wrong secret: %s", out)
	}
	if out := a.cli(t, 0, "tier", "list"); strings.Contains(out, "cold") {
		t.Fatalf("a refused tier was saved:\n%s", out)
	}
	add(0, "cold", "--bucket", bucket, "--prefix", "cold", "--access-key", remote.AccessKey, "--storage-class", "STANDARD_IA")
	add(0, "warm", "--bucket", bucket, "--prefix", "warm", "--access-key", remote.AccessKey, "--storage-class", "ONEZONE_IA")
	add(0, "deep", "--bucket", bucket, "--prefix", "deep", "--access-key", remote.AccessKey, "--archive")
	a.cli(t, 1, "tier", "add", "cold", "--endpoint", remote.Endpoint, "--bucket", bucket, "--access-key", "x", "--secret-key", "y")
	a.cli(t, 0, "tier", "verify", "cold")
	a.cli(t, 1, "tier", "verify", "nope")
	if out := a.cli(t, 0, "--json", "tier", "list") + a.output() + a.stderr(); strings.Contains(out, remote.SecretKey) {
		t.Fatalf("the tier secret was printed:\n%s", out)
	}

	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	put := func(key string, data []byte) {
		t.Helper()
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
	}
	big := tierData(1, 3<<20+5)
	put("big", big)
	a.cli(t, 1, "tier", "move", "nope", "root", "data", "big")
	a.cli(t, 1, "tier", "move", "cold", "root", "data", "missing")
	if out := a.cli(t, 0, "tier", "move", "cold", "root", "data", "big"); !strings.Contains(out, "STANDARD_IA") {
		t.Fatalf("move: %s", out)
	}
	waitRemoteCount(t, remote, bucket, "cold/", 1)

	// Reads stream from the tier, byte-identical.
	if got, err := getObject(ctx, c, "data", "big"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("GET of a transitioned artifact: %d bytes, %v", len(got), err)
	}
	rg, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("big"), Range: aws.String("bytes=1048570-1048580")})
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rg.Body)
	rg.Body.Close()
	if !bytes.Equal(part, big[1048570:1048581]) {
		t.Fatal("range GET of a transitioned artifact differs")
	}
	head, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("big")})
	if err != nil || head.StorageClass != types.StorageClassStandardIa || *head.ContentLength != int64(len(big)) {
		t.Fatalf("HEAD: %+v %v", head, err)
	}
	list, err := c.ListObjectsV2(ctx, &awss3.ListObjectsV2Input{Bucket: aws.String("data")})
	if err != nil || len(list.Contents) != 1 || list.Contents[0].StorageClass != types.ObjectStorageClassStandardIa {
		t.Fatalf("listing: %+v %v", list, err)
	}

	// Overwrite and delete: the remote objects go once the journal drains.
	put("big", []byte(strings.Repeat("local again ", 5000)))
	waitRemoteCount(t, remote, bucket, "cold/", 0)
	put("gone", tierData(2, 1<<20))
	a.cli(t, 0, "tier", "move", "cold", "root", "data", "gone")
	waitRemoteCount(t, remote, bucket, "cold/", 1)
	if _, err := c.DeleteObject(ctx, &awss3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String("gone")}); err != nil {
		t.Fatal(err)
	}
	waitRemoteCount(t, remote, bucket, "cold/", 0)

	// An archive tier: HEAD answers, GET needs a restore.
	put("frozen", tierData(3, 200<<10))
	a.cli(t, 0, "tier", "move", "deep", "root", "data", "frozen")
	if _, err := getObject(ctx, c, "data", "frozen"); s3Code(err) != "InvalidObjectState" {
		t.Fatalf("GET on an archive tier: %v", err)
	}
	if h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("frozen")}); err != nil || h.StorageClass != types.StorageClassGlacier {
		t.Fatalf("HEAD on an archive tier: %+v %v", h, err)
	}

	// RestoreObject: bad input, then a restore HEAD reports until it is done.
	restore := func(key string, days int32) error {
		_, err := c.RestoreObject(ctx, &awss3.RestoreObjectInput{Bucket: aws.String("data"), Key: aws.String(key),
			RestoreRequest: &types.RestoreRequest{Days: aws.Int32(days)}})
		return err
	}
	if err := restore("frozen", 0); s3Code(err) != "InvalidArgument" {
		t.Fatalf("restore for 0 days: %v", err)
	}
	put("plain", tierData(6, 100<<10))
	if err := restore("plain", 1); s3Code(err) != "InvalidObjectState" {
		t.Fatalf("restore of a local object: %v", err)
	}
	raw, err := http.NewRequest(http.MethodPost, a.endpoint+"/data/frozen?restore", strings.NewReader("<RestoreRequest><Days>1"))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(raw); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("unsigned restore: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if err := restore("frozen", 2); err != nil {
		t.Fatalf("restore: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("frozen")})
		if err != nil || h.Restore == nil {
			t.Fatalf("HEAD during the restore: %+v %v", h, err)
		}
		if strings.Contains(*h.Restore, `ongoing-request="false", expiry-date="`) {
			break
		}
		if *h.Restore != `ongoing-request="true"` || time.Now().After(deadline) {
			t.Fatalf("x-amz-restore: %q", *h.Restore)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got, err := getObject(ctx, c, "data", "frozen"); err != nil || !bytes.Equal(got, tierData(3, 200<<10)) {
		t.Fatalf("GET of a restored object: %v", err)
	}
	if err := restore("frozen", 3); err != nil {
		t.Fatalf("restore again: %v", err)
	}

	// Recall then remove.
	warm := tierData(4, 2<<20)
	put("warm1", warm)
	put("warm2", warm[:1<<20])
	a.cli(t, 0, "tier", "move", "warm", "root", "data", "warm1")
	a.cli(t, 0, "tier", "move", "warm", "root", "data", "warm2")
	if out := a.cli(t, 1, "tier", "remove", "warm"); out != "" {
		t.Fatalf("remove of a tier in use printed %q", out)
	}
	if out := a.cli(t, 0, "tier", "list"); !strings.Contains(out, "warm") || !strings.Contains(out, "ONEZONE_IA") {
		t.Fatalf("tier list:\n%s", out)
	}
	if out := a.cli(t, 0, "tier", "recall", "warm"); !strings.Contains(out, "recalled 2 versions") || !strings.Contains(out, "0 left") {
		t.Fatalf("recall:\n%s", out)
	}
	if got, err := getObject(ctx, c, "data", "warm1"); err != nil || !bytes.Equal(got, warm) {
		t.Fatalf("GET after recall: %v", err)
	}
	a.cli(t, 0, "tier", "recall", "warm") // nothing left: still fine
	a.cli(t, 0, "tier", "remove", "warm")
	waitRemoteCount(t, remote, bucket, "warm/", 0)

	// The tier goes down: reads answer 503 with a clear message, logged
	// once.
	put("cold1", tierData(5, 1<<20))
	a.cli(t, 0, "tier", "move", "cold", "root", "data", "cold1")
	remote.Stop()
	for i := 0; i < 2; i++ {
		_, err := getObject(ctx, c, "data", "cold1")
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "ServiceUnavailable" || !strings.Contains(ae.ErrorMessage(), "cold storage tier") {
			t.Fatalf("GET with the tier down: %v", err)
		}
	}
	// Readiness names the tier as degraded without failing.
	if resp, err := http.Get("http://" + a.admin + "/health/ready"); err != nil {
		t.Fatal(err)
	} else {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"degraded_tiers": [`) || !strings.Contains(string(body), `"cold"`) {
			t.Errorf("/health/ready with the tier down: %d %s", resp.StatusCode, body)
		}
	}
	if n := strings.Count(a.stderr(), "cold tier unavailable"); n != 1 {
		t.Errorf("the tier outage was logged %d times, want once:\n%s", n, a.stderr())
	}
}

// TestColdTierSIGKILLDuringTransitions kills the server while versions
// move to a tier: after the restart every artifact reads back
// byte-identical, and once the abandoned uploads time out the remote holds
// exactly the objects the records name.
func TestColdTierSIGKILLDuringTransitions(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	bucket := remote.NewBucket(t)
	extra := []string{"--tier-journal-interval", "200ms", "--tier-intent-timeout", "3s"}
	a := startAdminServer(t, extra...)
	ctx := context.Background()
	a.cli(t, 0, "tier", "add", "cold", "--endpoint", remote.Endpoint, "--path-style", "--bucket", bucket, "--prefix", "cold",
		"--access-key", remote.AccessKey, "--secret-key", remote.SecretKey)
	c := a.client(testKey, testSecret)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("data")}); err != nil {
		t.Fatal(err)
	}
	const n = 100 // the count; sizes above the inline threshold
	want := map[string][]byte{}
	for i := 0; i < n; i++ {
		key := "obj" + strconv.Itoa(i)
		want[key] = tierData(uint64(100+i), 96<<10+i*997)
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(key), Body: bytes.NewReader(want[key])}); err != nil {
			t.Fatal(err)
		}
	}
	// Move them one by one with the CLI; kill the server mid-way.
	var moved atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < n; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _, code := runCLI(t, []string{"VAULTAIRE_ADMIN_TOKEN=" + a.token}, "admin", "--endpoint", a.admin, "tier", "move", "cold", "root", "data", "obj"+strconv.Itoa(i))
			if code == 0 {
				moved.Add(1)
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for moved.Load() < n/4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // into the next move's upload, most often
	a.kill()
	close(stop)
	<-done
	if moved.Load() == 0 {
		t.Fatal("no transition finished before the kill")
	}
	a.server = startServer(t, a.dir, nil, append([]string{"--admin-address", a.admin, "--audit-file", a.audit}, extra...)...)
	waitAdmin(t, a.admin)
	atRestart := len(remoteKeys(t, remote, bucket))
	c = a.client(testKey, testSecret)
	for key, data := range want {
		got, err := getObject(ctx, c, "data", key)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after the kill: %d bytes, %v", key, len(got), err)
		}
	}
	// The journal drains: the remote holds exactly the versions on the tier.
	deadline = time.Now().Add(60 * time.Second)
	for {
		var out struct {
			Tiers []struct {
				Artifacts int64 `json:"artifacts"`
				Pending   int   `json:"pending_deletes"`
			} `json:"tiers"`
		}
		if err := json.Unmarshal([]byte(a.cli(t, 0, "--json", "tier", "list")), &out); err != nil || len(out.Tiers) != 1 {
			t.Fatalf("tier list: %+v %v", out, err)
		}
		objs := 0
		for _, k := range remoteKeys(t, remote, bucket) {
			if strings.HasPrefix(k, "cold/") {
				objs++
			}
		}
		if out.Tiers[0].Pending == 0 && int64(objs) == out.Tiers[0].Artifacts {
			if out.Tiers[0].Artifacts < moved.Load() {
				t.Fatalf("%d versions on the tier, %d moves acknowledged", out.Tiers[0].Artifacts, moved.Load())
			}
			t.Logf("%d moves acknowledged before the kill, %d remote objects at the restart, %d versions on the tier after the drain, no orphan",
				moved.Load(), atRestart, out.Tiers[0].Artifacts)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("journal did not drain: %+v, %d remote objects", out.Tiers[0], objs)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
