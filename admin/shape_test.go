package admin

import (
	"strings"
	"testing"
)

func TestShapeWarnings(t *testing.T) {
	for _, tc := range []struct {
		k, m, nodes, drives int
		want                []string // substrings, in order
	}{
		{8, 4, 3, 12, nil}, // 4 per node: survives a node
		{8, 4, 2, 8, []string{"2 live nodes", "8 live drives"}}, // 6 per node > 4; 8 drives < 12
		{2, 2, 1, 4, nil},                      // a single node: nothing to survive to
		{2, 1, 2, 8, []string{"2 live nodes"}}, // 2 per node > 1
		{4, 4, 2, 8, nil},                      // 4 per node = m
		{8, 4, 4, 10, []string{"10 live drives"}},
		{8, 4, 0, 0, nil},
	} {
		got := shapeWarnings(tc.k, tc.m, tc.nodes, tc.drives)
		if len(got) != len(tc.want) {
			t.Errorf("%d+%d on %d nodes, %d drives: %q", tc.k, tc.m, tc.nodes, tc.drives, got)
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%d+%d on %d nodes, %d drives: %q lacks %q", tc.k, tc.m, tc.nodes, tc.drives, got[i], w)
			}
		}
	}
}
