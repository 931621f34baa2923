package main

import (
	"os"
	"os/exec"
	"testing"
)

// TestAWSCLI drives a real server with the aws CLI (Debian's awscli; .ci/run
// installs it): refused uploads answered at once, mb, multipart cp both
// ways with checksums compared, ls, sync, presign + curl, rm, rb. Over
// HTTP with a 200 MiB file; over HTTPS (a certificate made in the test,
// trusted through AWS_CA_BUNDLE and curl --cacert) the same steps with a
// 24 MiB file, still multipart, to keep the suite's time down.
func TestAWSCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the aws CLI test moves 400 MiB")
	}
	for _, tool := range []string{"aws", "curl", "cmp", "sha256sum", "timeout"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (apt-get install awscli curl); .ci/run installs it", tool)
		}
	}
	overBoth(t, func(t *testing.T, tlsArgs []string) {
		s := startServer(t, t.TempDir(), nil, tlsArgs...)
		work := t.TempDir()
		env := []string{
			"ENDPOINT=" + s.endpoint,
			"AWS_ACCESS_KEY_ID=" + testKey,
			"AWS_SECRET_ACCESS_KEY=" + testSecret,
			"WORK=" + work,
		}
		if ca := testCA(tlsArgs); ca != nil {
			env = append(env, "CA_BUNDLE="+ca.WriteCA(t, work, "ca.pem"), "BIG_MIB=24")
		}
		cmd := exec.Command("bash", "testdata/awscli.sh")
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("awscli e2e failed: %v\n%s", err, out)
		}
		t.Logf("%s", out)
	})
}
