package node

import (
	"fmt"
	"testing"

	"github.com/vaultaire/vaultaire/metastore"
)

func TestPlaceSpreadsAcrossNodes(t *testing.T) {
	tests := []struct {
		nodes, drivesPerNode, k, m int
		wantMaxPerNode             int
	}{
		{1, 4, 2, 2, 4},  // one node: everything on it
		{3, 4, 8, 4, 4},  // 3x4 drives, 8+4: at most m=4 per node
		{5, 2, 4, 2, 2},  // 10 drives, 4+2: at most 2 per node
		{2, 4, 4, 2, 3},  // too few nodes for cap 2: relaxed to 3
		{6, 1, 4, 2, 1},  // one drive per node
		{3, 2, 3, 3, 2},  // 3+3 over 3 nodes
		{4, 4, 12, 4, 4}, // 12+4 over 4 nodes
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dx%d_%d+%d", tc.nodes, tc.drivesPerNode, tc.k, tc.m), func(t *testing.T) {
			var drives []placeDrive
			for n := 0; n < tc.nodes; n++ {
				for d := 0; d < tc.drivesPerNode; d++ {
					drives = append(drives, placeDrive{ID: fmt.Sprintf("n%d-d%d", n, d), Node: fmt.Sprintf("n%d", n), Online: true})
				}
			}
			for b := 0; b < 200; b++ {
				got := place(fmt.Sprintf("blob-%d", b), drives, tc.k+tc.m, tc.m)
				if len(got) != tc.k+tc.m {
					t.Fatalf("placed %d shards, want %d", len(got), tc.k+tc.m)
				}
				seen := map[int]bool{}
				per := map[string]int{}
				for _, i := range got {
					if seen[i] {
						t.Fatalf("drive %d chosen twice", i)
					}
					seen[i] = true
					per[drives[i].Node]++
				}
				for n, c := range per {
					if c > tc.wantMaxPerNode {
						t.Fatalf("node %s holds %d shards, cap %d", n, c, tc.wantMaxPerNode)
					}
				}
			}
		})
	}
}

func TestPlaceDeterministicAndPrefersOnline(t *testing.T) {
	drives := []placeDrive{{"a", "n", true}, {"b", "n", true}, {"c", "n", false}, {"d", "n", true}, {"e", "n", true}}
	first := place("blob", drives, 4, 4)
	for i := 0; i < 10; i++ {
		again := place("blob", drives, 4, 4)
		if fmt.Sprint(again) != fmt.Sprint(first) {
			t.Fatalf("placement not deterministic: %v vs %v", first, again)
		}
	}
	for _, i := range first {
		if !drives[i].Online {
			t.Fatalf("offline drive chosen while enough online drives exist: %v", first)
		}
	}
	// Too few drives: all of them, offline last.
	got := place("blob", drives, 7, 7)
	if len(got) != 5 || drives[got[4]].Online {
		t.Fatalf("short placement = %v", got)
	}
}

func TestPlaceBalanced(t *testing.T) {
	var drives []placeDrive
	for d := 0; d < 8; d++ {
		drives = append(drives, placeDrive{ID: fmt.Sprintf("d%d", d), Node: "n", Online: true})
	}
	hits := make([]int, len(drives))
	const blobs = 4000
	for b := 0; b < blobs; b++ {
		for _, i := range place(fmt.Sprintf("b%d", b), drives, 4, 4) {
			hits[i]++
		}
	}
	want := blobs * 4 / len(drives)
	for i, h := range hits {
		if h < want*8/10 || h > want*12/10 {
			t.Fatalf("drive %d got %d shards, want about %d (all: %v)", i, h, want, hits)
		}
	}
}

func TestRelocationTarget(t *testing.T) {
	// 3 nodes of 4 drives at 8+4, node c removed: shard 8 (on c) moves.
	var shards []metastore.ShardLoc
	for _, n := range []string{"a", "b", "c"} {
		for i := 0; i < 4; i++ {
			shards = append(shards, metastore.ShardLoc{Node: n, Drive: fmt.Sprintf("%s%d", n, i)})
		}
	}
	b := metastore.Blob{ID: "blob", K: 8, M: 4, Shards: shards}
	removed := func(n string) bool { return n == "c" }
	drives := func(perNode map[string]int) []placeDrive {
		var out []placeDrive
		for _, n := range []string{"a", "b", "d"} {
			for i := 0; i < perNode[n]; i++ {
				out = append(out, placeDrive{ID: fmt.Sprintf("%s%d", n, i), Node: n, Online: true})
			}
		}
		return out
	}
	pick := func(ds []placeDrive) placeDrive {
		t.Helper()
		j := relocationTarget(b, 8, ds, removed)
		if j < 0 {
			t.Fatal("no target")
		}
		return ds[j]
	}
	// A new node with empty drives takes it.
	if got := pick(drives(map[string]int{"a": 4, "b": 4, "d": 4})); got.Node != "d" {
		t.Fatalf("target %+v, want a drive of the new node d", got)
	}
	// Two nodes left, a spare drive on a: the cap relaxes to 6 per node
	// and the empty drive wins over doubling up.
	if got := pick(drives(map[string]int{"a": 5, "b": 4})); got.ID != "a4" {
		t.Fatalf("target %+v, want the spare drive a4", got)
	}
	// No spare drive: two shards share a drive rather than one stay lost,
	// on the node holding fewer.
	b.Shards[0] = metastore.ShardLoc{Node: "c", Drive: "c9"} // a holds 3 now
	if got := pick(drives(map[string]int{"a": 4, "b": 4})); got.Node != "a" {
		t.Fatalf("target %+v, want node a (3 shards) over b (4)", got)
	}
	b.Shards[0] = shards[0]
	// Under the cap, nodes that reached m are skipped even for an empty drive.
	b4 := metastore.Blob{ID: "blob", K: 2, M: 1, Shards: []metastore.ShardLoc{{Node: "a", Drive: "a0"}, {Node: "b", Drive: "b0"}, {Node: "c", Drive: "c0"}}}
	ds := drives(map[string]int{"a": 2, "b": 2, "d": 1})
	if j := relocationTarget(b4, 2, ds, removed); ds[j].Node != "d" {
		t.Fatalf("target %+v, want node d (a and b hold their m=1)", ds[j])
	}
	if j := relocationTarget(b, 8, nil, removed); j != -1 {
		t.Fatalf("target %d without drives", j)
	}
}
