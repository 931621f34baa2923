package node

import (
	"context"
	"errors"
	"time"

	"github.com/vaultaire/vaultaire/metastore"
)

// ScrubReport counts what one scrub pass saw.
type ScrubReport struct {
	Blobs    int // blobs visited
	Verified int // shards read in full and found intact
	Bad      int // shards missing or corrupt (queued for healing)
}

// Scrub walks every artifact of every tenant and verifies, shard by shard,
// every block checksum of the shards stored on this node's drives. Missing
// and corrupt shards are queued for healing. Reads only verify the shards
// they use; the scrubber is what finds bitrot in parity shards and in
// artifacts nobody reads. Between shards it sleeps pause, its throttle.
func (e *Engine) Scrub(ctx context.Context, pause time.Duration) (ScrubReport, error) {
	var rep ScrubReport
	tenants, err := e.meta.ListTenants(ctx)
	if err != nil {
		return rep, err
	}
	for _, t := range tenants {
		cs, err := e.meta.ListContainers(ctx, t.ID)
		if err != nil {
			return rep, err
		}
		for _, c := range cs {
			after := ""
			for {
				page, err := e.meta.ListArtifacts(ctx, t.ID, c.Name, metastore.ListOptions{StartAfter: after, MaxKeys: 1000})
				if errors.Is(err, metastore.ErrContainerNotFound) {
					break // deleted meanwhile
				}
				if err != nil {
					return rep, err
				}
				for _, a := range page.Artifacts {
					for _, p := range a.Parts {
						if err := e.scrubBlob(ctx, p, pause, &rep); err != nil {
							return rep, err
						}
					}
				}
				if !page.Truncated {
					break
				}
				after = page.Next
			}
		}
	}
	return rep, nil
}

func (e *Engine) scrubBlob(ctx context.Context, p metastore.Part, pause time.Duration, rep *ScrubReport) error {
	coder, err := e.coderFor(p.Blob)
	if err != nil {
		return err
	}
	rep.Blobs++
	open := e.opener(p.Blob)
	for i, loc := range p.Blob.Shards {
		if !e.isLocal(loc) {
			continue // another node scrubs its own drives
		}
		rc, err := open(ctx, i, 0, -1)
		if err == nil {
			err = coder.VerifyShard(ctx, rc, p.Size, i)
			rc.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err != nil {
			rep.Bad++
			e.stats.scrubBad.Add(1)
			e.log.Warn("scrub: bad shard", "blob", p.Blob.ID, "shard", i, "err", err)
			e.heal.missing(p.Blob, p.Size, i)
		} else {
			rep.Verified++
			e.stats.scrubVerified.Add(1)
		}
		if pause > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(pause):
			}
		}
	}
	return nil
}
