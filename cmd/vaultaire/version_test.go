package main

import (
	"bytes"
	"context"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/vaultaire/vaultaire/metastore"
)

func TestResolveVersion(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	for _, tc := range []struct {
		name, v, c   string
		bi           *debug.BuildInfo
		wantV, wantC string
	}{
		{"ldflags win", "v0.2.0", "abc", vcs("def", "false"), "v0.2.0", "abc"},
		{"checkout build", "dev", "", vcs("def", "false"), "dev", "def"},
		{"dirty checkout", "dev", "", vcs("def", "true"), "dev", "def-dirty"},
		{"go install @v", "dev", "", &debug.BuildInfo{Main: debug.Module{Version: "v0.3.1"}}, "v0.3.1", "unknown"},
		{"no build info", "dev", "", nil, "dev", "unknown"},
	} {
		v, c := resolveVersion(tc.v, tc.c, tc.bi)
		if v != tc.wantV || c != tc.wantC {
			t.Errorf("%s: %q %q, want %q %q", tc.name, v, c, tc.wantV, tc.wantC)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run(context.Background(), []string{"version"}, &out, &errb); rc != 0 {
		t.Fatalf("rc %d: %s", rc, errb.String())
	}
	for _, want := range []string{"vaultaire " + version + "\n", "commit " + commit + "\n", "cluster versions 1..2"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}
	if metastore.SupportedClusterVersion != 2 {
		t.Fatal("update the expected cluster versions")
	}
}
