package node

import (
	"fmt"
	"testing"
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
