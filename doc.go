// Package vaultaire is the root of the Vaultaire module: a clustered,
// multi-tenant, S3-compatible object store. The top-level packages are the
// design (see docs/architecture.md); this package holds only the tests that
// keep their layering honest.
package vaultaire
