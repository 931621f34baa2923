package vaultaire_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/vaultaire/vaultaire"

// allowed lists, for each package of ours, the packages of ours it may
// import directly (docs/architecture.md "Packages"). Subpackages inherit their
// top-level package's row and may also import their parent. Test-helper
// packages (a name ending in "test") may import anything but cmd.
var allowed = map[string][]string{
	"cmd": {"*"},
	// admin: the admin listener's handlers; cluster and metastore for the
	// cluster status (gossip members, Raft roles) and readiness.
	"admin": {"node", "tenancy", "metrics", "audit", "cluster", "metastore", "billing", "policy"},
	// console: the web console; the Engine does its work, metrics feeds
	// its live view, billing its plans and invoices, policy validates a
	// bucket policy set on the settings page as the S3 edge does.
	"console": {"node", "tenancy", "metrics", "audit", "billing", "policy"},
	"node":    {"cluster", "metastore", "erasure", "drivers", "tenancy", "checksum", "sse", "md5lanes"},
	"s3":      {"node", "tenancy", "checksum", "policy", "tlsbatch"},
	// cluster: metastore for the Forwarder contract and its error codec;
	// drivers because a drive on another node is a drivers.Driver;
	// tlsbatch for its RPC connections' TLS records.
	"cluster":   {"metastore", "drivers", "tlsbatch"},
	"metastore": {},
	"erasure":   {},
	"sse":       {}, // server-side encryption: stream format and key sealing
	"drivers":   {},
	"tenancy":   {"metastore"},
	// policy: the IAM policy language, parsed and evaluated; pure.
	"policy": {},
	// billing: the pure arithmetic of plans and invoices over tenancy's
	// hourly records.
	"billing": {"tenancy"},
	// billing/stripe: the optional Stripe connection acts through the
	// Engine and audits what it does.
	"billing/stripe": {"billing", "node", "tenancy", "audit"},
	"bench":          {},
	// chaos: the fault-injection suite's checkers, used by cmd's tests.
	"chaos": {},
	// Supporting packages (docs/architecture.md allows them beside their users):
	// audit events import nothing of ours.
	"audit": {},
	// checksum: S3's checksum algorithms and whole-object multipart
	// checksums (pure arithmetic; node and s3 use it).
	"checksum": {},
	// md5lanes: MD5 of many streams at once in vector lanes (the ETags
	// of concurrent PUTs); pure.
	"md5lanes": {},
	// tlsbatch: the TLS records of one large write in one syscall (the S3
	// listener and the cluster transport); imports nothing of ours.
	"tlsbatch": {},
	"metrics":  {}, // collectors take small structs and funcs declared in metrics; cmd adapts
	"":         {}, // the module root (tests only)
}

// Packages nobody but cmd may import.
var leaves = []string{"cmd", "admin", "console", "s3", "bench", "chaos", "deploy"}

type pkg struct {
	ImportPath string
	Imports    []string
}

func TestLayering(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		seen++
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		top, _, _ := strings.Cut(rel, "/")
		isHelper := strings.HasSuffix(rel, "test")
		rules, ok := allowed[rel]
		if !ok {
			rules, ok = allowed[top]
		}
		if !ok {
			t.Errorf("package %s is not in the architecture's package table; add it to docs/architecture.md and this test", p.ImportPath)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			irel := strings.TrimPrefix(imp, module+"/")
			itop, _, _ := strings.Cut(irel, "/")
			if itop == "cmd" && top != "cmd" {
				t.Errorf("%s imports %s: nothing imports cmd", rel, irel)
				continue
			}
			if isHelper || itop == top {
				continue // helpers are test-only; a package may use its own subpackages
			}
			for _, l := range leaves {
				if itop == l && top != "cmd" {
					t.Errorf("%s imports %s: nothing but cmd imports %s", rel, irel, l)
				}
			}
			if top == "node" && strings.HasPrefix(irel, "drivers/") {
				t.Errorf("%s imports %s: only cmd names concrete drivers", rel, irel)
			}
			if !permitted(rules, itop) {
				t.Errorf("%s imports %s: docs/architecture.md does not allow %s -> %s", rel, irel, top, itop)
			}
		}
	}
	if seen < 3 {
		t.Fatalf("go list saw only %d packages", seen)
	}
}

func permitted(rules []string, top string) bool {
	for _, r := range rules {
		if r == "*" || r == top {
			return true
		}
	}
	return false
}
