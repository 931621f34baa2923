package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestBannerShowsSecretOnlyWhenAsked: printBanner prints a generated
// secret only with show (stdout is a terminal); else where it is kept.
func TestBannerShowsSecretOnlyWhenAsked(t *testing.T) {
	f := serverFlags{data: "/var/lib/v", region: "us-east-1"}
	const secret = "0123456789abcdef0123"
	for _, show := range []bool{true, false} {
		var b bytes.Buffer
		printBanner(&b, "http://x", f, "VAKEY", secret, show)
		if got := strings.Contains(b.String(), secret); got != show {
			t.Errorf("show=%v: secret printed %v:\n%s", show, got, b.String())
		}
		if !show && !strings.Contains(b.String(), "kept in /var/lib/v/root.credentials") {
			t.Errorf("banner does not say where the secret is:\n%s", b.String())
		}
	}
	// A pipe is not a terminal.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) || isTerminal(&bytes.Buffer{}) {
		t.Fatal("a pipe or a buffer taken for a terminal")
	}
}
