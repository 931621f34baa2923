package s3_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/drivers/driverstest"
	s3 "github.com/vaultaire/vaultaire/drivers/s3"
	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
)

// BenchmarkRemote measures the driver against the same remote, in the same
// run, as two baselines that talk to it directly: the AWS SDK (PutObject,
// GetObject with its default options) and raw net/http requests on
// presigned URLs (no hashing, no SDK). Objects are 16 MiB; "range" reads
// 4 MiB from the middle.
//
// The variants of one operation are interleaved: every iteration runs each
// of them once, in rotating order, and times them apart, so load on a
// shared machine hits all of them alike. Reported per variant: MB/s; and
// the ratios driver/sdk and driver/http (1.0 = as fast as the baseline).
// ns/op is the time of all variants together and means little.
//
//	go test -run '^$' -bench BenchmarkRemote -benchtime 20x ./drivers/s3
//
// put/driver is the default configuration (8 MiB parts, 16 MiB threshold:
// one PutObject with Content-MD5); put/driver-mp sets the threshold to
// one part, so the object goes as two parallel parts. get/driver is a full
// read verified against the ETag (MD5); range/driver is a ranged read,
// which the driver does not verify.
func BenchmarkRemote(b *testing.B) {
	remotes := []*s3test.Remote{s3test.StartVaultaire(b)}
	if !testing.Short() {
		if _, err := s3test.VersityBinary(); err == nil {
			remotes = append(remotes, s3test.StartVersity(b))
		}
	}
	const size = 16 << 20
	const rangeOff, rangeLen = 6 << 20, 4 << 20
	data := driverstest.Pattern(1, size)
	for _, remote := range remotes {
		bucket := remote.NewBucket(b)
		cfg := s3.Config{Endpoint: remote.Endpoint, Region: remote.Region, Bucket: bucket, Prefix: "bench",
			AccessKey: remote.AccessKey, SecretKey: remote.SecretKey}
		d := newDriver(b, cfg)
		cfg.MultipartThreshold = s3.DefaultPartSize
		dm := newDriver(b, cfg)
		client := remote.Client()
		presign := awss3.NewPresignClient(client)
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}}
		b.Cleanup(hc.CloseIdleConnections)
		obj := func(i int) string { return fmt.Sprintf("obj-%d", i%4) }
		key := func(i int) string { return "bench/" + obj(i) }
		for i := range 4 {
			if _, err := d.Put(ctx, obj(i), bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
		drain := func(rc io.ReadCloser, want int64) error {
			defer rc.Close()
			n, err := io.Copy(io.Discard, rc)
			if err == nil && n != want {
				err = fmt.Errorf("read %d bytes, want %d", n, want)
			}
			return err
		}
		httpDo := func(req *http.Request, want int64, status int) error {
			resp, err := hc.Do(req)
			if err != nil {
				return err
			}
			if resp.StatusCode != status {
				resp.Body.Close()
				return fmt.Errorf("%s: status %d", req.Method, resp.StatusCode)
			}
			return drain(resp.Body, want)
		}
		rng := fmt.Sprintf("bytes=%d-%d", rangeOff, rangeOff+rangeLen-1)

		type variant struct {
			name string
			fn   func(i int) error
		}
		ops := []struct {
			name     string
			bytes    int64
			variants []variant
		}{
			{"put", size, []variant{
				{"driver", func(i int) error {
					_, err := d.Put(ctx, obj(i), bytes.NewReader(data))
					return err
				}},
				{"driver-mp", func(i int) error {
					_, err := dm.Put(ctx, obj(i), bytes.NewReader(data))
					return err
				}},
				{"sdk", func(i int) error {
					_, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i)), Body: bytes.NewReader(data)})
					return err
				}},
				{"http", func(i int) error {
					p, err := presign.PresignPutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i))})
					if err != nil {
						return err
					}
					req, _ := http.NewRequestWithContext(ctx, http.MethodPut, p.URL, bytes.NewReader(data))
					return httpDo(req, 0, http.StatusOK)
				}},
			}},
			{"get", size, []variant{
				{"driver", func(i int) error {
					rc, err := d.Open(ctx, obj(i), 0, -1)
					if err != nil {
						return err
					}
					return drain(rc, size)
				}},
				{"sdk", func(i int) error {
					out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i))})
					if err != nil {
						return err
					}
					return drain(out.Body, size)
				}},
				{"http", func(i int) error {
					p, err := presign.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i))})
					if err != nil {
						return err
					}
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
					return httpDo(req, size, http.StatusOK)
				}},
			}},
			{"range", rangeLen, []variant{
				{"driver", func(i int) error {
					rc, err := d.Open(ctx, obj(i), rangeOff, rangeLen)
					if err != nil {
						return err
					}
					return drain(rc, rangeLen)
				}},
				{"sdk", func(i int) error {
					out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i)), Range: aws.String(rng)})
					if err != nil {
						return err
					}
					return drain(out.Body, rangeLen)
				}},
				{"http", func(i int) error {
					p, err := presign.PresignGetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(i))})
					if err != nil {
						return err
					}
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, p.URL, nil)
					req.Header.Set("Range", rng)
					return httpDo(req, rangeLen, http.StatusPartialContent)
				}},
			}},
		}
		for _, op := range ops {
			b.Run(remote.Kind+"/"+op.name, func(b *testing.B) {
				spent := make([]time.Duration, len(op.variants))
				b.SetBytes(op.bytes * int64(len(op.variants)))
				b.ResetTimer()
				for i := range b.N {
					for j := range op.variants {
						k := (i + j) % len(op.variants)
						start := time.Now()
						if err := op.variants[k].fn(i); err != nil {
							b.Fatalf("%s: %v", op.variants[k].name, err)
						}
						spent[k] += time.Since(start)
					}
				}
				mbps := func(k int) float64 { return float64(op.bytes) * float64(b.N) / spent[k].Seconds() / 1e6 }
				for k, v := range op.variants {
					b.ReportMetric(mbps(k), v.name+"-MB/s")
				}
				for k, v := range op.variants {
					if strings.HasPrefix(v.name, "driver") {
						for base := range op.variants {
							if bn := op.variants[base].name; bn == "sdk" || bn == "http" {
								b.ReportMetric(mbps(k)/mbps(base), v.name+"/"+bn)
							}
						}
					}
				}
			})
		}
	}
}
