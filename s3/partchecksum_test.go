package s3

import (
	"reflect"
	"testing"

	"github.com/vaultaire/vaultaire/node"
)

func TestPartChecksums(t *testing.T) {
	parts := func(sums ...string) []node.PartInfo {
		var ps []node.PartInfo
		for i, s := range sums {
			p := node.PartInfo{Number: i + 1, Size: 10}
			if s != "" {
				p.Checksums = map[string]string{"CRC32C": s}
			}
			ps = append(ps, p)
		}
		return ps
	}
	whole := map[string]string{"CRC32C": "whole"}
	for _, c := range []struct {
		name     string
		info     node.ArtifactInfo
		n        int
		want     map[string]string
		wantType string
	}{
		{"composite part", node.ArtifactInfo{Checksums: whole, ChecksumType: "COMPOSITE", Parts: 2, PartList: parts("p1", "p2")}, 2, map[string]string{"CRC32C": "p2"}, "COMPOSITE"},
		{"composite single part", node.ArtifactInfo{Checksums: whole, ChecksumType: "COMPOSITE", Parts: 1, PartList: parts("p1")}, 1, map[string]string{"CRC32C": "p1"}, "COMPOSITE"},
		{"full object of several parts", node.ArtifactInfo{Checksums: whole, ChecksumType: "FULL_OBJECT", Parts: 2, PartList: parts("p1", "p2")}, 1, nil, ""},
		{"full object of one part", node.ArtifactInfo{Checksums: whole, ChecksumType: "FULL_OBJECT", Parts: 1, PartList: parts("p1")}, 1, map[string]string{"CRC32C": "p1"}, "FULL_OBJECT"},
		{"no such part", node.ArtifactInfo{Checksums: whole, ChecksumType: "COMPOSITE", Parts: 2, PartList: parts("p1", "p2")}, 3, nil, ""},
		{"part without a checksum", node.ArtifactInfo{Checksums: whole, ChecksumType: "COMPOSITE", Parts: 2, PartList: parts("p1", "")}, 2, nil, ""},
		{"another algorithm only", node.ArtifactInfo{Checksums: map[string]string{"CRC32": "w"}, ChecksumType: "COMPOSITE", Parts: 1, PartList: parts("p1")}, 1, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, typ := partChecksums(c.info, c.n)
			if !reflect.DeepEqual(got, c.want) || typ != c.wantType {
				t.Fatalf("got %v %q, want %v %q", got, typ, c.want, c.wantType)
			}
		})
	}
}
