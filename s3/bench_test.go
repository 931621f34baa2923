package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc64"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/vaultaire/vaultaire/s3"
	"github.com/vaultaire/vaultaire/s3/sigv4"
)

// Benchmarks of the whole path: SDK -> HTTP -> SigV4 -> s3 -> real engine
// (4 local drives, erasure 2+2, Raft metastore). Figures, never assertions.

func BenchmarkPutObject1MiB(b *testing.B)    { benchObject(b, false, 1<<20, true) }
func BenchmarkPutObject1MiBTLS(b *testing.B) { benchObject(b, true, 1<<20, true) }
func BenchmarkGetObject1MiB(b *testing.B)    { benchObject(b, false, 1<<20, false) }
func BenchmarkPutObject4KiB(b *testing.B)    { benchObject(b, false, 4<<10, true) }

// BenchmarkGetObject16MiB is the large GET over HTTP, over HTTPS as
// served (Certs.Listener: the records of a write in one syscall) and over
// HTTPS with a syscall per record (http.Server.ServeTLS), one after the
// other on the same server and object, for their ratios in one run (and a
// profile: go test -bench 'GetObject16MiB/https$' -cpuprofile).
// cpu-ms/op is the CPU time of the process (server and client) per GET,
// which a loaded machine disturbs less than the wall time.
func BenchmarkGetObject16MiB(b *testing.B) {
	const size = 16 << 20
	h := newHarnessTB(b)
	h.bucketTB(b, "bench")
	data := bytes.Repeat([]byte("benchmark data. "), size/16)
	if _, err := h.client(false).PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	h.ca.Server(b, "bench", "127.0.0.1").Write(b, certFile, keyFile)
	certs, err := s3.NewCerts(s3.TLSFiles{CertFile: certFile, KeyFile: keyFile}, slog.New(slog.DiscardHandler))
	must(b, err)
	unbatched := serveHarnessTLS(b, h.srv, certs, h.ca.Pool(), false)
	for _, bc := range []struct {
		name string
		ep   *endpoint
	}{{"http", h.plain}, {"https", h.tls}, {"https/unbatched", unbatched}} {
		b.Run(bc.name, func(b *testing.B) {
			hc := *h
			hc.tls = bc.ep
			c := hc.client(bc.ep != h.plain)
			b.SetBytes(size)
			b.ResetTimer()
			cpu0 := processCPU(b)
			for i := 0; i < b.N; i++ {
				g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("k")})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, g.Body); err != nil {
					b.Fatal(err)
				}
				g.Body.Close()
			}
			b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
		})
	}
}

func benchObject(b *testing.B, tlsOn bool, size int, put bool) {
	h := newHarnessTB(b)
	c := h.client(tlsOn)
	_, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bench")})
	if err != nil {
		b.Fatal(err)
	}
	data := bytes.Repeat([]byte("benchmark data. "), size/16)
	if !put {
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if put {
			if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("k"), Body: bytes.NewReader(data)}); err != nil {
				b.Fatal(err)
			}
			continue
		}
		g, err := c.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bench"), Key: aws.String("k")})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, g.Body); err != nil {
			b.Fatal(err)
		}
		g.Body.Close()
	}
}

// BenchmarkUpload16MiB compares, in one run, ways of uploading the same
// 16 MiB through the whole server (plain HTTP, real engine): a PUT signed
// with the body's SHA-256 (what SDKs send over HTTP), an UNSIGNED-PAYLOAD
// PUT, a PUT with a CRC64NVME trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER,
// what SDKs send over TLS), signed chunks with a CRC64NVME trailer
// (minio-go over HTTP), and a browser-form POST with a policy.
func BenchmarkUpload16MiB(b *testing.B) {
	const size = 16 << 20
	h := newHarnessTB(b)
	h.bucketTB(b, "bench")
	data := bytes.Repeat([]byte("benchmark data. "), size/16)
	sum := sha256.Sum256(data)
	crc := crc64.New(crc64.MakeTable(0x9a6c9329ac4bc9b5))
	crc.Write(data)
	crcB64 := base64.StdEncoding.EncodeToString(crc.Sum(nil))
	client := &http.Client{Transport: h.plain.sdk}

	type upload struct {
		name string
		req  func() *http.Request
	}
	signed := func(payload string, hdr http.Header, body []byte, at time.Time) *http.Request {
		req, _ := http.NewRequest("PUT", h.plain.URL+"/bench/k", bytes.NewReader(body))
		for k, vs := range hdr {
			req.Header[k] = vs
		}
		req.Header.Set("X-Amz-Content-Sha256", payload)
		signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
		if err := signer.SignHTTP(ctx, aws.Credentials{AccessKeyID: h.cred.AccessKeyID, SecretAccessKey: h.cred.Secret}, req, payload, "s3", "us-east-1", at); err != nil {
			b.Fatal(err)
		}
		return req
	}
	chunked := func(signedChunks bool) func() *http.Request {
		return func() *http.Request {
			mode := sigv4.StreamingUnsignedTrailer
			if signedChunks {
				mode = sigv4.StreamingSignedTrailer
			}
			hdr := http.Header{"Content-Encoding": {"aws-chunked"}, "X-Amz-Decoded-Content-Length": {strconv.Itoa(size)},
				"X-Amz-Trailer": {"x-amz-checksum-crc64nvme"}}
			at := time.Now().UTC()
			req := signed(mode, hdr, nil, at)
			cfg := sigv4.ChunkedConfig{Signed: signedChunks, Trailer: true}
			if signedChunks {
				a := req.Header.Get("Authorization")
				cfg.Seed = a[strings.LastIndex(a, "=")+1:]
				cfg.SigningKey = sigv4.SigningKey(h.cred.Secret, at.Format("20060102"), "us-east-1", "s3")
				cfg.AmzDate = at.Format("20060102T150405Z")
				cfg.Scope = at.Format("20060102") + "/us-east-1/s3/aws4_request"
			}
			enc := sigv4.NewChunkedEncoder(cfg)
			var body bytes.Buffer
			for off := 0; off < size; off += 64 << 10 {
				body.Write(enc.Chunk(data[off : off+64<<10]))
			}
			body.Write(enc.Chunk(nil))
			body.Write(enc.Trailers("x-amz-checksum-crc64nvme", crcB64))
			req.Body = io.NopCloser(bytes.NewReader(body.Bytes()))
			req.ContentLength = int64(body.Len())
			return req
		}
	}
	hour := time.Now().Add(time.Hour)
	fields := append([]formField{{"key", "k"}}, h.v4Policy(b, hour, []any{map[string]string{"bucket": "bench"}, map[string]string{"key": "k"}}, "")...)
	ct, form := postForm{fields: fields, fileName: "k", file: data}.encode(b)
	uploads := []upload{
		{"put-sha256", func() *http.Request { return signed(hex.EncodeToString(sum[:]), nil, data, time.Now()) }},
		{"put-unsigned-payload", func() *http.Request { return signed(sigv4.UnsignedPayload, nil, data, time.Now()) }},
		{"put-crc64nvme-trailer", chunked(false)},
		{"put-signed-chunks-crc64nvme-trailer", chunked(true)},
		{"post-policy", func() *http.Request {
			req, _ := http.NewRequest("POST", h.plain.URL+"/bench", bytes.NewReader(form))
			req.Header.Set("Content-Type", ct)
			return req
		}},
	}
	elapsed, cpu := map[string]time.Duration{}, map[string]time.Duration{}
	do := func(b *testing.B, u upload) {
		req := u.req()
		start, cpu0 := time.Now(), processCPU(b)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			b.Fatalf("%s: %d %s", u.name, resp.StatusCode, out)
		}
		elapsed[u.name] += time.Since(start)
		cpu[u.name] += processCPU(b) - cpu0
	}
	// interleaved alternates a put-sha256, a post-policy and a
	// put-crc64nvme-trailer in each iteration and reports post/put and
	// trailer/put, the ratios of their throughputs to put-sha256's (issue
	// 14's goals: >= 0.9 each): on a shared machine, load that comes and
	// goes between sub-benchmarks run one after the other weighs on all
	// alike here. The -cpu ratios are the same for the process's CPU time
	// (client and server; the client's share is about the same for all),
	// which load disturbs less.
	b.Run("interleaved", func(b *testing.B) {
		b.SetBytes(3 * size)
		clear(elapsed)
		clear(cpu)
		for i := 0; i < b.N; i++ {
			do(b, uploads[0])              // put-sha256
			do(b, uploads[len(uploads)-1]) // post-policy
			do(b, uploads[2])              // put-crc64nvme-trailer
		}
		put, putCPU := float64(elapsed["put-sha256"]), float64(cpu["put-sha256"])
		b.ReportMetric(put/float64(elapsed["post-policy"]), "post/put")
		b.ReportMetric(putCPU/float64(cpu["post-policy"]), "post/put-cpu")
		b.ReportMetric(put/float64(elapsed["put-crc64nvme-trailer"]), "trailer/put")
		b.ReportMetric(putCPU/float64(cpu["put-crc64nvme-trailer"]), "trailer/put-cpu")
	})
	for _, u := range uploads {
		b.Run(u.name, func(b *testing.B) {
			b.SetBytes(size)
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				req := u.req()
				b.StartTimer()
				resp, err := client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				out, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					b.Fatalf("%s: %d %s", u.name, resp.StatusCode, out)
				}
			}
		})
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (h *harness) bucketTB(tb testing.TB, name string) {
	tb.Helper()
	_, err := h.client(false).CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(name)})
	must(tb, err)
}

// BenchmarkHeadObjectPolicy measures what a 20-statement bucket policy
// adds to a whole request (HeadObject by a user of another tenant whom
// the last statement admits), against the same request by the owner with
// no policy, in one run: compare the two sub-benchmarks.
func BenchmarkHeadObjectPolicy(b *testing.B) {
	h := newHarnessTB(b)
	c := h.client(false)
	if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String("bench")}); err != nil {
		b.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bench"), Key: aws.String("p/k"), Body: strings.NewReader("x")}); err != nil {
		b.Fatal(err)
	}
	head := func(b *testing.B, cl *awss3.Client, bucket string) {
		for i := 0; i < b.N; i++ {
			if _, err := cl.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("p/k")}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("owner-no-policy", func(b *testing.B) { head(b, c, "bench") })
	var doc strings.Builder
	doc.WriteString(`{"Version":"2012-10-17","Statement":[`)
	for i := 0; i < 19; i++ {
		doc.WriteString(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::other` + strconv.Itoa(i) + `:user/u"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bench/q` + strconv.Itoa(i) + `/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},`)
	}
	doc.WriteString(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::bencht:user/reader"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::bench/p/*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`)
	if _, err := c.PutBucketPolicy(ctx, &awss3.PutBucketPolicyInput{Bucket: aws.String("bench"), Policy: aws.String(doc.String())}); err != nil {
		b.Fatal(err)
	}
	if _, err := h.eng.CreateTenant(ctx, "bencht", "bencht", ""); err != nil {
		b.Fatal(err)
	}
	if _, err := h.eng.CreateUser(ctx, "bencht", "reader", ""); err != nil {
		b.Fatal(err)
	}
	k, err := h.eng.CreateAccessKey(ctx, "bencht", "reader")
	if err != nil {
		b.Fatal(err)
	}
	reader := h.client(false, func(o *awss3.Options) {
		o.Credentials = aws.NewCredentialsCache(staticCreds{k.AccessKeyID, k.Secret})
	})
	b.Run("cross-tenant-20-statements", func(b *testing.B) { head(b, reader, "root:bench") })
}

type staticCreds struct{ id, secret string }

func (s staticCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: s.id, SecretAccessKey: s.secret}, nil
}

// BenchmarkRefusedPut measures what a refused PUT (a missing bucket,
// NoSuchBucket) costs a client over HTTP and over HTTPS in the same run,
// 16 requests at once through aws-sdk-go-v2 (which sends "Expect:
// 100-continue" above 2 MB and then the body without waiting), sending
// bodies as vaultaire bench does (UNSIGNED-PAYLOAD, no checksum). A 4 KiB
// refusal keeps its connection (net/http reads the small body); a 16 MiB
// one closes it after the answer, so the next request connects again:
// "https" is what a client without a TLS session cache pays (a full
// handshake), "https-resume" one with a cache (an abbreviated one).
func BenchmarkRefusedPut(b *testing.B) {
	h := newHarnessTB(b)
	for _, size := range []int{4 << 10, 16 << 20} {
		data := make([]byte, size)
		for _, scheme := range []string{"http", "https", "https-resume"} {
			b.Run(fmt.Sprintf("%dKiB/%s", size>>10, scheme), func(b *testing.B) {
				secure := scheme != "http"
				tr := h.plain.sdk.Clone()
				if secure {
					tr = h.tls.sdk.Clone()
				}
				if scheme == "https-resume" {
					tr.TLSClientConfig.ClientSessionCache = tls.NewLRUClientSessionCache(64)
				}
				tr.MaxIdleConnsPerHost = 32 // keep all 16 (the default keeps 2)
				defer tr.CloseIdleConnections()
				// As vaultaire bench sends: no payload hash, no checksum.
				c := h.client(secure, func(o *awss3.Options) {
					o.HTTPClient = &http.Client{Transport: tr}
					o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
					o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
				})
				var resumed, handshakes atomic.Int64
				tr.TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
					handshakes.Add(1)
					if cs.DidResume {
						resumed.Add(1)
					}
					return nil
				}
				b.SetParallelism(8) // x GOMAXPROCS 2: bench-s3's 16 clients
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						_, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k"), Body: bytes.NewReader(data)})
						var ae smithy.APIError
						if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket" {
							b.Errorf("refused PUT: %v", err)
							return
						}
					}
				})
				if secure {
					b.ReportMetric(float64(handshakes.Load())/float64(b.N), "handshakes/op")
					b.ReportMetric(float64(resumed.Load())/float64(b.N), "resumed/op")
				}
			})
		}
	}
}

// BenchmarkHeadObjectOwnership measures what object ACLs add to a HEAD by
// the bucket owner: in a BucketOwnerEnforced bucket (one ownership read in
// authorize) against an ObjectWriter one (the ownership read and the
// version's owner and ACL), in one run: compare the two sub-benchmarks.
func BenchmarkHeadObjectOwnership(b *testing.B) {
	h := newHarnessTB(b)
	c := h.client(false)
	for _, bucket := range []string{"enforced", "writer"} {
		if _, err := c.CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			b.Fatal(err)
		}
		if _, err := c.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := c.PutBucketOwnershipControls(ctx, &awss3.PutBucketOwnershipControlsInput{Bucket: aws.String("writer"),
		OwnershipControls: &types.OwnershipControls{Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipObjectWriter}}}}); err != nil {
		b.Fatal(err)
	}
	head := func(b *testing.B, bucket string) {
		for i := 0; i < b.N; i++ {
			if _, err := c.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("enforced", func(b *testing.B) { head(b, "enforced") })
	b.Run("object-writer", func(b *testing.B) { head(b, "writer") })
}
