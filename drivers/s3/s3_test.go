package s3_test

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	s3 "github.com/vaultaire/vaultaire/drivers/s3"
	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
)

func TestMain(m *testing.M) {
	// The SDK is configured from explicit options only; unset the
	// environment's CA bundle anyway, as every Go SDK client here must.
	os.Unsetenv("AWS_CA_BUNDLE")
	code := func() int {
		defer s3test.RemoveBinaries()
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintf(os.Stderr, "goleak: %v\n", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testConfig is a driver configuration for tests against remote: the
// smallest part size S3 allows and a threshold of one part, so the suite's
// 8 MiB object goes multipart (two parts) while small ones are single
// PUTs, and quick retries.
func testConfig(remote *s3test.Remote, endpoint, bucket, prefix string) s3.Config {
	return s3.Config{
		Endpoint:           endpoint,
		Region:             remote.Region,
		Bucket:             bucket,
		Prefix:             prefix,
		AccessKey:          remote.AccessKey,
		SecretKey:          remote.SecretKey,
		PartSize:           s3.MinPartSize,
		MultipartThreshold: s3.MinPartSize,
		PartConcurrency:    2,
		RetryBaseDelay:     5 * time.Millisecond,
		RetryMaxDelay:      50 * time.Millisecond,
	}
}

func newDriver(t testing.TB, cfg s3.Config) *s3.Driver {
	t.Helper()
	d, err := s3.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestConformanceVaultaire runs the drivers contract against a second
// Vaultaire process, with a fresh bucket and no key prefix per subtest.
func TestConformanceVaultaire(t *testing.T) {
	remote := s3test.StartVaultaire(t)
	driverstest.Run(t, func(t *testing.T) drivers.Driver {
		return newDriver(t, testConfig(remote, remote.Endpoint, remote.NewBucket(t), ""))
	})
}

// TestConformanceVersity runs the drivers contract against versitygw's
// posix backend, with one bucket and a fresh key prefix per subtest (so
// prefixes are isolated from each other, as tiers sharing a bucket need).
//
// versitygw's GET reads an object's ETag by path before it opens the file,
// so a GET that races an overwrite of the same key can carry the ETag of
// the previous version with the bytes of the new one. The driver's full-read
// check rightly calls that corrupt, which fails ConcurrentSameName; this run
// therefore sets OpaqueETags (no ETag checks). TestCorruptionDetected runs
// the checks against versitygw without concurrent overwrites.
func TestConformanceVersity(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: needs versitygw, an external server")
	}
	remote := s3test.StartVersity(t)
	bucket := remote.NewBucket(t)
	var n atomic.Int64
	driverstest.Run(t, func(t *testing.T) drivers.Driver {
		cfg := testConfig(remote, remote.Endpoint, bucket, fmt.Sprintf("tier/%d", n.Add(1)))
		cfg.OpaqueETags = true
		return newDriver(t, cfg)
	})
}
