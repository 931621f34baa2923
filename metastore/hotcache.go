package metastore

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
)

// hotCacheMax bounds the entries of a hotCache; past it the map starts
// over (the records are small and re-read on the next miss).
const hotCacheMax = 4096

// hotCache is a read-through cache of the small records nearly every S3
// request reads outside the state machine: the access key that signed it,
// the tenant, its settings, the container and the cluster version. Each
// is a Pebble point lookup otherwise, walking the memtables and every
// level (about 7% of a single node's CPU under 4 KiB PUTs). The state
// machine reads them through it too (txn.get), for keys its batch has not
// written.
//
// Correctness rests on one generation per table: an entry is used only
// while its table's generation is the one loaded before the entry was
// read from Pebble. The state machine bumps a table's generation after a
// batch that wrote the table is committed and before the applied index
// advances (so a read that waited for an index sees the new value), and
// Restore bumps them all. A value read after a commit but tagged with the
// generation from before it is merely re-read; a value read before a
// commit is never tagged with the generation after it.
type hotCache struct {
	gens [256]atomic.Uint64
	mu   sync.Mutex
	m    map[string]hotEntry
}

type hotEntry struct {
	gen uint64
	v   []byte // nil: the key is absent
}

// hotTable reports whether reads of tbl go through the hot cache.
func hotTable(tbl byte) bool {
	switch tbl {
	case tblAccessKey, tblTenant, tblTenantCfg, tblContainer, tblClusterVer:
		return true
	}
	return false
}

// get returns a copy of key's value in db (nil when absent), as getCopy.
func (c *hotCache) get(db *pebble.DB, key []byte) ([]byte, error) {
	tbl := fsmTable(key)
	if !hotTable(tbl) {
		return getCopy(db, key)
	}
	g := c.gens[tbl].Load()
	c.mu.Lock()
	e, ok := c.m[string(key)]
	c.mu.Unlock()
	if ok && e.gen == g {
		return bytes.Clone(e.v), nil
	}
	v, err := getCopy(db, key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= hotCacheMax {
		c.m = make(map[string]hotEntry)
	}
	c.m[string(key)] = hotEntry{gen: g, v: bytes.Clone(v)}
	c.mu.Unlock()
	return v, nil
}

// changed invalidates the entries of the tables a committed batch wrote.
func (c *hotCache) changed(tables *[256]bool) {
	for tbl, w := range tables {
		if w && hotTable(byte(tbl)) {
			c.gens[tbl].Add(1)
		}
	}
}

// changedAll invalidates every entry (a snapshot restore).
func (c *hotCache) changedAll() {
	for i := range c.gens {
		c.gens[i].Add(1)
	}
}
