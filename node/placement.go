package node

import (
	"cmp"
	"slices"

	"github.com/zeebo/xxh3"
)

// placement chooses where the k+m shards of a blob go.
//
// Rendezvous (highest-random-weight) hashing over the drive set: every drive
// gets the score xxh3(blobID, driveID) and the highest scores win. It needs no
// shared table, spreads blobs evenly, and when a drive joins or leaves only
// the blobs that score it highest move. Drives that are offline at write time
// are still chosen when they rank high: the shard is simply missing and the
// healer writes it once the drive is back, so a flapping drive does not
// reshuffle placement.
//
// Spread rule: no node gets more than perNode shards while enough nodes exist;
// perNode is m (the parity count), so losing any one node loses at most m
// shards and every blob stays readable. With fewer nodes than (k+m)/m the cap
// is relaxed evenly.
type placeDrive struct {
	ID     string
	Node   string
	Online bool
}

// place returns n drive indexes into drives, in shard order, honouring the
// per-node cap where the drive set allows it. It returns fewer than n only
// when there are fewer than n drives.
func place(blobID string, drives []placeDrive, n, perNode int) []int {
	type scored struct {
		idx   int
		score uint64
	}
	s := make([]scored, len(drives))
	for i, d := range drives {
		s[i] = scored{i, rendezvousScore(blobID, d.ID)}
	}
	// Online drives first, then by score; ties by ID keep it deterministic.
	slices.SortFunc(s, func(a, b scored) int {
		da, db := drives[a.idx], drives[b.idx]
		if da.Online != db.Online {
			if da.Online {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(da.ID, db.ID)
	})
	nodes := map[string]bool{}
	for _, d := range drives {
		nodes[d.Node] = true
	}
	if perNode < 1 {
		perNode = 1
	}
	// Relax the cap when there are too few nodes to honour it.
	for perNode*len(nodes) < n {
		perNode++
	}
	out := make([]int, 0, n)
	used := make([]bool, len(drives))
	count := map[string]int{}
	for pass := 0; pass < 2 && len(out) < n; pass++ {
		for _, c := range s {
			if len(out) == n {
				break
			}
			d := drives[c.idx]
			if used[c.idx] || (pass == 0 && count[d.Node] >= perNode) {
				continue
			}
			used[c.idx] = true
			count[d.Node]++
			out = append(out, c.idx)
		}
	}
	return out
}

// rendezvousScore is drive driveID's weight for blob blobID: the highest
// weights win placement (and relocation, node/relocate.go).
func rendezvousScore(blobID, driveID string) uint64 {
	return xxh3.HashString(blobID + "\x00" + driveID)
}
