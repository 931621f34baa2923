package cluster

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretRoundTrip(t *testing.T) {
	s := mustSecret(t)
	text := s.Encode()
	if !strings.HasPrefix(text, "vcs1_") || len(text) != 5+64 {
		t.Fatalf("Encode = %q", text)
	}
	if strings.ToLower(text) != text {
		t.Fatalf("Encode is not lowercase: %q", text)
	}
	got, err := ParseSecret(text)
	if err != nil {
		t.Fatal(err)
	}
	if got != s {
		t.Fatal("round trip changed the secret")
	}
	// A secret file's trailing newline is fine.
	if got, err := ParseSecret(text + "\n"); err != nil || got != s {
		t.Fatalf("with newline: %v", err)
	}
	var u Secret
	if err := u.UnmarshalText([]byte(text)); err != nil || u != s {
		t.Fatalf("UnmarshalText: %v", err)
	}
	if a, b := mustSecret(t), mustSecret(t); a == b {
		t.Fatal("two generated secrets are equal")
	}
}

func TestParseSecretErrors(t *testing.T) {
	good := strings.Repeat("ab", 32)
	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"blank", "   "},
		{"no prefix", good},
		{"wrong prefix", "vcs2_" + good},
		{"short", "vcs1_" + good[:62]},
		{"long", "vcs1_" + good + "00"},
		{"uppercase", "vcs1_" + strings.ToUpper(good)},
		{"not hex", "vcs1_" + good[:63] + "g"},
		{"inner space", "vcs1_" + good[:32] + " " + good[33:]},
		{"all zero", "vcs1_" + strings.Repeat("0", 64)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSecret(tc.in)
			if !errors.Is(err, ErrSecretFormat) {
				t.Fatalf("ParseSecret(%q) = %v, want ErrSecretFormat", tc.in, err)
			}
			if len(tc.in) > 20 && strings.Contains(err.Error(), tc.in[5:]) {
				t.Fatalf("error quotes the input: %v", err)
			}
		})
	}
}

func TestSecretRedacted(t *testing.T) {
	s := mustSecret(t)
	hexPart := s.Encode()[5:]
	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "secret", s)
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "secret", s)
	js, err := json.Marshal(struct{ S Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{
		s.String(),
		fmt.Sprint(s),
		fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%v", struct{ S Secret }{s}),
		fmt.Sprintf("%+v", &struct{ S Secret }{s}),
		logBuf.String(),
		string(js),
	}
	for _, o := range outs {
		if strings.Contains(o, hexPart) || strings.Contains(o, hexPart[:16]) {
			t.Fatalf("secret leaked: %s", o)
		}
	}
	if s.String() != "vcs1_<redacted>" {
		t.Fatalf("String = %q", s.String())
	}
}

func TestSecretDerive(t *testing.T) {
	s := mustSecret(t)
	keys := map[string][]byte{
		"memberlist": s.MemberlistKey(),
		"master":     s.MasterKey(),
		"tls-ca":     s.Derive(purposeTLSCA, 32),
		"session":    s.SessionKey(),
		"csrf":       s.CSRFKey(),
		"other":      s.Derive("other", 32),
	}
	seen := map[string]string{}
	for name, k := range keys {
		if len(k) != 32 {
			t.Fatalf("%s: %d bytes", name, len(k))
		}
		if bytes.Equal(k, s[:]) {
			t.Fatalf("%s is the secret itself", name)
		}
		if prev, ok := seen[string(k)]; ok {
			t.Fatalf("%s and %s derive the same key", name, prev)
		}
		seen[string(k)] = name
	}
	// Deterministic: the same on every node.
	s2, _ := ParseSecret(s.Encode())
	if !bytes.Equal(s2.MasterKey(), s.MasterKey()) {
		t.Fatal("MasterKey differs for the same secret")
	}
	// Another secret, other keys.
	if bytes.Equal(mustSecret(t).MasterKey(), s.MasterKey()) {
		t.Fatal("two secrets give the same MasterKey")
	}
	// Longer outputs extend, they are not a different key per length.
	if long := s.Derive("x", 64); len(long) != 64 || !bytes.Equal(long[:32], s.Derive("x", 32)) {
		t.Fatal("Derive lengths are inconsistent")
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Derive(0) did not panic")
		}
	}()
	s.Derive("x", 0)
}

func FuzzParseSecret(f *testing.F) {
	f.Add("vcs1_" + strings.Repeat("0f", 32))
	f.Add("vcs1_")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSecret(in)
		if err != nil {
			return
		}
		if s.Encode() != strings.TrimSpace(in) {
			t.Fatalf("ParseSecret(%q) re-encodes as %q", in, s.Encode())
		}
	})
}
