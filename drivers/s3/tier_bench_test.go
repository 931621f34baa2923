package s3_test

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/driverstest"
	s3 "github.com/vaultaire/vaultaire/drivers/s3"
	"github.com/vaultaire/vaultaire/drivers/s3/s3test"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// BenchmarkTieredGet compares a GET of a 16 MiB artifact moved to a cold
// tier (node.Engine reading the tier through this driver, every block
// verified) with a direct SDK GetObject of a 16 MiB object on the same
// remote, interleaved in the same run. Reported: MB/s of each and the
// ratio tiered/direct (the goal is >= 0.9).
//
//	go test -run '^$' -bench BenchmarkTieredGet -benchtime 10x ./drivers/s3
func BenchmarkTieredGet(b *testing.B) {
	remote := s3test.StartVaultaire(b)
	bucket := remote.NewBucket(b)
	const size = 16 << 20
	data := driverstest.Pattern(2, size)
	n := nodetest.StartNode(b, nodetest.Options{InlineThreshold: -1, Tune: func(c *node.Config) {
		c.TierOpener = func(t metastore.Tier, secret string) (drivers.Driver, error) {
			return s3.New(s3.Config{Endpoint: t.Endpoint, Region: t.Region, Bucket: t.Bucket, Prefix: t.Prefix,
				AccessKey: t.AccessKey, SecretKey: secret, Style: s3.StylePath})
		}
	}})
	e := n.Engine
	ctx := context.Background()
	if err := e.CreateContainer(ctx, node.RootTenant, node.CreateContainerInput{Name: "c"}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.PutArtifact(ctx, node.RootTenant, node.PutInput{Container: "c", Key: "k", Body: bytes.NewReader(data), Size: size}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: remote.Endpoint, Region: remote.Region,
		Bucket: bucket, Prefix: "tier", AccessKey: remote.AccessKey, PathStyle: true}, remote.SecretKey); err != nil {
		b.Fatal(err)
	}
	if _, err := e.TransitionVersion(ctx, node.RootTenant, "c", "k", "", "cold"); err != nil {
		b.Fatal(err)
	}
	client := remote.Client()
	if _, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("direct"), Body: bytes.NewReader(data)}); err != nil {
		b.Fatal(err)
	}
	tiered := func() error {
		r, err := e.OpenArtifact(ctx, node.RootTenant, node.VersionRef{Container: "c", Key: "k"})
		if err != nil {
			return err
		}
		return r.WriteRange(ctx, io.Discard, 0, size)
	}
	direct := func() error {
		out, err := client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("direct")})
		if err != nil {
			return err
		}
		defer out.Body.Close()
		_, err = io.Copy(io.Discard, out.Body)
		return err
	}
	variants := []func() error{tiered, direct}
	var spent [2]time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range variants {
			k := (i + j) % 2
			start := time.Now()
			if err := variants[k](); err != nil {
				b.Fatal(err)
			}
			spent[k] += time.Since(start)
		}
	}
	b.StopTimer()
	mbs := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(spent[0]), "tiered-MB/s")
	b.ReportMetric(mbs(spent[1]), "direct-MB/s")
	b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "tiered/direct")
}

// BenchmarkTierTransition compares moving a 16 MiB artifact to a cold tier
// (node.Engine.TransitionVersion: read and verify the local shards,
// re-encode as a 1+0 blob, upload through this driver with Content-MD5,
// commit) with the remote's own PUT of the same 16 MiB (a direct SDK
// PutObject to the same remote), interleaved in the same run. Reported:
// MB/s of each and the ratio transition/direct (the goal is >=
// 0.8). The artifacts to move are written before the timer starts.
//
//	go test -run '^$' -bench BenchmarkTierTransition -benchtime 10x ./drivers/s3
func BenchmarkTierTransition(b *testing.B) {
	remote := s3test.StartVaultaire(b)
	bucket := remote.NewBucket(b)
	const size = 16 << 20
	data := driverstest.Pattern(3, size)
	n := nodetest.StartNode(b, nodetest.Options{InlineThreshold: -1, GCDelay: time.Millisecond, Tune: func(c *node.Config) {
		c.TierOpener = func(t metastore.Tier, secret string) (drivers.Driver, error) {
			return s3.New(s3.Config{Endpoint: t.Endpoint, Region: t.Region, Bucket: t.Bucket, Prefix: t.Prefix,
				AccessKey: t.AccessKey, SecretKey: secret, Style: s3.StylePath})
		}
	}})
	e := n.Engine
	ctx := context.Background()
	if err := e.CreateContainer(ctx, node.RootTenant, node.CreateContainerInput{Name: "c"}); err != nil {
		b.Fatal(err)
	}
	if _, err := e.AddTier(ctx, metastore.Tier{Name: "cold", Type: "s3", Endpoint: remote.Endpoint, Region: remote.Region,
		Bucket: bucket, Prefix: "tier", AccessKey: remote.AccessKey, PathStyle: true}, remote.SecretKey); err != nil {
		b.Fatal(err)
	}
	key := func(i int) string { return "k" + strconv.Itoa(i) }
	for i := 0; i < b.N; i++ {
		if _, err := e.PutArtifact(ctx, node.RootTenant, node.PutInput{Container: "c", Key: key(i), Body: bytes.NewReader(data), Size: size}); err != nil {
			b.Fatal(err)
		}
	}
	client := remote.Client()
	var i int
	transition := func() error {
		_, err := e.TransitionVersion(ctx, node.RootTenant, "c", key(i), "", "cold")
		return err
	}
	direct := func() error {
		_, err := client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("direct/" + key(i)), Body: bytes.NewReader(data)})
		return err
	}
	variants := []func() error{transition, direct}
	var spent [2]time.Duration
	b.SetBytes(size)
	b.ResetTimer()
	for i = 0; i < b.N; i++ {
		for j := range variants {
			k := (i + j) % 2
			start := time.Now()
			if err := variants[k](); err != nil {
				b.Fatal(err)
			}
			spent[k] += time.Since(start)
		}
	}
	b.StopTimer()
	mbs := func(d time.Duration) float64 { return float64(size) * float64(b.N) / d.Seconds() / 1e6 }
	b.ReportMetric(mbs(spent[0]), "transition-MB/s")
	b.ReportMetric(mbs(spent[1]), "direct-PUT-MB/s")
	b.ReportMetric(spent[1].Seconds()/spent[0].Seconds(), "transition/direct")
}
