package drivers_test

import (
	"path"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/vaultaire/vaultaire/drivers"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidName(t *testing.T) {
	valid := []string{"a", "a/b", "ab/cd/blob.3", ".a", "..a", "a..", "...", "a b", "ü", strings.Repeat("x", 4096)}
	invalid := []string{"", "/", "/a", "a/", "a//b", ".", "..", "./a", "a/.", "a/../b", "a\\b", "a\x00b", strings.Repeat("x", 4097)}
	for _, n := range valid {
		if !drivers.ValidName(n) {
			t.Errorf("ValidName(%q) = false", n)
		}
	}
	for _, n := range invalid {
		if drivers.ValidName(n) {
			t.Errorf("ValidName(%q) = true", n)
		}
	}
}

func TestValidPrefix(t *testing.T) {
	valid := []string{"", "a", "a/", "a/b", "a/b/", "ab", ".", "..", "a/.", "a/..", "a/.x"}
	invalid := []string{"/", "/a", "a//", "a//b", "./", "../", "../a", "a/../", "a\\", "\x00", "a/b\x00"}
	for _, p := range valid {
		if !drivers.ValidPrefix(p) {
			t.Errorf("ValidPrefix(%q) = false", p)
		}
	}
	for _, p := range invalid {
		if drivers.ValidPrefix(p) {
			t.Errorf("ValidPrefix(%q) = true", p)
		}
	}
}

func TestSection(t *testing.T) {
	cases := []struct{ size, off, length, start, n int64 }{
		{100, 0, -1, 0, 100},
		{100, 0, 0, 0, 0},
		{100, 10, 20, 10, 20},
		{100, 90, 20, 90, 10},
		{100, 100, -1, 100, 0},
		{100, 150, 5, 100, 0},
		{0, 0, -1, 0, 0},
		{100, 5, -3, 5, 95},
	}
	for _, c := range cases {
		start, n, err := drivers.Section(c.size, c.off, c.length)
		if err != nil || start != c.start || n != c.n {
			t.Errorf("Section(%d, %d, %d) = %d, %d, %v; want %d, %d", c.size, c.off, c.length, start, n, err, c.start, c.n)
		}
	}
	if _, _, err := drivers.Section(100, -1, 5); err == nil {
		t.Error("Section with a negative offset succeeded")
	}
}

// FuzzValidName checks that every accepted name is clean, relative and
// stays below a root however it is joined, and that every accepted name is
// also an accepted List prefix.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"a/b", "..", "a/../b", "/x", "a//b", ".a", "a\\b", "a\x00", "ab/cd/blob.3", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if drivers.ValidName(name) {
			if path.Clean(name) != name || path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
				t.Fatalf("ValidName accepted unclean %q", name)
			}
			if j := path.Join("/root", name); !strings.HasPrefix(j, "/root/") {
				t.Fatalf("%q escapes the root: %q", name, j)
			}
			if !drivers.ValidPrefix(name) || !drivers.ValidPrefix(name+"/") {
				t.Fatalf("valid name %q is not a valid prefix", name)
			}
		}
		if drivers.ValidPrefix(name) && name != "" {
			// A prefix's directory part is a valid name, and appending
			// a letter to its last segment gives a valid name unless
			// that segment is empty.
			if strings.ContainsAny(name, "\\\x00") || strings.HasPrefix(name, "/") {
				t.Fatalf("ValidPrefix accepted %q", name)
			}
			if !strings.HasSuffix(name, "/") && len(name) < 4096 && !drivers.ValidName(name+"x") {
				t.Fatalf("prefix %q + x is not a valid name", name)
			}
		}
	})
}
