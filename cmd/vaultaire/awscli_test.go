package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestAWSCLI drives a real server with the aws CLI (Debian's awscli; .ci/run
// installs it): mb, multipart cp of 200 MiB both ways with checksums
// compared, ls, sync, presign + curl, rm, rb.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the aws CLI test moves 400 MiB")
	}
	for _, tool := range []string{"aws", "curl", "cmp", "sha256sum"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (apt-get install awscli curl); .ci/run installs it", tool)
		}
	}
	s := startServer(t, t.TempDir(), nil)
	cmd := exec.Command("bash", "testdata/awscli.sh")
	cmd.Env = append(os.Environ(),
		"ENDPOINT="+s.endpoint,
		"AWS_ACCESS_KEY_ID="+testKey,
		"AWS_SECRET_ACCESS_KEY="+testSecret,
		"WORK="+t.TempDir(),
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("awscli e2e failed: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
