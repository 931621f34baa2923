package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/vaultaire/vaultaire/admin"
	"github.com/vaultaire/vaultaire/metastore"
)

// runMetastore is the "metastore" noun of the admin CLI:
// "metastore snapshot" streams a consistent snapshot of the cluster's
// metadata to standard output (vaultaire admin metastore snapshot > file).
func (c *adminClient) runMetastore(ctx context.Context, verb string, args []string, out io.Writer) error {
	if verb != "snapshot" || len(args) != 0 {
		return fmt.Errorf("%w: metastore snapshot (> FILE)", errUsage)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint+"/admin/v1/metastore/snapshot", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", "vaultaire-admin/"+version)
	// No overall timeout: a backup takes as long as the metadata is big.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		ae := &admin.Error{Status: resp.StatusCode}
		if json.Unmarshal(raw, ae) != nil || ae.Message == "" {
			ae.Code, ae.Message = http.StatusText(resp.StatusCode), strings.TrimSpace(string(raw))
		}
		return ae
	}
	_, err = io.Copy(out, resp.Body)
	return err
}

// restoreMetastore seeds dir (the node's metastore, which must not
// exist) from the backup file, for --restore-metastore.
func restoreMetastore(dir, file string, log *slog.Logger) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("--restore-metastore: %w", err)
	}
	defer f.Close()
	n, at, err := metastore.RestoreBackup(dir, f)
	if err != nil {
		return fmt.Errorf("--restore-metastore %s: %w", file, err)
	}
	log.Warn("metastore restored from a backup: this node starts a new cluster of one with its state", "file", file, "records", n, "taken_at_index", at)
	return nil
}
