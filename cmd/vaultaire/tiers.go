package main

import (
	"log/slog"

	"github.com/vaultaire/vaultaire/drivers"
	s3driver "github.com/vaultaire/vaultaire/drivers/s3"
	"github.com/vaultaire/vaultaire/metastore"
	"github.com/vaultaire/vaultaire/node"
)

// tierOpener builds a cold tier's driver: drivers/s3 over the tier's
// endpoint, with the defaults of drivers/s3 (retries with backoff, idle
// timeout); overall deadlines come from each call's context.
func tierOpener(log *slog.Logger) node.TierOpener {
	return func(t metastore.Tier, secret string) (drivers.Driver, error) {
		style := s3driver.StyleAuto
		if t.PathStyle {
			style = s3driver.StylePath
		}
		return s3driver.New(s3driver.Config{
			Endpoint: t.Endpoint, Region: t.Region, Bucket: t.Bucket, Prefix: t.Prefix,
			AccessKey: t.AccessKey, SecretKey: secret, Style: style, CAFile: t.CAFile,
			Logger: log.With("tier", t.Name),
		})
	}
}
