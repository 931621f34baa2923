package node

import (
	"context"
	"errors"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// Expiry of unfinished multipart uploads.
//
// An upload that is never completed nor aborted holds its parts' bytes,
// and they count against the tenant's quota (Usage.UploadBytes). Whatever
// a container's own rules say, the metadata leader aborts every upload
// older than Config.UploadExpiry (default 7 days) through the ordinary
// abort command, which releases the parts' quota in the state machine,
// and collects the parts' shards after the GC delay like any abort.
//
// The walk is incremental: every ExpiryInterval the leader looks at up to
// expiryBatch uploads, from where the previous look stopped (tenant,
// container, key and upload id, in listing order), and starts over when
// it reaches the end. Listing reads are stale (the leader's own state is
// current); the abort itself is decided by the state machine, so an upload
// completed meanwhile is not harmed (ErrUploadNotFound is ignored).

// Defaults of the upload expiry.
const (
	// DefaultUploadExpiry: unfinished multipart uploads older than this
	// are aborted. S3 clients retry and resume uploads within hours; a
	// week is well past any live one.
	DefaultUploadExpiry = 7 * 24 * time.Hour
	// DefaultExpiryInterval: how often the leader looks at the next batch.
	DefaultExpiryInterval = time.Minute
	// expiryBatch: uploads looked at per look, so a leader with millions
	// of uploads spends a bounded time per minute on them.
	expiryBatch = 1000
)

// expiryCursor is where the upload walk stopped: the next upload to look
// at is the first one after (tenant, container, key, upload).
type expiryCursor struct {
	tenant, container, key, upload string
}

// expiryLoop runs ExpireUploads every ExpiryInterval on the leader.
func (e *Engine) expiryLoop(ctx context.Context) {
	if e.cfg.UploadExpiry < 0 {
		return
	}
	t := time.NewTicker(e.cfg.ExpiryInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !e.meta.IsLeader() {
			continue
		}
		n, err := e.ExpireUploads(ctx, expiryBatch)
		if err != nil && ctx.Err() == nil {
			e.log.Warn("upload expiry incomplete", "err", err)
		}
		if n > 0 {
			e.log.Info("aborted multipart uploads past their expiry", "uploads", n, "expiry", e.cfg.UploadExpiry)
		}
	}
}

// ExpireUploads looks at up to batch unfinished multipart uploads, from
// where the previous call stopped, and aborts those created more than
// Config.UploadExpiry before Config.Now. It returns how many it aborted.
// Call it on the metadata leader (the expiry loop does).
func (e *Engine) ExpireUploads(ctx context.Context, batch int) (int, error) {
	if e.cfg.UploadExpiry < 0 {
		return 0, nil
	}
	e.expiry.Lock()
	defer e.expiry.Unlock()
	cur := e.expiry.cursor
	cutoff := e.cfg.Now().Add(-e.cfg.UploadExpiry)
	aborted, seen := 0, 0
	tenants, err := e.meta.ListTenants(ctx, metastore.Stale)
	if err != nil {
		return 0, metaErr(err)
	}
	for _, t := range tenants {
		if t.ID < cur.tenant {
			continue
		}
		cs, err := e.meta.ListContainers(ctx, t.ID, metastore.Stale)
		if err != nil {
			return aborted, metaErr(err)
		}
		for _, c := range cs {
			if t.ID == cur.tenant && c.Name < cur.container {
				continue
			}
			keyMarker, idMarker := "", ""
			if t.ID == cur.tenant && c.Name == cur.container {
				keyMarker, idMarker = cur.key, cur.upload
			}
			for {
				if seen >= batch {
					e.expiry.cursor = expiryCursor{t.ID, c.Name, keyMarker, idMarker}
					return aborted, nil
				}
				ups, _, truncated, err := e.meta.ListUploads(ctx, t.ID, c.Name, metastore.UploadListOptions{
					KeyMarker: keyMarker, UploadIDMarker: idMarker, MaxUploads: min(batch-seen, 1000),
				}, metastore.Stale)
				if errors.Is(err, metastore.ErrContainerNotFound) {
					break // deleted meanwhile, with its uploads
				}
				if err != nil {
					return aborted, metaErr(err)
				}
				for _, u := range ups {
					seen++
					keyMarker, idMarker = u.Key, u.UploadID
					if !u.Created.Before(cutoff) {
						continue
					}
					err := e.AbortUpload(ctx, t.ID, c.Name, u.Key, u.UploadID)
					switch {
					case err == nil:
						aborted++
						e.stats.uploadsExpired.Add(1)
					case errors.Is(err, ErrUploadNotFound), errors.Is(err, ErrContainerNotFound):
						// completed or aborted meanwhile
					default:
						return aborted, err
					}
				}
				if !truncated || len(ups) == 0 {
					break
				}
			}
		}
	}
	e.expiry.cursor = expiryCursor{} // the end: start over next time
	return aborted, nil
}
