package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/vaultaire/vaultaire/metastore"
)

// Release identity. Release builds set both with -ldflags:
//
//	go build -ldflags "-X main.version=v0.2.0 -X main.commit=$(git rev-parse HEAD)" ./cmd/vaultaire
//
// (make build does). Otherwise they come from the build information Go
// embeds: the module version of a `go install ...@vX.Y.Z`, the VCS
// revision of a build in a checkout.
var (
	version = "dev"
	commit  = ""
)

func init() { version, commit = resolveVersion(version, commit, readBuildInfo()) }

func readBuildInfo() *debug.BuildInfo {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return bi
}

// resolveVersion fills what -ldflags left unset from the build info.
func resolveVersion(v, c string, bi *debug.BuildInfo) (string, string) {
	if bi == nil {
		if c == "" {
			c = "unknown"
		}
		return v, c
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if c == "" {
		modified := false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				c = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if c != "" && modified {
			c += "-dirty"
		}
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

// printVersion is `vaultaire version`.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "vaultaire %s\ncommit %s\n%s %s/%s\ncluster versions %d..%d (the metadata formats this binary applies)\n",
		version, commit, runtime.Version(), runtime.GOOS, runtime.GOARCH, metastore.ClusterVersion1, metastore.SupportedClusterVersion)
}
